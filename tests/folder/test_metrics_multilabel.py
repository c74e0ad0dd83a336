"""The local multi-label metric and the decision threshold: known answers worked by hand, the
`Trainer` shape, and a threshold that is the validation logits' best."""

import json

import numpy as np
import pytest
from transformers import EvalPrediction

from posenc_hf.folder.metrics import (
    THRESHOLDS,
    choose_threshold,
    load_multi_label_metric,
    multi_label_compute_metrics,
    multi_label_report,
)

LABELS = ["a", "b", "c", "d"]  # "d" is never true nor predicted: it still counts in the macro mean
REFERENCES = [[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
PREDICTIONS = [[1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
# By hand, per label: a TP 2 (P 1, R 1, F1 1); b TP 1 FN 1 (P 1, R 1/2, F1 2/3); c FP 1 FN 1 (0, 0, 0); d 0.
# Pooled: TP 3, FP 1, FN 2: micro P 3/4, R 3/5, F1 2/3. Exact match: only the last row, with no label: 1/4.
F1 = {"a": 1.0, "b": 2 / 3, "c": 0.0, "d": 0.0}


@pytest.fixture(scope="module")
def metric():
    return load_multi_label_metric()


def logits_for(decisions, margin=2.0):
    """Logits whose sigmoid is above 0.5 exactly where `decisions` is 1."""
    return np.where(np.asarray(decisions) == 1, margin, -margin).astype(np.float32)


def test_known_answers(metric):
    report = multi_label_report(logits_for(PREDICTIONS), REFERENCES, LABELS, metric=metric)
    assert report["micro_precision"] == pytest.approx(3 / 4)
    assert report["micro_recall"] == pytest.approx(3 / 5)
    assert report["micro_f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx(sum(F1.values()) / 4)
    assert report["macro_precision"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert report["macro_recall"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert report["exact_match"] == 0.25
    assert {name: scores["f1"] for name, scores in report["per_class"].items()} == pytest.approx(F1)
    assert [scores["support"] for scores in report["per_class"].values()] == [2, 2, 1, 0]
    assert (report["threshold"], report["examples"]) == (0.5, 4)
    assert json.loads(json.dumps(report)) == report


def test_the_threshold_decides_the_labels(metric):
    """Scores of 0.6 are labels at 0.5 and not at 0.7."""
    logits = np.full((4, 4), np.log(0.6 / 0.4), dtype=np.float32)
    assert multi_label_report(logits, REFERENCES, LABELS, 0.5, metric)["micro_recall"] == 1.0
    assert multi_label_report(logits, REFERENCES, LABELS, 0.7, metric)["micro_recall"] == 0.0


def test_mismatched_shapes_and_names_raise(metric):
    with pytest.raises(ValueError, match=r"predictions \(4, 4\).*references \(4, 3\)"):
        multi_label_report(logits_for(PREDICTIONS), [row[:3] for row in REFERENCES], LABELS, metric=metric)
    with pytest.raises(ValueError, match=r"\b3 label names\b.*\b4 label columns"):
        multi_label_report(logits_for(PREDICTIONS), REFERENCES, LABELS[:3], metric=metric)


def test_trainer_compute_metrics_scores_at_one_half():
    compute_metrics = multi_label_compute_metrics(LABELS)
    labels = np.asarray(REFERENCES, dtype=np.float32)  # what the collator gives: multi-hot floats
    scores = compute_metrics(EvalPrediction(predictions=logits_for(PREDICTIONS, margin=0.1), label_ids=labels))
    assert list(scores)[:2] == ["micro_f1", "macro_f1"] and "f1_d" in scores
    assert all(type(value) is float for value in scores.values())
    assert scores["micro_f1"] == pytest.approx(2 / 3)


def scores_for(probabilities):
    return np.log(np.asarray(probabilities) / (1 - np.asarray(probabilities))).astype(np.float32)


def test_the_threshold_is_the_best_of_the_grid_on_the_logits_given(metric):
    """True labels score 0.32, false ones 0.28: of the grid, only 0.30 lies between them, so macro-F1 is
    1 there and below 1 at every other threshold."""
    references = [[1, 0], [0, 1], [1, 1], [0, 0]]
    logits = scores_for(np.where(np.asarray(references) == 1, 0.32, 0.28))
    assert choose_threshold(logits, references, ["x", "y"], metric) == 0.3
    assert 0.3 in THRESHOLDS and 0.5 in THRESHOLDS


def test_equally_good_thresholds_resolve_to_the_nearest_to_one_half(metric):
    references = [[1, 0], [0, 1]]
    logits = scores_for([[0.99, 0.01], [0.01, 0.99]])  # every threshold of the grid is perfect
    assert choose_threshold(logits, references, ["x", "y"], metric) == 0.5
