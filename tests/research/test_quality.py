"""`python -m research.quality`: the tables and the verdict come from the runs' numbers."""

import json
import re
import statistics

import pytest

from research import quality, quality_report, quality_rows


def fake_run(accuracy, macro_f1, validation, pretraining=False):
    run = {"test": {"accuracy": accuracy, "macro_f1": macro_f1}, "validation_macro_f1": validation}
    run.update(wall_seconds=10.0, cpu_seconds=8.0, peak_memory_mib=500.0, command="python train/run.py x")
    if pretraining:
        run["pretraining"] = {"mlm_loss": 4.0, "perplexity": 54.6, "wall_seconds": 100.0, "cpu_seconds": 90.0,
                              "peak_memory_mib": 900.0, "command": "python train/run.py pretrain"}  # fmt: skip
    return run


def section(document, heading):
    """The text under the first heading that starts with `heading`, up to the next heading."""
    start = re.search(rf"^{re.escape(heading)}.*$", document, flags=re.M).end()
    end = re.search(r"^#", document[start:], flags=re.M)
    return document[start : start + end.start()] if end else document[start:]


def table(text):
    """The first Markdown table in `text`: one {column: cell} per row."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if "---" not in line]
    return [dict(zip(header, row, strict=True)) for row in rows]


def mean_std(cell):
    """(mean, std) of a table cell `mean ± std`."""
    mean, std = cell.split(" ± ")
    return float(mean), float(std)


def in_percent(values):
    """Mean ± sample standard deviation of scores in [0, 1], in percent: what a table cell holds."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return pytest.approx((100 * statistics.mean(values), 100 * std), abs=0.05)  # cells have one decimal


def scores(runs, metric):
    return [run["test"][metric] if metric in run["test"] else run[metric] for run in runs.values()]


LABELS = {row.name: row.label for row in quality_rows.ROWS}


def test_documents_hold_mean_and_std_of_the_runs_and_a_verdict_chosen_on_validation(tmp_path):
    results = {
        "mmlu": {
            "tfidf_word": {0: fake_run(0.80, 0.70, 0.9), 1: fake_run(0.90, 0.80, 0.9)},
            "scratch_learned": {0: fake_run(0.95, 0.95, 0.5), 1: fake_run(0.95, 0.95, 0.5)},  # best test, worst val
            "pretrained_learned": {0: fake_run(0.85, 0.77, 0.8, True), 1: fake_run(0.87, 0.75, 0.8, True)},
        }
    }
    quality_report.write_documents(results, {"mmlu": []}, [0, 1], 1, tmp_path)
    payload = json.loads((tmp_path / "quality" / "results.json").read_text())
    verdict = payload["verdict"]["mmlu"]
    assert verdict["best"] == "pretrained_learned"  # by validation, not by test
    assert round(verdict["margins"]["accuracy"], 6) == 0.01 and round(verdict["margins"]["macro_f1"], 6) == 0.01
    assert verdict["met"]
    document = (tmp_path / "quality.md").read_text()
    rows = {row["model"]: row for row in table(section(document, "### MMLU"))}
    assert set(rows) == {LABELS[name] for name in results["mmlu"]}  # one row per configuration run
    for name, runs in results["mmlu"].items():  # each row: the mean ± sample std of its runs, in percent
        row = rows[LABELS[name]]
        assert mean_std(row["test accuracy (%)"]) == in_percent(scores(runs, "accuracy")), name
        assert mean_std(row["test macro-F1 (%)"]) == in_percent(scores(runs, "macro_f1")), name
        assert mean_std(row["validation macro-F1 (%)"]) == in_percent(scores(runs, "validation_macro_f1")), name
    said = next(line for line in section(document, "## Verdict").splitlines() if line.startswith("**mmlu**"))
    assert f"*{LABELS['pretrained_learned']}*" in said  # the row chosen on validation
    spread = max(
        statistics.stdev(scores(results["mmlu"][name], "accuracy")) for name in ("tfidf_word", "pretrained_learned")
    )
    assert "within the seeds' spread" in said.lower() and f"({100 * spread:.1f} points)" in said
    assert "python train/run.py pretrain" in document and "$" not in document.split("## Protocol")[0]


def test_built_in_corpora_skip_pretraining_and_the_dropout_table_pairs_the_two_settings(tmp_path):
    rows = quality_rows.ROWS
    # subject has neither a pretraining config nor a default one: no pretrained, default or BERT rows
    skipped = ("pretrained", "default", "bert")
    rows_of = quality_rows.rows_of
    assert [row.name for row in rows_of("subject", rows)] == [r.name for r in rows if r.kind not in skipped]
    assert rows_of("goemotions", rows) == list(rows)
    assert [row.name for row in rows_of("mmlu", rows)] == [r.name for r in rows if "15_epochs" not in r.name]
    results = {
        "subject": {
            "tfidf_word": {0: fake_run(0.60, 0.60, 0.6)},
            "scratch_learned": {0: fake_run(0.58, 0.57, 0.6)},
            "scratch_attention_dropout": {0: fake_run(0.52, 0.51, 0.5)},
        }
    }
    quality_report.write_documents(results, {"subject": []}, [0], 1, tmp_path)
    document = (tmp_path / "quality.md").read_text()
    dropout = table(section(document, "## Attention dropout"))
    assert [(row["corpus"], float(row["attention dropout"].split()[0])) for row in dropout] == [
        ("subject", 0.0),
        ("subject", 0.1),
    ]
    for row, name in zip(dropout, ("scratch_learned", "scratch_attention_dropout"), strict=True):
        runs = results["subject"][name]  # each setting's row holds its own runs' numbers
        assert mean_std(row["test accuracy (%)"]) == in_percent(scores(runs, "accuracy")), name
        assert mean_std(row["test macro-F1 (%)"]) == in_percent(scores(runs, "macro_f1")), name
        assert float(row["CPU s per run"]) == statistics.mean(run["cpu_seconds"] for run in runs.values())
    assert "(not run)" in document  # the real corpora were not in this run


def test_listed_commands_are_portable():
    recorded = "/opt/bin/python3.11 train/run.py c.yaml --output_dir /home/me/runs/quality/mmlu/x/seed_0 --seed 0"
    expected = "python train/run.py c.yaml --output_dir runs/quality/mmlu/x/seed_0 --seed 0"
    assert quality_report.portable(recorded) == expected


def test_report_only_rewrites_the_stored_document_from_its_results_running_nothing(tmp_path, monkeypatch):
    stored = quality_report.REPO_ROOT / "docs" / "quality"
    (tmp_path / "quality").mkdir()
    for path in [stored / "results.json", *stored.glob("search_*.json")]:
        (tmp_path / "quality" / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(quality, "run_row", lambda *args: pytest.fail("--report_only ran a run"))
    assert quality.main(["--report_only", "--docs_dir", str(tmp_path)]) == 0
    assert (tmp_path / "quality.md").read_text() == (quality_report.REPO_ROOT / "docs" / "quality.md").read_text()
    assert (tmp_path / "quality" / "results.json").read_text() == (stored / "results.json").read_text()
