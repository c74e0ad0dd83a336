"""Single-label classification metrics as a local `evaluate` module.

`evaluate.load("accuracy")` fetches its script from the Hub; this file is loaded from disk, so it
works offline (`evaluate.load("<path>/posenc_hf/folder/metrics/classification")`). It is copied into the
`evaluate` module cache and imported from there, so it imports nothing from `posenc_hf`.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

_DESCRIPTION = """
Accuracy, macro and weighted F1, macro precision and recall, per-class precision, recall, F1 and
support, and the confusion matrix (rows: true label, columns: predicted label). Every score is
computed over all classes, including those absent from the batch, which score 0 (zero_division=0).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    label_names (list of str, optional): one name per class id; sets the number of classes.
        Without it the classes are 0..max id seen, named "0", "1", ...
Returns:
    accuracy, macro_f1, macro_precision, macro_recall, weighted_f1 (float),
    per_class (dict: label name -> {"precision", "recall", "f1", "support"}),
    confusion_matrix (list of lists of int, num_classes x num_classes).
Example:
    >>> metric = evaluate.load("posenc_hf/folder/metrics/classification")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], label_names=["neg", "pos"])["accuracy"]
    0.6666666666666666
"""


class Classification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, label_names=None):
        label_names = [str(name) for name in label_names or range(max([*predictions, *references]) + 1)]
        classes = list(range(len(label_names)))
        check_class_ids(predictions, references, len(classes))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=classes, average=None, zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "macro_f1": float(f1.mean()),
            "macro_precision": float(precision.mean()),
            "macro_recall": float(recall.mean()),
            "weighted_f1": float((f1 * support).sum() / max(support.sum(), 1)),
            "per_class": {
                name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for name, p, r, f, s in zip(label_names, precision, recall, f1, support, strict=True)
            },
            "confusion_matrix": confusion_matrix(references, predictions, labels=classes).tolist(),
        }


def check_class_ids(predictions, references, num_classes):
    """Refuse ids outside the classes: sklearn would silently leave them out of every score."""
    outside = sorted({i for i in [*predictions, *references] if not 0 <= i < num_classes})
    if outside:
        raise ValueError(f"class ids {outside} lie outside the {num_classes} classes 0..{num_classes - 1}")
