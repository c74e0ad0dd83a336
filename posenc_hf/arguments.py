"""Run arguments: one YAML file holds model, data and `TrainingArguments` fields, and any field can
be overridden on the command line (`train/run.py configs/subject.yaml --learning_rate 3e-4`)."""

import difflib
import logging
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
import yaml
from transformers import HfArgumentParser, TrainingArguments

logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    """The `PosEncConfig` fields a run chooses; vocabulary size and labels come from the data."""

    hidden_size: int = field(default=64, metadata={"help": "Width of every token vector."})
    num_attention_heads: int = field(default=8, metadata={"help": "Attention heads per layer."})
    num_hidden_layers: int = field(default=2, metadata={"help": "Encoder layers."})
    intermediate_size: int | None = field(default=None, metadata={"help": "Feed-forward width (4 × hidden)."})
    max_position_embeddings: int | None = field(
        default=None, metadata={"help": "Position table length; defaults to the data's max_length."}
    )
    position_embedding_type: str = field(default="learned", metadata={"help": "learned, sinusoidal or none."})
    layer_norm_position: str = field(default="post", metadata={"help": "post (BERT) or pre (GPT-2)."})
    pooling: str = field(default="mean", metadata={"help": "mean over tokens, or cls."})
    hidden_dropout_prob: float = field(default=0.1, metadata={"help": "Dropout on residual branches."})
    attention_probs_dropout_prob: float = field(default=0.0, metadata={"help": "Dropout on attention weights."})
    classifier_dropout: float | None = field(default=None, metadata={"help": "Head dropout (hidden's if unset)."})
    attn_implementation: str = field(default="sdpa", metadata={"help": "sdpa or eager."})
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from a saved PosEnc folder instead of random weights."}
    )
    task: str = field(
        default="classification",
        metadata={"help": "classification, or mlm: masked-LM pretraining on the corpus's unlabelled text."},
    )


@dataclass
class DataArguments:
    """Where the text comes from and how it becomes token ids."""

    corpus: str = field(
        default="subject",
        metadata={"help": "subject, sentiment, order, mmlu, goemotions, a CSV/TSV/JSON/Parquet path or a Hub id."},
    )
    data_dir: str | None = field(default=None, metadata={"help": "Folder of the mmlu/goemotions files."})
    text_column: str = field(default="text", metadata={"help": "Column holding the text."})
    label_column: str = field(default="label", metadata={"help": "Column holding the label."})
    class_names: list[str] | None = field(default=None, metadata={"help": "Label names in a fixed order."})
    validation_size: float = field(default=0.1, metadata={"help": "Share split off when there is no validation."})
    test_size: float = field(default=0.1, metadata={"help": "Share split off when there is no test split."})
    max_samples: int | None = field(default=None, metadata={"help": "Cap on rows per split (quick runs)."})
    max_length: int = field(default=128, metadata={"help": "Tokens per text; longer texts are truncated."})
    vocab_size: int = field(default=8000, metadata={"help": "WordPiece vocabulary size when training one."})
    tokenizer_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved tokenizer to use instead of training one on the train split."}
    )
    mlm_probability: float = field(default=0.15, metadata={"help": "task mlm: share of tokens masked (BERT)."})
    pretrain_splits: list[str] = field(
        default_factory=lambda: ["train"],
        metadata={"help": "task mlm: splits whose text (never labels) pretraining reads; evaluation splits stay out."},
    )


@dataclass
class RunArguments(TrainingArguments):
    """`TrainingArguments` with this project's defaults and a few additions."""

    output_dir: str | None = field(default="runs/posenc", metadata={"help": "Checkpoints; the model goes to /model."})
    eval_strategy: str = field(default="epoch", metadata={"help": "Evaluate on validation every epoch."})
    save_strategy: str = field(default="epoch", metadata={"help": "Checkpoint every epoch."})
    logging_strategy: str = field(default="epoch", metadata={"help": "Log the train loss every epoch."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best validation checkpoint."})
    metric_for_best_model: str | None = field(default="macro_f1", metadata={"help": "Validation metric to select."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept on disk."})
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "Stop after this many evaluations without improvement."}
    )
    lr_step_epochs: int | None = field(
        default=None, metadata={"help": "Multiply the learning rate by lr_step_gamma every this many epochs."}
    )
    lr_step_gamma: float = field(default=0.5, metadata={"help": "Factor of each learning-rate step."})
    stop_after_step: int | None = field(
        default=None, metadata={"help": "Save a checkpoint and stop after this optimizer step; rerun to resume."}
    )
    class_weight: str | None = field(
        default=None, metadata={"help": "balanced: weight each class's loss by n / (classes × its count)."}
    )
    num_threads: int | None = field(
        default=None, metadata={"help": "Torch threads per process; default: the cores shared among processes."}
    )


ARGUMENT_CLASSES = (ModelArguments, DataArguments, RunArguments)


def read_config_file(path):
    """The YAML file as a dict, with a clear error for a missing file, bad YAML or unknown keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"Config file {path} is not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"Config file {path} must hold a mapping of field: value, got {type(values).__name__}")
    check_known_keys(values, source=str(path))
    return values


def check_known_keys(values, source):
    known = {f.name for cls in ARGUMENT_CLASSES for f in fields(cls) if f.init}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown config key {key!r} in {source}.{hint}")


def parse_run_arguments(argv=None):
    """(ModelArguments, DataArguments, RunArguments) from `[CONFIG.yaml] [--field value ...]`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    parser.error = raise_value_error  # argparse would print a page of usage and exit
    if argv and argv[0].endswith((".yaml", ".yml")):
        parser.set_defaults(**read_config_file(argv.pop(0)))
    model_args, data_args, run_args, unknown = parser.parse_args_into_dataclasses(
        args=argv, return_remaining_strings=True
    )
    if unknown:
        raise ValueError(f"Unknown command-line arguments: {' '.join(unknown)}")
    check_run_arguments(model_args, data_args, run_args)
    return model_args, data_args, run_args


def raise_value_error(message):
    """argparse's complaint (e.g. "argument --hidden_size: invalid int value: 'abc'") as a ValueError."""
    raise ValueError(f"Bad config value: {message}")


# Sizes and counts that must be positive integers; those in OPTIONAL may also be None (derived later).
POSITIVE_INTEGERS = {
    "model": ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size"),
    "data": ("max_length", "vocab_size", "max_samples"),
    "run": ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"),
}
OPTIONAL = ("intermediate_size", "max_samples")


def check_run_arguments(model_args, data_args, run_args):
    """Fail before any work, naming the field, on a size or count that cannot be right (a YAML value is
    not converted by argparse, so `hidden_size: -8` or `num_train_epochs: [1]` get this far)."""
    groups = {"model": model_args, "data": data_args, "run": run_args}
    for group, names in POSITIVE_INTEGERS.items():
        for name in names:
            value = getattr(groups[group], name)
            if value is None and name in OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
    numbers = ["learning_rate"] + (["num_train_epochs"] if run_args.max_steps <= 0 else [])  # else max_steps rules
    for name in numbers:
        value = getattr(run_args, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")


def configure_threads(run_args):
    """Use the machine's cores: `accelerate launch` sets OMP_NUM_THREADS=1 even for one process."""
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = run_args.num_threads or max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(threads)
    logger.info("Using %d torch threads in each of %d process(es)", threads, processes)
    return threads
