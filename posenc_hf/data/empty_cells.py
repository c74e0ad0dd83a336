"""Empty cells: a text or a label that is missing, empty or whitespace only (`""`, `"   "`). Each is a
`ValueError` naming the file, the column, the first rows and their count, unless the run asks for
such rows to be left out (`drop_rows_with_empty_cells`): then they are dropped and counted, in the
log and in the model card. Without the check, `text,` became a class `''` and `"   "` a class `'   '`.

Every label of a multi-label row is checked: `["joy", ""]` has an empty one, as has the CSV cell
`joy,,love`. An empty list, or a multi-label CSV/TSV cell empty as a whole, is a row with no label.

The cells are found with Arrow compute: a whole file at once for `posenc_hf.data.sources.load_corpus`
(`count_empty_cells`), a batch at a time, as it is read, for a stream (`stream_row_filter`).
Rows are numbered as `posenc_hf.data.labels` numbers them: data rows from 1, the header not counted.
"""

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .corpora import Pieces
from .labels import LABEL_SEPARATOR

logger = logging.getLogger(__name__)

OPTION = "drop_rows_with_empty_cells"  # the run's field (`DataArguments`) and `load_corpus`'s argument
SHOWN_ROWS = 5  # rows an error lists before "…"
KINDS = ("text", "label")  # the two columns of every piece, whatever the user's names for them


def empty_cells(texts, labels, multi_label: bool) -> dict[str, np.ndarray]:
    """{"text": ..., "label": ...}: per row, whether that cell is empty, from Arrow arrays (chunked or not)."""
    return {"text": _blank(texts), "label": _empty_labels(labels) if multi_label else _blank(labels)}


def _blank(cells) -> np.ndarray:
    """Whether each cell is missing, or a string that is empty or whitespace only."""
    blank = pc.is_null(cells)
    if pa.types.is_string(cells.type) or pa.types.is_large_string(cells.type):
        no_words = pc.or_(pc.equal(pc.binary_length(cells), 0), pc.utf8_is_space(cells))
        blank = pc.or_(blank, pc.fill_null(no_words, False))
    return np.asarray(blank, dtype=bool)


def _empty_labels(labels) -> np.ndarray:
    """Whether each multi-label cell is missing or holds an empty label (in a list, or between commas)."""
    if not (pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type)):
        return _holds_a_blank(labels)
    no_label = _blank(labels) & ~np.asarray(pc.is_null(labels), dtype=bool)  # "" or "  ": a row with no label
    return _holds_a_blank(pc.split_pattern(labels, LABEL_SEPARATOR)) & ~no_label


def _holds_a_blank(lists) -> np.ndarray:
    """Whether each list is missing or holds a blank item."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    empty = np.asarray(pc.is_null(lists), dtype=bool)
    rows = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    empty[rows[_blank(pc.list_flatten(lists))]] = True
    return empty


def count_empty_cells(pieces: Pieces, multi_label: bool, columns: tuple[str, str], drop: bool) -> dict[str, dict]:
    """Check every file of `pieces`, a whole file at once: empty cells are a `ValueError` naming them, or,
    with `drop`, the rows they are in are counted and logged. `columns`: the user's names of the text and
    label columns. Returns {where: {"rows": rows to drop, "columns": {column: empty cells}}} for each
    file with some (each file's rows are then left out by `rows_without_empty_cells`)."""
    dropped = {}
    for parts in pieces.values():
        for where, rows in parts:
            table = rows.with_format("arrow")[:]
            found = empty_cells(table["text"], table["label"], multi_label)
            if not any(mask.any() for mask in found.values()):
                continue
            if not drop:
                raise ValueError(_message(where, found, columns, np.arange(1, len(rows) + 1)))
            counts = {
                name: int(found[kind].sum()) for kind, name in zip(KINDS, columns, strict=True) if found[kind].any()
            }
            dropped[where] = {"rows": int((found["text"] | found["label"]).sum()), "columns": counts}
            logger.warning(
                "%s: dropped %d rows with an empty or whitespace-only cell (%s; %s)",
                where,
                dropped[where]["rows"],
                ", ".join(f"column {name!r}: {count}" for name, count in counts.items()),
                OPTION,
            )
    return dropped


def rows_without_empty_cells(multi_label: bool):
    """For `posenc_hf.data.labels` (`resolve_label_names`, `batch_encoder`): (texts, labels, indices) → the
    positions of a batch's rows that have no empty cell, once `count_empty_cells` has counted them."""

    def keep(texts: list, labels: list, indices) -> list[int]:
        found = empty_cells(pa.array(texts), pa.array(labels), multi_label)
        return np.flatnonzero(~(found["text"] | found["label"])).tolist()

    return keep


def stream_row_filter(where: str, columns: tuple[str, str], drop: bool):
    """`rows_without_empty_cells` for a single-label stream, which is checked as it is read and never
    counted to its end: a batch with empty cells is a `ValueError` naming them among its rows, or, with
    `drop`, they are left out and the first batch to lose rows is logged."""
    logged = False

    def keep(texts: list, labels: list, indices: list[int]) -> list[int]:
        nonlocal logged
        found = empty_cells(pa.array(texts), pa.array(labels), multi_label=False)
        empty = found["text"] | found["label"]
        if empty.any() and not drop:
            read = f"; among rows {indices[0] + 1:,}-{indices[-1] + 1:,}, as the stream is read"
            raise ValueError(_message(where, found, columns, np.asarray(indices) + 1, read))
        if empty.any() and not logged:
            logger.warning(
                "%s: dropping rows with an empty or whitespace-only cell as the stream is read (%s; not counted: "
                "a stream is not read to its end), the first at row %d",
                where,
                OPTION,
                indices[int(np.flatnonzero(empty)[0])] + 1,
            )
            logged = True
        return np.flatnonzero(~empty).tolist()

    return keep


def _message(where: str, found: dict[str, np.ndarray], columns: tuple[str, str], row_numbers, scope="") -> str:
    """One line naming the file, each column with empty cells, its first rows and their count, and the fix."""
    parts = []
    for kind, name in zip(KINDS, columns, strict=True):
        rows = row_numbers[found[kind]]
        if len(rows):
            shown = ", ".join(str(row) for row in rows[:SHOWN_ROWS]) + (", …" if len(rows) > SHOWN_ROWS else "")
            cells, at = ("cell", "row") if len(rows) == 1 else ("cells", "rows")
            parts.append(f"{len(rows):,} empty or whitespace-only {kind} {cells} in column {name!r}, at {at} {shown}")
    return (
        f"{where}: {'; '.join(parts)} (data rows counted from 1, a header row not counted{scope}). Fill them in, "
        f"or set {OPTION}: true to leave such rows out"
    )
