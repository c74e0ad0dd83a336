"""The named corpora: label orders, the shipped CSVs, and adapters for MMLU and GoEmotions.

This folder ships `subject/` and `sentiment/` (`train.csv`, `validation.csv`, `test.csv`, columns
`text,label`; see each DATASHEET.md). The adapters read the public MMLU and GoEmotions files from a
local folder and map them onto those label sets; `goemotions_multilabel` keeps GoEmotions' own 28
emotions, several per row. Each reader returns `Pieces`: for each split it provides, the rows (`text`,
`label` as a class name, or a list of them) and where they came from; `posenc_hf.data.sources` checks,
encodes and completes the splits.
"""

import logging
import os
from pathlib import Path

from datasets import Dataset, Features, Value, load_dataset

logger = logging.getLogger(__name__)

CORPORA_DIR = Path(__file__).parent
LABEL_NAMES = {
    "subject": ["Biology", "Chemistry", "Maths", "Physics"],
    "sentiment": ["Joyful", "Frustrated", "Excited", "Disappointed"],
}
MMLU_SUBJECTS = {"biology": "Biology", "chemistry": "Chemistry", "mathematics": "Maths", "physics": "Physics"}
MMLU_LEVELS = ("college", "high_school")
NAMED_CORPORA = ("order", *LABEL_NAMES, "mmlu", "goemotions", "goemotions_multilabel")  # load_corpus reads these
MMLU_COLUMNS = ["question", "A", "B", "C", "D", "answer"]
GOEMOTIONS_CLASSES = {"joy": "Joyful", "excitement": "Excited", "disappointment": "Disappointed",
                      "annoyance": "Frustrated", "anger": "Frustrated"}  # fmt: skip

GOEMOTIONS_COLUMNS = ["text", "label_ids", "comment_id"]  # train.tsv and dev.tsv, which have no header

Pieces = dict[str, list[tuple[str, Dataset]]]  # split -> [(where the rows came from, rows with text and label)]


def shared_folder(name: str, data_dir: str | os.PathLike | None) -> Path:
    """`data_dir`, else `$POSENC_SHARED/data/<name>`; a clear error when neither is there."""
    if data_dir is None:
        shared = os.environ.get("POSENC_SHARED")
        if not shared:
            raise ValueError(
                f"{name} needs its folder: pass data_dir=... or set POSENC_SHARED (read as $POSENC_SHARED/data/{name})"
            )
        data_dir = Path(shared) / "data" / name
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise ValueError(f"the {name} folder {folder} does not exist")
    return folder


def read_mmlu(folder: Path, with_options: bool = False, heldout: str | None = None) -> Pieces:
    """MMLU's biology, chemistry, mathematics and physics files as Biology/Chemistry/Maths/Physics rows.

    `folder` holds `dev/*_dev.csv`, `val/*_val.csv` and `test/*_test.csv` (no header; question, four
    options, answer). The text is the question, then the options one per line when `with_options`.
    A question stem seen before is dropped (counted in the log), so no text can sit in two splits.
    All files are pooled into `train` (for `load_corpus` to split stratified), unless `heldout`
    names a level: its files become `test`, and its copies of repeated stems are the ones kept.
    """
    levels = sorted(MMLU_LEVELS, key=lambda level: level != heldout)
    names = [f"{level}_{subject}" for level in levels for subject in MMLU_SUBJECTS]
    files = {name: sorted(str(p) for p in folder.glob(f"*/{name}_*.csv")) for name in names}
    missing = [name for name, paths in files.items() if not paths]
    if missing:
        raise ValueError(f"no MMLU files for {', '.join(missing)} in {folder} (expected e.g. val/{missing[0]}_val.csv)")
    features = Features({column: Value("string") for column in MMLU_COLUMNS})
    corpus = load_dataset(
        "csv", data_files=files, header=None, column_names=MMLU_COLUMNS, features=features, keep_default_na=False
    )
    seen, duplicates = set(), 0
    by_level = {level: {"text": [], "label": []} for level in levels}
    for name in names:
        level, subject = name.rsplit("_", 1)
        for row in corpus[name]:
            if row["question"] in seen:
                duplicates += 1
                continue
            seen.add(row["question"])
            by_level[level]["text"].append(_mmlu_text(row, with_options))
            by_level[level]["label"].append(MMLU_SUBJECTS[subject])
    logger.info("MMLU: dropped %d repeated question stems, kept %d questions", duplicates, len(seen))
    pieces: Pieces = {}
    for level, columns in by_level.items():
        pieces.setdefault("test" if level == heldout else "train", []).append(
            (f"MMLU {level} files in {folder}", Dataset.from_dict(columns))
        )
    return pieces


def _mmlu_text(row: dict, with_options: bool) -> str:
    """The question alone, or followed by "A. ...", "B. ...", ... lines."""
    if not with_options:
        return row["question"]
    return "\n".join([row["question"], *(f"{letter}. {row[letter]}" for letter in "ABCD")])


def read_goemotions(folder: Path) -> Pieces:
    """GoEmotions `train.tsv` and `dev.tsv` as Joyful/Frustrated/Excited/Disappointed rows.

    Files have no header: text, comma-separated ids into `labels.txt`, comment id. A row is kept
    only when every label it has maps to the same class (joy, excitement, disappointment,
    annoyance/anger); the others are dropped and counted in the log. `dev.tsv` is the test split;
    `load_corpus` carves validation out of train.
    """
    files = goemotions_split_files(folder)
    emotions = goemotions_emotions(folder)
    corpus = load_goemotions_files({split: str(path) for split, path in files.items()})
    pieces: Pieces = {}
    for split, rows in corpus.items():
        mapped = rows.map(
            lambda ids: {"label": _goemotions_class(ids, emotions)},
            input_columns="label_ids",
            remove_columns=GOEMOTIONS_COLUMNS[1:],
        )
        kept = mapped.filter(lambda label: label is not None, input_columns="label")
        logger.info(
            "GoEmotions %s: kept %d rows, dropped %d with other or mixed emotions",
            files[split].name,
            len(kept),
            len(rows) - len(kept),
        )
        pieces[split] = [(str(files[split]), kept)]
    return pieces


def read_goemotions_multilabel(folder: Path) -> Pieces:
    """GoEmotions `train.tsv` and `dev.tsv` with each row's emotions, all of them, as a list of names
    (`goemotions_emotions`; `neutral` is one). `dev.tsv` is the test split, as for `read_goemotions`."""
    files = goemotions_split_files(folder)
    emotions = goemotions_emotions(folder)
    corpus = load_goemotions_files({split: str(path) for split, path in files.items()})

    def names(batch_ids: list[str]) -> dict:
        return {"label": [[emotions[int(i)] for i in ids.split(",")] for ids in batch_ids]}

    pieces: Pieces = {}
    for split, rows in corpus.items():
        named = rows.map(names, input_columns="label_ids", batched=True, remove_columns=GOEMOTIONS_COLUMNS[1:])
        pieces[split] = [(str(files[split]), named)]
    return pieces


def goemotions_split_files(folder: Path) -> dict[str, Path]:
    """`train.tsv` as train and `dev.tsv` as test; an error naming any GoEmotions file that is missing."""
    files = {"train": folder / "train.tsv", "test": folder / "dev.tsv"}
    for path in [folder / "labels.txt", *files.values()]:
        if not path.is_file():
            raise ValueError(f"GoEmotions file {path} does not exist")
    return files


def goemotions_emotions(folder: Path) -> list[str]:
    """The 28 emotion names of `labels.txt`, in id order (the ids the TSV files hold)."""
    return (folder / "labels.txt").read_text(encoding="utf-8").split()


def load_goemotions_files(data_files, **options):
    """GoEmotions TSV files as `datasets` rows: no header, three string columns (`GOEMOTIONS_COLUMNS`),
    nothing read as a number or a missing value. `options` go to `load_dataset` (e.g. `split`)."""
    return load_dataset(
        "csv",
        data_files=data_files,
        delimiter="\t",
        header=None,
        column_names=GOEMOTIONS_COLUMNS,
        features=Features({column: Value("string") for column in GOEMOTIONS_COLUMNS}),
        keep_default_na=False,
        **options,
    )


def _goemotions_class(label_ids: str, emotions: list[str]) -> str | None:
    """The one class all of a row's emotions map to, or None (another emotion, or a mix)."""
    classes = {GOEMOTIONS_CLASSES.get(emotions[int(i)]) for i in label_ids.split(",")}
    return classes.pop() if len(classes) == 1 else None
