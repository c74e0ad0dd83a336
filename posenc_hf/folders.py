"""Output folders: never train over another model's checkpoints, never leave a half-written model
folder, and push a finished folder to the Hub in one commit."""

import json
import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi

from .configuration_posenc import PosEncConfig

logger = logging.getLogger(__name__)

# Config fields that must match for a checkpoint to continue this run.
ARCHITECTURE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "position_embedding_type",
    "layer_norm_position",
    "pooling",
    "id2label",
)


def read_checkpoint_config(checkpoint):
    """The checkpoint's config.json as a dict; a ValueError when it is not a PosEnc checkpoint."""
    path = Path(checkpoint) / "config.json"
    if not path.is_file():
        raise ValueError(
            f"{checkpoint} holds no config.json, so it is not a checkpoint of this package. Choose another "
            f"--output_dir (nothing was deleted)."
        )
    values = json.loads(path.read_text())
    if values.get("model_type") != PosEncConfig.model_type:
        raise ValueError(
            f"{checkpoint} is a checkpoint of another model (model_type={values.get('model_type')!r}, expected "
            f"{PosEncConfig.model_type!r}). Choose another --output_dir (nothing was deleted)."
        )
    return values


def check_checkpoint_matches(checkpoint, config):
    """Fail before training when the checkpoint to resume from was made by a different model."""
    saved = read_checkpoint_config(checkpoint)
    expected = json.loads(config.to_json_string())
    differences = [
        f"{name}: checkpoint {saved.get(name)!r} vs this run {expected.get(name)!r}"
        for name in ARCHITECTURE_FIELDS
        if saved.get(name) != expected.get(name)
    ]
    if differences:
        raise ValueError(
            f"{checkpoint} was made by a different model, so this run cannot resume from it:\n  "
            + "\n  ".join(differences)
            + "\nChoose another --output_dir, or pass the same settings as that run (nothing was deleted)."
        )


@contextmanager
def atomic_folder(folder):
    """Yield a temporary sibling of `folder` to write into; on success it replaces `folder`.

    A run killed while writing leaves the previous good folder (or none), plus a stale
    `.tmp` sibling that the next save clears; never a half-written `folder`.
    """
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.tmp")
    backup = folder.with_name(f".{folder.name}.old")
    for stale in (staging, backup):
        shutil.rmtree(stale, ignore_errors=True)
    staging.mkdir(parents=True)
    yield staging
    if folder.exists():
        os.replace(folder, backup)
    os.replace(staging, folder)
    shutil.rmtree(backup, ignore_errors=True)


def push_folder(folder, repo_id, token=None, private=None, commit_message="Upload PosEnc model"):
    """Create the Hub repo if needed and upload every file of `folder` (weights, code, tokenizer,
    card, plots, metrics) in one commit."""
    folder = Path(folder)
    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id, exist_ok=True, private=private).repo_id
    operations = [
        CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    commit = api.create_commit(repo_id=repo_id, operations=operations, commit_message=commit_message)
    logger.info("Pushed %s to %s", folder, commit)
    return commit
