"""Run arguments: one YAML file holds model, data and `TrainingArguments` fields, and any field can
be overridden on the command line (`train/run.py configs/subject.yaml --learning_rate 3e-4`).

A leaf: it parses and checks types and sizes, and imports nothing of the package but the config whose
fields the model arguments are; `posenc_hf.training.plan` resolves what the arguments mean."""

import difflib
import logging
import os
import sys
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import get_args, get_type_hints

import torch
import yaml
from transformers import HfArgumentParser, TrainingArguments

from ..model.configuration_posenc import PosEncConfig

logger = logging.getLogger(__name__)


# The `PosEncConfig` fields a run's YAML sets, with their help; their types and defaults are the
# config's own. Vocabulary size, labels and padding id come from the data.
CONFIG_FIELDS = {
    "hidden_size": "Width of every token vector.",
    "num_attention_heads": "Attention heads per layer.",
    "num_hidden_layers": "Encoder layers.",
    "intermediate_size": "Feed-forward width (default 4 × hidden_size).",
    "max_position_embeddings": "Position table length, randomize_positions' range (default: the data's max_length).",
    "position_embedding_type": "learned or sinusoidal (a table added to the tokens, capped at "
    "max_position_embeddings), none, or in attention at any length: rotary, alibi, t5, fire, kerple.",
    "relative_attention_num_buckets": "t5: distance buckets per head.",
    "relative_attention_max_distance": "t5: distances from this one on share the last bucket.",
    "fire_mlp_width": "fire: hidden units of the MLP of the distance.",
    "randomize_positions": "Train at sorted random positions in [0, max_position_embeddings) (Ruoss et al. 2023).",
    "randomized_eval_positions": "randomize_positions: evaluate at positions 0..n-1 (ordered), or at positions "
    "drawn as in training from a generator seeded by the text (sampled: reproducible).",
    "layer_norm_position": "post (BERT) or pre (GPT-2).",
    "pooling": "mean over tokens, or cls.",
    "hidden_act": "Feed-forward activation (transformers' ACT2FN names).",
    "hidden_dropout_prob": "Dropout on residual branches.",
    "attention_probs_dropout_prob": "Dropout on attention weights.",
    "classifier_dropout": "Head dropout (hidden_dropout_prob if unset).",
    "problem_type": "multi_label_classification (lists of labels; in CSV, comma-separated), "
    "single_label_classification, or unset: as the data holds.",
}
# Keywords `PosEncConfig` takes that are not its fields: transformers folds `rope_theta` into `rope_parameters`.
CONFIG_KEYWORDS = {
    "rope_theta": (float, field(default=10000.0, metadata={"help": "rotary: RoPE's base θ (into rope_parameters)."}))
}
FROM_DATA = {"max_position_embeddings": None}  # None: decided by the data (the tokenizer's max_length)
# The config fields' types. transformers' own fields (`problem_type`) are annotated as text that names `torch`.
CONFIG_TYPES = get_type_hints(PosEncConfig, localns={"torch": torch})


def config_field(name, help):
    """A run argument that is the `PosEncConfig` field `name`: same name, type and default."""
    config_field = next(f for f in fields(PosEncConfig) if f.name == name)
    default = FROM_DATA.get(name, config_field.default)
    return name, argument_type(CONFIG_TYPES[name], default), field(default=default, metadata={"help": help})


def argument_type(annotation, default):
    """What argparse can parse for a config annotation: `float | int` is a float, and None stays allowed."""
    members = set(get_args(annotation)) or {annotation}
    base = float if float in members else next(t for t in members if t is not type(None))
    return base | None if type(None) in members or default is None else base


ModelArguments = make_dataclass(
    "ModelArguments",
    [
        *(config_field(name, help) for name, help in CONFIG_FIELDS.items()),
        *((name, type_, field_) for name, (type_, field_) in CONFIG_KEYWORDS.items()),
        ("attn_implementation", str, field(default="sdpa", metadata={"help": "sdpa or eager."})),
        (
            "model_name_or_path",
            str | None,
            field(default=None, metadata={"help": "Start from a saved PosEnc folder instead of random weights."}),
        ),
        (
            "task",
            str,
            field(
                default="classification",
                metadata={"help": "classification, or mlm: masked-LM pretraining on the corpus's unlabelled text."},
            ),
        ),
    ],
)
ModelArguments.__doc__ = "The `PosEncConfig` fields and keywords a run chooses, and where its weights start."
ModelArguments.__module__ = __name__


def config_values(model_args):
    """The run's `PosEncConfig` fields and keywords, as keyword arguments; those decided by the data left
    out when unset."""
    values = {name: getattr(model_args, name) for name in (*CONFIG_FIELDS, *CONFIG_KEYWORDS)}
    return {name: value for name, value in values.items() if not (name in FROM_DATA and value is None)}


@dataclass
class DataArguments:
    """Where the text comes from and how it becomes token ids."""

    corpus: str = field(
        default="subject",
        metadata={"help": "subject, sentiment, order, mmlu, goemotions, a CSV/TSV/JSON/Parquet path or a Hub id."},
    )
    data_dir: str | None = field(default=None, metadata={"help": "Folder of the mmlu/goemotions files."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Hub dataset: its config (name)."})
    dataset_revision: str | None = field(
        default=None, metadata={"help": "Hub dataset: a branch, tag or commit (a local folder: check it out)."}
    )
    split_mapping: dict[str, str] | str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset: our splits from its splits, validation=dev,test=heldout (YAML: a mapping); "
            "the splits it leaves out are made from train."
        },
    )
    streaming: bool = field(
        default=False, metadata={"help": "Train from a stream (files or Hub id), never read whole; needs max_steps."}
    )
    streaming_holdout_rows: int = field(
        default=1000,
        metadata={"help": "streaming: rows of the stream's head taken for validation, then test, when it lacks them."},
    )
    shuffle_buffer_size: int = field(
        default=10_000, metadata={"help": "streaming: rows in the seeded shuffle buffer of the train stream."}
    )
    mmlu_heldout: str | None = field(
        default=None,
        metadata={"help": "mmlu: college (or high_school) files as the test split, the rest as train (a shift test)."},
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the text."})
    label_column: str = field(default="label", metadata={"help": "Column holding the label."})
    class_names: list[str] | None = field(default=None, metadata={"help": "Label names in a fixed order."})
    drop_rows_with_empty_cells: bool = field(
        default=False,
        metadata={
            "help": "Leave out rows whose text or label is empty or whitespace only (counted in the log and the "
            "card) instead of failing on them."
        },
    )
    validation_size: float = field(default=0.1, metadata={"help": "Share split off when there is no validation."})
    test_size: float = field(default=0.1, metadata={"help": "Share split off when there is no test split."})
    max_samples: int | None = field(default=None, metadata={"help": "Cap on rows per split (quick runs)."})
    max_length: int = field(default=128, metadata={"help": "Tokens per text; longer texts are truncated."})
    vocab_size: int = field(default=8000, metadata={"help": "WordPiece vocabulary size when training one."})
    tokenizer_max_texts: int | None = field(
        default=100_000,
        metadata={"help": "Train the tokenizer on a seeded sample of at most this many texts (None: all)."},
    )
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

    output_dir: str | None = field(
        default=None,
        metadata={"help": "Checkpoints, and the model in /model; default runs/<data name> (runs/<data name>-mlm)."},
    )
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
    push_to_hub: bool = field(
        default=False, metadata={"help": "Upload the finished model folder to hub_model_id (checked before training)."}
    )
    hub_model_id: str | None = field(
        default=None, metadata={"help": "The Hub repo to push to: you/name, or name (default: the output_dir's name)."}
    )
    resume_from_checkpoint: str | None = field(
        default=None, metadata={"help": "A checkpoint folder to resume from (default: the last one in output_dir)."}
    )
    overwrite_output_dir: bool = field(  # transformers 4's name; 5 dropped the field (posenc_hf.training.run_settings)
        default=False,
        metadata={"help": "Delete output_dir's checkpoints and model folder, then train afresh."},
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False, metadata={"help": "DDP: every parameter is used in every step, so none is searched for."}
    )

    def __post_init__(self):
        output_dir = self.output_dir  # None: the plan names it after the data (`posenc_hf.training.plan`)
        super().__post_init__()
        self.output_dir = output_dir and os.path.expanduser(output_dir)
        if not torch.accelerator.is_available():  # nothing to pin memory for: torch warns at every DataLoader
            self.dataloader_pin_memory = False


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


def known_fields():
    return {f.name for cls in ARGUMENT_CLASSES for f in fields(cls) if f.init}


def did_you_mean(name, prefix=""):
    """The hint " Did you mean 'learning_rate'?" for a misspelt field name (`prefix`: e.g. "--"), or ""."""
    close = difflib.get_close_matches(name.replace("-", "_"), known_fields(), n=1)
    return f" Did you mean {prefix + close[0]!r}?" if close else ""


def check_known_keys(values, source):
    known = known_fields()
    for key in values:
        if key not in known:
            raise ValueError(f"Unknown config key {key!r} in {source}.{did_you_mean(key)}")


def check_known_arguments(unknown):
    """The arguments argparse did not recognise, as one error with a suggestion for each misspelt option."""
    if unknown:
        options = [token.removeprefix("--").split("=")[0] for token in unknown if token.startswith("--")]
        hints = "".join(did_you_mean(option, prefix="--") for option in options)
        raise ValueError(f"Unknown command-line arguments: {' '.join(unknown)}.{hints} (--help lists the fields)")


def parse_run_arguments(argv=None):
    """(ModelArguments, DataArguments, RunArguments) from `[CONFIG.yaml] [--field value ...]`.

    `-h`/`--help` prints `run_help` (this project's fields) and `--help-all` every field, then exit."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    parser.error = raise_value_error  # argparse would print a page of usage and exit
    if argv and argv[0].endswith((".yaml", ".yml")):
        parser.set_defaults(**read_config_file(argv.pop(0)))
    if "--help-all" in argv:
        parser.print_help()
        raise SystemExit(0)
    if "-h" in argv or "--help" in argv:
        print(run_help(parser))
        raise SystemExit(0)
    model_args, data_args, run_args, unknown = parser.parse_args_into_dataclasses(
        args=argv, return_remaining_strings=True
    )
    check_known_arguments(unknown)
    check_run_arguments(model_args, data_args, run_args)
    return model_args, data_args, run_args


# `--help` shows these `TrainingArguments` fields beside the project's own; `--help-all` shows them all.
COMMON_TRAINING_FIELDS = (
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "seed",
    "use_cpu",
    "bf16",
)
USAGE = """usage: python train/run.py [CONFIG.yaml] [--field value ...]
   or: accelerate launch [launch options] train/run.py [CONFIG.yaml] [--field value ...]

Train a PosEnc text classifier and write a Hub-ready model folder to <output_dir>/model.
CONFIG.yaml (e.g. configs/subject.yaml) sets any field below and any TrainingArguments field;
a field on the command line overrides it. Values shown are the config's, else the defaults."""


def run_help(parser):
    """A page a user can read: usage, the config file, the project's own fields with their values and
    the most used `TrainingArguments` fields; `--help-all` lists every field of `TrainingArguments`."""
    own = set(RunArguments.__annotations__)
    groups = {
        "model (PosEncConfig fields)": [f for f in fields(ModelArguments)],
        "data": [f for f in fields(DataArguments)],
        "run": [f for f in fields(RunArguments) if f.name in own or f.name in COMMON_TRAINING_FIELDS],
    }
    lines = [USAGE]
    for title, group in groups.items():
        lines += ["", f"{title}:"]
        lines += [f"  {f'--{f.name} {default_of(parser, f.name)}':<36} {help_of(f)}" for f in group]
    lines += ["", "--help-all: every field, with all of TrainingArguments' (several hundred lines)."]
    return "\n".join(lines)


def default_of(parser, name):
    value = parser.get_default(name)
    return str(getattr(value, "value", value))  # an enum's value: "epoch", not "IntervalStrategy.EPOCH"


def help_of(field_):
    return " ".join(field_.metadata.get("help", "").split())


def raise_value_error(message):
    """argparse's complaint (e.g. "argument --hidden_size: invalid int value: 'abc'") as a ValueError."""
    raise ValueError(f"Bad config value: {message}")


# Sizes and counts of the data and the run that must be positive integers (None: no cap).
POSITIVE_INTEGERS = {
    "data": (
        "max_length",
        "vocab_size",
        "max_samples",
        "tokenizer_max_texts",
        "streaming_holdout_rows",
        "shuffle_buffer_size",
    ),
    "run": ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"),
}
OPTIONAL = ("max_samples", "tokenizer_max_texts")


def check_run_arguments(model_args, data_args, run_args):
    """Fail before any work, naming the field, on a size or count that cannot be right (a YAML value is
    not converted by argparse, so `max_length: -8` or `num_train_epochs: [1]` get this far). The model
    fields are checked where they are defined, by the `PosEncConfig` the plan builds of them; the task,
    the problem type and the source by the plan (`posenc_hf.training.plan`)."""
    groups = {"data": data_args, "run": run_args}
    for group, names in POSITIVE_INTEGERS.items():
        for name in names:
            value = getattr(groups[group], name)
            if value is None and name in OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
    numbers = [(model_args, "rope_theta"), (run_args, "learning_rate")]  # PosEncConfig takes any rope_theta
    numbers += [(run_args, "num_train_epochs")] if run_args.max_steps <= 0 else []  # else max_steps rules
    for args, name in numbers:
        value = getattr(args, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")


def configure_threads(run_args):
    """Use the machine's cores: `accelerate launch` sets OMP_NUM_THREADS=1 even for one process."""
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = run_args.num_threads or max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(threads)
    logger.info("Using %d torch threads in each of %d process(es)", threads, processes)
    return threads
