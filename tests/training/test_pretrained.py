"""Starting a classifier from a pretrained (masked-LM) folder: the folder's architecture and encoder
weights, a fresh head, a log of what was loaded, and the folder's own tokenizer."""

import logging

import pytest
import torch
from helpers import tiny_model

from posenc_hf import PosEncForMaskedLM, PosEncForSequenceClassification
from posenc_hf.data.tokenization import train_tokenizer
from posenc_hf.training.arguments import ModelArguments
from posenc_hf.training.plan import plan_model
from posenc_hf.training.prepare import build_config
from posenc_hf.training.pretrained import load_pretrained_classifier

TEXTS = ["the cell divides in two", "acids give protons to bases", "solve for x in two steps", "light bends in glass"]


@pytest.fixture
def pretrained_folder(tmp_path):
    tokenizer = train_tokenizer(TEXTS * 3, vocab_size=60, model_max_length=16)
    model = tiny_model(PosEncForMaskedLM, vocab_size=len(tokenizer), max_position_embeddings=16)
    folder = tmp_path / "pretrained"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def test_classifier_from_pretrained_folder_keeps_encoder_and_gets_a_new_head(pretrained_folder, caplog):
    folder, mlm, tokenizer = pretrained_folder
    model_args = ModelArguments(model_name_or_path=str(folder), hidden_size=999, hidden_dropout_prob=0.3)
    with caplog.at_level(logging.WARNING, logger="posenc_hf.training.pretrained"):
        config = build_config(plan_model(model_args), tokenizer, ["a", "b", "c"])
    assert config.hidden_size == 16 and config.hidden_dropout_prob == 0.3  # architecture from the folder
    assert [record.message.split(": ", 1)[1] for record in caplog.records] == [
        "hidden_size=999 (the folder's: 16) (only hidden_dropout_prob, attention_probs_dropout_prob, "
        "classifier_dropout apply when fine-tuning a pretrained folder)"
    ]  # the one field set away from its default, unlike the folder; the dropout applies
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posenc_hf.training.pretrained"):
        classifier, message = load_pretrained_classifier(str(folder), config)
    assert isinstance(classifier, PosEncForSequenceClassification) and classifier.config.num_labels == 3
    encoder = mlm.posenc.state_dict()
    for name, tensor in classifier.posenc.state_dict().items():
        torch.testing.assert_close(tensor, encoder[name], atol=0, rtol=0)
    assert classifier.classifier.bias.abs().max() == 0  # the head is freshly initialised
    assert abs(classifier.classifier.weight.std().item() - config.initializer_range) < 0.01
    assert "loaded (" in message and "posenc.layers.1" in message and "posenc.embeddings.word_embeddings" in message
    assert "newly initialised (2): classifier.bias, classifier.weight" in message
    assert "not used (5): lm_head." in message
    assert message in caplog.text


def test_classifier_from_pretrained_folder_rejects_a_foreign_tokenizer(pretrained_folder):
    folder, _, _ = pretrained_folder
    other = train_tokenizer(TEXTS + ["completely different words appear here"], vocab_size=80, model_max_length=16)
    with pytest.raises(ValueError, match=r"vocab_size=\d+.*tokenizer_name_or_path"):
        build_config(plan_model(ModelArguments(model_name_or_path=str(folder))), other, ["a", "b"])
