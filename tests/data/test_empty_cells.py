"""Empty or whitespace-only cells (data/empty_cells.py, docs/reliability.md §1): named by file, column, rows and
count, or dropped and counted with drop_rows_with_empty_cells."""

import logging

import pytest
from datasets import Dataset
from helpers import SUBJECT_ROWS, SUBJECTS, assert_split_80_10_10, write_csv, write_jsonl

from posenc_hf.data.sources import load_corpus

EMPTY_AT = [3, 5, 8, 13, 21, 34, 40]  # data rows (1-based, header not counted) of the empty cells: 7, 5 shown


def with_empty_cells(column: str, value: str, rows=SUBJECT_ROWS, at=EMPTY_AT) -> list[dict]:
    """`rows` with `column` set to `value` in the rows numbered `at` (1-based)."""
    return [{**row, column: value} if i + 1 in at else row for i, row in enumerate(rows)]


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("column", "value"), [("label", ""), ("label", "   "), ("text", ""), ("text", " \t ")],
    ids=["empty-label", "space-label", "empty-text", "space-text"],
)  # fmt: skip
def test_an_empty_or_whitespace_cell_names_the_file_rows_count_and_column(tmp_path, column, value):
    """Not a class `''` or `'   '`, nor a text dropped unsaid: the user's column names, in a CSV and in JSON Lines."""
    renamed = [{"eng": row["text"], "Subject": row["label"]} for row in with_empty_cells(column, value)]
    name = {"text": "eng", "label": "Subject"}[column]
    shown = ", ".join(str(row) for row in EMPTY_AT[:5])
    for path in (write_csv(tmp_path / "questions.csv", renamed), write_jsonl(tmp_path / "questions.jsonl", renamed)):
        message = rf"{path.name}: 7 empty or whitespace-only {column} cells in column '{name}', at rows {shown}, …"
        with pytest.raises(ValueError, match=message + r" \(data rows counted from 1.*drop_rows_with_empty_cells"):
            load_corpus(path, text_column="eng", label_column="Subject")


@pytest.mark.reliability
def test_empty_cells_of_a_split_file_and_missing_cells_are_named(tmp_path):
    """A folder's validation file, and a missing (null) label in Parquet, each named with its own row."""
    write_csv(tmp_path / "train.csv", SUBJECT_ROWS)
    write_csv(tmp_path / "validation.csv", with_empty_cells("label", "", SUBJECT_ROWS[:5], at=[2]))
    with pytest.raises(ValueError, match=r"validation\.csv: 1 empty or whitespace-only label cell in .*, at row 2 \("):
        load_corpus(tmp_path)
    Dataset.from_list(with_empty_cells("label", None, at=[4])).to_parquet(str(tmp_path / "nulls.parquet"))
    with pytest.raises(ValueError, match=r"nulls\.parquet: 1 empty or whitespace-only label cell .*, at row 4 \("):
        load_corpus(tmp_path / "nulls.parquet")


@pytest.mark.reliability
def test_the_drop_option_leaves_out_rows_with_empty_cells_and_counts_them(tmp_path, caplog):
    from posenc_hf.folder.card_data import data_fields
    from posenc_hf.training.runner import data_summary

    empty = [{"text": " ", "label": "Maths"}, {"text": "a question", "label": ""}, {"text": "", "label": "\t"}]
    path = write_csv(tmp_path / "questions.csv", [*SUBJECT_ROWS[:7], *empty, *SUBJECT_ROWS[7:]])
    with caplog.at_level(logging.WARNING, logger="posenc_hf.data.empty_cells"):
        corpus = load_corpus(path, drop_rows_with_empty_cells=True)
    assert_split_80_10_10(corpus)  # the labels '' and '\t' are no classes, the texts ' ' and '' in no split
    assert corpus.dropped_rows == {str(path): {"rows": 3, "columns": {"text": 2, "label": 2}}}
    assert f"{path}: dropped 3 rows with an empty or whitespace-only cell (column 'text': 2, column 'label': 2" in (
        caplog.text
    )
    data_info = data_summary(str(path), corpus, dropping_empty_cells=True)
    description = data_fields(data_info, SUBJECTS)["data_description"]
    assert description.endswith(
        "(`drop_rows_with_empty_cells`): 3 of `questions.csv` (2 in column `text`, 2 in column `label`)."
    )
