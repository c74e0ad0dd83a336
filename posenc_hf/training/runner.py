"""The one training runner, for classification and masked-LM pretraining alike: a `RunPlan`
(`posenc_hf.training.plan`) → the previous run in output_dir → data, model and Trainer
(`posenc_hf.training.prepare.prepare_run`) → training → report → a Hub-ready folder (weights, config with
auto_map, code, tokenizer, metrics, and the task's card and plots).

What differs between the two jobs is the task object's (`posenc_hf.training.tasks`). With `streaming: true`
the train split is a stream (`posenc_hf.data.streaming`). `train/run.py` only reads the plan and calls
`run_training`.
"""

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from datasets import IterableDataset

from ..data.labels import class_names, label_counts
from ..data.sources import resolve_source
from ..folder.checkpoints import atomic_folder, read_checkpoint_config, resolve_checkpoint
from .prepare import prepare_run
from .run_settings import RunSettingsCallback, check_previous_run, discard_previous_run, run_settings
from .tasks import RUN_TASKS

logger = logging.getLogger(__name__)

MODEL_FOLDER = "model"  # the Hub-ready folder, inside output_dir beside the checkpoints


@dataclass
class RunResult:
    folder: Path | None  # None when training stopped early
    test_metrics: dict | None  # the task's headline scores: test metrics, or the masked LM's validation loss
    seconds: float
    stopped: str | None = None  # why training stopped early: "SIGINT", "SIGTERM", "stop_after_step=N"
    task: str = "classification"
    finished_before: bool = False  # output_dir held this run's finished model folder: nothing was done


def previous_run(run_args, settings):
    """(the checkpoint to resume from, whether output_dir holds this run finished), before any data is
    read: output_dir's checkpoints and model folder must record this run's settings
    (`posenc_hf.training.run_settings`), unless `overwrite_output_dir` discards them first."""
    folder = Path(run_args.output_dir) / MODEL_FOLDER
    if run_args.overwrite_output_dir:
        discard_previous_run(folder)
    checkpoint = resolve_checkpoint(run_args)
    if checkpoint:
        read_checkpoint_config(checkpoint)  # another model's checkpoint fails here
    finished = check_previous_run(checkpoint, folder, settings)
    if checkpoint and not finished:
        logger.warning("Found checkpoint %s in %s: resuming from it", checkpoint, run_args.output_dir)
    return checkpoint, finished


def data_summary(source, dataset, dropping_empty_cells=False):
    """The card's `data_info`: the data named by what it is (`reviews` for ../work/reviews.csv, a Hub
    dataset by its id), its splits, its labels and the rows left out for empty cells (`load_corpus`'s
    `dropped_rows`). A stream is not counted: its size, and what it drops, are "streamed"."""
    label_names, source = class_names(dataset["train"]), resolve_source(source)
    return {
        "name": source.name,
        "hub_id": source.spec if source.kind == "hub" else None,
        "file": source.path.name if source.kind in ("file", "folder") else None,
        "splits": {split: "streamed" if streamed(rows) else len(rows) for split, rows in dataset.items()},
        "label_names": label_names,
        "label_counts": {split: label_counts(rows) for split, rows in dataset.items() if not streamed(rows)},
        "dropped_rows": getattr(dataset, "dropped_rows", "streamed" if dropping_empty_cells else {}),
    }


def streamed(rows):
    """Whether a split is a stream (`posenc_hf.data.streaming`), which is never counted."""
    return isinstance(rows, IterableDataset)


def write_model_folder(folder, trainer, tokenizer, report, write_card):
    """Everything a user loads, pushes or serves, written to a temporary sibling and moved into
    place, so an interrupted save never leaves a half-written folder: weights, config, code,
    tokenizer, `metrics.json` and the card (`write_card(staging)`). The plots come after (`add_reports`)."""
    with atomic_folder(folder) as staging:
        trainer.model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        write_card(staging)
    return folder


def add_reports(folder, write_plots, write_card):
    """The optional reports, added to the complete model folder: the plots (`write_plots(folder)`,
    {name: path}), then the card again, showing them. A failing step is logged in one line, naming it
    and the error, and the folder is kept as `write_model_folder` left it (each plot: `plots.written`)."""
    step = "the plots"
    try:
        plots = write_plots(folder)
        step = "the card with its plots"
        if plots:
            write_card(folder, plots)
    except Exception as error:
        logger.warning(
            "Writing %s failed (%s: %s); the model folder %s is complete without it",
            step, type(error).__name__, error, folder,
        )  # fmt: skip


def run_training(plan, card_template=None):
    """Train, evaluate and write the model folder of a `RunPlan` (`posenc_hf.training.plan.read_plan`);
    returns where it is and the task's headline scores. A run whose finished folder output_dir already
    holds returns at once, changing nothing."""
    start, run_args = time.perf_counter(), plan.run_args
    settings = run_settings(plan.model_args, plan.data_args, run_args)
    checkpoint, finished = previous_run(run_args, settings)
    folder = Path(run_args.output_dir) / MODEL_FOLDER
    if finished:
        headline = json.loads((folder / "metrics.json").read_text())[plan.task.summary_metrics]
        return RunResult(folder, headline, time.perf_counter() - start, task=plan.task.name, finished_before=True)
    prepared = prepare_run(plan, checkpoint, callbacks=[RunSettingsCallback(settings)])
    data, trainer = prepared.data, prepared.trainer
    task = data.task
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if prepared.graceful_stop.stop_reason:
        stopped = prepared.graceful_stop.stop_reason
        return RunResult(None, None, time.perf_counter() - start, stopped=stopped, task=task.name)
    report = {
        **task.report(trainer, data.tokenized, run_args, plan.data_args, data.label_names),
        "train_runtime_seconds": train_output.metrics["train_runtime"],
        "epochs": trainer.state.epoch,
        "num_processes": run_args.world_size,
        **({"max_length_clipped": data.max_length_clipped} if data.max_length_clipped else {}),
        "settings": settings,  # what the weights were trained with; the card shows the same dict
    }
    if trainer.is_world_process_zero():
        data_info = data_summary(plan.source, data.corpus, plan.data_args.drop_rows_with_empty_cells)

        def write_card(into, plots=None):
            task.write_card(into, trainer, report, data_info, card_template, plots or {})

        write_model_folder(folder, trainer, data.tokenizer, report, write_card)
        add_reports(folder, lambda into: task.write_plots(into, trainer, report, data_info), write_card)
    return RunResult(folder, report[task.summary_metrics], time.perf_counter() - start, task=task.name)


def format_summary(result, output_dir):
    """A few lines for the end of a run: where the model is and how it scored."""
    if result.stopped:
        return (
            f"\nStopped ({result.stopped}) after saving a checkpoint in {output_dir}. Run the same command to resume."
        )
    if result.finished_before:
        return (
            f"\nAlready finished: {result.folder} holds the model these settings train; nothing was trained or "
            f"changed (--output_dir NEW_FOLDER, or --overwrite_output_dir true, trains it again)."
        )
    lines = RUN_TASKS[result.task]().summary_lines(result.test_metrics, result.folder)
    return "\n".join(["", f"Finished in {result.seconds:.1f} s.", *lines])
