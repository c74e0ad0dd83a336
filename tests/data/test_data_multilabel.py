"""`load_corpus` on multi-label data: lists of labels from JSON, JSON Lines, Parquet and CSV (comma-
separated), the random seeded split, label counts, bad input, and GoEmotions with all its emotions."""

import csv
import json
from collections import Counter

import pytest
from datasets import ClassLabel, Dataset, Features, List, Value
from helpers import MULTI_LABELS, multi_label_rows, write_jsonl

from posenc_hf.data.labels import class_names, is_multi_label, label_counts, multi_hot
from posenc_hf.data.sources import SPLITS, load_corpus

ROWS = multi_label_rows(40)
EXPECTED_FEATURES = Features({"text": Value("string"), "label": List(ClassLabel(names=MULTI_LABELS))})


def write_csv(path, rows):
    """Labels joined by commas, as a spreadsheet holds them (`anger,joy`; an empty cell: no label)."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows([row["text"], ",".join(row["label"])] for row in rows)
    return path


def labelled_texts(corpus):
    """{text: its label names} over every split."""
    return {
        text: [MULTI_LABELS[i] for i in ids]
        for split in SPLITS
        for text, ids in zip(corpus[split]["text"], corpus[split]["label"], strict=True)
    }


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet", ".csv"])
def test_lists_of_labels_load_as_lists_of_class_ids_split_80_10_10(tmp_path, suffix):
    path = tmp_path / f"feelings{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, ROWS)
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    elif suffix == ".parquet":
        Dataset.from_list(ROWS).to_parquet(str(path))
    else:
        write_csv(path, ROWS)
    corpus = load_corpus(path, multi_label=True if suffix == ".csv" else None)  # a CSV cannot hold a list
    assert all(corpus[split].features == EXPECTED_FEATURES for split in SPLITS)
    assert {split: len(rows) for split, rows in corpus.items()} == {"train": 32, "validation": 4, "test": 4}
    assert labelled_texts(corpus) == {row["text"]: row["label"] for row in ROWS}
    assert is_multi_label(corpus["train"]) and class_names(corpus["test"]) == MULTI_LABELS


def test_the_random_split_is_seeded(tmp_path):
    path = write_jsonl(tmp_path / "feelings.jsonl", ROWS)
    assert load_corpus(path, seed=1)["test"]["text"] == load_corpus(path, seed=1)["test"]["text"]
    assert load_corpus(path, seed=1)["test"]["text"] != load_corpus(path, seed=2)["test"]["text"]


def test_label_counts_count_a_row_once_per_label(tmp_path):
    corpus = load_corpus(write_jsonl(tmp_path / "feelings.jsonl", ROWS))
    rows = corpus["train"].shuffle(seed=0).select(range(9))  # a selection of rows, as every split is
    expected = Counter(MULTI_LABELS[i] for ids in rows["label"] for i in ids)
    assert label_counts(rows) == {name: expected[name] for name in MULTI_LABELS}
    assert multi_hot(rows).tolist() == [[float(i in ids) for i in range(3)] for ids in rows["label"]]


def test_ids_duplicates_and_empty_lists(tmp_path):
    rows = [{"text": f"text {i}", "label": [i % 3, i % 3]} for i in range(9)] + [{"text": "none", "label": []}]
    corpus = load_corpus(write_jsonl(tmp_path / "ids.jsonl", rows), label_names=MULTI_LABELS)
    assert labelled_texts(corpus) == {"none": [], **{f"text {i}": [MULTI_LABELS[i % 3]] for i in range(9)}}


def test_an_unknown_label_in_a_list_names_the_row_and_the_label(tmp_path):
    rows = [*ROWS[:4], {"text": "a calm day", "label": ["joy", "calm"]}, *ROWS[4:]]
    with pytest.raises(ValueError, match=r"'calm'.*row 5\b.*feelings\.jsonl.*'anger'"):
        load_corpus(write_jsonl(tmp_path / "feelings.jsonl", rows), label_names=MULTI_LABELS)
    with pytest.raises(ValueError, match=r"'calm'.*row 5\b.*feelings\.csv"):
        load_corpus(write_csv(tmp_path / "feelings.csv", rows), label_names=MULTI_LABELS, multi_label=True)


def test_lists_with_single_label_asked_for_and_numbers_with_multi_label_are_errors(tmp_path):
    lists = write_jsonl(tmp_path / "feelings.jsonl", ROWS)
    with pytest.raises(ValueError, match=r"feelings\.jsonl.*lists.*problem_type"):
        load_corpus(lists, multi_label=False)
    numbers = write_jsonl(tmp_path / "ids.jsonl", [{"text": f"text {i}", "label": i % 3} for i in range(9)])
    with pytest.raises(ValueError, match=r"ids\.jsonl.*Value"):
        load_corpus(numbers, label_names=MULTI_LABELS, multi_label=True)


def test_a_csv_without_multi_label_keeps_one_label_per_row(tmp_path):
    """A comma inside a single-label cell is part of the class name: only `multi_label` splits it."""
    rows = [{"text": f"text {i}", "label": ["a,b", "c"][i % 2]} for i in range(20)]
    with (tmp_path / "plain.csv").open("w", newline="") as file:
        csv.writer(file).writerows([["text", "label"], *([row["text"], row["label"]] for row in rows)])
    corpus = load_corpus(tmp_path / "plain.csv")
    assert not is_multi_label(corpus["train"]) and class_names(corpus["train"]) == ["a,b", "c"]


def test_too_few_rows_to_carve_out_the_splits(tmp_path):
    with pytest.raises(ValueError, match=r"feelings\.jsonl.*\b2 row"):
        load_corpus(write_jsonl(tmp_path / "feelings.jsonl", ROWS[:2]))


GOEMOTIONS_ROWS = {"train": 43410, "dev": 5426}  # shared/README.md


def test_goemotions_multilabel_keeps_every_row_and_emotion(shared_dir):
    folder = shared_dir / "data" / "goemotions"
    corpus = load_corpus("goemotions_multilabel", data_dir=folder)
    emotions = (folder / "labels.txt").read_text().split()
    assert len(emotions) == 28 and class_names(corpus["train"]) == emotions
    assert len(corpus["train"]) + len(corpus["validation"]) == GOEMOTIONS_ROWS["train"]
    assert len(corpus["test"]) == GOEMOTIONS_ROWS["dev"]
    with (folder / "dev.tsv").open(newline="", encoding="utf-8") as file:
        dev_ids = [row[1] for row in csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE)]
    expected = Counter(emotions[int(i)] for ids in dev_ids for i in ids.split(","))
    assert label_counts(corpus["test"]) == {name: expected[name] for name in emotions}
    assert max(len(ids) for ids in corpus["test"]["label"]) > 1


@pytest.mark.reliability
def test_an_empty_label_in_a_list_or_between_commas_is_named_or_dropped(tmp_path):
    """`["joy", ""]` and `joy,,fear` hold an empty label; `[]` and an empty CSV cell are rows with no label."""
    rows = [*ROWS[:5], {"text": "blank", "label": ["joy", " "]}, {"text": "none", "label": []}, *ROWS[5:]]
    lists = write_jsonl(tmp_path / "feelings.jsonl", rows)
    with pytest.raises(
        ValueError, match=r"feelings\.jsonl: 1 empty or whitespace-only label cell in column 'label', at row 6 \("
    ):
        load_corpus(lists)
    cells = write_csv(
        tmp_path / "feelings.csv", [*rows[:6], {"text": "commas", "label": ["joy", "", "fear"]}, *rows[6:]]
    )
    with pytest.raises(ValueError, match=r"feelings\.csv: 2 empty or whitespace-only label cells .*, at rows 6, 7 \("):
        load_corpus(cells, multi_label=True)
    corpus = load_corpus(cells, multi_label=True, drop_rows_with_empty_cells=True)
    assert labelled_texts(corpus) == {"none": [], **{row["text"]: row["label"] for row in ROWS}}
    assert corpus.dropped_rows == {str(cells): {"rows": 2, "columns": {"label": 2}}}
