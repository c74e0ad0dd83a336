"""Multi-label classification metrics as a local `evaluate` module.

`evaluate.load("f1", "multilabel")` fetches its script from the Hub; this file is loaded from disk, so
it works offline (`evaluate.load("<path>/posenc_hf/folder/metrics/multilabel")`). It is copied into the
`evaluate` module cache and imported from there, so it imports nothing from `posenc_hf`.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

_DESCRIPTION = """
Multi-label scores from 0/1 indicator rows (one column per label): micro precision, recall and F1
(every label decision of every example pooled), macro precision, recall and F1 (the mean over labels,
each label counting equally, including those absent from the batch, which score 0: zero_division=0),
exact match (the share of examples whose whole label set is right), and per-label precision, recall,
F1 and support (the examples that carry the label).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of lists of 0/1): predicted labels, one row per example, one column per label.
    references (list of lists of 0/1): true labels, the same shape.
    label_names (list of str, optional): one name per column. Without it, "0", "1", ...
Returns:
    micro_f1, micro_precision, micro_recall, macro_f1, macro_precision, macro_recall, exact_match (float),
    per_class (dict: label name -> {"precision", "recall", "f1", "support"}).
Example:
    >>> metric = evaluate.load("posenc_hf/folder/metrics/multilabel")
    >>> metric.compute(predictions=[[1, 0], [1, 1]], references=[[1, 0], [0, 1]], label_names=["a", "b"])["micro_f1"]
    0.8
"""


class MultiLabel(evaluate.Metric):
    def _info(self):
        rows = datasets.Sequence(datasets.Value("int8"))
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": rows, "references": rows}),
        )

    def _compute(self, predictions, references, label_names=None):
        predictions, references = np.asarray(predictions), np.asarray(references)
        check_shapes(predictions, references, label_names)
        label_names = [str(name) for name in label_names or range(references.shape[1])]
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, average=None, zero_division=0
        )
        micro = precision_recall_fscore_support(references, predictions, average="micro", zero_division=0)
        return {
            "micro_f1": float(micro[2]),
            "micro_precision": float(micro[0]),
            "micro_recall": float(micro[1]),
            "macro_f1": float(f1.mean()),
            "macro_precision": float(precision.mean()),
            "macro_recall": float(recall.mean()),
            "exact_match": float(accuracy_score(references, predictions)),
            "per_class": {
                name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for name, p, r, f, s in zip(label_names, precision, recall, f1, support, strict=True)
            },
        }


def check_shapes(predictions, references, label_names):
    """Refuse rows of different lengths or a name count that is not the column count: sklearn would
    fail with a message about arrays, or score the wrong labels."""
    if predictions.ndim != 2 or predictions.shape != references.shape:
        raise ValueError(
            f"predictions {predictions.shape} and references {references.shape} must be the same (examples, labels)"
        )
    if label_names is not None and len(label_names) != references.shape[1]:
        raise ValueError(f"{len(label_names)} label names for {references.shape[1]} label columns")
