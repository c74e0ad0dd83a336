"""The one training runner, for classification and masked-LM pretraining alike, one step per
function: corpus → tokenizer → tokenized splits → model → Trainer → report → a Hub-ready folder
(weights, config with auto_map, code, tokenizer, metrics, and the task's card and plots).

What differs between the two jobs is the task object's (`posenc_hf.tasks`). With `streaming: true`
the train split is a stream (`posenc_hf.streaming`). `train/run.py` only parses arguments and calls
`run_training`.
"""

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from datasets import IterableDataset
from transformers import AutoTokenizer, set_seed

from .arguments import config_values
from .checkpoints import atomic_folder, check_checkpoint_matches, read_checkpoint_config, resolve_checkpoint
from .configuration_posenc import PosEncConfig
from .data import load_corpus, source_kind, source_name
from .labels import class_names, label_counts
from .pretrained import pretrained_config
from .streaming import check_streaming_run, load_streamed_corpus, shard_by_process, tokenize_streamed
from .tasks import RUN_TASKS, multi_label_wanted, task_for
from .tokenization import train_tokenizer
from .trainer import GracefulStopCallback, PosEncTrainer

logger = logging.getLogger(__name__)

MODEL_FOLDER = "model"  # the Hub-ready folder, inside output_dir beside the checkpoints


@dataclass
class RunResult:
    folder: Path | None  # None when training stopped early
    test_metrics: dict | None  # the task's headline scores: test metrics, or the masked LM's validation loss
    seconds: float
    stopped: str | None = None  # why training stopped early: "SIGINT", "SIGTERM", "stop_after_step=N"
    task: str = "classification"


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
    A pretrained folder brings its own architecture (`posenc_hf.pretrained`)."""
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


def build_trainer(model, run_args, tokenized, tokenizer, parts, graceful_stop):
    """`PosEncTrainer` with the task's collator, metrics and loss; the tokenizer is saved into every checkpoint."""
    parts = dict(parts)
    return PosEncTrainer(
        model=model,
        args=run_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        callbacks=[graceful_stop, *parts.pop("callbacks")],
        **parts,
    )


def data_summary(data_args, dataset):
    """The card's `data_info`: the data named by what it is (`reviews` for ../work/reviews.csv, a Hub
    dataset by its id), its splits and its labels. A stream is not counted: its size is "streamed"."""
    label_names = class_names(dataset["train"])
    source, kind = data_args.corpus, source_kind(data_args.corpus)
    return {
        "name": source_name(source),
        "hub_id": source if kind == "hub" else None,
        "file": Path(source).name if kind in ("file", "folder") else None,
        "splits": {split: "streamed" if streamed(rows) else len(rows) for split, rows in dataset.items()},
        "label_names": label_names,
        "label_counts": {split: label_counts(rows) for split, rows in dataset.items() if not streamed(rows)},
    }


def streamed(rows):
    """Whether a split is a stream (`posenc_hf.streaming`), which is never counted."""
    return isinstance(rows, IterableDataset)


def write_model_folder(folder, trainer, tokenizer, report, write_task_files):
    """Everything a user loads, pushes or serves, written to a temporary sibling and moved into
    place, so an interrupted save never leaves a half-written folder. `write_task_files(staging)`
    adds the task's own files (card, plots)."""
    with atomic_folder(folder) as staging:
        trainer.model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        write_task_files(staging)
    return folder


def run_training(model_args, data_args, run_args, card_template=None, task=None):
    """Train, evaluate and write the model folder; returns where it is and the task's headline scores.
    `task`: a task object (`posenc_hf.tasks`) instead of the one `model_args.task` names."""
    start = time.perf_counter()
    task = task or task_for(model_args.task)
    set_seed(run_args.seed)
    run_args = task.configure(run_args)
    if data_args.streaming:
        check_streaming_run(task.name, data_args, run_args, model_args.problem_type)
        run_args = shard_by_process(run_args)
    checkpoint = resolve_checkpoint(run_args)
    if checkpoint:
        read_checkpoint_config(checkpoint)  # another model's checkpoint fails here, before any work
    corpus = load_data(data_args, run_args.seed, multi_label_wanted(model_args.problem_type))
    task = task.for_data(corpus)  # multi-label data: MultiLabelClassification
    splits = task.splits(corpus, data_args, run_args.seed)
    label_names = task.label_names(splits)
    tokenizer = get_tokenizer(
        data_args, tokenizer_texts(data_args, splits["train"]), checkpoint or model_args.model_name_or_path
    )
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
    trainer = build_trainer(model, run_args, tokenized, tokenizer, parts, graceful_stop)

    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if graceful_stop.stop_reason:
        return RunResult(None, None, time.perf_counter() - start, stopped=graceful_stop.stop_reason, task=task.name)
    report = {
        **task.report(trainer, tokenized, run_args, data_args, label_names),
        "train_runtime_seconds": train_output.metrics["train_runtime"],
        "epochs": trainer.state.epoch,
        "num_processes": run_args.world_size,
    }
    folder = Path(run_args.output_dir) / MODEL_FOLDER
    if trainer.is_world_process_zero():
        data_info = data_summary(data_args, corpus)

        def write_task_files(staging):
            task.write_files(staging, trainer, report, data_info, card_template)

        write_model_folder(folder, trainer, tokenizer, report, write_task_files)
    headline = report[task.summary_metrics]
    return RunResult(folder, headline, time.perf_counter() - start, task=task.name)


def format_summary(result, output_dir):
    """A few lines for the end of a run: where the model is and how it scored."""
    if result.stopped:
        return (
            f"\nStopped ({result.stopped}) after saving a checkpoint in {output_dir}. Run the same command to resume."
        )
    lines = RUN_TASKS[result.task]().summary_lines(result.test_metrics, result.folder)
    return "\n".join(["", f"Finished in {result.seconds:.1f} s.", *lines])
