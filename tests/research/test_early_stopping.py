"""research.early_stopping: the simulated stop agrees with the real runs it stands beside, and
docs/early_stopping.md is what its stored results make."""

import json

import yaml
from helpers import REPO_ROOT

from research.early_stopping import choose_patience, report_text, stop_and_keep

RESULTS = json.loads((REPO_ROOT / "docs" / "early_stopping" / "results.json").read_text())


def test_stop_counts_evaluations_without_a_strict_improvement_and_keeps_the_first_best():
    curve = [(1, 0.5), (2, 0.6), (3, 0.6), (4, 0.55), (5, 0.7), (6, 0.7)]
    assert stop_and_keep(curve, 2) == (4, 2, 0.6)  # a tie is no improvement
    assert stop_and_keep(curve, 3) == (6, 5, 0.7)  # ran to the end
    assert choose_patience([curve]) == 3


def test_the_simulated_stop_is_where_the_real_early_stopped_runs_stopped():
    for name, result in RESULTS["configs"].items():
        if result["patience"]:
            simulated = result["simulated"][str(result["patience"])]
            assert {seed: run for seed, (run, _) in simulated.items()} == {
                seed: scores["epochs_run"] for seed, scores in result["early"].items()
            }, name


def test_each_config_uses_the_patience_the_study_chose():
    for name, result in RESULTS["configs"].items():
        config = yaml.safe_load((REPO_ROOT / result["config"]).read_text())
        assert config.get("early_stopping_patience") == result["patience"], name


def test_the_document_rebuilds_from_its_results():
    assert report_text(RESULTS) == (REPO_ROOT / "docs" / "early_stopping.md").read_text()
