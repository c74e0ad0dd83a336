"""A mistake on the command line (a bad path, an unknown column, another run's folder) ends in its
message and exit code 1, not a traceback; `POSENC_DEBUG=1` shows the traceback."""

import os
import subprocess
import sys

import pytest
from helpers import REPO_ROOT, SMOKE

from posenc_hf.folder.cli import run_command


def fails(argv):
    raise ValueError(f"no such file: {argv[0]}")


def test_a_user_error_is_its_message_and_exit_code_1(capsys):
    assert run_command("prog", fails, ["reviews.csv"]) == 1
    assert capsys.readouterr().err == "prog: error: no such file: reviews.csv\n"


def test_posenc_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("POSENC_DEBUG", "1")
    with pytest.raises(ValueError, match="no such file: reviews.csv"):
        run_command("prog", fails, ["reviews.csv"])


def test_a_bug_is_not_hidden():
    def broken(argv):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_command("prog", broken)


@pytest.mark.slow
def test_training_on_an_unknown_column_names_it_without_a_traceback(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("review,stars\nGreat,5\nAwful,1\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "POSENC_DEBUG": ""}
    command = [sys.executable, "train/run.py", SMOKE, "--corpus", str(data), "--output_dir", str(tmp_path / "run")]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("train/run.py: error: ") and "'text'" in last and str(data) in last


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        f"{sys.executable} train/run.py --help",
        f"printf 'cell atom\\nforce\\n' | {sys.executable} -m posenc_hf.folder.predict FOLDER",
    ],
    ids=["train-help", "posenc-predict"],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(command, tiny_folder):
    """`| true` closes the pipe before the command writes (as `| head` does after its lines): no error."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "POSENC_DEBUG": ""}
    script = f"set -o pipefail; {command.replace('FOLDER', str(tiny_folder))} | true"
    result = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert (result.returncode, result.stderr) == (0, "")
