"""The one training runner, for classification and masked-LM pretraining alike, one step per
function: corpus → tokenizer → tokenized splits → model → Trainer → report → a Hub-ready folder
(weights, config with auto_map, code, tokenizer, metrics, and the task's card and plots).

What differs between the two jobs is the task object's (`posenc_hf.training.tasks`). With `streaming: true`
the train split is a stream (`posenc_hf.data.streaming`). `train/run.py` only parses arguments and calls
`run_training`.
"""

import json
import logging
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from datasets import IterableDataset
from transformers import AutoTokenizer, set_seed

from ..data.labels import class_names, label_counts
from ..data.sources import load_corpus, source_kind, source_name
from ..data.streaming import check_streaming_run, load_streamed_corpus, shard_by_process, tokenize_streamed
from ..data.tokenization import text_encoder, train_tokenizer
from ..folder.checkpoints import atomic_folder, check_checkpoint_matches, read_checkpoint_config, resolve_checkpoint
from ..model.configuration_posenc import PosEncConfig
from .arguments import config_values
from .pretrained import pretrained_config
from .run_settings import RunSettingsCallback, check_previous_run, discard_previous_run, run_settings
from .tasks import RUN_TASKS, multi_label_wanted, task_for
from .trainer import GracefulStopCallback, PosEncTrainer

logger = logging.getLogger(__name__)

MODEL_FOLDER = "model"  # the Hub-ready folder, inside output_dir beside the checkpoints
LENGTH_KEPT = 512  # a max_length up to BERT's table length is used as given; beyond it, what the data needs
MAX_TABLE_BYTES = 2**30  # a position table (positions x hidden_size float32 values) no run can need


@dataclass
class RunResult:
    folder: Path | None  # None when training stopped early
    test_metrics: dict | None  # the task's headline scores: test metrics, or the masked LM's validation loss
    seconds: float
    stopped: str | None = None  # why training stopped early: "SIGINT", "SIGTERM", "stop_after_step=N"
    task: str = "classification"
    finished_before: bool = False  # output_dir held this run's finished model folder: nothing was done


def load_data(data_args, seed, multi_label=None):
    """The corpus as a DatasetDict with `text` and a ClassLabel `label` (a list of them for multi-label
    data; `multi_label`: see `load_corpus`)."""
    if data_args.streaming:  # the train split a stream, validation and test in memory
        return load_streamed_corpus(data_args)
    return load_corpus(
        data_args.corpus,
        data_dir=data_args.data_dir,
        hub=data_args.hub_options(),
        text_column=data_args.text_column,
        label_column=data_args.label_column,
        label_names=data_args.class_names,
        validation_size=data_args.validation_size,
        test_size=data_args.test_size,
        max_samples=data_args.max_samples,
        seed=seed,
        mmlu_heldout=data_args.mmlu_heldout,
        multi_label=multi_label,
        drop_rows_with_empty_cells=data_args.drop_rows_with_empty_cells,
    )


def tokenizer_texts(data_args, train):
    """The texts a new tokenizer trains on: the train split's (it samples at most `tokenizer_max_texts`),
    or a stream's first `tokenizer_max_texts`."""
    return train.take(data_args.tokenizer_max_texts)["text"] if data_args.streaming else train["text"]


def get_tokenizer(data_args, train_texts, checkpoint=None):
    """A given tokenizer, the one saved in the checkpoint we resume from, or a new one trained on
    the training split (never on validation or test)."""
    source = data_args.tokenizer_name_or_path or checkpoint
    if source:
        tokenizer = AutoTokenizer.from_pretrained(source)
        tokenizer.model_max_length = min(tokenizer.model_max_length, data_args.max_length)
        return tokenizer
    return train_tokenizer(
        train_texts,
        vocab_size=data_args.vocab_size,
        model_max_length=data_args.max_length,
        max_texts=data_args.tokenizer_max_texts,
    )


def build_config(model_args, tokenizer, label_names):
    """The run's `PosEncConfig`: its YAML fields, the tokenizer's vocabulary and length, the data's labels.
    A pretrained folder brings its own architecture (`posenc_hf.training.pretrained`)."""
    if model_args.model_name_or_path:
        return pretrained_config(model_args, tokenizer, label_names)
    return PosEncConfig(
        **{"max_position_embeddings": tokenizer.model_max_length, **config_values(model_args)},
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )


def check_positions_fit(config, tokenizer):
    """Inputs of the tokenizer's model_max_length must fit the config's position table (also a pretrained one's)."""
    if config.max_position_embeddings < tokenizer.model_max_length:
        raise ValueError(
            f"max_position_embeddings={config.max_position_embeddings} is smaller than the tokenizer's "
            f"model_max_length={tokenizer.model_max_length}: inputs of that length would not fit. Raise "
            f"max_position_embeddings (not possible for a pretrained folder's table) or lower max_length."
        )


def check_lengths_servable(model_args, data_args):
    """Before any data is read: refuse a length whose position table (positions x hidden_size float32
    values) would exceed MAX_TABLE_BYTES, a length no table and no text of a run can need."""
    lengths = {"max_length": data_args.max_length, "max_position_embeddings": model_args.max_position_embeddings}
    for name, positions in lengths.items():
        size = (positions or 0) * model_args.hidden_size * 4
        if size > MAX_TABLE_BYTES:
            raise ValueError(
                f"{name}={positions:,} cannot be served: a position table of {positions:,} positions x hidden_size "
                f"{model_args.hidden_size} needs {size / 2**30:.1f} GiB, beyond {MAX_TABLE_BYTES / 2**30:g} GiB. "
                f"Lower {name} (texts are cut to max_length tokens, so it need not exceed the longest text)."
            )


def clip_max_length(tokenizer, texts, max_length, streaming=False):
    """A max_length beyond LENGTH_KEPT is clipped to the longest tokenized training text (not below
    LENGTH_KEPT), before the position table is built on it: the table, and every plot of it, then
    holds only positions that training can reach. {asked, clipped_to, longest_training_text} when
    clipped (for metrics.json and the card), else None. A stream is measured on the texts its
    tokenizer read (its first `tokenizer_max_texts`)."""
    if max_length <= LENGTH_KEPT:
        return None
    longest = longest_tokenized(tokenizer, texts)
    clipped = max(longest, LENGTH_KEPT)
    if clipped >= max_length:
        return None
    tokenizer.model_max_length = min(tokenizer.model_max_length, clipped)
    which = " among those the tokenizer read from the stream" if streaming else ""
    logger.warning(
        "max_length %d clipped to %d: the longest tokenized training text%s has %d tokens (a max_length up to "
        "%d is used as given)", max_length, clipped, which, longest, LENGTH_KEPT,
    )  # fmt: skip
    return {"asked": max_length, "clipped_to": clipped, "longest_training_text": longest}


def longest_tokenized(tokenizer, texts, batch_size=10_000):
    """The most tokens any of `texts` has, cut at the tokenizer's model_max_length as training cuts it."""
    encode, texts, longest = text_encoder(tokenizer), iter(texts), 0
    while batch := list(islice(texts, batch_size)):
        longest = max(longest, *map(len, encode({"text": batch})["input_ids"]))
    return longest


def build_trainer(model, run_args, tokenized, tokenizer, parts, callbacks):
    """`PosEncTrainer` with the task's collator, metrics and loss; the tokenizer is saved into every checkpoint."""
    parts = dict(parts)
    return PosEncTrainer(
        model=model,
        args=run_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        callbacks=[*callbacks, *parts.pop("callbacks")],
        **parts,
    )


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


def data_summary(data_args, dataset):
    """The card's `data_info`: the data named by what it is (`reviews` for ../work/reviews.csv, a Hub
    dataset by its id), its splits, its labels and the rows left out for empty cells (`load_corpus`'s
    `dropped_rows`). A stream is not counted: its size, and what it drops, are "streamed"."""
    label_names = class_names(dataset["train"])
    source, kind = data_args.corpus, source_kind(data_args.corpus)
    return {
        "name": source_name(source),
        "hub_id": source if kind == "hub" else None,
        "file": Path(source).name if kind in ("file", "folder") else None,
        "splits": {split: "streamed" if streamed(rows) else len(rows) for split, rows in dataset.items()},
        "label_names": label_names,
        "label_counts": {split: label_counts(rows) for split, rows in dataset.items() if not streamed(rows)},
        "dropped_rows": getattr(dataset, "dropped_rows", "streamed" if data_args.drop_rows_with_empty_cells else {}),
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


def run_training(model_args, data_args, run_args, card_template=None, task=None):
    """Train, evaluate and write the model folder; returns where it is and the task's headline scores.
    `task`: a task object (`posenc_hf.training.tasks`) instead of the one `model_args.task` names. A run whose
    finished folder output_dir already holds returns at once, changing nothing."""
    start = time.perf_counter()
    task = task or task_for(model_args.task)
    set_seed(run_args.seed)
    run_args = task.configure(run_args)
    if data_args.streaming:
        check_streaming_run(task.name, data_args, run_args, model_args.problem_type)
        run_args = shard_by_process(run_args)
    check_lengths_servable(model_args, data_args)
    settings = run_settings(model_args, data_args, run_args)
    checkpoint, finished = previous_run(run_args, settings)
    folder = Path(run_args.output_dir) / MODEL_FOLDER
    if finished:
        headline = json.loads((folder / "metrics.json").read_text())[task.summary_metrics]
        return RunResult(folder, headline, time.perf_counter() - start, task=task.name, finished_before=True)
    corpus = load_data(data_args, run_args.seed, multi_label_wanted(model_args.problem_type))
    task = task.for_data(corpus)  # multi-label data: MultiLabelClassification
    splits = task.splits(corpus, data_args, run_args.seed)
    label_names = task.label_names(splits)
    train_texts = tokenizer_texts(data_args, splits["train"])
    tokenizer = get_tokenizer(data_args, train_texts, checkpoint or model_args.model_name_or_path)
    clipped = clip_max_length(tokenizer, train_texts, data_args.max_length, data_args.streaming)
    config = build_config(model_args, tokenizer, label_names)
    check_positions_fit(config, tokenizer)
    if checkpoint:
        check_checkpoint_matches(checkpoint, config)
    if data_args.streaming:
        tokenized = tokenize_streamed(task, splits, tokenizer, run_args.seed, data_args.shuffle_buffer_size)
    else:
        tokenized = task.tokenize(splits, tokenizer)
    model = task.build_model(model_args, config)
    graceful_stop = GracefulStopCallback(run_args.stop_after_step)
    parts = task.trainer_parts(run_args, data_args, tokenized, tokenizer, label_names)
    callbacks = [graceful_stop, RunSettingsCallback(settings)]
    trainer = build_trainer(model, run_args, tokenized, tokenizer, parts, callbacks)

    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if graceful_stop.stop_reason:
        return RunResult(None, None, time.perf_counter() - start, stopped=graceful_stop.stop_reason, task=task.name)
    report = {
        **task.report(trainer, tokenized, run_args, data_args, label_names),
        "train_runtime_seconds": train_output.metrics["train_runtime"],
        "epochs": trainer.state.epoch,
        "num_processes": run_args.world_size,
        **({"max_length_clipped": clipped} if clipped else {}),
        "settings": settings,  # what the weights were trained with; the card shows the same dict
    }
    if trainer.is_world_process_zero():
        data_info = data_summary(data_args, corpus)

        def write_card(into, plots=None):
            task.write_card(into, trainer, report, data_info, card_template, plots or {})

        write_model_folder(folder, trainer, tokenizer, report, write_card)
        add_reports(folder, lambda into: task.write_plots(into, trainer, report, data_info), write_card)
    headline = report[task.summary_metrics]
    return RunResult(folder, headline, time.perf_counter() - start, task=task.name)


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
