"""Classification metrics that work offline, shaped for `Trainer` logs and for the model card.

The metric itself is the local `evaluate` module in `classification/classification.py`.
"""

from pathlib import Path

import evaluate
import numpy as np

CLASSIFICATION_METRIC_PATH = Path(__file__).parent / "classification"


def load_classification_metric():
    """Load the local metric. `keep_in_memory` keeps parallel processes off a shared cache file."""
    return evaluate.load(str(CLASSIFICATION_METRIC_PATH), keep_in_memory=True)


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


def flat_scores(report):
    """The report's scalar scores: `Trainer` logs only numbers."""
    scores = {name: report[name] for name in ("accuracy", "macro_f1", "macro_precision", "macro_recall")}
    scores.update({f"f1_{label}": per_class["f1"] for label, per_class in report["per_class"].items()})
    return scores


def trainer_compute_metrics(label_names):
    """A `compute_metrics` for `Trainer`: `EvalPrediction` -> flat dict of floats (Trainer adds `eval_`)."""
    metric = load_classification_metric()

    def compute_metrics(eval_prediction):
        logits = eval_prediction.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits  # models that also return hidden states
        return flat_scores(classification_report(logits, eval_prediction.label_ids, label_names, metric))

    return compute_metrics


__all__ = [
    "CLASSIFICATION_METRIC_PATH",
    "classification_report",
    "load_classification_metric",
    "trainer_compute_metrics",
]
