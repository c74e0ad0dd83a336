"""Classification metrics that work offline, shaped for `Trainer` logs and for the model card.

The metrics themselves are local `evaluate` modules: single-label in `classification/classification.py`,
multi-label in `multilabel/multilabel.py`. Multi-label logits become labels through a sigmoid and a
decision threshold: 0.5 during training, then the one `choose_threshold` picks on validation.
"""

from pathlib import Path

import evaluate
import numpy as np

CLASSIFICATION_METRIC_PATH = Path(__file__).parent / "classification"
MULTI_LABEL_METRIC_PATH = Path(__file__).parent / "multilabel"
SINGLE_LABEL_SCORES = ("accuracy", "macro_f1", "macro_precision", "macro_recall")
MULTI_LABEL_SCORES = ("micro_f1", "macro_f1", "micro_precision", "micro_recall", "macro_precision", "macro_recall")
THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 20))  # 0.05, 0.10, ..., 0.95
THRESHOLD_METRIC = "macro_f1"  # what the threshold maximises on validation: every label counts equally


def load_classification_metric():
    """Load the local metric. `keep_in_memory` keeps parallel processes off a shared cache file."""
    return evaluate.load(str(CLASSIFICATION_METRIC_PATH), keep_in_memory=True)


def load_multi_label_metric():
    """Load the local multi-label metric, kept in memory as `load_classification_metric`."""
    return evaluate.load(str(MULTI_LABEL_METRIC_PATH), keep_in_memory=True)


def to_predictions(logits_or_predictions):
    """Class ids from logits (argmax over the last axis) or from class ids already."""
    array = np.asarray(logits_or_predictions)
    return array.argmax(axis=-1) if array.ndim == 2 else array


def classification_report(logits_or_predictions, references, label_names, metric=None):
    """The full nested report (scores, per-class scores, confusion matrix) as plain JSON-able types."""
    metric = metric or load_classification_metric()
    return metric.compute(
        predictions=to_predictions(logits_or_predictions),
        references=np.asarray(references),
        label_names=list(label_names),
    )


def multi_label_report(logits, references, label_names, threshold=0.5, metric=None):
    """The multi-label report (micro and macro scores, per-label scores) of the labels whose sigmoid
    score reaches `threshold`, with the threshold and the number of examples, as plain JSON-able types."""
    metric = metric or load_multi_label_metric()
    references = np.asarray(references).astype(np.int8)
    report = metric.compute(
        predictions=above_threshold(logits, threshold), references=references, label_names=list(label_names)
    )
    return {**report, "threshold": threshold, "examples": len(references)}


def above_threshold(logits, threshold):
    """0/1 label decisions: sigmoid(logit) >= threshold."""
    return (sigmoid(np.asarray(logits, dtype=np.float64)) >= threshold).astype(np.int8)


def sigmoid(logits):
    """Per-label probabilities, as transformers' pipeline computes them for multi-label models."""
    return 1.0 / (1.0 + np.exp(-logits))


def choose_threshold(logits, references, label_names, metric=None):
    """The threshold of `THRESHOLDS` whose decisions score the best `THRESHOLD_METRIC` on these
    (validation) logits; of equally good ones, the nearest to 0.5."""
    metric = metric or load_multi_label_metric()
    nearest_first = sorted(THRESHOLDS, key=lambda threshold: abs(threshold - 0.5))
    scores = {t: multi_label_report(logits, references, label_names, t, metric)[THRESHOLD_METRIC] for t in THRESHOLDS}
    return max(nearest_first, key=scores.get)


def flat_scores(report, names=SINGLE_LABEL_SCORES):
    """The report's scalar scores `names` and each class's F1: `Trainer` logs only numbers."""
    scores = {name: report[name] for name in names}
    scores.update({f"f1_{label}": per_class["f1"] for label, per_class in report["per_class"].items()})
    return scores


def trainer_compute_metrics(label_names):
    """A `compute_metrics` for `Trainer`: `EvalPrediction` -> flat dict of floats (Trainer adds `eval_`)."""
    metric = load_classification_metric()

    def compute_metrics(eval_prediction):
        report = classification_report(logits_of(eval_prediction), eval_prediction.label_ids, label_names, metric)
        return flat_scores(report)

    return compute_metrics


def multi_label_compute_metrics(label_names):
    """`trainer_compute_metrics` for multi-label models, at threshold 0.5 (the threshold is chosen after
    training, on the best checkpoint)."""
    metric = load_multi_label_metric()

    def compute_metrics(eval_prediction):
        report = multi_label_report(logits_of(eval_prediction), eval_prediction.label_ids, label_names, 0.5, metric)
        return flat_scores(report, MULTI_LABEL_SCORES)

    return compute_metrics


def logits_of(eval_prediction):
    """The logits of an `EvalPrediction`, also from models that return hidden states beside them."""
    logits = eval_prediction.predictions
    return logits[0] if isinstance(logits, tuple) else logits


__all__ = [
    "CLASSIFICATION_METRIC_PATH",
    "MULTI_LABEL_METRIC_PATH",
    "THRESHOLDS",
    "choose_threshold",
    "classification_report",
    "load_classification_metric",
    "load_multi_label_metric",
    "multi_label_compute_metrics",
    "multi_label_report",
    "trainer_compute_metrics",
]
