"""No deprecated spelling on the paths a run takes (issue 20 item 7): a smoke run in this process, and
the pipeline over its folder, raise no `FutureWarning` / `DeprecationWarning` (and log no "deprecated")
from our calls into transformers, datasets or accelerate.

pytest's `filterwarnings = ["ignore::DeprecationWarning"]` would hide them, so the recorder sets its own
filter ("always") and reads each warning's stack as it is raised."""

import logging
import re
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import REPO_ROOT, SMOKE

from posenc_hf.folder.predict import load_classifier
from posenc_hf.training.arguments import parse_run_arguments
from posenc_hf.training.plan import read_plan
from posenc_hf.training.runner import format_summary, run_training

CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))
OUR_CODE = (str(REPO_ROOT / "posenc_hf"), str(REPO_ROOT / "train"))
DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
LIBRARY_LOGGERS = ("transformers", "datasets", "accelerate")

# Deprecations that transformers, datasets or accelerate raise from their own code during a smoke run
# (not from an argument or call of ours): (pattern of the message, why it is not ours). Listed, not
# chased. None with transformers 5.24, datasets 4 and accelerate 1.15.
KNOWN = []


def our_frame(stack):
    """`file:line` of the innermost frame of this project's code on `stack`, or None."""
    ours = [frame for frame in stack if frame.filename.startswith(OUR_CODE)]
    return f"{Path(ours[-1].filename).relative_to(REPO_ROOT)}:{ours[-1].lineno}" if ours else None


class DeprecationLog(logging.Handler):
    def __init__(self, found):
        super().__init__(logging.WARNING)
        self.found = found

    def emit(self, record):
        message = record.getMessage()
        if re.search("deprecat", message, re.IGNORECASE):
            self.found.append(("log " + record.name, message, our_frame(traceback.extract_stack())))


@contextmanager
def recorded_deprecations():
    """A list that fills with (kind, message, innermost frame of ours) for each deprecation warning
    raised, and each "deprecated" line the three libraries log, inside the block."""
    found = []

    def record(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DEPRECATIONS):
            found.append((category.__name__, str(message), our_frame(traceback.extract_stack())))

    handler = DeprecationLog(found)
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    with warnings.catch_warnings():  # restores the filters and showwarning afterwards
        warnings.simplefilter("always")
        warnings.showwarning = record
        for logger in loggers:
            logger.addHandler(handler)
        try:
            yield found
        finally:
            for logger in loggers:
                logger.removeHandler(handler)


def unexplained(found):
    return [entry for entry in found if not any(re.search(pattern, entry[1]) for pattern, _ in KNOWN)]


def test_the_recorder_sees_a_deprecated_spelling_and_names_our_call():
    with recorded_deprecations() as found:
        parse_run_arguments([SMOKE, "--gradient_checkpointing", "true"])  # transformers 5.24: FutureWarning
    assert [(kind, frame.split(":")[0]) for kind, message, frame in found if "gradient_checkpointing" in message] == [
        ("FutureWarning", "posenc_hf/training/arguments.py")
    ]


def test_a_smoke_run_and_its_pipeline_use_no_deprecated_spelling(tmp_path):
    with recorded_deprecations() as found:
        argv = [SMOKE, "--output_dir", str(tmp_path / "run"), "--num_train_epochs", "1", "--report_to", "none"]
        result = run_training(read_plan(argv))
        format_summary(result, tmp_path / "run")
        load_classifier(result.folder)(["cell atom force"])
    assert (result.folder / "model.safetensors").is_file()
    assert unexplained(found) == []  # each entry: (kind, message, the innermost line of ours that led to it)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_no_config_uses_a_deprecated_field(config):
    with recorded_deprecations() as found:
        parse_run_arguments([str(config)])
    assert unexplained(found) == []
