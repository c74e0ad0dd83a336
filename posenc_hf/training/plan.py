"""A run resolved once: the YAML file and the command line become a `RunPlan` at the boundary, and
everything downstream (`posenc_hf.training.prepare`, the runner, the research code) reads the plan.

Each value is checked where it enters: argument types and sizes by `posenc_hf.training.arguments`
(a leaf: it imports only the config), the rest here, once: the task, what `problem_type` asks of the
data, the data source (classified against the file system once, `posenc_hf.data.sources.Source`), the
Hub options, the lengths a position table can serve, what a stream cannot give, and the model's
architecture, a `PosEncConfig` built and validated here (from the YAML's model fields, or a pretrained
folder's, whose overridden YAML fields a warning names). The data then adds what only it knows
(vocabulary, labels, the position table's length: `prepare.build_config`).
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainingArguments

from ..data.corpora.files import HubOptions
from ..data.sources import Source, resolve_source
from ..data.streaming import check_streaming_run, shard_by_process
from ..model.configuration_posenc import PosEncConfig
from .arguments import DataArguments, ModelArguments, config_values, parse_run_arguments
from .pretrained import pretrained_architecture
from .tasks import multi_label_wanted, task_for

logger = logging.getLogger(__name__)

MAX_TABLE_BYTES = 2**30  # a position table (positions x hidden_size float32 values) no run can need


@dataclass
class ModelPlan:
    """What the model will be, before the data is read."""

    config: PosEncConfig  # the architecture: the YAML's fields, or a pretrained folder's (with the run's dropout)
    pretrained: str | None = None  # the folder it starts from (model_name_or_path)
    positions_from_data: bool = True  # max_position_embeddings unset: the tokenizer's length decides it


@dataclass
class RunPlan:
    """One run, resolved: its arguments and what they mean."""

    model_args: ModelArguments
    data_args: DataArguments
    run_args: TrainingArguments
    task: object  # `posenc_hf.training.tasks`' (multi-label data turns Classification into MultiLabelClassification)
    source: Source  # data_args.corpus, classified
    hub: HubOptions
    multi_label: bool | None  # what problem_type asks of the data (`load_corpus`'s `multi_label`)
    model: ModelPlan


def read_plan(argv=None, task=None) -> RunPlan:
    """The plan of `[CONFIG.yaml] [--field value ...]` (`posenc_hf.training.arguments.parse_run_arguments`)."""
    return plan_run(*parse_run_arguments(argv), task=task)


def plan_run(model_args, data_args, run_args, task=None) -> RunPlan:
    """Resolve and check a run's arguments, before any data is read. `task`: a task object instead of
    the one `model_args.task` names. `run_args` is set up for the task (and a stream's processes)."""
    model = plan_model(model_args)
    task = task or task_for(model_args.task)
    multi_label = multi_label_wanted(model_args.problem_type)
    source = resolve_source(data_args.corpus)
    hub = HubOptions.of(data_args)
    data_args.split_mapping = hub.split_mapping  # a command line's string, as the dict it means (for run_settings)
    run_args = task.configure(run_args)
    if data_args.streaming:
        check_streaming_run(task.name, data_args, run_args, model_args.problem_type)
        run_args = shard_by_process(run_args)
    check_lengths_servable(model_args, data_args)
    run_args.output_dir = run_args.output_dir or default_output_dir(source, task.name)
    return RunPlan(model_args, data_args, run_args, task, source, hub, multi_label, model)


def plan_model(model_args) -> ModelPlan:
    """The architecture the run's model fields describe, validated by building its `PosEncConfig`; with
    `model_name_or_path`, the folder's (`posenc_hf.training.pretrained.pretrained_architecture`)."""
    if model_args.model_name_or_path:
        config = pretrained_architecture(model_args)
        return ModelPlan(config, model_args.model_name_or_path, positions_from_data=False)
    return ModelPlan(PosEncConfig(**config_values(model_args)), None, model_args.max_position_embeddings is None)


def default_output_dir(source, task_name="classification"):
    """runs/<data name>, e.g. runs/subject, or runs/reviews for reviews.csv (runs/reviews-mlm for task mlm)."""
    return str(Path("runs") / (resolve_source(source).name + ("-mlm" if task_name == "mlm" else "")))


def check_lengths_servable(model_args, data_args):
    """Refuse a length whose position table (positions x hidden_size float32 values) would exceed
    MAX_TABLE_BYTES, a length no table and no text of a run can need."""
    lengths = {"max_length": data_args.max_length, "max_position_embeddings": model_args.max_position_embeddings}
    for name, positions in lengths.items():
        size = (positions or 0) * model_args.hidden_size * 4
        if size > MAX_TABLE_BYTES:
            raise ValueError(
                f"{name}={positions:,} cannot be served: a position table of {positions:,} positions x hidden_size "
                f"{model_args.hidden_size} needs {size / 2**30:.1f} GiB, beyond {MAX_TABLE_BYTES / 2**30:g} GiB. "
                f"Lower {name} (texts are cut to max_length tokens, so it need not exceed the longest text)."
            )
