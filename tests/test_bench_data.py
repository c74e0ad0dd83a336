"""The data benchmark (`python -m bench.data`) runs end to end on tiny corpora (no timing checks)."""

import csv
import json

import pytest

from bench.data import PHASES, goemotions_rows, markdown, run, write_corpus

TINY_SOURCE = [(f"a {label} sentence number {i}", label) for i in range(5) for label in ("joy", "anger", "fear")]


def test_the_corpus_repeats_its_source_with_distinct_rows(tmp_path):
    path = write_corpus(tmp_path / "tiny.csv", 40, TINY_SOURCE)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 40 and len({row["text"] for row in rows}) == 40
    assert [row["label"] for row in rows[:15]] == [row["label"] for row in rows[15:30]]


def test_goemotions_gives_one_first_emotion_per_row(shared_dir):
    rows = goemotions_rows(shared_dir / "data" / "goemotions")
    assert len(rows) == 43_410 and len({label for _, label in rows}) == 28


@pytest.mark.slow
def test_two_sizes_are_measured_in_subprocesses_and_written(tmp_path):
    results = run(sizes=(60, 120), out=tmp_path, source=TINY_SOURCE)
    record = json.loads((tmp_path / "data.json").read_text())
    assert record["sizes"] == [60, 120] and [result["rows"] for result in record["results"]] == [60, 120]
    for result in results:
        for phase in (*PHASES, "total"):
            assert result[phase]["seconds"] > 0 and result[phase]["peak_rss_mib"] > 0
    table = markdown(results)
    assert all(f"| {phase} |" in table for phase in PHASES) and "exponent 60→120" in table
