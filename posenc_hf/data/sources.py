"""Load a text-classification corpus as a `DatasetDict` with `train`, `validation` and `test`.

Every split has exactly the features `text: Value("string")` and `label: ClassLabel(names=...)`, or,
for multi-label data, `label: List(ClassLabel(names=...))` (see below). `load_corpus(source)` reads:

- `"subject"`, `"sentiment"`: the corpora shipped in `posenc_hf/data/corpora/` (see their DATASHEET.md).
- `"order"`: the synthetic word-order corpus of `posenc_hf.data.corpora.order`, generated from `seed`.
- `"mmlu"`, `"goemotions"`, `"goemotions_multilabel"`: those public datasets from a local folder
  (`data_dir`, else `$POSENC_SHARED/data/<name>`; `goemotions_multilabel` reads the `goemotions`
  folder), through the adapters in `posenc_hf.data.corpora`.
- a CSV, TSV, JSON (an array of records), JSON Lines or Parquet file, or a folder of them whose file
  names say the split: `train*`, `validation*`/`valid*`/`val*`/`dev*`, `test*`.
- anything else: a Hugging Face Hub dataset id, through `datasets.load_dataset`; `hub` gives its config
  name, revision and split mapping. A folder whose README.md dataset card lists `configs:` is read alike.
(Files, folders and Hub ids are read by `posenc_hf.data.corpora.files`.)

Split policy: a split the source lacks is carved out of `train`, stratified by label and seeded:
`test_size` and `validation_size` are fractions of that train data (a single file gives 80/10/10),
each split's rows (its fraction of all, rounded) drawn from the classes in proportion to their
sizes, at least one row of each class per split; a class with fewer rows than splits to fill is a
`ValueError` naming the file, the class and its count.
So MMLU, pooled, is split 80/10/10, and GoEmotions keeps `dev.tsv` as test (see `posenc_hf.data.corpora`).
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
an error. A text or label that is missing, empty or whitespace only is an error naming the file,
the column, the first rows and their count, unless `drop_rows_with_empty_cells`: then its rows are
left out, counted in the log and in the returned corpus's `dropped_rows` (`posenc_hf.data.empty_cells`).
Anything else malformed raises a `ValueError` naming the file, the row (1-based, header excluded)
and the problem.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, DatasetDict, Features, List, Value

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
from .empty_cells import count_empty_cells, rows_without_empty_cells
from .labels import detect_multi_label, encode_split, resolve_label_names
from .splits import SPLITS, cap_rows, fill_missing_splits

logger = logging.getLogger(__name__)


def load_corpus(
    source: "str | os.PathLike | Source",
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
    drop_rows_with_empty_cells: bool = False,
) -> DatasetDict:
    """Load `source` (see the module docstring) as `train`, `validation` and `test` splits.

    `text_column`/`label_column` pick the columns of a file, folder or Hub dataset. Labels may be
    class names or integer ids into `label_names`. Without `label_names`, the names are a built-in
    corpus's when the label set matches it, else the sorted unique labels (logged); the named
    corpora always default to their documented order. `mmlu_with_options` appends the four options
    to each MMLU question; `mmlu_heldout="college"` (or `"high_school"`) makes those files the test split.
    `hub`: a Hub dataset's config name, revision and split mapping (`posenc_hf.data.corpora.files.HubOptions`).
    `multi_label`: None reads lists of labels as multi-label data and anything else as single-label;
    True requires multi-label data, False single-label (see the module docstring).
    `num_proc` processes check and encode the rows (None: this process alone).
    `drop_rows_with_empty_cells` leaves out the rows with an empty text or label instead of failing; the
    corpus's `dropped_rows` attribute counts them: {where: {"rows": n, "columns": {column: cells}}}.
    """
    _check_options(validation_size, test_size, max_samples, mmlu_heldout)
    source = resolve_source(source)
    pieces, default_names = read_pieces(
        source, text_column, label_column, hub, seed=seed, data_dir=data_dir, with_options=mmlu_with_options,
        heldout=mmlu_heldout,
    )  # fmt: skip
    multi_label = detect_multi_label(pieces, multi_label)
    columns = source.columns(text_column, label_column)
    dropped = count_empty_cells(pieces, multi_label, columns, drop_rows_with_empty_cells)
    keep_rows = rows_without_empty_cells(multi_label) if dropped else None
    names = resolve_label_names(label_names or default_names, pieces, multi_label, keep_rows)
    classes = ClassLabel(names=names)
    features = Features({"text": Value("string"), "label": List(classes) if multi_label else classes})
    splits = {split: encode_split(split, parts, features, num_proc, keep_rows) for split, parts in pieces.items()}
    train_from = ", ".join(where for where, _ in pieces.get("train", []))
    splits = fill_missing_splits(splits, validation_size, test_size, seed, source=train_from)
    corpus = DatasetDict({split: cap_rows(splits[split], max_samples, seed) for split in SPLITS})
    corpus.dropped_rows = dropped  # for the model card (`posenc_hf.training.runner.data_summary`)
    return corpus


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


@dataclass(frozen=True)
class Source:
    """A data source classified once against the file system: what `load_corpus` and the stream read it as."""

    spec: str  # as given: "subject", "../work/reviews.csv", "dair-ai/emotion"
    kind: str  # "corpus" (a named one), "folder", "file" (also a missing path with a data file's extension), "hub"

    @property
    def path(self) -> Path:
        return Path(self.spec).expanduser()

    @property
    def name(self) -> str:
        """A short name, e.g. for a run's folder and its card: a named corpus's name, a file's stem, a
        folder's name or a Hub dataset's name (`reviews` for `../work/reviews.csv`, `emotion` for
        `dair-ai/emotion`)."""
        if self.kind == "corpus":
            return self.spec
        if self.kind == "hub":
            return self.spec.rstrip("/").split("/")[-1]
        path = self.path.resolve()
        return path.stem if self.kind == "file" else path.name

    def columns(self, text_column: str, label_column: str) -> tuple[str, str]:
        """The names the user knows the text and label columns by, for errors: a named corpus's own
        (`text`, `label`), else the `text_column` and `label_column` options."""
        return ("text", "label") if self.kind == "corpus" else (text_column, label_column)


def resolve_source(source: "str | os.PathLike | Source") -> Source:
    """`source` classified (a `Source` is returned as it is)."""
    if isinstance(source, Source):
        return source
    spec = str(source)
    if spec in NAMED_CORPORA:
        return Source(spec, "corpus")
    path = Path(spec).expanduser()
    if path.is_dir():
        return Source(spec, "folder")
    return Source(spec, "file" if path.is_file() or path.suffix.lower() in FILE_BUILDERS else "hub")


STREAMABLE_CORPORA = tuple(LABEL_NAMES)  # the named corpora that are files: the others are made in memory


def read_pieces(
    source: Source,
    text_column: str = "text",
    label_column: str = "label",
    hub: HubOptions = NO_HUB_OPTIONS,
    *,
    seed: int = 42,
    data_dir: str | os.PathLike | None = None,
    with_options: bool = False,
    heldout: str | None = None,
    streaming: bool = False,
) -> tuple[Pieces, list[str] | None]:
    """The source's rows per split (columns `text` and raw `label`; streams when `streaming`) and its
    default label names: the one dispatch of `load_corpus` and `posenc_hf.data.streaming`."""
    check_hub_options(source.spec, source.kind, hub)
    if source.kind == "corpus":
        if streaming and source.spec not in STREAMABLE_CORPORA:
            raise ValueError(
                f"streaming reads files, folders, Hub ids and the subject and sentiment corpora; {source.spec} is "
                "made in memory: leave streaming off"
            )
        return read_named_corpus(source.spec, seed, data_dir, with_options, heldout, streaming)
    if source.kind == "folder":
        return read_folder(source.path, text_column, label_column, hub, streaming=streaming), None
    if source.kind == "file":
        if not source.path.is_file():
            raise ValueError(f"no such file: {source.path}")
        rows = read_file(source.path, text_column, label_column, streaming=streaming)
        return {"train": [(str(source.path), rows)]}, None
    return read_hub(source.spec, text_column, label_column, hub, streaming=streaming), None


def read_named_corpus(name, seed, data_dir, with_options, heldout, streaming=False) -> tuple[Pieces, list[str]]:
    """A named corpus's pieces and its label names (`posenc_hf.data.corpora`)."""
    if name == "order":
        corpus = make_order_corpus(seed=seed)
        return {split: [(f"order corpus ({split})", rows)] for split, rows in corpus.items()}, list(CUE_WORDS)
    if name in LABEL_NAMES:
        return read_folder(CORPORA_DIR / name, "text", "label", streaming=streaming), LABEL_NAMES[name]
    if name == "mmlu":
        return read_mmlu(shared_folder("mmlu", data_dir), with_options, heldout), LABEL_NAMES["subject"]
    if name == "goemotions":
        return read_goemotions(shared_folder("goemotions", data_dir)), LABEL_NAMES["sentiment"]
    folder = shared_folder("goemotions", data_dir)  # goemotions_multilabel
    return read_goemotions_multilabel(folder), goemotions_emotions(folder)
