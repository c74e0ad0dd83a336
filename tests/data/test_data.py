"""`load_corpus`: every kind of source, the MMLU and GoEmotions adapters, and every bad input."""

import csv
import json
import logging
from collections import Counter

import datasets
import huggingface_hub
import pytest
from datasets import ClassLabel, Dataset, Features, Value
from helpers import SUBJECT_ROWS, SUBJECTS, assert_split_80_10_10, label_names_of, write_csv, write_jsonl

from posenc_hf.data.corpora import LABEL_NAMES
from posenc_hf.data.labels import label_array, label_counts
from posenc_hf.data.sources import SPLITS, load_corpus, resolve_source

# --- source kinds -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_single_file_is_split_80_10_10(tmp_path, suffix):
    path = tmp_path / f"questions{suffix}"
    if suffix in (".csv", ".tsv"):
        write_csv(path, SUBJECT_ROWS, delimiter="\t" if suffix == ".tsv" else ",")
    elif suffix == ".json":
        path.write_text(json.dumps(SUBJECT_ROWS), encoding="utf-8")
    elif suffix == ".jsonl":
        write_jsonl(path, SUBJECT_ROWS)
    else:
        Dataset.from_list(SUBJECT_ROWS).to_parquet(str(path))
    assert_split_80_10_10(load_corpus(path))


def test_split_is_seeded(tmp_path):
    path = write_csv(tmp_path / "questions.csv", SUBJECT_ROWS)
    assert load_corpus(path, seed=1)["test"]["text"] == load_corpus(str(path), seed=1)["test"]["text"]
    assert load_corpus(path, seed=1)["test"]["text"] != load_corpus(path, seed=2)["test"]["text"]


def test_folder_with_all_splits_is_used_as_is(tmp_path):
    for split, rows in {
        "train": SUBJECT_ROWS[:30],
        "validation": SUBJECT_ROWS[30:35],
        "test": SUBJECT_ROWS[35:],
    }.items():
        write_csv(tmp_path / f"{split}.csv", rows)
    (tmp_path / "README.md").write_text("not data")
    corpus = load_corpus(tmp_path)
    assert corpus["train"]["text"] == [row["text"] for row in SUBJECT_ROWS[:30]]
    assert corpus["validation"]["text"] == [row["text"] for row in SUBJECT_ROWS[30:35]]
    assert label_names_of(corpus, "test") == [row["label"] for row in SUBJECT_ROWS[35:]]


def test_folder_dev_file_is_validation_and_test_is_carved_from_train(tmp_path):
    dev = [{"text": f"dev question {i}", "label": subject} for i, subject in enumerate(SUBJECTS)]
    write_jsonl(tmp_path / "train.jsonl", SUBJECT_ROWS)
    write_jsonl(tmp_path / "dev.jsonl", dev)
    corpus = load_corpus(tmp_path, test_size=0.2)
    assert corpus["validation"]["text"] == [row["text"] for row in dev]
    assert Counter(label_names_of(corpus, "test")) == dict.fromkeys(SUBJECTS, 2)
    assert len(corpus["train"]) == 32


def test_seed_dataset_columns_eng_and_subject(tmp_path):
    rows = [{"id": i, "eng": row["text"], "Subject": row["label"]} for i, row in enumerate(SUBJECT_ROWS)]
    corpus = load_corpus(
        write_csv(tmp_path / "subjects-questions.csv", rows), text_column="eng", label_column="Subject"
    )
    assert_split_80_10_10(corpus)


def test_csv_with_a_byte_order_mark(tmp_path):
    path = write_csv(tmp_path / "questions.csv", SUBJECT_ROWS)
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8-sig")
    assert_split_80_10_10(load_corpus(path))


def test_integer_labels_with_label_names(tmp_path):
    rows = [{"text": row["text"], "label": SUBJECTS.index(row["label"])} for row in SUBJECT_ROWS]
    for path in (write_csv(tmp_path / "ids.csv", rows), write_jsonl(tmp_path / "ids.jsonl", rows)):
        assert_split_80_10_10(load_corpus(path, label_names=SUBJECTS))
        with pytest.raises(ValueError, match="label_names"):
            load_corpus(path)


def test_label_names_fix_the_class_order(tmp_path):
    order = ["Physics", "Maths", "Chemistry", "Biology"]
    corpus = load_corpus(write_csv(tmp_path / "questions.csv", SUBJECT_ROWS), label_names=order)
    assert corpus["train"].features["label"].names == order
    names = corpus["train"].features["label"].names
    assert all(
        names[label] in text.title()
        for text, label in zip(corpus["train"]["text"], corpus["train"]["label"], strict=True)
    )


def test_classlabel_ids_are_read_through_their_own_names(tmp_path):
    order = ["Physics", "Maths", "Chemistry", "Biology"]
    features = Features({"text": Value("string"), "label": ClassLabel(names=order)})
    Dataset.from_list(SUBJECT_ROWS, features=features).to_parquet(str(tmp_path / "questions.parquet"))
    assert load_corpus(tmp_path / "questions.parquet")["train"].features["label"].names == order
    assert_split_80_10_10(load_corpus(tmp_path / "questions.parquet", label_names=SUBJECTS))


def test_unknown_label_set_is_sorted_and_logged(tmp_path, caplog):
    rows = [{"text": f"text {i}", "label": "yes" if i % 2 else "no"} for i in range(20)]
    with caplog.at_level(logging.WARNING, logger="posenc_hf.data.sources"):
        corpus = load_corpus(write_csv(tmp_path / "yes_no.csv", rows))
    assert corpus["train"].features["label"].names == ["no", "yes"]
    assert "sorted names ['no', 'yes']" in caplog.text


def test_max_samples_caps_each_split_reproducibly(tmp_path):
    path = write_csv(tmp_path / "questions.csv", SUBJECT_ROWS)
    corpus = load_corpus(path, max_samples=6)
    assert {split: len(rows) for split, rows in corpus.items()} == {"train": 6, "validation": 4, "test": 4}
    assert corpus["train"]["text"] == load_corpus(path, max_samples=6)["train"]["text"]


def test_words_like_na_stay_text(tmp_path):
    rows = [*SUBJECT_ROWS, *({"text": word, "label": "Maths"} for word in ("NA", "None", "null", "123"))]
    corpus = load_corpus(write_csv(tmp_path / "questions.csv", rows))
    assert {"NA", "None", "null", "123"} <= {text for split in SPLITS for text in corpus[split]["text"]}


def test_unknown_hub_id_says_offline(monkeypatch):
    """As under HF_HUB_OFFLINE=1, which huggingface_hub and datasets read once, when imported."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"'posenc-hf-tests/no-such-dataset'.*offline"):
        load_corpus("posenc-hf-tests/no-such-dataset")


# --- MMLU and GoEmotions on the real files ------------------------------------------------------

MMLU_ROWS, MMLU_REPEATS = 1120, 17  # rows in the 20 files; stems seen before (README: "about 1,150")
MMLU_PER_CLASS = {"Biology": 368, "Chemistry": 237, "Maths": 313, "Physics": 185}  # after dropping repeats
MMLU_COLLEGE_UNIQUE = 64  # the 66 college rows less 2 repeats among them
GOEMOTIONS_TRAIN = {"Joyful": 853, "Frustrated": 2706, "Excited": 510, "Disappointed": 709}  # README
GOEMOTIONS_DEV = 568  # README


def all_label_names(corpus) -> Counter:
    return sum((Counter(label_names_of(corpus, split)) for split in SPLITS), Counter())


def test_mmlu_pooled_and_split_stratified(shared_dir, caplog):
    with caplog.at_level(logging.INFO, logger="posenc_hf.data.corpora"):
        corpus = load_corpus("mmlu", data_dir=shared_dir / "data" / "mmlu")
    assert f"dropped {MMLU_REPEATS} repeated question stems, kept {MMLU_ROWS - MMLU_REPEATS}" in caplog.text
    assert all_label_names(corpus) == MMLU_PER_CLASS
    assert corpus["train"].features["label"].names == SUBJECTS
    texts = [text for split in SPLITS for text in corpus[split]["text"]]
    assert len(set(texts)) == len(texts)
    for label, total in MMLU_PER_CLASS.items():
        assert abs(Counter(label_names_of(corpus, "test"))[label] - 0.1 * total) <= 1


def test_mmlu_college_held_out_with_options(shared_dir, monkeypatch):
    monkeypatch.setenv("POSENC_SHARED", str(shared_dir))
    corpus = load_corpus("mmlu", mmlu_heldout="college", mmlu_with_options=True)
    assert len(corpus["test"]) == MMLU_COLLEGE_UNIQUE
    assert sum(len(corpus[split]) for split in SPLITS) == MMLU_ROWS - MMLU_REPEATS
    college = set()
    for path in sorted((shared_dir / "data" / "mmlu").glob("*/college_*.csv")):
        with path.open(newline="", encoding="utf-8") as file:
            college.update(row[0] for row in csv.reader(file))
    assert {text.split("\nA. ")[0] for text in corpus["test"]["text"]} == college
    assert all("\nB. " in text and "\nD. " in text for text in corpus["train"]["text"])


def test_goemotions_counts_match_the_readme(shared_dir, caplog):
    with caplog.at_level(logging.INFO, logger="posenc_hf.data.corpora"):
        corpus = load_corpus("goemotions", data_dir=shared_dir / "data" / "goemotions")
    assert corpus["train"].features["label"].names == LABEL_NAMES["sentiment"]
    train_and_validation = Counter(label_names_of(corpus, "train")) + Counter(label_names_of(corpus, "validation"))
    assert train_and_validation == GOEMOTIONS_TRAIN
    assert len(corpus["test"]) == GOEMOTIONS_DEV
    assert len(corpus["validation"]) == pytest.approx(0.1 * sum(GOEMOTIONS_TRAIN.values()), abs=4)
    assert "train.tsv: kept 4778 rows, dropped 38632" in caplog.text
    texts = [text for split in SPLITS for text in corpus[split]["text"]]
    assert any('"' in text for text in texts) and not any('""' in text for text in texts), "CSV quoting left in"


def test_shared_corpus_without_a_folder_says_where_to_look(monkeypatch, tmp_path):
    monkeypatch.delenv("POSENC_SHARED", raising=False)
    with pytest.raises(ValueError, match=r"mmlu.*data_dir=.*POSENC_SHARED"):
        load_corpus("mmlu")
    with pytest.raises(ValueError, match="goemotions.*missing"):
        load_corpus("goemotions", data_dir=tmp_path / "missing")


# --- bad input ----------------------------------------------------------------------------------


def test_missing_column_is_named_with_the_available_ones(tmp_path):
    path = write_csv(tmp_path / "questions.csv", SUBJECT_ROWS)
    with pytest.raises(ValueError, match=r"'eng'.*questions\.csv.*text, label"):
        load_corpus(path, text_column="eng")


def test_unknown_label_names_value_row_and_file(tmp_path):
    rows = [*SUBJECT_ROWS[:2], {"text": "a question about art", "label": "Art"}, *SUBJECT_ROWS[2:]]
    with pytest.raises(ValueError, match=r"'Art'.*row 3\b.*questions\.csv.*'Biology'"):
        load_corpus(write_csv(tmp_path / "questions.csv", rows), label_names=SUBJECTS)
    with pytest.raises(ValueError, match=r"label 7\b.*row 1\b.*ids\.jsonl"):
        load_corpus(write_jsonl(tmp_path / "ids.jsonl", [{"text": "a question", "label": 7}]), label_names=SUBJECTS)


def test_text_that_is_not_a_string_names_the_row(tmp_path):
    rows = [SUBJECT_ROWS[0], {"text": 42, "label": "Maths"}, *SUBJECT_ROWS[1:]]
    with pytest.raises(ValueError, match=r"text.*row 2\b.*numbers\.jsonl.*42 \(int\)"):
        load_corpus(write_jsonl(tmp_path / "numbers.jsonl", rows))


def test_malformed_json_names_the_line(tmp_path):
    lines = [json.dumps(row) for row in SUBJECT_ROWS[:2]] + [
        '{"text": "unfinished", "label": "Maths"',
        json.dumps(SUBJECT_ROWS[2]),
    ]
    (tmp_path / "broken.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"broken\.jsonl.*line 3\b"):
        load_corpus(tmp_path / "broken.jsonl")
    (tmp_path / "broken.json").write_text('[\n  {"text": "a", "label": "Maths"},\n  {"text": "b" "label": "Maths"}\n]')
    with pytest.raises(ValueError, match=r"broken\.json\b.*line 3\b"):
        load_corpus(tmp_path / "broken.json")


def test_empty_split_is_an_error(tmp_path):
    write_csv(tmp_path / "train.csv", SUBJECT_ROWS)
    write_csv(tmp_path / "validation.csv", [{"text": " ", "label": "Maths"}])
    with pytest.raises(ValueError, match=r"'validation'.*validation\.csv"):
        load_corpus(tmp_path, drop_rows_with_empty_cells=True)


# --- malformed files ------------------------------------------------------------------------------


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("name", "bad_line", "reason"),
    [
        ("questions.csv", "a question,Maths,extra", r"Expected 2 fields in line 4, saw 3"),
        ("questions.csv", '"an unclosed question,Maths', r"EOF inside string starting at row 3"),
        ("questions.tsv", "a question\tMaths\textra", r"Expected 2 fields in line 4, saw 3"),
    ],
    ids=["csv-extra-field", "csv-unclosed-quote", "tsv-extra-field"],
)
def test_a_malformed_csv_or_tsv_keeps_the_parsers_reason_and_line(tmp_path, name, bad_line, reason):
    """Line 4 of the file (data row 3): the parser's words, not datasets' "An error occurred while generating"."""
    path = write_csv(tmp_path / name, SUBJECT_ROWS, delimiter="\t" if name.endswith(".tsv") else ",")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], bad_line, *lines[3:]]) + "\n")
    with pytest.raises(ValueError, match=rf"^could not read .*{name.replace('.', '[.]')} as csv: .*{reason}$"):
        load_corpus(path)


def test_label_counts_of_a_split_follow_its_selection_of_rows(tmp_path):
    corpus = load_corpus(write_csv(tmp_path / "questions.csv", SUBJECT_ROWS))
    shuffled = corpus["train"].shuffle(seed=0).select(range(5))
    assert label_array(shuffled).tolist() == list(shuffled["label"])
    assert label_counts(shuffled) == {name: Counter(label_names_of({"s": shuffled}, "s"))[name] for name in SUBJECTS}


def test_class_too_small_to_stratify_is_named_with_its_count(tmp_path):
    rows = [*SUBJECT_ROWS, {"text": "a question about art", "label": "Art"}, {"text": "art again", "label": "Art"}]
    with pytest.raises(ValueError, match=r"'Art'.*\b2 row.*questions\.csv"):
        load_corpus(write_csv(tmp_path / "questions.csv", rows))


def test_a_small_class_still_reaches_every_split(tmp_path):
    rows = [*SUBJECT_ROWS, *({"text": f"art question {i}", "label": "Art"} for i in range(3))]
    corpus = load_corpus(write_csv(tmp_path / "questions.csv", rows))
    assert [Counter(label_names_of(corpus, split))["Art"] for split in SPLITS] == [1, 1, 1]


def test_two_processes_encode_the_same_rows_and_name_the_same_bad_row(tmp_path):
    path = write_csv(tmp_path / "questions.csv", SUBJECT_ROWS)
    one, two = load_corpus(path), load_corpus(path, num_proc=2)
    assert all(one[split]["text"] == two[split]["text"] for split in SPLITS)
    rows = [*SUBJECT_ROWS[:30], {"text": "a question about art", "label": "Art"}, *SUBJECT_ROWS[30:]]
    with pytest.raises(ValueError, match=r"'Art'.*row 31\b.*art\.csv"):
        load_corpus(write_csv(tmp_path / "art.csv", rows), label_names=SUBJECTS, num_proc=2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("header_only.csv", "text,label\n", r"header_only\.csv"),
        ("empty.jsonl", "\n", r"empty\.jsonl"),
        ("notes.txt", "some notes", r"'\.txt'.*notes\.txt"),
        ("junk.parquet", "not parquet", r"could not read .*junk\.parquet as parquet"),
        ("latin1.csv", b"text,label\ncaf\xe9,Maths\n", r"could not read .*latin1\.csv as text CSV"),
    ],
)
def test_unreadable_files_are_named(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=message):
        load_corpus(path)


def test_missing_file_and_unnamed_split_files(tmp_path):
    with pytest.raises(ValueError, match=r"absent\.csv"):
        load_corpus(tmp_path / "absent.csv")
    write_csv(tmp_path / "test.csv", SUBJECT_ROWS)
    write_csv(tmp_path / "valid.csv", SUBJECT_ROWS)
    with pytest.raises(ValueError, match=r"train\b.*validation, test"):
        load_corpus(tmp_path)
    write_csv(tmp_path / "extra.csv", SUBJECT_ROWS)
    with pytest.raises(ValueError, match=r"extra\.csv"):
        load_corpus(tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"validation_size": 0}, r"validation_size=0\b.*test_size=0.1"),
        ({"test_size": 0.5, "validation_size": 0.5}, r"validation_size=0.5.*test_size=0.5"),
        ({"max_samples": 0}, r"max_samples=0\b"),
        ({"mmlu_heldout": "graduate"}, "mmlu_heldout='graduate'"),
        ({"label_names": ["Maths", "Maths"]}, r"label_names=\['Maths', 'Maths'\]"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        load_corpus(write_csv(tmp_path / "questions.csv", SUBJECT_ROWS), **options)


def test_each_source_has_a_short_name_saying_what_it_is(tmp_path):
    """The name a run's folder and its model card use: never a path, never `../`."""
    folder = tmp_path / "my_reviews"
    folder.mkdir()
    cases = {
        "subject": ("corpus", "subject"),
        str(write_csv(tmp_path / "reviews.csv", SUBJECT_ROWS)): ("file", "reviews"),
        "../work/missing.tsv": ("file", "missing"),
        str(folder) + "/": ("folder", "my_reviews"),
        "dair-ai/emotion": ("hub", "emotion"),
    }
    assert {source: (resolve_source(source).kind, resolve_source(source).name) for source in cases} == cases
