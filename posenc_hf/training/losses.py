"""Class-weighted cross-entropy for imbalanced corpora: a `Trainer` `compute_loss_func`.

`class_weight: balanced` in a run's config weights each class's loss by n / (classes × its count),
scikit-learn's `class_weight="balanced"`, so that rare classes count as much as frequent ones. It
trades some accuracy for macro-F1; whether it pays is a validation-set choice, as for the baseline.
"""

import torch
import torch.nn.functional as F

CLASS_WEIGHTS = (None, "balanced")


def balanced_class_weights(labels, num_classes):
    """n / (num_classes × count) per class; a class absent from `labels` gets weight 0."""
    counts = torch.bincount(torch.as_tensor(labels), minlength=num_classes).float()
    return torch.where(counts > 0, counts.sum() / (num_classes * counts.clamp(min=1)), torch.zeros_like(counts))


def weighted_cross_entropy(weights):
    """A `compute_loss_func(outputs, labels, num_items_in_batch)`: the weighted mean over the batch
    (torch's convention), or the weighted sum over `num_items_in_batch` under gradient accumulation."""

    def compute_loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        class_weights = weights.to(device=logits.device, dtype=logits.dtype)
        if num_items_in_batch is None:
            return F.cross_entropy(logits, labels, weight=class_weights)
        return F.cross_entropy(logits, labels, weight=class_weights, reduction="sum") / num_items_in_batch

    return compute_loss


def class_weighted_loss(class_weight, train_labels, num_classes):
    """The `compute_loss_func` for `class_weight` (None: the model's own loss)."""
    if class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight must be one of {CLASS_WEIGHTS}, got {class_weight!r}")
    if class_weight is None:
        return None
    return weighted_cross_entropy(balanced_class_weights(train_labels, num_classes))
