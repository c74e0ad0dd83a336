"""Read a user's data: a CSV, TSV, JSON (an array of records), JSON Lines or Parquet file, a folder of
them whose file names say the split (`train*`, `validation*`/`valid*`/`val*`/`dev*`, `test*`), or a
Hub dataset. Each becomes `Pieces` (per split: where the rows came from, and the rows with columns
`text` and raw `label`); `posenc_hf.data.sources.load_corpus` checks, encodes and splits them.

A Hub dataset takes `HubOptions`: its config name and revision (`load_dataset`'s `name` and
`revision`) and a split mapping (our split → the dataset's). A local folder whose `README.md` dataset
card lists `configs:` (a clone of a Hub dataset repo) is read like a Hub dataset, revision aside.
With `streaming=True` every reader returns `datasets.IterableDataset`s that read nothing yet
(`posenc_hf.data.streaming`).
"""

import csv
import json
import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path

import datasets
from datasets import Dataset, Features, IterableDataset, Value, load_dataset
from datasets.exceptions import DatasetGenerationError
from huggingface_hub import metadata_load

from . import NAMED_CORPORA, Pieces

logger = logging.getLogger(__name__)

FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
SPLIT_ALIASES = {"train": "train", "test": "test", **dict.fromkeys(["validation", "valid", "val", "dev"], "validation")}
SPLIT_FILE_NAME = re.compile(r"(train|validation|valid|val|dev|test)(?![a-z])")
OUR_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class HubOptions:
    """How to read a Hub dataset, named as a run's fields: `load_dataset`'s `name` and `revision`, and
    `split_mapping`, our split names → the dataset's (`{"validation": "dev"}`; see `parse_split_mapping`).
    Without a mapping the dataset's splits are read by their usual names; with one, exactly the splits
    it names (and `train`, unless it names another), and the splits left out are made from train."""

    dataset_config_name: str | None = None
    dataset_revision: str | None = None
    split_mapping: dict[str, str] | None = None

    @classmethod
    def of(cls, options) -> "HubOptions":
        """The options a run's data fields hold (`DataArguments`), the split mapping parsed and checked."""
        split_mapping = parse_split_mapping(options.split_mapping)
        return cls(options.dataset_config_name, options.dataset_revision, split_mapping)

    def given(self) -> list[str]:
        """The names of the options set."""
        return [field.name for field in fields(self) if getattr(self, field.name) is not None]


NO_HUB_OPTIONS = HubOptions()


def parse_split_mapping(value: dict | str | None) -> dict[str, str] | None:
    """A split mapping from a dict (YAML) or a string (command line, `validation=dev,test=heldout`),
    checked: keys are train, validation or test, each once; values are non-empty split names."""
    if value is None:
        return None
    pairs = value.items() if isinstance(value, dict) else [_split_pair(item) for item in str(value).split(",")]
    mapping = {}
    for ours, theirs in pairs:
        if ours not in OUR_SPLITS or ours in mapping:
            reason = "is named twice" if ours in mapping else f"is not one of {', '.join(OUR_SPLITS)}"
            raise ValueError(f"split_mapping={value!r}: {ours!r} {reason}")
        if not isinstance(theirs, str) or not theirs.strip():
            raise ValueError(f"split_mapping={value!r}: {ours!r} needs the name of the dataset's split, got {theirs!r}")
        mapping[ours] = theirs.strip()
    return mapping


def _split_pair(item: str) -> tuple[str, str]:
    """`ours=theirs` as a pair; anything else names the form expected."""
    ours, equals, theirs = item.partition("=")
    if not equals:
        raise ValueError(f"split_mapping: {item!r} is not of the form ours=theirs (e.g. validation=dev,test=heldout)")
    return ours.strip(), theirs


def is_dataset_repo(folder: Path) -> bool:
    """Whether `folder` is a dataset repo: its `README.md` dataset card lists `configs:`, as on the Hub."""
    card = folder / "README.md"
    return card.is_file() and "configs" in (metadata_load(card) or {})


def check_hub_options(source: str, kind: str, hub: HubOptions) -> None:
    """Hub options apply to a Hub id or a dataset repo folder, a revision to a Hub id only; else name the field.

    `kind` is `posenc_hf.data.sources.resolve_source(source).kind`."""
    given = hub.given()
    repo = kind == "folder" and is_dataset_repo(Path(source).expanduser())
    if not given or kind == "hub" or (repo and "dataset_revision" not in given):
        return
    if repo:
        raise ValueError(
            f"dataset_revision applies to a Hub dataset id; {source} is a local folder: check out that revision there"
        )
    raise ValueError(
        f"{given[0]} applies to a Hub dataset id or a dataset repo folder (a README.md dataset card with "
        f"`configs:`); {source} is a {'named corpus' if kind == 'corpus' else kind}"
    )


def read_folder(
    folder: Path, text_column: str, label_column: str, hub: HubOptions = NO_HUB_OPTIONS, streaming: bool = False
) -> Pieces:
    """Read the data files in `folder`, each as the split its name says; a lone file is `train`.
    A dataset repo folder (`is_dataset_repo`) is read as a Hub dataset, with `hub`'s options."""
    if is_dataset_repo(folder):
        return read_hub(str(folder), text_column, label_column, hub, streaming)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FILE_BUILDERS)
    if not files:
        raise ValueError(f"no {', '.join(FILE_BUILDERS)} files in {folder}")
    pieces: Pieces = {}
    for path in files:
        split = "train" if len(files) == 1 else _split_of(path)
        pieces.setdefault(split, []).append((str(path), read_file(path, text_column, label_column, streaming)))
    return pieces


def _split_of(path: Path) -> str:
    """The split a file's name announces: train, validation (valid, val, dev) or test."""
    match = SPLIT_FILE_NAME.match(path.stem.lower())
    if match is None:
        raise ValueError(f"cannot tell which split {path} holds: name it train, validation (valid, val, dev) or test")
    return SPLIT_ALIASES[match.group(1)]


def read_file(path: Path, text_column: str, label_column: str, streaming: bool = False) -> Dataset | IterableDataset:
    """Load one data file with the `datasets` builder its extension names; errors name the file and
    give the parser's reason (`_reason`). A stream's rows are read, and their errors raised, as it is iterated."""
    builder = FILE_BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ValueError(f"unsupported file type {path.suffix!r} for {path}: use one of {', '.join(FILE_BUILDERS)}")
    options = _csv_options(path) if builder == "csv" else {}
    try:
        rows = load_dataset(builder, data_files=str(path), split="train", streaming=streaming, **options)
    except Exception as err:  # datasets, pandas and pyarrow each raise their own kinds
        if builder == "json":
            _check_json(path)  # names the malformed line, if that is what failed
        raise ValueError(f"could not read {path} as {builder}: {_reason(err)}") from err
    return standard_columns(rows, str(path), text_column, label_column)


def _reason(err: BaseException) -> str:
    """The reader's own words, on one line: datasets wraps the parser's error (pandas' "Expected 2 fields
    in line 61, saw 3", "EOF inside string starting at row 1"; pyarrow's) in a `DatasetGenerationError`
    that says only "An error occurred while generating the dataset"."""
    while isinstance(err, DatasetGenerationError) and (err.__cause__ or err.__context__) is not None:
        err = err.__cause__ or err.__context__
    return " ".join(str(err).split())


def _csv_options(path: Path) -> dict:
    """Read every CSV/TSV column as a string: no type guessing, and "NA" or "None" stay words."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:  # -sig: a spreadsheet's byte-order mark
            reader = csv.reader(file, delimiter=delimiter)
            header, first_row = next(reader, None), next(reader, None)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"could not read {path} as text {path.suffix[1:].upper()}: {err}") from err
    if header is None or first_row is None:
        raise ValueError(f"{path} has no data rows")
    names = [name or f"Unnamed: {i}" for i, name in enumerate(header)]  # pandas' name for an index column
    features = Features({name: Value("string") for name in names})
    return {"delimiter": delimiter, "header": 0, "column_names": names, "features": features, "keep_default_na": False}


def _check_json(path: Path) -> None:
    """Name the first malformed line of a JSON array or JSON Lines file (datasets' error does not).

    Run only when datasets could not read the file. JSON Lines are read and parsed one line at a
    time, so memory stays flat whatever the file's size; a JSON array is parsed whole, as datasets does.
    """
    try:
        with path.open(encoding="utf-8", newline="\n") as file:
            is_array = _first_character(file) == "["
            file.seek(0)
            records = _check_json_array(file, path) if is_array else _check_json_lines(file, path)
    except UnicodeDecodeError as err:
        raise ValueError(f"could not read {path} as UTF-8 text: {err}") from err
    if records == 0:
        raise ValueError(f"{path} has no records")


def _first_character(file) -> str:
    """The first character of a text file that is not whitespace ("" for a blank file)."""
    for line in file:
        if line.strip():
            return line.lstrip()[0]
    return ""


def _check_json_array(file, path: Path) -> int:
    """Parse a JSON array file; its number of records."""
    parsed = _parse_json(file.read(), 1, path)
    return len(parsed) if isinstance(parsed, list) else 1


def _check_json_lines(file, path: Path) -> int:
    """Parse a JSON Lines file one line at a time; its number of records.

    Lines end at "\\n" only (the file is opened so): JSON strings may hold other line separators.
    """
    records = 0
    for number, line in enumerate(file, start=1):
        if line.strip():
            _parse_json(line.removesuffix("\n"), number, path)
            records += 1
    return records


def _parse_json(chunk: str, first_line: int, path: Path):
    """`json.loads`, with an error that gives the file's line number."""
    try:
        return json.loads(chunk)
    except json.JSONDecodeError as err:
        raise ValueError(f"malformed JSON in {path} at line {first_line + err.lineno - 1}: {err.msg}") from err


def read_hub(
    dataset_id: str, text_column: str, label_column: str, hub: HubOptions = NO_HUB_OPTIONS, streaming: bool = False
) -> Pieces:
    """Load a Hub dataset (or its local cached copy, or a dataset repo folder) with `hub`'s options;
    its splits are ours by `hub.split_mapping`, else by the file-name aliases."""
    corpus = _load_hub(dataset_id, hub, streaming)
    pieces: Pieces = {}
    for ours, theirs in _our_splits(dataset_id, list(corpus), hub.split_mapping):
        where = f"{dataset_id} ({theirs} split)"
        pieces.setdefault(ours, []).append((where, standard_columns(corpus[theirs], where, text_column, label_column)))
    return pieces


def _load_hub(dataset_id: str, hub: HubOptions, streaming: bool):
    """`load_dataset` with the config name and revision; errors name the dataset and the options."""
    try:
        return load_dataset(
            dataset_id, name=hub.dataset_config_name, revision=hub.dataset_revision, streaming=streaming
        )
    except ValueError as err:  # datasets' word on a config name that is missing or unknown
        raise ValueError(f"{dataset_id!r} with dataset_config_name={hub.dataset_config_name!r}: {err}") from err
    except Exception as err:  # offline, missing, gated, an unknown revision, or not a dataset at all
        access = "Hub access is offline (HF_HUB_OFFLINE)" if datasets.config.HF_HUB_OFFLINE else "Hub access failed"
        named = ", ".join(NAMED_CORPORA)
        revision = f" at dataset_revision={hub.dataset_revision!r}" if hub.dataset_revision else ""
        raise ValueError(
            f"{dataset_id!r}{revision} was not found locally (it is not a named corpus: {named}; nor an existing "
            f"file or folder; nor a dataset in the local cache) and {access}: {err}"
        ) from err


def _our_splits(dataset_id: str, available: list[str], mapping: dict[str, str] | None) -> list[tuple[str, str]]:
    """(our split, the dataset's split) pairs: by `mapping` (train: `train` unless it says otherwise),
    else every split with a usual name (others are logged and left out)."""
    if mapping is None:
        for split in available:
            if split not in SPLIT_ALIASES:
                logger.warning("%s: ignoring split %r (not train, validation or test)", dataset_id, split)
        return [(SPLIT_ALIASES[split], split) for split in available if split in SPLIT_ALIASES]
    pairs = {"train": "train", **mapping}
    for ours, theirs in pairs.items():
        if theirs not in available:
            raise ValueError(
                f"split_mapping: {dataset_id} has no split {theirs!r} (for {ours}); its splits: {', '.join(available)}"
            )
    return list(pairs.items())


def standard_columns(rows: Dataset | IterableDataset, where: str, text_column: str, label_column: str):
    """Keep the text and label columns, renamed `text` and `label`; other columns are left out."""
    available = column_names(rows)
    for column in (text_column, label_column):
        if column not in available:
            raise ValueError(f"column {column!r} not found in {where}; available columns: {', '.join(available)}")
    rows = rows.select_columns([text_column, label_column])
    return rows.rename_columns(
        {old: new for old, new in [(text_column, "text"), (label_column, "label")] if old != new}
    )


def column_names(rows: Dataset | IterableDataset) -> list[str]:
    """The columns of `rows`; a stream that declares no features (JSON, CSV on the Hub) shows its first row."""
    if rows.column_names is not None:
        return rows.column_names
    return list(next(iter(rows.take(1)), {}))
