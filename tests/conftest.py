"""The tests' fixtures: the `../shared` data folder, tiny saved folders, a run without the package.
What they build on is in `helpers.py`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    BLOCK_PACKAGE,
    MULTI_LABELS,
    TINY_LABELS,
    TINY_THRESHOLD,
    find_shared_dir,
    multi_label_rows,
    save_folder,
    tiny_classifier,
    tiny_texts,
)

# Fixtures that start a fresh interpreter (the smoke training run, a Python without the package): a test that
# uses one is `slow`, like a test that starts one itself (marked where it is written). `-m "not slow"` skips both.
FRESH_INTERPRETER_FIXTURES = {"smoke_run", "smoke_folder", "run_without_package"}


def pytest_collection_modifyitems(items):
    for item in items:
        if FRESH_INTERPRETER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _default_transformers_verbosity():
    """Each test starts at transformers' default log level: code under test may quieten it for the whole
    process (the study runner does), and some tests read transformers' warnings."""
    from transformers.utils import logging

    logging.set_verbosity_warning()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The `../shared` folder; skips the test cleanly when it is not there."""
    path = find_shared_dir()
    if path is None:
        pytest.skip("../shared is absent (set POSENC_SHARED to point at it)")
    return path


@pytest.fixture
def run_without_package(tmp_path):
    """Run Python code in a fresh interpreter where `posenc_hf` cannot be imported; return stdout."""

    def run(code: str, timeout: int = 300) -> str:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
        result = subprocess.run(
            [sys.executable, "-c", BLOCK_PACKAGE + code],
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


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    model, tokenizer = tiny_classifier(tiny_texts(200), TINY_LABELS)
    return save_folder(tmp_path_factory.mktemp("tiny") / "model", model, tokenizer)


@pytest.fixture(scope="session")
def tiny_multi_label_folder(tmp_path_factory):
    import torch

    texts = [row["text"] for row in multi_label_rows(80)]
    model, tokenizer = tiny_classifier(texts, MULTI_LABELS, problem_type="multi_label_classification")
    model.classifier.bias.data = torch.tensor([3.0, 0.0, -3.0])  # scores near 0.95, 0.5 and 0.05: some above
    model.config.multi_label_threshold = TINY_THRESHOLD  # the threshold, some below
    return save_folder(tmp_path_factory.mktemp("tiny_multi_label") / "model", model, tokenizer)
