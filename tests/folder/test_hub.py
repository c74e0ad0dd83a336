"""`--push_to_hub` checks what it can before training (login, repo id, the Hub answering, the repo),
and a push that fails after training says in one line where the finished folder is. No network:
the Hub client is replaced by stand-ins (what a full push sends: tests/training/test_training.py)."""

import os
import subprocess
import sys

import pytest
from helpers import REPO_ROOT, SMOKE
from huggingface_hub import HfApi
from huggingface_hub.errors import LocalTokenNotFoundError

from posenc_hf.folder.hub import check_push_target, push_finished_folder


class RepoUrl:
    def __init__(self, repo_id):
        self.repo_id = repo_id


@pytest.fixture
def hub(monkeypatch):
    """Stand-ins for the Hub calls; `calls` records them, `fail[name]` makes one raise."""
    calls, fail = [], {}

    def stand_in(name, result):
        def call(self, *args, **kwargs):
            calls.append(name)
            if name in fail:
                raise fail[name]
            return result(*args, **kwargs)

        return call

    monkeypatch.setattr(HfApi, "whoami", stand_in("whoami", lambda: {"name": "me"}))

    def create_repo(repo_id, **kwargs):
        return RepoUrl(repo_id if "/" in repo_id else f"me/{repo_id}")

    monkeypatch.setattr(HfApi, "create_repo", stand_in("create_repo", create_repo))
    monkeypatch.setattr(HfApi, "upload_folder", stand_in("upload_folder", lambda **kw: "https://hf.co/me/x/commit/1"))
    return calls, fail


def test_the_repo_is_created_before_training(hub):
    calls, _ = hub
    assert check_push_target("posenc-subject", token="hf_fake") == "me/posenc-subject"
    assert calls == ["whoami", "create_repo"]


def test_not_logged_in_fails_before_training_in_one_line(hub):
    calls, fail = hub
    fail["whoami"] = LocalTokenNotFoundError("Token is required to call the /whoami-v2 endpoint, but no token found.")
    with pytest.raises(ValueError) as error:
        check_push_target("someone/posenc-subject")
    message = str(error.value)
    assert message.startswith("Cannot push to 'someone/posenc-subject' on the Hub (LocalTokenNotFoundError: Token")
    assert "nothing was trained" in message and "\n" not in message
    assert calls == ["whoami"]


def test_a_push_that_fails_after_training_says_where_the_folder_is(hub, tiny_folder):
    _, fail = hub
    fail["upload_folder"] = ConnectionError("[Errno -2] Name or service not known\nand more lines of detail")
    with pytest.raises(ValueError) as error:
        push_finished_folder(tiny_folder, "me/posenc-subject")
    assert str(error.value) == (
        f"The model folder {tiny_folder} is complete, but pushing it to 'me/posenc-subject' failed "
        f"(ConnectionError: [Errno -2] Name or service not known). "
        f"Push it later with: hf upload me/posenc-subject {tiny_folder} ."
    )


@pytest.mark.slow
def test_training_with_a_push_that_cannot_work_stops_before_any_work(tmp_path):
    """Offline and without a token (as here), the run refuses at once, in one line, and writes nothing."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "POSENC_DEBUG": ""}
    output_dir = tmp_path / "run"
    command = [sys.executable, "train/run.py", SMOKE, "--output_dir", str(output_dir)]
    command += ["--push_to_hub", "true", "--hub_model_id", "someone/posenc-smoke"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("train/run.py: error: Cannot push to 'someone/posenc-smoke' on the Hub (")
    assert last.endswith("nothing was trained. Fix that, or leave out --push_to_hub.")
    assert not output_dir.exists()
