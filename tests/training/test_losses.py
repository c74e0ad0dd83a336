"""`class_weight: balanced`: scikit-learn's weights, and the weighted cross-entropy Trainer calls."""

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from posenc_hf.training.losses import balanced_class_weights, class_weighted_loss


def test_balanced_weights_match_scikit_learn():
    labels = [0, 0, 0, 0, 1, 1, 2, 0, 1, 3]
    expected = compute_class_weight("balanced", classes=np.arange(4), y=np.array(labels))
    torch.testing.assert_close(balanced_class_weights(labels, 4), torch.tensor(expected, dtype=torch.float32))
    assert balanced_class_weights([0, 0, 1], 3)[2] == 0  # a class never seen weighs nothing


def test_weighted_loss_is_torch_weighted_cross_entropy_and_sums_under_accumulation():
    logits, labels = torch.randn(6, 3), torch.tensor([0, 0, 0, 1, 1, 2])
    loss = class_weighted_loss("balanced", labels.tolist(), 3)
    weights = balanced_class_weights(labels.tolist(), 3)
    expected = torch.nn.functional.cross_entropy(logits, labels, weight=weights)
    torch.testing.assert_close(loss({"logits": logits}, labels), expected)
    summed = torch.nn.functional.cross_entropy(logits, labels, weight=weights, reduction="sum")
    torch.testing.assert_close(loss({"logits": logits}, labels, num_items_in_batch=12), summed / 12)
    assert class_weighted_loss(None, labels.tolist(), 3) is None
    with pytest.raises(ValueError, match="class_weight"):
        class_weighted_loss("inverse", labels.tolist(), 3)
