"""Load a text-classification corpus as a `DatasetDict` with `train`, `validation` and `test`.

Every split has exactly the features `text: Value("string")` and `label: ClassLabel(names=...)`, or,
for multi-label data, `label: List(ClassLabel(names=...))` (see below). `load_corpus(source)` reads:

- `"subject"`, `"sentiment"`: the corpora shipped in `posenc_hf/corpora/` (see their DATASHEET.md).
- `"order"`: the synthetic word-order corpus of `posenc_hf.corpora.order`, generated from `seed`.
- `"mmlu"`, `"goemotions"`, `"goemotions_multilabel"`: those public datasets from a local folder
  (`data_dir`, else `$POSENC_SHARED/data/<name>`; `goemotions_multilabel` reads the `goemotions`
  folder), through the adapters in `posenc_hf.corpora`.
- a CSV, TSV, JSON (an array of records), JSON Lines or Parquet file, or a folder of them whose file
  names say the split: `train*`, `validation*`/`valid*`/`val*`/`dev*`, `test*`.
- anything else: a Hugging Face Hub dataset id, through `datasets.load_dataset`; `hub` gives its config
  name, revision and split mapping. A folder whose README.md dataset card lists `configs:` is read alike.
(Files, folders and Hub ids are read by `posenc_hf.corpora.files`.)

Split policy: a split the source lacks is carved out of `train`, stratified by label and seeded:
`test_size` and `validation_size` are fractions of that train data (a single file gives 80/10/10),
each split's rows (its fraction of all, rounded) drawn from the classes in proportion to their
sizes, at least one row of each class per split; a class with fewer rows than splits to fill is a
`ValueError` naming the file, the class and its count.
So MMLU, pooled, is split 80/10/10, and GoEmotions keeps `dev.tsv` as test (see `posenc_hf.corpora`).
`max_samples` then caps each split to a seeded random subset.

Multi-label data: a label column of lists (JSON, JSON Lines, Parquet, a Hub `List(ClassLabel)`), or
`multi_label=True` (a run's `problem_type: multi_label_classification`), makes `label` a list of class
ids per row, e.g. `{"text": "...", "label": ["joy", "love"]}`. With it, a label cell that is a string
(CSV/TSV) holds the row's labels separated by commas (`joy,love`; an empty cell is a row with no label).
A list column with `multi_label=False` is an error, as is a column of neither lists nor strings with
`multi_label=True`. A row with several labels belongs to no single class, so the missing splits of
multi-label data are carved out at random (seeded, each its fraction of all rows, at least one row),
not stratified: a rare label may be absent from a small carved split.

Checks: CSV/TSV cells are read as text (numbers included); elsewhere a text that is not a string is
an error. Rows with empty or whitespace-only text are dropped with a logged count; anything else
malformed raises a `ValueError` naming the file, the row (1-based, header excluded) and the problem.
"""

import logging
import os
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, LargeList, List, Value, concatenate_datasets

from .corpora import (
    CORPORA_DIR,
    LABEL_NAMES,
    MMLU_LEVELS,
    NAMED_CORPORA,
    Pieces,
    goemotions_emotions,
    read_goemotions,
    read_goemotions_multilabel,
    read_mmlu,
    shared_folder,
)
from .corpora.files import (
    FILE_BUILDERS,
    NO_HUB_OPTIONS,
    HubOptions,
    check_hub_options,
    read_file,
    read_folder,
    read_hub,
)
from .corpora.order import CUE_WORDS, make_order_corpus

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
BATCH_SIZE = 10_000  # rows per batch of the checking `.map` and the label scan
LABEL_SEPARATOR = ","  # between the labels of a multi-label string cell (CSV/TSV): `joy,love`
STRING_COLUMNS = (Value("string"), Value("large_string"))


def load_corpus(
    source: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_names: list[str] | None = None,
    validation_size: float = 0.1,
    test_size: float = 0.1,
    max_samples: int | None = None,
    seed: int = 42,
    data_dir: str | os.PathLike | None = None,
    hub: HubOptions = NO_HUB_OPTIONS,
    mmlu_with_options: bool = False,
    mmlu_heldout: str | None = None,
    multi_label: bool | None = None,
    num_proc: int | None = None,
) -> DatasetDict:
    """Load `source` (see the module docstring) as `train`, `validation` and `test` splits.

    `text_column`/`label_column` pick the columns of a file, folder or Hub dataset. Labels may be
    class names or integer ids into `label_names`. Without `label_names`, the names are a built-in
    corpus's when the label set matches it, else the sorted unique labels (logged); the named
    corpora always default to their documented order. `mmlu_with_options` appends the four options
    to each MMLU question; `mmlu_heldout="college"` (or `"high_school"`) makes those files the test split.
    `hub`: a Hub dataset's config name, revision and split mapping (`posenc_hf.corpora.files.HubOptions`).
    `multi_label`: None reads lists of labels as multi-label data and anything else as single-label;
    True requires multi-label data, False single-label (see the module docstring).
    `num_proc` processes check and encode the rows (None: this process alone).
    """
    _check_options(validation_size, test_size, max_samples, mmlu_heldout)
    pieces, default_names = _read_source(
        source, text_column, label_column, seed, data_dir, mmlu_with_options, mmlu_heldout, hub
    )
    multi_label = _is_multi_label(pieces, multi_label)
    names = _label_names(label_names or default_names, pieces, multi_label)
    classes = ClassLabel(names=names)
    features = Features({"text": Value("string"), "label": List(classes) if multi_label else classes})
    splits = {split: _encode_split(split, parts, features, num_proc) for split, parts in pieces.items()}
    train_from = ", ".join(where for where, _ in pieces.get("train", []))
    splits = _fill_missing_splits(splits, validation_size, test_size, seed, source=train_from)
    return DatasetDict({split: _cap(splits[split], max_samples, seed) for split in SPLITS})


def _check_options(validation_size: float, test_size: float, max_samples: int | None, heldout: str | None) -> None:
    """Reject split fractions, caps and held-out levels that cannot work."""
    if not (0 < validation_size < 1 and 0 < test_size < 1 and validation_size + test_size < 1):
        raise ValueError(
            f"validation_size={validation_size} and test_size={test_size} must each be in (0, 1) and sum to less than 1"
        )
    if max_samples is not None and max_samples < 1:
        raise ValueError(f"max_samples={max_samples} must be at least 1 (or None for no cap)")
    if heldout not in (None, *MMLU_LEVELS):
        raise ValueError(f"mmlu_heldout={heldout!r} must be None or one of {MMLU_LEVELS}")


def _read_source(
    source: str | os.PathLike,
    text_column: str,
    label_column: str,
    seed: int,
    data_dir: str | os.PathLike | None,
    with_options: bool,
    heldout: str | None,
    hub: HubOptions,
) -> tuple[Pieces, list[str] | None]:
    """Return the source's rows per split (columns `text` and raw `label`) and its default label names."""
    check_hub_options(str(source), source_kind(source), hub)
    if source == "order":
        corpus = make_order_corpus(seed=seed)
        return {split: [(f"order corpus ({split})", rows)] for split, rows in corpus.items()}, list(CUE_WORDS)
    if source in LABEL_NAMES:
        return read_folder(CORPORA_DIR / source, "text", "label"), LABEL_NAMES[source]
    if source == "mmlu":
        return read_mmlu(shared_folder("mmlu", data_dir), with_options, heldout), LABEL_NAMES["subject"]
    if source == "goemotions":
        return read_goemotions(shared_folder("goemotions", data_dir)), LABEL_NAMES["sentiment"]
    if source == "goemotions_multilabel":
        folder = shared_folder("goemotions", data_dir)
        return read_goemotions_multilabel(folder), goemotions_emotions(folder)
    path, kind = Path(source).expanduser(), source_kind(source)
    if kind == "folder":
        return read_folder(path, text_column, label_column, hub), None
    if kind == "file":
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return {"train": [(str(path), read_file(path, text_column, label_column))]}, None
    return read_hub(str(source), text_column, label_column, hub), None


def source_kind(source: str | os.PathLike) -> str:
    """What `load_corpus` reads `source` as: "corpus" (a named one), "folder", "file" (also a missing
    path with a data file's extension) or "hub" (a Hub dataset id)."""
    if source in NAMED_CORPORA:
        return "corpus"
    path = Path(source).expanduser()
    if path.is_dir():
        return "folder"
    return "file" if path.is_file() or path.suffix.lower() in FILE_BUILDERS else "hub"


def source_name(source: str | os.PathLike) -> str:
    """A short name for the data, e.g. for a run's folder and its model card: a named corpus's name, a
    file's stem, a folder's name or a Hub dataset's name (`reviews` for `../work/reviews.csv`,
    `emotion` for `dair-ai/emotion`)."""
    kind = source_kind(source)
    if kind == "corpus":
        return str(source)
    if kind == "hub":
        return str(source).rstrip("/").split("/")[-1]
    path = Path(source).expanduser().resolve()
    return path.stem if kind == "file" else path.name


# --- labels, checks and splits ---------------------------------------------------------------


def _is_multi_label(pieces: Pieces, wanted: bool | None) -> bool:
    """Whether the labels are lists: as the data says (a column of lists) or as `wanted`; a clash is an error."""
    features = {where: rows.features["label"] for parts in pieces.values() for where, rows in parts}
    with_lists = [where for where, feature in features.items() if _holds_lists(feature)]
    if wanted is False and with_lists:
        raise ValueError(
            f"the labels in {with_lists[0]} are lists (multi-label data), but single-label data was asked for "
            "(problem_type single_label_classification): set it to multi_label_classification, or leave it unset"
        )
    if not (wanted or with_lists):
        return False
    neither = [(where, f) for where, f in features.items() if not (_holds_lists(f) or f in STRING_COLUMNS)]
    if neither:
        where, feature = neither[0]
        raise ValueError(
            f"multi-label data needs each label to be a list (JSON, Parquet, Hub) or labels separated by "
            f"{LABEL_SEPARATOR!r} (CSV/TSV), but the labels in {where} are {feature}"
        )
    return True


def _holds_lists(feature) -> bool:
    return isinstance(feature, (List, LargeList))


def _cell_labels(cell, multi_label: bool) -> list:
    """The raw labels of one label cell: the cell itself (single-label); a list's items, or a string's
    `LABEL_SEPARATOR`-separated parts (multi-label); a missing cell is one missing label."""
    if not multi_label or cell is None:
        return [cell]
    if isinstance(cell, str):
        return [part.strip() for part in cell.split(LABEL_SEPARATOR) if part.strip()]
    return list(cell)


def _declared_classes(feature) -> ClassLabel | None:
    """The `ClassLabel` a column declares, for itself or for each item of its lists (a Hub `List(ClassLabel)`)."""
    inner = feature.feature if _holds_lists(feature) else feature
    return inner if isinstance(inner, ClassLabel) else None


def _label_names(given: list[str] | None, pieces: Pieces, multi_label: bool = False) -> list[str]:
    """The class names: as given, else a `ClassLabel`'s, else the built-in set the labels match, else sorted."""
    if given is not None:
        names = list(given)
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"label_names={given!r} must be distinct, non-empty strings")
        return names
    features = [rows.features["label"] for parts in pieces.values() for _, rows in parts]
    declared = next((_declared_classes(f).names for f in features if _declared_classes(f) is not None), None)
    if declared is not None:
        return declared
    found = {
        label for parts in pieces.values() for _, rows in parts for label in _labels_of_kept_rows(rows, multi_label)
    }
    if all(_as_id(value) is not None for value in found):
        raise ValueError(
            "the labels are integer class ids (or missing): pass label_names=[...] in id order to name them"
        )
    for names in LABEL_NAMES.values():
        if found == set(names):
            return names
    names = sorted(found)
    logger.warning("label_names not given and the labels match no built-in corpus: using sorted names %s", names)
    return names


def _labels_of_kept_rows(rows: Dataset, multi_label: bool) -> set[str]:
    """The string labels of rows whose text is not empty (rows with empty text will be dropped)."""
    found = set()
    for batch in rows.iter(batch_size=BATCH_SIZE):
        kept_cells = (cell for text, cell in zip(batch["text"], batch["label"], strict=True) if _has_words(text))
        found.update(
            label for cell in kept_cells for label in _cell_labels(cell, multi_label) if isinstance(label, str)
        )
    return found


def _has_words(text) -> bool:
    """Whether a row keeps its text: a string that is not empty or whitespace only."""
    return isinstance(text, str) and not text.isspace() and text != ""


def _as_id(value) -> int | None:
    """An integer class id from an int or a string of digits (CSV reads ids as text), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _encode_split(split: str, parts: list[tuple[str, Dataset]], features: Features, num_proc: int | None) -> Dataset:
    """Check and encode every file of a split, then join them; an empty split is an error."""
    rows = concatenate_datasets([_encode(rows, where, features, num_proc) for where, rows in parts])
    if len(rows) == 0:
        raise ValueError(f"split {split!r} is empty after dropping empty texts (from {', '.join(w for w, _ in parts)})")
    return rows


def _encode(rows: Dataset, where: str, features: Features, num_proc: int | None = None) -> Dataset:
    """Check each row's text is a string and its labels known classes; drop empty texts (logged)."""
    multi_label = _holds_lists(features["label"])
    encode = _batch_encoder(rows.features, _declared_classes(features["label"]).names, where, multi_label)
    kept = rows.map(
        encode,
        batched=True,
        batch_size=BATCH_SIZE,
        with_indices=True,
        remove_columns=rows.column_names,
        features=features,
        num_proc=num_proc if num_proc and num_proc > 1 and len(rows) >= num_proc else None,
        desc=f"Checking {Path(where).name}",
    )
    if len(kept) < len(rows):
        logger.warning("dropped %d rows with empty or whitespace-only text from %s", len(rows) - len(kept), where)
    return kept


def _batch_encoder(read: Features, names: list[str], where: str, multi_label: bool = False):
    """A batched `.map` function: keep rows with words, their label as a class id (multi-label: their
    labels as a list of distinct class ids); errors name the row and the label.

    The type check on texts runs only when the file's text column is not a string column already.
    """
    ids = {name: i for i, name in enumerate(names)}
    declared = _declared_classes(read["label"])  # a ClassLabel's ids are its own
    texts_are_strings = read["text"] in STRING_COLUMNS

    def encode(batch: dict, indices: list[int]) -> dict:
        texts, labels = batch["text"], batch["label"]
        if not texts_are_strings:
            _check_texts(texts, indices, where)
        kept = [i for i, text in enumerate(texts) if _has_words(text)]
        cells = [_cell_labels(labels[i], multi_label) for i in kept]
        label_ids = [[_label_id(label, declared, ids) for label in cell] for cell in cells]
        bad = next(((j, k) for j, row_ids in enumerate(label_ids) for k, i in enumerate(row_ids) if i is None), None)
        if bad is not None:
            label, row = cells[bad[0]][bad[1]], indices[kept[bad[0]]] + 1
            if declared is not None and isinstance(label, int) and 0 <= label < declared.num_classes:
                label = declared.int2str(label)
            raise ValueError(
                f"label {label!r} at row {row} of {where} is not one of {names} (or an id 0-{len(names) - 1})"
            )
        encoded = [list(dict.fromkeys(row_ids)) for row_ids in label_ids] if multi_label else [i for [i] in label_ids]
        return {"text": [texts[i] for i in kept], "label": encoded}

    return encode


def _check_texts(texts: list, indices: list[int], where: str) -> None:
    """Every text is a string or missing; else name the first row that is not."""
    bad = next((i for i, text in enumerate(texts) if text is not None and not isinstance(text, str)), None)
    if bad is not None:
        text = texts[bad]
        raise ValueError(f"text at row {indices[bad] + 1} of {where} is {text!r} ({type(text).__name__}), not a string")


def _label_id(label, declared: ClassLabel | None, ids: dict[str, int]) -> int | None:
    """A label's class id: by name, else as an integer id; None when it is neither."""
    if declared is not None and isinstance(label, int) and 0 <= label < declared.num_classes:
        label = declared.int2str(label)
    label_id = ids.get(label) if isinstance(label, str) else None
    if label_id is None:
        label_id = _as_id(label)
    return label_id if label_id is not None and 0 <= label_id < len(ids) else None


def _fill_missing_splits(
    splits: dict[str, Dataset], validation_size: float, test_size: float, seed: int, source: str = "the train split"
) -> dict[str, Dataset]:
    """Carve the validation and/or test split a source lacks out of `train`: stratified by label, or
    at random for multi-label data."""
    if "train" not in splits:
        raise ValueError(f"the source has no train split (found: {', '.join(sorted(splits, key=SPLITS.index))})")
    sizes = {"validation": validation_size, "test": test_size}
    fractions = {split: size for split, size in sizes.items() if split not in splits}
    if not fractions:
        return splits
    carve = _random_split if is_multi_label(splits["train"]) else _stratified_split
    return {**splits, **carve(splits["train"], fractions, seed, source)}


def _stratified_split(rows: Dataset, fractions: dict[str, float], seed: int, source: str) -> dict[str, Dataset]:
    """Split `rows` into `train` and each split of `fractions`, class by class, seeded.

    Each carved split gets its fraction of all rows, drawn from every class in proportion to its size
    (`_class_quotas`), at least one row per class, and `train` keeps at least one of each; rows keep
    their file order within a split. The labels are read once, as an Arrow column, and the splits are
    `select`s of index arrays: no pass over the rows in Python.
    """
    labels = label_array(rows)
    names = rows.features["label"].names
    counts = np.bincount(labels, minlength=len(names))
    _check_stratifiable(counts, names, ["train", *fractions], source)
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # grouped by class, shuffled within each
    parts = {split: [] for split in ["train", *fractions]}
    quotas = _class_quotas(counts, list(fractions.values()))
    for start, count, quota in zip(np.cumsum(counts) - counts, counts, quotas, strict=True):
        bounds = np.cumsum([0, *quota]) + start
        for split, begin, end in zip(fractions, bounds[:-1], bounds[1:], strict=True):
            parts[split].append(order[begin:end])
        parts["train"].append(order[bounds[-1] : start + count])
    return {split: rows.select(np.sort(np.concatenate(indices))) for split, indices in parts.items()}


def _random_split(rows: Dataset, fractions: dict[str, float], seed: int, source: str) -> dict[str, Dataset]:
    """Split multi-label `rows` into `train` and each split of `fractions`, at random and seeded (a row
    with several labels has no one class to stratify by): each carved split gets its fraction of all
    rows, rounded, at least one, and `train` keeps at least one; rows keep their file order."""
    sizes = [max(1, round(len(rows) * fraction)) for fraction in fractions.values()]
    if sum(sizes) >= len(rows):
        raise ValueError(f"{source} has only {len(rows)} row(s): too few to split into train, {', '.join(fractions)}")
    order = np.random.default_rng(seed).permutation(len(rows))
    bounds = np.cumsum([0, *sizes])
    parts = {split: order[begin:end] for split, begin, end in zip(fractions, bounds[:-1], bounds[1:], strict=True)}
    parts["train"] = order[bounds[-1] :]
    return {split: rows.select(np.sort(indices)) for split, indices in parts.items()}


def _check_stratifiable(counts: np.ndarray, names: list[str], splits: list[str], source: str) -> None:
    """Every class present needs a row for each split; else name the smallest class and its count."""
    present = np.flatnonzero(counts)
    rarest = present[np.argmin(counts[present])]
    if counts[rarest] < len(splits):
        raise ValueError(
            f"class {names[rarest]!r} has only {counts[rarest]} row(s) in {source}: too few to split it, stratified, "
            f"into {', '.join(splits)} (at least {len(splits)} needed). Add rows of that class, drop them, or "
            "provide the missing split files"
        )


def _class_quotas(counts: np.ndarray, fractions: list[float]) -> np.ndarray:
    """Rows of each class (rows) for each carved split (columns): the split's fraction of all rows,
    rounded, spread over the classes in proportion to their sizes (largest remainders first), at least
    one per class present, and at least one row of each class left for `train`."""
    columns = []
    for fraction in fractions:
        exact = counts * fraction
        quota = np.floor(exact).astype(int)
        missing = max(0, round(counts.sum() * fraction) - quota.sum())
        quota[np.argsort(quota - exact, kind="stable")[:missing]] += 1
        columns.append(quota)
    quotas = np.maximum(np.stack(columns, axis=1), (counts > 0)[:, None])
    for label, count in enumerate(counts):
        while count and quotas[label].sum() > count - 1:
            quotas[label, quotas[label].argmax()] -= 1
    return quotas


def _cap(rows: Dataset, max_samples: int | None, seed: int) -> Dataset:
    """At most `max_samples` rows: a seeded shuffle, then the first `max_samples`."""
    if max_samples is None or len(rows) <= max_samples:
        return rows
    return rows.shuffle(seed=seed).select(range(max_samples))


def is_multi_label(rows: Dataset) -> bool:
    """Whether `rows` (from `load_corpus`) hold a list of labels per row."""
    return _holds_lists(rows.features["label"])


def class_names(rows: Dataset) -> list[str]:
    """The class names of `rows`' labels (of each list item, for multi-label rows), in id order."""
    return _declared_classes(rows.features["label"]).names


def label_counts(rows: Dataset) -> dict[str, int]:
    """Rows per class name, counted in Arrow (one pass, whatever the number of classes); a multi-label
    row counts once for each of its labels."""
    names = class_names(rows)
    if is_multi_label(rows):
        counts = multi_hot(rows).sum(axis=0, dtype=np.int64)
    else:
        counts = np.bincount(label_array(rows), minlength=len(names))
    return dict(zip(names, counts.tolist(), strict=True))


def label_array(rows: Dataset) -> np.ndarray:
    """The class ids of `rows` as a numpy array, straight from Arrow.

    A split is a selection of rows (an indices mapping); datasets 5 reads a column through one as a
    Python list of indices (1.3 s for 350k rows), so the mapping is applied here with numpy instead.
    """
    labels = rows.data.column("label").to_numpy()
    indices = rows._indices  # datasets' indices mapping: None, or a table of one column of row numbers
    return labels if indices is None else labels[indices.column(0).to_numpy()]


def multi_hot(rows: Dataset) -> np.ndarray:
    """The labels of multi-label `rows` as a (rows × classes) float32 matrix of 0 and 1, straight from Arrow."""
    column = rows.data.column("label")
    if rows._indices is not None:  # see label_array
        column = column.take(rows._indices.column(0))
    lists = column.combine_chunks()
    row_of_each_label = np.repeat(np.arange(len(lists)), lists.value_lengths().to_numpy(zero_copy_only=False))
    matrix = np.zeros((len(lists), len(class_names(rows))), dtype=np.float32)
    matrix[row_of_each_label, lists.flatten().to_numpy(zero_copy_only=False)] = 1.0
    return matrix
