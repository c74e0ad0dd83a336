"""Checkpoints and saves: which checkpoint a run resumes from, never training over another model's
checkpoints, never leaving a half-written model folder, and telling a damaged folder from a good one."""

import json
import logging
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError, safe_open

from ..model.configuration_posenc import PosEncConfig
from ..model.positions_posenc import POSITION_EMBEDDINGS

logger = logging.getLogger(__name__)

# Config fields that must match for a checkpoint to continue this run; the position encoding adds the
# fields its own table is built from (`config_fields` of its class in positions_posenc.py).
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


def architecture_fields(config):
    """ARCHITECTURE_FIELDS, then the fields `config`'s position encoding is built from that it does not hold."""
    position_fields = POSITION_EMBEDDINGS[config.position_embedding_type].config_fields
    return ARCHITECTURE_FIELDS + tuple(name for name in position_fields if name not in ARCHITECTURE_FIELDS)


def changed_fields(old, new):
    """`name old -> new` for each of `new`'s fields whose value in `old` differs, in `new`'s order."""
    return [f"{name} {old.get(name)!r} -> {value!r}" for name, value in new.items() if old.get(name) != value]


def check_checkpoint_matches(checkpoint, config):
    """Fail before training when the checkpoint to resume from was made by a different model."""
    saved = read_checkpoint_config(checkpoint)
    expected = json.loads(config.to_json_string())
    differences = changed_fields(saved, {name: expected.get(name) for name in architecture_fields(config)})
    if differences:
        raise ValueError(
            f"{Path(checkpoint).parent} holds checkpoints of another run ({Path(checkpoint).name} differs in "
            f"{', '.join(differences)}): pass --output_dir NEW_FOLDER to start this run there, or that run's "
            f"settings to resume it (nothing was deleted)."
        )


@contextmanager
def atomic_folder(folder):
    """Yield a temporary sibling of `folder` to write into; on success it replaces `folder`.

    A run killed (or out of disk) while writing leaves the previous good folder (or none), never a
    half-written `folder`: the new files are flushed to disk (fsync) before the rename, an error in
    the block removes the temporary sibling, and a kill between the two renames (previous folder
    moved aside, new one not yet in place) is undone by the next save, which restores the previous one.
    """
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.tmp")
    backup = folder.with_name(f".{folder.name}.old")
    if backup.exists() and not folder.exists():  # killed between the two renames: restore the old folder
        os.replace(backup, folder)
    for stale in (staging, backup):
        shutil.rmtree(stale, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        fsync_tree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if folder.exists():
        os.replace(folder, backup)
    try:
        os.replace(staging, folder)
    except BaseException:
        if backup.exists() and not folder.exists():
            os.replace(backup, folder)
        raise
    fsync_path(folder.parent)
    shutil.rmtree(backup, ignore_errors=True)


@contextmanager
def atomic_file(path):
    """Yield a temporary sibling of the file `path` to write; on success it is flushed to disk and renamed
    over `path`, so `path` is the previous file or the whole new one, never one cut short (an error in the
    block removes the sibling). `atomic_folder` does the same for a folder."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.tmp")
    try:
        yield partial
        fsync_path(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def fsync_path(path):
    """Flush a file's data, or a folder's entries, to disk (for folders, where the system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if os.path.isdir(path):  # Windows cannot open a folder: its renames are durable without it
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder):
    """fsync every file and folder under `folder`, deepest first, so a rename publishes only flushed data."""
    for root, _, files in os.walk(folder, topdown=False):
        for name in files:
            fsync_path(os.path.join(root, name))
        fsync_path(root)


# ----------------------------------------------------------------------------------------------
# Checkpoints that a kill left half-written, and model folders that are incomplete or damaged.

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"  # Trainer writes it last: a checkpoint without it is incomplete


def readable_json(path):
    """Whether `path` is a file holding valid JSON (a file cut short by a kill is not)."""
    try:
        json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return True


def checkpoint_problem(checkpoint):
    """Why `checkpoint` cannot be resumed from (a kill landed while Trainer was writing it), or None."""
    state = Path(checkpoint) / TRAINER_STATE
    if not state.is_file():
        return f"it has no {TRAINER_STATE} (Trainer writes that file last, so the save was cut short)"
    if not readable_json(state):
        return f"its {TRAINER_STATE} is not valid JSON (the save was cut short)"
    return None


def last_complete_checkpoint(output_dir):
    """The `checkpoint-N` folder with the highest N that Trainer finished writing, or None.

    Trainer writes checkpoints in place, so a run killed while saving leaves a half-written one;
    that one is skipped with a warning (and left on disk: the resumed run writes it again). A
    checkpoint of another model, complete or not, is an error (`read_checkpoint_config`)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    steps = {
        int(match.group(1)): path
        for path in output_dir.iterdir()
        if path.is_dir() and (match := CHECKPOINT_PATTERN.match(path.name))
    }
    for step in sorted(steps, reverse=True):
        if readable_json(steps[step] / "config.json"):
            read_checkpoint_config(steps[step])
        problem = checkpoint_problem(steps[step])
        if problem is None:
            return str(steps[step])
        logger.warning("Skipping incomplete checkpoint %s: %s", steps[step], problem)
    return None


def check_checkpoint_complete(checkpoint):
    """A ValueError when the checkpoint named to resume from was left half-written."""
    problem = checkpoint_problem(checkpoint)
    if problem:
        raise ValueError(
            f"Cannot resume from {checkpoint}: {problem}. Resume from an earlier checkpoint, or leave "
            f"--resume_from_checkpoint unset to use the last complete one."
        )


SAFETENSORS_WEIGHTS = "model.safetensors"
REQUIRED_FILES = {"config.json": "the model config", "tokenizer.json": "the tokenizer"}


def safetensors_problem(path):
    """Why the safetensors file at `path` is unreadable (truncated, not safetensors), or None: its
    header, read as safetensors reads it, must describe exactly the bytes the file holds."""
    try:
        with safe_open(path, framework="pt"):
            return None
    except SafetensorError as error:
        return f"it is {path.stat().st_size} bytes long and safetensors cannot read it ({error}): truncated?"


def check_model_folder(folder):
    """A ValueError naming what is wrong when `folder` is not a complete, undamaged PosEnc model folder:
    a missing file, a config.json of another `model_type`, or truncated safetensors weights.
    (Weights whose shapes do not match the config fail in `from_pretrained`, naming the tensors.)"""
    folder = Path(folder)
    if not folder.is_dir():
        backup = folder.with_name(f".{folder.name}.old")
        hint = f" (a save was interrupted: the previous folder is in {backup})" if backup.is_dir() else ""
        raise ValueError(f"No such model folder: {folder}{hint}")
    for name, what in REQUIRED_FILES.items():
        if not (folder / name).is_file():
            raise ValueError(f"{folder} is incomplete: {name} ({what}) is missing. Download or save the folder again.")
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{folder / 'config.json'} is not valid JSON ({error}): the file is damaged.") from None
    if model_type != PosEncConfig.model_type:
        raise ValueError(
            f"{folder / 'config.json'} is for model_type={model_type!r}, not {PosEncConfig.model_type!r}: "
            f"this is not a PosEnc model folder (or its config.json was replaced)."
        )
    weights = sorted(folder.glob("model*.safetensors"))
    if not weights:
        found = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        extra = f" (found {', '.join(found)}: pickle files, which this package never loads)" if found else ""
        raise ValueError(f"{folder} is incomplete: {SAFETENSORS_WEIGHTS} (the weights) is missing{extra}.")
    for path in weights:
        problem = safetensors_problem(path)
        if problem:
            raise ValueError(f"{path} is damaged: {problem}. Download or save the folder again.")
    return folder


def resolve_checkpoint(run_args):
    """The checkpoint to resume from: the one named, the last complete one in output_dir ("last", or
    automatically when output_dir already holds checkpoints of this run), or None. A checkpoint that
    a kill left half-written is skipped (or, when named, refused)."""
    requested = run_args.resume_from_checkpoint
    last = last_complete_checkpoint(run_args.output_dir)
    if requested in (None, "", "auto"):
        return last
    if requested in ("last", "true", "True"):
        if last is None:
            raise ValueError(f"--resume_from_checkpoint {requested}: no checkpoint in {run_args.output_dir}")
        return last
    if not Path(requested).is_dir():
        raise ValueError(f"--resume_from_checkpoint {requested}: no such checkpoint folder")
    check_checkpoint_complete(requested)
    return requested
