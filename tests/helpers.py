"""What the tests share: the repository root, the `../shared` folder, tiny models, folders and data.

Fixtures that build on these are in `conftest.py`; tests import the rest from here.
"""

import csv
import json
import os
from collections import Counter
from pathlib import Path

import torch
import yaml
from datasets import ClassLabel, Features, Value
from huggingface_hub.errors import StrictDataclassError

from posenc_hf import PosEncConfig, PosEncForSequenceClassification
from posenc_hf.data.corpora import LABEL_NAMES
from posenc_hf.data.sources import SPLITS

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN = str(REPO_ROOT / "train" / "run.py")  # the training command
SMOKE = str(REPO_ROOT / "configs" / "smoke.yaml")  # the few-second run most end-to-end tests train
CARD_TEMPLATE = REPO_ROOT / "model_card.md"


def read_metrics(folder):
    """`folder/metrics.json`, as a run wrote it."""
    return json.loads((Path(folder) / "metrics.json").read_text())


def find_shared_dir(repo_root: Path = REPO_ROOT) -> Path | None:
    """Return the shared data folder (`POSENC_SHARED`, else `../shared`), or None when it is absent.

    The folder is required, so that tests needing it fail instead of skipping, when `POSENC_SHARED`
    is set or under CI (`CI=true`, where `../shared` sits beside the clone); a user's clone has no
    `../shared`, and those tests skip.
    """
    env = os.environ.get("POSENC_SHARED")
    path = Path(env or "../shared")
    if not path.is_absolute():
        path = (repo_root / path).resolve()
    if path.is_dir():
        return path
    if env:
        raise RuntimeError(f"POSENC_SHARED={env} is set but {path} is not a folder")
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true, so the tests that read the shared data must run, but {path} is not a folder")
    return None


# Tiny models for fast tests: a few thousand parameters, built in milliseconds.
CONFIG_ERRORS = (ValueError, StrictDataclassError)  # a bad config value: ours, or `@strict`'s, naming the field

TINY_SIZES = dict(
    vocab_size=50,
    hidden_size=16,
    num_attention_heads=4,
    num_hidden_layers=2,
    intermediate_size=32,
    max_position_embeddings=12,
    num_labels=3,
)


def tiny_config(**overrides):
    """`TINY_SIZES` with `overrides`; an `id2label` sets the number of labels itself."""
    sizes = {key: value for key, value in TINY_SIZES.items() if not (key == "num_labels" and "id2label" in overrides)}
    return PosEncConfig(**{**sizes, **overrides})


def tiny_model(cls=PosEncForSequenceClassification, seed=0, **overrides):
    """A seeded tiny model in eval mode: `cls` (a PosEnc model class) of `tiny_config(**overrides)`."""
    torch.manual_seed(seed)
    return cls(tiny_config(**overrides)).eval()


def batch(batch_size=2, length=7, vocab_size=50, seed=1):
    """Random token ids (never the padding id 0)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab_size, (batch_size, length), generator=generator)


def padded_batch(batch_size, length, padded=True, seed=0):
    """Random token ids and a mask; with `padded`, rows end in padding of different lengths."""
    input_ids = batch(batch_size, length, seed=seed)
    mask = torch.ones(batch_size, length, dtype=torch.long)
    if padded:
        for row in range(batch_size):
            mask[row, length - row % length :] = 0  # row 0 keeps everything, others lose `row` tokens
        mask[:, 0] = 1
        input_ids = input_ids * mask
    return input_ids, mask


CHECK_SHAPES = [(1, 1), (2, 5), (5, 12), (7, 3)]  # shapes other than the traced (3, 8); each padded and unpadded


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
    from posenc_hf.data.tokenization import train_tokenizer

    tokenizer = train_tokenizer(texts, vocab_size=200, model_max_length=TINY_MAX_LENGTH)
    model = tiny_model(
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


# Prepended to code run by `run_without_package`: makes `import posenc_hf` fail, as on a machine
# where only the saved folder (with its remote code) is available.
BLOCK_PACKAGE = """
import sys
class _BlockPosEnc:
    def find_spec(self, name, path=None, target=None):
        if name == "posenc_hf" or name.startswith("posenc_hf."):
            raise ImportError("posenc_hf is blocked in this test")
sys.meta_path.insert(0, _BlockPosEnc())
"""


# Labelled rows, and the files a user would hold them in, for the data tests.
SUBJECTS = LABEL_NAMES["subject"]
EXPECTED_FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=SUBJECTS)})
# 10 questions per subject, listed Physics first so that the file order is not the label order.
SUBJECT_ROWS = [
    {"text": f"question {i} about {subject.lower()}", "label": subject}
    for subject in reversed(SUBJECTS)
    for i in range(10)
]


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    """`rows` (dicts) as a CSV file with a header, or with another delimiter."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """`rows` as JSON Lines."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def label_names_of(corpus, split: str) -> list[str]:
    names = corpus[split].features["label"].names
    return [names[label] for label in corpus[split]["label"]]


def assert_split_80_10_10(corpus, rows=SUBJECT_ROWS):
    """Stratified: 8/1/1 of each subject's 10 questions, every text in exactly one split."""
    assert list(corpus) == list(SPLITS)
    for split, per_class in {"train": 8, "validation": 1, "test": 1}.items():
        assert corpus[split].features == EXPECTED_FEATURES
        assert Counter(label_names_of(corpus, split)) == dict.fromkeys(SUBJECTS, per_class)
    texts = [text for split in SPLITS for text in corpus[split]["text"]]
    assert sorted(texts) == sorted(row["text"] for row in rows)
    pairs = {
        (text, label)
        for split in SPLITS
        for text, label in zip(corpus[split]["text"], label_names_of(corpus, split), strict=True)
    }
    assert pairs == {(row["text"], row["label"]) for row in rows}


# Reading a model card.
def front_matter_and_body(card):
    """A card's YAML metadata (parsed) and its Markdown body."""
    assert card.startswith("---\n")
    _, front_matter, body = card.split("---\n", 2)
    return yaml.safe_load(front_matter), body


def assert_per_class_rows(card, per_class):
    """The card's per-class table holds each class's precision, recall and F1."""
    for name, scores in per_class.items():
        assert f"| `{name}` | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} |" in card
