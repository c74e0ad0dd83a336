"""A run's settings: every field of its model, data and training arguments that shapes the trained
weights. They are recorded with every checkpoint and in the model folder, so that a run resumes only
from a checkpoint trained the same way, and a folder always describes the weights it holds.

- `run_settings` collects them: every field of `ModelArguments`, `DataArguments` and `RunArguments`
  except those in `NOT_SHAPING`, and the number of processes (which sets the effective batch).
- `RunSettingsCallback` stores them in every checkpoint, in its `trainer_state.json`: Trainer writes
  each `ExportableState` callback's `state()` there (`stateful_callbacks`), and writes that file last,
  so a checkpoint is complete (`checkpoints.checkpoint_problem`) only with its settings in it.
  The model folder keeps them in `metrics.json` under `settings`; its card shows the same dict.
- `check_previous_run`, before any data is read: output_dir's last checkpoint and model folder must
  record this run's settings, or the run is refused in one line naming each `field old -> new`.
  A model folder that records them is a finished run: nothing to do. A checkpoint or folder that
  records no settings (written before they were recorded) is refused too: nothing tells whether it
  continues this run. `--overwrite_output_dir true` discards both and trains afresh
  (`discard_previous_run`); nothing else is ever deleted.
"""

import json
import logging
import shutil
from dataclasses import MISSING, fields
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from ..folder.checkpoints import CHECKPOINT_PATTERN, TRAINER_STATE, changed_fields, check_model_folder
from .arguments import ARGUMENT_CLASSES

logger = logging.getLogger(__name__)

# The fields that do not change the trained weights, so a resume may change them. A deny-list, not an
# allow-list: a field not named here is compared, also one that a newer transformers or a new option
# adds. Comparing one too many costs a one-line refusal and another --output_dir; one too few is a
# resumed run whose folder describes weights it does not hold. The cadence of saves and evaluations
# (save_strategy, eval_steps, ...) is compared: with load_best_model_at_end it picks the kept weights.
NOT_SHAPING = frozenset(
    {
        # where the run writes and what it is called
        "output_dir", "run_name", "project", "trackio_space_id", "trackio_bucket_id", "trackio_static_space_id",
        # what it logs and shows
        "logging_strategy", "logging_steps", "logging_first_step", "log_on_each_node", "logging_nan_inf_filter",
        "log_level", "log_level_replica", "disable_tqdm", "report_to", "include_num_input_tokens_seen",
        "skip_memory_metrics", "debug",
        # how many checkpoints it keeps, where it resumes, when it stops, what it publishes
        "save_total_limit", "save_only_model", "save_on_each_node", "enable_jit_checkpoint",
        "resume_from_checkpoint", "stop_after_step", "overwrite_output_dir", "push_to_hub", "hub_token",
        "hub_private_repo", "hub_model_id", "hub_strategy", "hub_always_push", "hub_revision",
        # where and how fast the same computation runs
        "use_cpu", "num_threads", "local_rank", "torch_compile", "torch_compile_backend", "torch_compile_mode",
        "torch_empty_cache_steps", "activation_checkpointing", "activation_checkpointing_kwargs",
        "gradient_checkpointing", "gradient_checkpointing_kwargs", "dataloader_num_workers",
        "dataloader_pin_memory", "dataloader_persistent_workers", "dataloader_prefetch_factor",
        "dataloader_multiprocessing_context", "ddp_find_unused_parameters", "ddp_bucket_cap_mb",
        "ddp_broadcast_buffers", "ddp_static_graph", "ddp_backend", "ddp_timeout",
        # evaluation batches: scores, not weights
        "per_device_eval_batch_size", "eval_accumulation_steps", "eval_do_concat_batches", "eval_use_gather_object",
        # flags Trainer does not read
        "do_train", "do_eval", "do_predict",
    }
)  # fmt: skip


def as_json(values):
    """`values` as they read back from JSON (tuples become lists), so that a record compares equal."""
    return json.loads(json.dumps(values))


def run_settings(model_args, data_args, run_args):
    """{field: value} of every setting that shapes the weights, as JSON holds it."""
    values = {f.name: getattr(args, f.name) for args in (model_args, data_args) for f in fields(args)}
    values |= run_args.to_dict()  # enums as their values, tokens masked
    values = {name: value for name, value in values.items() if name not in NOT_SHAPING}
    return as_json({**values, "num_processes": run_args.world_size})


def argument_defaults():
    """Every argument's default, as JSON holds it: what a record made before a field existed ran with."""
    defaults = {}
    for cls in ARGUMENT_CLASSES:
        for f in fields(cls):
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            if default is not MISSING:
                defaults[f.name] = getattr(default, "value", default)
    return as_json(defaults)


class RunSettingsCallback(TrainerCallback, ExportableState):
    """Stores the run's settings in every checkpoint's `trainer_state.json` (see the module's docstring)."""

    def __init__(self, settings):
        self.settings = settings

    def state(self):
        return {"args": {"settings": self.settings}, "attributes": {}}


def checkpoint_settings(checkpoint):
    """The settings a checkpoint records, or None (a checkpoint written before they were recorded)."""
    state = json.loads((Path(checkpoint) / TRAINER_STATE).read_text())
    recorded = state.get("stateful_callbacks", {}).get(RunSettingsCallback.__name__)
    return recorded["args"]["settings"] if isinstance(recorded, dict) else None


def folder_settings(folder):
    """The settings a model folder records in its `metrics.json`, or None."""
    try:
        return json.loads((Path(folder) / "metrics.json").read_text()).get("settings")
    except (OSError, ValueError, AttributeError):
        return None


def fresh_start(output_dir):
    """How to start this run afresh, for the refusals."""
    return (
        f"To start it afresh, pass --output_dir NEW_FOLDER, or --overwrite_output_dir true to discard "
        f"{output_dir}'s checkpoints and model folder (nothing was deleted)."
    )


def check_previous_run(checkpoint, model_folder, settings):
    """Whether `model_folder` is this run's, finished (True: nothing to train). A ValueError when the
    checkpoint to resume from or the model folder records other settings, or none."""
    model_folder = Path(model_folder)
    records = ([Path(checkpoint)] if checkpoint else []) + ([model_folder] if model_folder.is_dir() else [])
    output_dir, defaults = model_folder.parent, argument_defaults()
    for where in records:
        recorded = checkpoint_settings(where) if where != model_folder else folder_settings(where)
        if recorded is None:
            raise ValueError(
                f"{where} records no run settings (it was written before posenc_hf recorded them), so nothing "
                f"tells whether this run would continue it. {fresh_start(output_dir)}"
            )
        changed = changed_fields({name: recorded.get(name, defaults.get(name)) for name in settings}, settings)
        if changed:
            raise ValueError(
                f"{output_dir} holds a run trained with other settings ({where.name}: {', '.join(changed)}): "
                f"resuming it would leave a folder that describes weights these settings never trained. "
                f"{fresh_start(output_dir)}"
            )
    return model_folder in records and finished(model_folder)


def finished(model_folder):
    """Whether the folder is complete and undamaged; a damaged one is written again from the last checkpoint."""
    try:
        check_model_folder(model_folder)
    except ValueError as error:
        logger.warning("%s will be written again: %s", model_folder, error)
        return False
    return True


def discard_previous_run(model_folder):
    """`--overwrite_output_dir true`: delete output_dir's checkpoints and model folder (and what an
    interrupted save of it left), nothing else."""
    model_folder = Path(model_folder)
    output_dir = model_folder.parent
    if not output_dir.is_dir():
        return
    checkpoints = [path for path in output_dir.iterdir() if CHECKPOINT_PATTERN.match(path.name)]
    leftovers = [model_folder.with_name(f".{model_folder.name}.{suffix}") for suffix in ("tmp", "old")]
    doomed = [path for path in [*checkpoints, model_folder, *leftovers] if path.exists()]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    if doomed:
        logger.warning("--overwrite_output_dir: discarded %s", ", ".join(str(path) for path in doomed))
