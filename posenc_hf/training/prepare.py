"""A run made ready to train, one step per function, the data path one way: plan → corpus → splits →
tokenizer → config → tokenized splits → model → Trainer. `prepare_run` does them all for
`posenc_hf.training.runner.run_training`, `research.search` and `research.bert_peer`; the research grids
that keep a lean `Trainer` of their own (`research.study`, `research.length`) take the same data and
model steps (`prepare_data`, `build_config`), so every run takes the same checks.
"""

import copy
import logging
from dataclasses import dataclass
from itertools import islice

from transformers import AutoTokenizer, set_seed

from ..data.sources import load_corpus
from ..data.streaming import load_streamed_corpus, tokenize_streamed
from ..data.tokenization import text_encoder, train_tokenizer
from ..folder.checkpoints import check_checkpoint_matches
from ..model.configuration_posenc import MULTI_LABEL
from .pretrained import fine_tuning_config
from .trainer import GracefulStopCallback, PosEncTrainer

logger = logging.getLogger(__name__)

LENGTH_KEPT = 512  # a max_length up to BERT's table length is used as given; beyond it, what the data needs


@dataclass
class PreparedData:
    """The data of a run, as the model will read it."""

    corpus: dict  # the splits as read (`load_corpus`'s DatasetDict, or a stream's dict), for the card
    task: object  # the plan's task, as the data chose it (multi-label data: MultiLabelClassification)
    label_names: list
    tokenizer: object
    tokenized: dict
    max_length_clipped: dict | None  # `clip_max_length`'s record, for metrics.json and the card


@dataclass
class PreparedRun:
    data: PreparedData
    config: object  # the model's `PosEncConfig`
    trainer: PosEncTrainer
    graceful_stop: GracefulStopCallback


def prepare_run(plan, checkpoint=None, callbacks=()):
    """The plan's data, model and `PosEncTrainer` (with the task's collator, metrics, loss and callbacks,
    `callbacks` and a `GracefulStopCallback`); `checkpoint`: the one the run resumes from, whose
    tokenizer it reuses and whose config must match."""
    set_seed(plan.run_args.seed)
    data = prepare_data(plan, checkpoint)
    config = build_config(plan.model, data.tokenizer, data.label_names, data.task.name == MULTI_LABEL)
    if checkpoint:
        check_checkpoint_matches(checkpoint, config)
    model = data.task.build_model(plan.model_args, config)
    graceful_stop = GracefulStopCallback(plan.run_args.stop_after_step)
    parts = data.task.trainer_parts(plan.run_args, plan.data_args, data.tokenized, data.tokenizer, data.label_names)
    trainer = build_trainer(model, plan.run_args, data, parts, [graceful_stop, *callbacks])
    return PreparedRun(data, config, trainer, graceful_stop)


def prepare_data(plan, checkpoint=None):
    """The corpus, the task's splits of it, a tokenizer (the checkpoint's, the folder's or a new one) and
    the token ids; a max_length beyond LENGTH_KEPT clipped to what the data needs."""
    corpus = load_data(plan)
    task = plan.task.for_data(corpus)  # multi-label data: MultiLabelClassification
    splits = task.splits(corpus, plan.data_args, plan.run_args.seed)
    label_names = task.label_names(splits)
    data_args = plan.data_args
    train_texts = tokenizer_texts(data_args, splits["train"])
    tokenizer = get_tokenizer(data_args, train_texts, checkpoint or plan.model.pretrained)
    clipped = clip_max_length(tokenizer, train_texts, data_args.max_length, data_args.streaming)
    if data_args.streaming:
        tokenized = tokenize_streamed(task, splits, tokenizer, plan.run_args.seed, data_args.shuffle_buffer_size)
    else:
        tokenized = task.tokenize(splits, tokenizer)
    return PreparedData(corpus, task, label_names, tokenizer, tokenized, clipped)


def load_data(plan):
    """The corpus as a DatasetDict with `text` and a ClassLabel `label` (a list of them for multi-label
    data); with `streaming`, the train split a stream and validation and test in memory."""
    data_args = plan.data_args
    if data_args.streaming:
        return load_streamed_corpus(data_args, plan.source, plan.hub)
    return load_corpus(
        plan.source,
        data_dir=data_args.data_dir,
        hub=plan.hub,
        text_column=data_args.text_column,
        label_column=data_args.label_column,
        label_names=data_args.class_names,
        validation_size=data_args.validation_size,
        test_size=data_args.test_size,
        max_samples=data_args.max_samples,
        seed=plan.run_args.seed,
        mmlu_heldout=data_args.mmlu_heldout,
        multi_label=plan.multi_label,
        drop_rows_with_empty_cells=data_args.drop_rows_with_empty_cells,
    )


def tokenizer_texts(data_args, train):
    """The texts a new tokenizer trains on: the train split's (it samples at most `tokenizer_max_texts`),
    or a stream's first `tokenizer_max_texts`."""
    return train.take(data_args.tokenizer_max_texts)["text"] if data_args.streaming else train["text"]


def get_tokenizer(data_args, train_texts, checkpoint=None):
    """A given tokenizer, the one saved in the checkpoint we resume from (or the pretrained folder), or a
    new one trained on the training split (never on validation or test)."""
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


def build_config(model_plan, tokenizer, label_names, multi_label=False):
    """The model's `PosEncConfig`: the plan's architecture with the tokenizer's vocabulary (and length,
    unless the run sets max_position_embeddings) and the data's labels, validated; a pretrained folder's
    table must hold the tokenizer's length. The problem type is the run's (a pretrained folder's is
    dropped), or multi-label when the data holds lists of labels."""
    if model_plan.pretrained:
        config = fine_tuning_config(model_plan.config, tokenizer, label_names, model_plan.pretrained)
    else:
        config = copy.deepcopy(model_plan.config)
        config.vocab_size, config.pad_token_id = len(tokenizer), tokenizer.pad_token_id
        config.id2label = dict(enumerate(label_names))
        config.label2id = {name: i for i, name in enumerate(label_names)}
        if model_plan.positions_from_data:
            config.max_position_embeddings = tokenizer.model_max_length
        config.validate()  # the config's own checks, now that the data's values are in
    if multi_label:
        config.problem_type = MULTI_LABEL
    check_positions_fit(config, tokenizer)
    return config


def check_positions_fit(config, tokenizer):
    """Inputs of the tokenizer's model_max_length must fit the config's position table (also a pretrained one's)."""
    if config.max_position_embeddings < tokenizer.model_max_length:
        raise ValueError(
            f"max_position_embeddings={config.max_position_embeddings} is smaller than the tokenizer's "
            f"model_max_length={tokenizer.model_max_length}: inputs of that length would not fit. Raise "
            f"max_position_embeddings (not possible for a pretrained folder's table) or lower max_length."
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


def build_trainer(model, run_args, data, parts, callbacks):
    """`PosEncTrainer` with the task's collator, metrics and loss; the tokenizer is saved into every checkpoint."""
    parts = dict(parts)
    return PosEncTrainer(
        model=model,
        args=run_args,
        train_dataset=data.tokenized["train"],
        eval_dataset=data.tokenized["validation"],
        processing_class=data.tokenizer,
        callbacks=[*callbacks, *parts.pop("callbacks")],
        **parts,
    )
