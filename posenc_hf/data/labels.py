"""Labels: multi-label or not, the class names, each row's text checked and its labels encoded as
class ids (errors name the file, the row and the label), and counts of labels read from Arrow.
`posenc_hf.data.sources.load_corpus` uses them in that order; `posenc_hf.data.streaming` checks a
stream by the same rules.
Empty cells are found before (`posenc_hf.data.empty_cells`); the rows it leaves out reach these functions as
`keep_rows`, which gives the positions of a batch's rows to keep.
"""

import logging
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, Features, LargeList, List, Value, concatenate_datasets

from .corpora import LABEL_NAMES, Pieces

logger = logging.getLogger(__name__)

BATCH_SIZE = 10_000  # rows per batch of the checking `.map` and the label scan
LABEL_SEPARATOR = ","  # between the labels of a multi-label string cell (CSV/TSV): `joy,love`
STRING_COLUMNS = (Value("string"), Value("large_string"))


def detect_multi_label(pieces: Pieces, wanted: bool | None) -> bool:
    """Whether the labels are lists: as the data says (a column of lists) or as `wanted`; a clash is an error."""
    features = {where: rows.features["label"] for parts in pieces.values() for where, rows in parts}
    with_lists = [where for where, feature in features.items() if holds_lists(feature)]
    if wanted is False and with_lists:
        raise ValueError(
            f"the labels in {with_lists[0]} are lists (multi-label data), but single-label data was asked for "
            "(problem_type single_label_classification): set it to multi_label_classification, or leave it unset"
        )
    if not (wanted or with_lists):
        return False
    neither = [(where, f) for where, f in features.items() if not (holds_lists(f) or f in STRING_COLUMNS)]
    if neither:
        where, feature = neither[0]
        raise ValueError(
            f"multi-label data needs each label to be a list (JSON, Parquet, Hub) or labels separated by "
            f"{LABEL_SEPARATOR!r} (CSV/TSV), but the labels in {where} are {feature}"
        )
    return True


def holds_lists(feature) -> bool:
    return isinstance(feature, (List, LargeList))


def _cell_labels(cell, multi_label: bool) -> list:
    """The raw labels of one label cell: the cell itself (single-label); a list's items, or a string's
    `LABEL_SEPARATOR`-separated parts (multi-label); a missing cell is one missing label."""
    if not multi_label or cell is None:
        return [cell]
    if isinstance(cell, str):
        return [part.strip() for part in cell.split(LABEL_SEPARATOR) if part.strip()]
    return list(cell)


def declared_classes(feature) -> ClassLabel | None:
    """The `ClassLabel` a column declares, for itself or for each item of its lists (a Hub `List(ClassLabel)`)."""
    inner = feature.feature if holds_lists(feature) else feature
    return inner if isinstance(inner, ClassLabel) else None


def resolve_label_names(
    given: list[str] | None, pieces: Pieces, multi_label: bool = False, keep_rows=None
) -> list[str]:
    """The class names: as given, else a `ClassLabel`'s, else the built-in set the labels match, else sorted
    (of the rows `keep_rows` keeps: see the module docstring)."""
    if given is not None:
        names = list(given)
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"label_names={given!r} must be distinct, non-empty strings")
        return names
    features = [rows.features["label"] for parts in pieces.values() for _, rows in parts]
    declared = next((declared_classes(f).names for f in features if declared_classes(f) is not None), None)
    if declared is not None:
        return declared
    found = {
        label
        for parts in pieces.values()
        for _, rows in parts
        for label in _labels_of_kept_rows(rows, multi_label, keep_rows)
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


def _labels_of_kept_rows(rows: Dataset, multi_label: bool, keep_rows=None) -> set[str]:
    """The string labels of the rows `keep_rows` keeps (all rows without it)."""
    found = set()
    for batch in rows.iter(batch_size=BATCH_SIZE):
        cells = batch["label"]
        kept = keep_rows(batch["text"], cells, range(len(cells))) if keep_rows else range(len(cells))
        found.update(label for i in kept for label in _cell_labels(cells[i], multi_label) if isinstance(label, str))
    return found


def _as_id(value) -> int | None:
    """An integer class id from an int or a string of digits (CSV reads ids as text), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def encode_split(
    split: str, parts: list[tuple[str, Dataset]], features: Features, num_proc: int | None, keep_rows=None
) -> Dataset:
    """Check and encode every file of a split (the rows `keep_rows` keeps), then join them; an empty
    split is an error."""
    rows = concatenate_datasets([_encode(rows, where, features, num_proc, keep_rows) for where, rows in parts])
    if len(rows) == 0:
        dropping = " after dropping rows with empty cells" if keep_rows else ""
        raise ValueError(f"split {split!r} has no rows{dropping} (from {', '.join(w for w, _ in parts)})")
    return rows


def _encode(rows: Dataset, where: str, features: Features, num_proc: int | None = None, keep_rows=None) -> Dataset:
    """Check each row's text is a string and its labels known classes."""
    multi_label = holds_lists(features["label"])
    encode = batch_encoder(rows.features, declared_classes(features["label"]).names, where, multi_label, keep_rows)
    return rows.map(
        encode,
        batched=True,
        batch_size=BATCH_SIZE,
        with_indices=True,
        remove_columns=rows.column_names,
        features=features,
        num_proc=num_proc if num_proc and num_proc > 1 and len(rows) >= num_proc else None,
        desc=f"Checking {Path(where).name}",
    )


def batch_encoder(read: Features, names: list[str], where: str, multi_label: bool = False, keep_rows=None):
    """A batched `.map` function: the rows `keep_rows` keeps (all without it), their label as a class id
    (multi-label: their labels as a list of distinct class ids); errors name the row and the label.

    The type check on texts runs only when the file's text column is not a string column already.
    """
    ids = {name: i for i, name in enumerate(names)}
    declared = declared_classes(read["label"])  # a ClassLabel's ids are its own
    texts_are_strings = read["text"] in STRING_COLUMNS

    def encode(batch: dict, indices: list[int]) -> dict:
        texts, labels = batch["text"], batch["label"]
        if not texts_are_strings:
            _check_texts(texts, indices, where)
        kept = keep_rows(texts, labels, indices) if keep_rows else range(len(texts))
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


def is_multi_label(rows: Dataset) -> bool:
    """Whether `rows` (from `load_corpus`) hold a list of labels per row."""
    return holds_lists(rows.features["label"])


def class_names(rows: Dataset) -> list[str]:
    """The class names of `rows`' labels (of each list item, for multi-label rows), in id order."""
    return declared_classes(rows.features["label"]).names


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
