"""Shared fixtures: the `../shared` data folder and small helpers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path | None:
    """Return the shared data folder (`POSENC_SHARED`, else `../shared`), or None when it is absent.

    The folder is required, so that tests needing it fail instead of skipping, when `POSENC_SHARED`
    is set or under CI (`CI=true`, where `../shared` sits beside the clone); a user's clone has no
    `../shared`, and those tests skip.
    """
    env = os.environ.get("POSENC_SHARED")
    path = Path(env or "../shared")
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if path.is_dir():
        return path
    if env:
        raise RuntimeError(f"POSENC_SHARED={env} is set but {path} is not a folder")
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true, so the tests that read the shared data must run, but {path} is not a folder")
    return None


@pytest.fixture(autouse=True)
def _default_transformers_verbosity():
    """Each test starts at transformers' default log level: code under test may quieten it for the whole
    process (the study runner does), and some tests read transformers' warnings."""
    from transformers.utils import logging

    logging.set_verbosity_warning()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The `../shared` folder; skips the test cleanly when it is not there."""
    path = _shared_dir()
    if path is None:
        pytest.skip("../shared is absent (set POSENC_SHARED to point at it)")
    return path


# Prepended to code run by `run_without_package`: makes `import posenc_hf` fail, as on a machine
# where only the saved folder (with its remote code) is available.
_BLOCK_PACKAGE = """
import sys
class _BlockPosEnc:
    def find_spec(self, name, path=None, target=None):
        if name == "posenc_hf" or name.startswith("posenc_hf."):
            raise ImportError("posenc_hf is blocked in this test")
sys.meta_path.insert(0, _BlockPosEnc())
"""


@pytest.fixture
def run_without_package(tmp_path):
    """Run Python code in a fresh interpreter where `posenc_hf` cannot be imported; return stdout."""

    def run(code: str, timeout: int = 300) -> str:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
        result = subprocess.run(
            [sys.executable, "-c", _BLOCK_PACKAGE + code],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,  # transformers may ask "run the custom code? [y/N]": answer nothing
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"subprocess failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    return run


# A small saved classifier folder (random weights, a tokenizer trained on a few sentences), built in
# a second, for tests that need a real folder but not a trained model (the bad-input matrix of
# docs/reliability.md: test_modeling, test_predict, test_checkpoints, ...).
TINY_LABELS = ["Biology", "Chemistry", "Maths", "Physics"]
TINY_WORDS = "cell atom force energy acid orbit gene mass charge reaction equation solve integral enzyme".split()
TINY_MAX_LENGTH = 32  # the tiny folder's position table and its tokenizer's model_max_length

# Odd input for the tiny folder's tokenizer, model and pipeline.
LONG = "atom " * (100 * TINY_MAX_LENGTH)  # 100× longer than the position table
CONTROL = "enzyme\x00 cell\x07 atom\x1b[31m force\x7f\u200b\u202e gene"
MIXED = "Énergie 能量 энергия ενέργεια طاقة ऊर्जा 🙂👍🏽🧪 energy"
NOT_TEXT = [None, 3, 2.5, b"atom", {"label": "atom"}, object()]


def tiny_texts(count):
    """`count` short, distinct question-like texts built from a fixed vocabulary."""
    return [
        " ".join(TINY_WORDS[(i * 7 + j) % len(TINY_WORDS)] for j in range(3 + i % 9)) + f" {i}?" for i in range(count)
    ]


def tiny_classifier(texts, labels, **config):
    """An untrained one-layer classifier over `labels` and a tokenizer trained on `texts`."""
    import tiny

    from posenc_hf.data.tokenization import train_tokenizer

    tokenizer = train_tokenizer(texts, vocab_size=200, model_max_length=TINY_MAX_LENGTH)
    model = tiny.tiny_model(
        vocab_size=len(tokenizer),
        num_attention_heads=2,
        num_hidden_layers=1,
        max_position_embeddings=TINY_MAX_LENGTH,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        **config,
    )
    return model, tokenizer


def save_folder(folder, model, tokenizer):
    """`model` and `tokenizer` saved as one model folder."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    model, tokenizer = tiny_classifier(tiny_texts(200), TINY_LABELS)
    return save_folder(tmp_path_factory.mktemp("tiny") / "model", model, tokenizer)


# Folders as a test sees them, for the atomic-save tests (test_checkpoints, test_training).
def snapshot(folder):
    """{relative path: bytes} of every file under `folder`, or None when it does not exist."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_good_folder(folder):
    """A finished model folder (weights, card, a plot) at `folder`; its snapshot."""
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"good weights")
    (folder / "README.md").write_text("the good card")
    (folder / "plots").mkdir()
    (folder / "plots" / "loss.png").write_bytes(b"png")
    return snapshot(folder)


# Multi-label data and a small saved multi-label folder (random weights), for the tests of lists of
# labels: test_data_multilabel, test_card, test_predict, test_training_multilabel.
MULTI_LABELS = ["anger", "fear", "joy"]
MULTI_LABEL_CUES = {"anger": "furious", "fear": "scary", "joy": "sunny"}
TINY_THRESHOLD = 0.35  # the tiny multi-label folder's `multi_label_threshold`


def multi_label_rows(count):
    """`count` rows whose labels are the cue words their text holds: row i carries the subset of
    `MULTI_LABELS` that i's bits name (row 0 none, row 7 all three), so every combination occurs."""
    rows = []
    for i in range(count):
        labels = [name for bit, name in enumerate(MULTI_LABELS) if i >> bit & 1]
        words = [TINY_WORDS[(i * 5 + j) % len(TINY_WORDS)] for j in range(3)] + [MULTI_LABEL_CUES[n] for n in labels]
        rows.append({"text": " ".join(words) + f" {i}", "label": labels})
    return rows


@pytest.fixture(scope="session")
def tiny_multi_label_folder(tmp_path_factory):
    import torch

    texts = [row["text"] for row in multi_label_rows(80)]
    model, tokenizer = tiny_classifier(texts, MULTI_LABELS, problem_type="multi_label_classification")
    model.classifier.bias.data = torch.tensor([3.0, 0.0, -3.0])  # scores near 0.95, 0.5 and 0.05: some above
    model.config.multi_label_threshold = TINY_THRESHOLD  # the threshold, some below
    return save_folder(tmp_path_factory.mktemp("tiny_multi_label") / "model", model, tokenizer)
