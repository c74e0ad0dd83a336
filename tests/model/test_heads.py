"""The heads' losses (heads_posenc.py): BERT's loss per problem_type, class weights, and Trainer's
num_items_in_batch."""

import torch
from helpers import batch, tiny_model


def test_single_label_loss_is_cross_entropy():
    model = tiny_model()
    labels = torch.tensor([2, 0])
    out = model(batch(), labels=labels)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))
    assert model.config.problem_type == "single_label_classification"


def test_multi_label_loss_is_binary_cross_entropy():
    model = tiny_model()
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    out = model(batch(), labels=labels)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, labels)
    torch.testing.assert_close(out.loss, expected)
    assert model.config.problem_type == "multi_label_classification"


def test_regression_loss_is_mse():
    model = tiny_model(num_labels=1)
    labels = torch.tensor([0.5, -1.0])
    out = model(batch(), labels=labels)
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.logits.squeeze(-1), labels))
    assert model.config.problem_type == "regression"


def test_num_items_in_batch_sums_then_divides():
    """Trainer's contract: with num_items_in_batch the loss is sum / items over all micro-batches,
    so two halves of a batch add up to the loss of the whole batch."""
    model = tiny_model()
    input_ids, labels = batch(4, 6), torch.tensor([0, 1, 2, 1])
    whole = model(input_ids, labels=labels).loss
    halves = sum(
        model(input_ids[i : i + 2], labels=labels[i : i + 2], num_items_in_batch=torch.tensor(4)).loss for i in (0, 2)
    )
    torch.testing.assert_close(halves, whole)


def test_ignored_labels_do_not_count():
    model = tiny_model()
    input_ids = batch(3, 6)
    out = model(input_ids, labels=torch.tensor([1, -100, 2]), num_items_in_batch=torch.tensor(2))
    logits = model(input_ids).logits
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], torch.tensor([1, 2]))
    torch.testing.assert_close(out.loss, expected)
