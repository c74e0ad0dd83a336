"""The model's input checks (checks_posenc.py, docs/reliability.md §1 model): bad input ids and masks are
rejected, naming the problem, before the first layer runs."""

import pytest
import torch
from helpers import TINY_MAX_LENGTH
from transformers import AutoModelForSequenceClassification


@pytest.fixture(scope="module")
def folder_model(tiny_folder):
    """The tiny folder's classifier, as `AutoModelForSequenceClassification` loads it."""
    return AutoModelForSequenceClassification.from_pretrained(tiny_folder).eval()


@pytest.mark.reliability
@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda: "cell atom", "input_ids must be a torch.Tensor, got str"),
        (lambda: [[2, 10, 3]], "input_ids must be a torch.Tensor, got list"),
        (lambda: torch.tensor([[2.0, 10.0, 3.0]]), "integer token ids, got dtype torch.float32"),
        (lambda: torch.tensor([2, 10, 3]), r"2 dimensions .* got shape \(3,\): add the batch dimension"),
        (lambda: torch.zeros(1, 0, dtype=torch.long), r"input_ids is empty \(shape \(1, 0\)\)"),
        (lambda: torch.tensor([[2, 10**6, 3]]), r"token id 1000000, outside the vocabulary \[0, \d+\)"),
        (lambda: torch.tensor([[2, -1, 3]]), r"token id -1, outside the vocabulary"),
        (lambda: torch.ones(1, 100 * TINY_MAX_LENGTH, dtype=torch.long), "length 3200 is longer than .*=32"),
    ],
    ids=["str", "list", "float", "1-d", "empty", "id-too-big", "id-negative", "100x-too-long"],
)
def test_model_rejects_bad_input_ids_naming_the_problem(folder_model, make_input, message):
    with pytest.raises(ValueError, match=message):
        folder_model(make_input())


@pytest.mark.reliability
def test_model_attention_mask_of_another_shape(folder_model):
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\).*\(2, 5\)"):
        folder_model(torch.ones(2, 5, dtype=torch.long), attention_mask=torch.ones(2, 4, dtype=torch.long))


@pytest.mark.reliability
def test_model_all_padding_mask_gives_finite_logits(folder_model):
    mask = torch.zeros(1, 5, dtype=torch.long)
    logits = folder_model(torch.ones(1, 5, dtype=torch.long), attention_mask=mask).logits
    assert torch.isfinite(logits).all()
