"""`python -m research.quality`: the tables and the verdict come from the runs' numbers."""

import json

from research import quality


def fake_run(accuracy, macro_f1, validation, pretraining=False):
    run = {"test": {"accuracy": accuracy, "macro_f1": macro_f1}, "validation_macro_f1": validation}
    run.update(wall_seconds=10.0, cpu_seconds=8.0, peak_memory_mib=500.0, command="python train/run.py x")
    if pretraining:
        run["pretraining"] = {"mlm_loss": 4.0, "perplexity": 54.6, "wall_seconds": 100.0, "cpu_seconds": 90.0,
                              "peak_memory_mib": 900.0, "command": "python train/run.py pretrain"}  # fmt: skip
    return run


def test_documents_hold_mean_and_std_of_the_runs_and_a_verdict_chosen_on_validation(tmp_path):
    results = {
        "mmlu": {
            "tfidf_word": {0: fake_run(0.80, 0.70, 0.9), 1: fake_run(0.90, 0.80, 0.9)},
            "scratch_learned": {0: fake_run(0.95, 0.95, 0.5), 1: fake_run(0.95, 0.95, 0.5)},  # best test, worst val
            "pretrained_learned": {0: fake_run(0.85, 0.77, 0.8, True), 1: fake_run(0.87, 0.75, 0.8, True)},
        }
    }
    quality.write_documents(results, {"mmlu": []}, [0, 1], 1, tmp_path)
    payload = json.loads((tmp_path / "quality" / "results.json").read_text())
    verdict = payload["verdict"]["mmlu"]
    assert verdict["best"] == "pretrained_learned"  # by validation, not by test
    assert round(verdict["margins"]["accuracy"], 6) == 0.01 and round(verdict["margins"]["macro_f1"], 6) == 0.01
    assert verdict["met"]
    document = (tmp_path / "quality.md").read_text()
    assert "| 85.0 ± 7.1 | 75.0 ± 7.1 |" in document  # the baseline's mean ± sample std, in percent
    assert "| 86.0 ± 1.4 | 76.0 ± 1.4 |" in document
    assert "the accuracy margin is smaller than the larger standard deviation of the two rows (7.1 points)" in document
    assert "python train/run.py pretrain" in document and "$" not in document.split("## Protocol")[0]


def test_built_in_corpora_skip_pretraining_and_the_dropout_table_pairs_the_two_settings(tmp_path):
    rows = quality.ROWS
    assert [row.name for row in quality.rows_of("subject", rows)] == [r.name for r in rows if r.kind != "pretrained"]
    assert quality.rows_of("goemotions", rows) == list(rows)
    assert [row.name for row in quality.rows_of("mmlu", rows)] == [r.name for r in rows if "15_epochs" not in r.name]
    results = {
        "subject": {
            "tfidf_word": {0: fake_run(0.60, 0.60, 0.6)},
            "scratch_learned": {0: fake_run(0.58, 0.57, 0.6)},
            "scratch_attention_dropout": {0: fake_run(0.52, 0.51, 0.5)},
        }
    }
    quality.write_documents(results, {"subject": []}, [0], 1, tmp_path)
    document = (tmp_path / "quality.md").read_text()
    dropout = document.split("## Attention dropout")[1].split("##")[0]
    assert "| subject | 0.0 (default) | 58.0 ± 0.0 | 57.0 ± 0.0 | 8 |" in dropout
    assert "| subject | 0.1 | 52.0 ± 0.0 | 51.0 ± 0.0 | 8 |" in dropout
    assert "(not run)" in document  # the real corpora were not in this run


def test_listed_commands_are_portable():
    recorded = "/opt/bin/python3.11 train/run.py c.yaml --output_dir /home/me/runs/quality/mmlu/x/seed_0 --seed 0"
    assert quality.portable(recorded) == "python train/run.py c.yaml --output_dir runs/quality/mmlu/x/seed_0 --seed 0"
