"""The README shows what the commands do: the summary a run prints, figures that agree with each
other, the own-data example landing in its own folder, and files that exist."""

import re
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from posenc_hf.training.plan import read_plan
from posenc_hf.training.runner import RunResult, format_summary

README = (REPO_ROOT / "README.md").read_text()


def code_blocks(language=""):
    """The README's fenced code blocks whose opening fence names `language` ("" for none), in order."""
    blocks, fence = [], re.compile(r"^```(\w*)\n(.*?)^```$", flags=re.S | re.M)
    for match in fence.finditer(README):
        if match.group(1) == language:
            blocks.append(match.group(2))
    return blocks


@pytest.fixture
def summary():
    """The README's example summary of command 1."""
    return next(block for block in code_blocks() if block.startswith("Finished in"))


def test_the_summary_is_what_a_run_prints(summary):
    seconds, accuracy, macro_f1 = map(float, re.findall(r"\d+\.\d+", summary)[:3])
    metrics = {"accuracy": accuracy, "macro_f1": macro_f1}
    printed = format_summary(RunResult(Path("runs/subject/model"), metrics, seconds), "runs/subject")
    assert printed.strip() == summary.strip()


def test_the_timings_agree(summary):
    """Command 1's comment splits its wall time into the run (the summary's "Finished in") and start-up."""
    total, run, start_up = map(int, re.search(r"\((\d+) s .*: (\d+) s for the run itself, (\d+) s", README).groups())
    assert round(float(re.search(r"Finished in ([\d.]+) s", summary).group(1))) == run
    assert run + start_up == total


def test_the_own_data_example_gets_its_own_folder():
    """Right after the quick start it must not land in (and try to resume) runs/subject."""
    line = next(line for block in code_blocks("bash") for line in block.splitlines() if "--corpus path/to" in line)
    run_args = read_plan(line.split()[2:]).run_args
    assert run_args.output_dir == "runs/subjects-questions"
    assert "`runs/subjects-questions/`" in README and "`posenc-subjects-questions-learned`" in README


def test_files_the_commands_name_exist():
    named = set(re.findall(r"\b((?:configs|train)/[\w.-]+\.(?:yaml|py))\b", README)) | {".ci/run"}
    assert {"train/accelerate.yaml", "train/run.py", "configs/subject.yaml"} <= named
    assert [path for path in sorted(named) if not (REPO_ROOT / path).is_file()] == []
