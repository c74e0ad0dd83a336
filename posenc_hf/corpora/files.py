"""Read a user's data: a CSV, TSV, JSON (an array of records), JSON Lines or Parquet file, a folder of
them whose file names say the split (`train*`, `validation*`/`valid*`/`val*`/`dev*`, `test*`), or a
Hub dataset. Each becomes `Pieces` (per split: where the rows came from, and the rows with columns
`text` and raw `label`); `posenc_hf.data.load_corpus` checks, encodes and splits them.
"""

import csv
import json
import logging
import re
from pathlib import Path

import datasets
from datasets import Dataset, Features, Value, load_dataset

from . import NAMED_CORPORA, Pieces

logger = logging.getLogger(__name__)

FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
SPLIT_ALIASES = {"train": "train", "test": "test", **dict.fromkeys(["validation", "valid", "val", "dev"], "validation")}
SPLIT_FILE_NAME = re.compile(r"(train|validation|valid|val|dev|test)(?![a-z])")


def read_folder(folder: Path, text_column: str, label_column: str) -> Pieces:
    """Read the data files in `folder`, each as the split its name says; a lone file is `train`."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FILE_BUILDERS)
    if not files:
        raise ValueError(f"no {', '.join(FILE_BUILDERS)} files in {folder}")
    pieces: Pieces = {}
    for path in files:
        split = "train" if len(files) == 1 else _split_of(path)
        pieces.setdefault(split, []).append((str(path), read_file(path, text_column, label_column)))
    return pieces


def _split_of(path: Path) -> str:
    """The split a file's name announces: train, validation (valid, val, dev) or test."""
    match = SPLIT_FILE_NAME.match(path.stem.lower())
    if match is None:
        raise ValueError(f"cannot tell which split {path} holds: name it train, validation (valid, val, dev) or test")
    return SPLIT_ALIASES[match.group(1)]


def read_file(path: Path, text_column: str, label_column: str) -> Dataset:
    """Load one data file with the `datasets` builder its extension names; errors name the file."""
    builder = FILE_BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ValueError(f"unsupported file type {path.suffix!r} for {path}: use one of {', '.join(FILE_BUILDERS)}")
    options = _csv_options(path) if builder == "csv" else {}
    try:
        rows = load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as err:  # datasets, pandas and pyarrow each raise their own kinds
        if builder == "json":
            _check_json(path)  # names the malformed line, if that is what failed
        raise ValueError(f"could not read {path} as {builder}: {err}") from err
    return standard_columns(rows, str(path), text_column, label_column)


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


def read_hub(dataset_id: str, text_column: str, label_column: str) -> Pieces:
    """Load a Hub dataset (or its local cached copy); split names follow the file-name aliases."""
    try:
        corpus = load_dataset(dataset_id)
    except Exception as err:  # offline, missing, gated, or not a dataset at all
        hub = "Hub access is offline (HF_HUB_OFFLINE)" if datasets.config.HF_HUB_OFFLINE else "Hub access failed"
        named = ", ".join(NAMED_CORPORA)
        raise ValueError(
            f"{dataset_id!r} was not found locally (it is not a named corpus: {named}; nor an existing file or "
            f"folder; nor a dataset in the local cache) and {hub}: {err}"
        ) from err
    pieces: Pieces = {}
    for split, rows in corpus.items():
        if split not in SPLIT_ALIASES:
            logger.warning("%s: ignoring split %r (not train, validation or test)", dataset_id, split)
            continue
        where = f"{dataset_id} ({split} split)"
        pieces.setdefault(SPLIT_ALIASES[split], []).append(
            (where, standard_columns(rows, where, text_column, label_column))
        )
    return pieces


def standard_columns(rows: Dataset, where: str, text_column: str, label_column: str) -> Dataset:
    """Keep the text and label columns, renamed `text` and `label`; other columns are left out."""
    for column in (text_column, label_column):
        if column not in rows.column_names:
            raise ValueError(
                f"column {column!r} not found in {where}; available columns: {', '.join(rows.column_names)}"
            )
    rows = rows.select_columns([text_column, label_column])
    return rows.rename_columns(
        {old: new for old, new in [(text_column, "text"), (label_column, "label")] if old != new}
    )
