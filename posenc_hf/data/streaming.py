"""Train from a stream: with `streaming: true` the train split is a `datasets.IterableDataset`, read a
batch at a time as training goes, so a corpus larger than the disk cache, or a Hub dataset not
downloaded whole, can be used. `posenc_hf.training.runner.run_training` takes this path for its data.

- Sources: a CSV, TSV, JSON, JSON Lines or Parquet file, a folder of them (split by file names), a
  Hub id or a dataset repo folder (with `posenc_hf.data.corpora.files.HubOptions`), the built-in `subject`
  and `sentiment`.
- Rows are checked and encoded as they are read, by `posenc_hf.data.sources`'s rules: a text must be a string,
  an unknown label is a `ValueError` naming the file (or Hub split), the row (counted from its start)
  and the label, and so is an empty or whitespace-only text or label, named among the rows of the
  batch it is in; with `drop_rows_with_empty_cells` those rows are left out instead, logged once and
  not counted: the stream is never read to its end (`posenc_hf.data.empty_cells`).
- The label names cannot come from a scan of the labels: they are `class_names`, a `ClassLabel`
  feature's or a built-in corpus's.
- Validation and test are the source's own files or splits, read whole (they are small). A split the
  source lacks is held out from the head of the train stream: its first `streaming_holdout_rows` rows
  for validation, the next for test, as they come (a source sorted by label needs its own splits).
  Train leaves out every row whose text is held out. It is matched by text, not skipped by position:
  when the stream is split among processes by file, `IterableDataset.skip` is divided among the files
  and would let held-out rows into train.
- `max_samples` keeps each split's first rows (in memory: a seeded random sample).
- Train is shuffled in a seeded buffer (`shuffle_buffer_size`), then repeated without end, each pass
  in the same order; `max_steps` alone says how long training runs. Without an end to the stream no
  epoch ends, and no process runs out of rows before another (their shares may differ in size).
  Shuffling after repeating would mix the passes and, in a stream shorter than the buffer, draw a row
  again before the others were drawn once.
- A new tokenizer trains on the first `tokenizer_max_texts` train texts.
- Under DDP each process reads its own rows: see `shard_by_process`.
"""

import logging

from datasets import ClassLabel, Dataset, DatasetDict, Features, IterableDataset, Value, concatenate_datasets

from ..model.configuration_posenc import MULTI_LABEL
from .corpora import Pieces
from .corpora.files import HubOptions
from .empty_cells import stream_row_filter
from .labels import batch_encoder, holds_lists, label_counts, resolve_label_names
from .sources import Source, read_pieces, resolve_source
from .tokenization import text_encoder

logger = logging.getLogger(__name__)

HELD_OUT = ("validation", "test")  # in the order a stream's head is taken for them
UNDECLARED = Features({"text": Value("null"), "label": Value("null")})  # a stream without types: check every text


def check_streaming_run(task_name: str, data_args, run_args, problem_type: str | None = None) -> None:
    """Fail before any reading, naming the field, on what a stream cannot give."""
    if problem_type == MULTI_LABEL:
        raise ValueError(
            f"streaming trains single-label classifiers; problem_type {MULTI_LABEL} needs the corpus read whole "
            "(its splits are carved at random): leave streaming off"
        )
    if run_args.max_steps <= 0:
        raise ValueError(
            "streaming needs max_steps (e.g. --max_steps 1000): a stream has no length, so no epochs to count"
        )
    if task_name != "classification":
        raise ValueError(
            f"streaming trains classifiers (task: classification); task {task_name} reads its corpus whole"
        )
    if run_args.class_weight is not None:
        raise ValueError("class_weight needs the train split's label counts, which a stream does not give")
    if run_args.lr_step_epochs:
        raise ValueError("lr_step_epochs counts epochs, which a stream does not have: use lr_scheduler_type")
    if data_args.tokenizer_max_texts is None and not data_args.tokenizer_name_or_path:
        raise ValueError(
            "tokenizer_max_texts=None would read the whole stream to train the tokenizer: give a number of "
            "texts, or tokenizer_name_or_path"
        )


def shard_by_process(run_args):
    """Under DDP, let each process read its own rows of the train stream, through accelerate.

    `Trainer` hands the stream to `accelerator.prepare`, which by default dispatches: process 0 reads a
    batch for every process and concatenates them, which fails on batches padded to different lengths.
    With `dispatch_batches=False` (set here unless the run sets it) accelerate splits the stream
    itself: by file when it has at least one per process (`IterableDataset.shard`), else each process
    reads it all and keeps its own batches (`IterableDatasetShard`). `split_dataset_by_node` on top
    would split it twice, leaving each process 1/N of its share.
    """
    if run_args.accelerator_config.dispatch_batches is None:
        run_args.accelerator_config.dispatch_batches = False
    return run_args


def load_streamed_corpus(
    data_args, source: Source | None = None, hub: HubOptions | None = None
) -> dict[str, Dataset | IterableDataset]:
    """`train` as a stream (neither shuffled nor repeated yet), `validation` and `test` in memory.
    `source` and `hub`: `data_args.corpus` resolved (`posenc_hf.data.sources.resolve_source`) and the Hub
    options of `data_args`, when the caller has them (a run's plan)."""
    source = resolve_source(source or data_args.corpus)
    hub = hub or HubOptions.of(data_args)
    pieces, default_names = read_pieces(source, data_args.text_column, data_args.label_column, hub, streaming=True)
    features = _features(data_args.class_names or default_names, pieces)
    columns = source.columns(data_args.text_column, data_args.label_column)
    streams = {split: _encode_parts(parts, features, columns, data_args) for split, parts in pieces.items()}
    if "train" not in streams:
        raise ValueError(f"{source.spec} has no train split to stream (found: {', '.join(streams)})")
    train_from = ", ".join(where for where, _ in pieces["train"])
    cap = data_args.max_samples
    splits = {split: _collect(split, _first(streams[split], cap), features) for split in HELD_OUT if split in streams}
    missing = [split for split in HELD_OUT if split not in streams]
    head_rows = min(data_args.streaming_holdout_rows, cap or data_args.streaming_holdout_rows)
    splits |= _held_out_heads(streams["train"], missing, head_rows, features, train_from)
    held_out = {text for split in missing for text in splits[split]["text"]}
    train = _first(_without_texts(streams["train"], held_out), cap)
    _check_not_empty(train, train_from, missing, data_args.streaming_holdout_rows)
    return {"train": train, **{split: splits[split] for split in HELD_OUT}}


def _features(names: list[str] | None, pieces: Pieces) -> Features:
    """`text` and a `ClassLabel` of the given names, else of the names a stream declares; a stream
    cannot be scanned for its labels, so without either it is an error."""
    declared = [rows.features["label"] for parts in pieces.values() for _, rows in parts if rows.features]
    if any(holds_lists(feature) for feature in declared):
        raise ValueError(
            "streaming trains single-label classifiers, and this stream's labels are lists (multi-label data): "
            "leave streaming off"
        )
    names = names or next((feature.names for feature in declared if isinstance(feature, ClassLabel)), None)
    if names is None:
        raise ValueError(
            "streaming needs the label names before reading: a stream cannot be scanned for its labels. Pass "
            "class_names: [...] in class-id order, or stream a dataset whose label column is a ClassLabel"
        )
    names = resolve_label_names(names, {})  # checked as `load_corpus` checks given names
    return Features({"text": Value("string"), "label": ClassLabel(names=names)})


def _encode_parts(parts: list[tuple[str, IterableDataset]], features: Features, columns, data_args) -> IterableDataset:
    """A split's streams, each checked and encoded as it is read (its own row count), then joined."""
    streams = [_encode(rows, where, features, columns, data_args) for where, rows in parts]
    return streams[0] if len(streams) == 1 else concatenate_datasets(streams)


def _encode(rows: IterableDataset, where: str, features: Features, columns, data_args) -> IterableDataset:
    """`data.sources`' checks and label encoding, applied lazily; the row numbers count from the stream's start.
    `columns`: the text and label columns' names as the user knows them (`Source.columns`), for errors."""
    keep_rows = stream_row_filter(where, columns, data_args.drop_rows_with_empty_cells)
    encode = batch_encoder(rows.features or UNDECLARED, features["label"].names, where, keep_rows=keep_rows)
    return rows.map(encode, batched=True, with_indices=True, remove_columns=["text", "label"], features=features)


def _first(rows, count: int | None):
    """The first `count` rows of a stream (all of them for None)."""
    return rows if count is None else rows.take(count)


def _collect(split: str, rows, features: Features, where: str | None = None) -> Dataset:
    """A split's rows in memory; an empty split is an error."""
    collected = Dataset.from_list(list(rows), features=features)
    if len(collected) == 0:
        raise ValueError(f"split {split!r} has no rows{f' ({where})' if where else ''}")
    return collected


def _held_out_heads(
    train: IterableDataset, splits: list[str], rows: int, features: Features, where: str
) -> dict[str, Dataset]:
    """The first `rows` rows of the train stream for the first split of `splits`, the next `rows` for the second."""
    head = list(train.take(rows * len(splits)))
    heads = {}
    for i, split in enumerate(splits):
        heads[split] = _collect(split, head[i * rows : (i + 1) * rows], features, f"held out from the head of {where}")
        _warn_on_missing_classes(split, heads[split], where)
    return heads


def _warn_on_missing_classes(split: str, rows: Dataset, where: str) -> None:
    """A head without some class is the mark of a stream sorted by label: say so."""
    counts = label_counts(rows)
    absent = [name for name, count in counts.items() if count == 0]
    if absent:
        logger.warning(
            "%s, held out from the head of %s, has no rows of %s: if the stream is sorted by label, give "
            "validation and test files or splits (split_mapping)",
            split,
            where,
            ", ".join(absent),
        )


def _without_texts(train: IterableDataset, texts: set[str]) -> IterableDataset:
    """The train stream less every row whose text is in `texts` (the held-out rows and their repeats)."""
    if not texts:
        return train
    return train.filter(lambda batch: [text not in texts for text in batch], batched=True, input_columns="text")


def _check_not_empty(train: IterableDataset, where: str, held_out: list[str], rows: int) -> None:
    """The train stream has a row left once the head is held out; else say which option took them."""
    if next(iter(train.take(1)), None) is None:
        taken = f" after holding out {rows} rows each for {' and '.join(held_out)} (streaming_holdout_rows)"
        raise ValueError(f"the train stream of {where} is empty{taken if held_out else ''}")


def tokenize_streamed(task, splits: dict, tokenizer, seed: int, buffer_size: int) -> dict:
    """Validation and test through the task's tokenization; the train stream shuffled in a seeded
    buffer, repeated without end and tokenized as it is read."""
    in_memory = task.tokenize(DatasetDict({split: splits[split] for split in HELD_OUT}), tokenizer)
    train = splits["train"].shuffle(seed=seed, buffer_size=buffer_size).repeat(None)
    return {"train": _tokenize_stream(train, tokenizer), **in_memory}


def _tokenize_stream(rows: IterableDataset, tokenizer) -> IterableDataset:
    """Token ids as `training.tasks.tokenize` makes them (`text_encoder`): truncated, padding left to the collator."""
    return rows.map(text_encoder(tokenizer), batched=True, remove_columns=["text"])
