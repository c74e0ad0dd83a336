"""Push a finished model folder to the Hugging Face Hub: checked before training (so a bad repo id or
a missing login fails in seconds, not after the run), uploaded in one commit at the end."""

import logging
from pathlib import Path

from huggingface_hub import HfApi

logger = logging.getLogger(__name__)


def check_push_target(repo_id, token=None, private=None):
    """Before training, what can be checked of a push at the end: the repo id is valid, the token logs
    in, the Hub answers, and the repo exists or is created (as `Trainer` creates it at the start).
    Returns the full repo id (`you/name` for a bare `name`); a one-line ValueError otherwise."""
    try:
        api = HfApi(token=token)
        api.whoami()
        return api.create_repo(repo_id, exist_ok=True, private=private).repo_id
    except Exception as error:  # an invalid id, no login, no network, offline mode: each the Hub's own message
        raise ValueError(
            f"Cannot push to {repo_id!r} on the Hub ({hub_problem(error)}); nothing was trained. Fix that, or "
            f"leave out --push_to_hub."
        ) from error


def push_finished_folder(folder, repo_id, token=None):
    """`push_folder` at the end of a run: a failure is a one-line ValueError that says where the finished
    folder is and how to push it later, not the Hub client's chained traceback."""
    try:
        return push_folder(folder, repo_id, token=token)
    except Exception as error:
        raise ValueError(
            f"The model folder {folder} is complete, but pushing it to {repo_id!r} failed ({hub_problem(error)}). "
            f"Push it later with: hf upload {repo_id} {folder} ."
        ) from error


def hub_problem(error):
    """The first line of a Hub client error, with its kind (`ConnectError: [Errno -2] Name or service not known`)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0].rstrip('.') if lines else 'no message'}"


def push_folder(folder, repo_id, token=None, private=None, commit_message="Upload PosEnc model"):
    """Create the Hub repo if needed and upload every file of `folder` (weights, code, tokenizer,
    card, plots, metrics) in one commit, through `HfApi.upload_folder`."""
    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id, exist_ok=True, private=private).repo_id
    commit = api.upload_folder(repo_id=repo_id, folder_path=Path(folder), commit_message=commit_message)
    logger.info("Pushed %s to %s", folder, commit)
    return commit
