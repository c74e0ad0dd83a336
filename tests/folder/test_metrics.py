"""The local classification metric: known answers, Trainer shape, and loading offline from anywhere."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from transformers import EvalPrediction

from posenc_hf.folder.metrics import (
    CLASSIFICATION_METRIC_PATH,
    classification_report,
    load_classification_metric,
    trainer_compute_metrics,
)

LABELS = ["a", "b", "c", "d"]  # "d" never occurs: scores must still cover it
REFERENCES = [0, 0, 0, 1, 1, 2]
PREDICTIONS = [0, 0, 1, 1, 2, 2]
CONFUSION = [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
F1 = {"a": 0.8, "b": 0.5, "c": 2 / 3, "d": 0.0}


@pytest.fixture(scope="module")
def metric():
    return load_classification_metric()


def one_hot_logits(predictions):
    """Logits whose argmax is `predictions`."""
    return np.eye(len(LABELS), dtype=np.float32)[predictions] * 3.0 - 1.0


def test_known_answers(metric):
    report = classification_report(PREDICTIONS, REFERENCES, LABELS, metric)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro_precision"] == pytest.approx((1 + 0.5 + 0.5 + 0) / 4)
    assert report["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1 + 0) / 4)
    assert report["macro_f1"] == pytest.approx(sum(F1.values()) / 4)
    assert report["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert report["confusion_matrix"] == CONFUSION
    assert list(report["per_class"]) == LABELS
    assert {name: scores["f1"] for name, scores in report["per_class"].items()} == pytest.approx(F1)
    assert [scores["support"] for scores in report["per_class"].values()] == [3, 2, 1, 0]
    assert report["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})


def test_report_is_plain_json(metric):
    report = classification_report(PREDICTIONS, REFERENCES, LABELS, metric)
    assert json.loads(json.dumps(report)) == report


def test_logits_give_the_same_report_as_predictions(metric):
    from_logits = classification_report(one_hot_logits(PREDICTIONS), np.array(REFERENCES), LABELS, metric)
    assert from_logits == classification_report(PREDICTIONS, REFERENCES, LABELS, metric)


def test_without_label_names_classes_are_the_ids_seen(metric):
    report = metric.compute(predictions=PREDICTIONS, references=REFERENCES)
    assert list(report["per_class"]) == ["0", "1", "2"]
    assert report["confusion_matrix"] == [row[:3] for row in CONFUSION[:3]]


def test_ids_outside_the_classes_raise(metric):
    with pytest.raises(ValueError, match=r"\[4\]"):
        classification_report([0, 4], [0, 1], LABELS, metric)


@pytest.mark.parametrize("wrap", [lambda logits: logits, lambda logits: (logits, np.zeros((len(logits), 2, 3)))])
def test_trainer_compute_metrics_returns_flat_floats(wrap):
    compute_metrics = trainer_compute_metrics(LABELS)
    scores = compute_metrics(EvalPrediction(predictions=wrap(one_hot_logits(PREDICTIONS)), label_ids=REFERENCES))
    assert list(scores) == ["accuracy", "macro_f1", "macro_precision", "macro_recall", "f1_a", "f1_b", "f1_c", "f1_d"]
    assert all(type(value) is float for value in scores.values())
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["f1_a"] == pytest.approx(0.8)


@pytest.mark.slow
def test_loads_offline_from_another_folder_with_a_cold_cache(tmp_path):
    """`evaluate.load(<folder>)`, `load_classification_metric()` and `load_multi_label_metric()` need no
    network and no repo cwd."""
    code = f"""
import json, evaluate
from posenc_hf.folder.metrics import load_classification_metric, load_multi_label_metric
direct = evaluate.load({str(CLASSIFICATION_METRIC_PATH)!r}).compute(predictions={PREDICTIONS}, references={REFERENCES})
packaged = load_classification_metric().compute(predictions={PREDICTIONS}, references={REFERENCES})
multi = load_multi_label_metric().compute(predictions=[[1, 0], [1, 1]], references=[[1, 0], [0, 1]])
print(json.dumps([direct["accuracy"], packaged["confusion_matrix"], multi["micro_f1"]]))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    accuracy, confusion, micro_f1 = json.loads(result.stdout.strip().splitlines()[-1])
    assert accuracy == pytest.approx(4 / 6)
    assert micro_f1 == pytest.approx(0.8)  # 2 of 3 predicted labels right, both true labels found
    assert confusion == [row[:3] for row in CONFUSION[:3]]
