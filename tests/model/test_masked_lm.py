"""PosEncForMaskedLM: its loss, sparse prediction at the masked positions only, the decoder tied to the token
embedding, save and load."""

import json

import torch
from helpers import tiny_model
from transformers import AutoModelForMaskedLM

from posenc_hf import PosEncForMaskedLM


def tiny_mlm(seed=0, **overrides):
    return tiny_model(PosEncForMaskedLM, seed=seed, **{"vocab_size": 40, **overrides})


def masked_batch(vocab_size=40, seed=1):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab_size, (3, 8), generator=generator)
    labels = torch.full_like(input_ids, -100)
    labels[0, 1], labels[1, 3], labels[1, 6], labels[2, 0] = 7, 11, 5, 30
    return input_ids, labels


def test_mlm_loss_is_cross_entropy_over_masked_positions_only():
    model = tiny_mlm()
    input_ids, labels = masked_batch()
    out = model(input_ids, labels=labels)
    assert out.logits.shape == (3, 8, 40)
    masked = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[masked], labels[masked])
    torch.testing.assert_close(out.loss, expected)


def test_sparse_prediction_gives_the_same_loss_on_masked_logits_only():
    model = tiny_mlm()
    input_ids, labels = masked_batch()
    dense = model(input_ids, labels=labels)
    model.sparse_prediction = True
    sparse = model(input_ids, labels=labels)
    assert sparse.logits.shape == (4, 40)
    torch.testing.assert_close(sparse.loss, dense.loss)
    torch.testing.assert_close(sparse.logits, dense.logits[labels != -100])
    assert model(input_ids).logits.shape == (3, 8, 40)  # without labels: every position


def test_output_embedding_is_the_input_embedding():
    model = tiny_mlm()
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    model.resize_token_embeddings(48)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.shape == (48, 16) and model.lm_head.decoder.bias.shape == (48,)


def test_save_then_auto_model_for_masked_lm_gives_identical_logits(tmp_path):
    model = tiny_mlm()
    input_ids, _ = masked_batch()
    model.save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModelForMaskedLM"] == "modeling_posenc.PosEncForMaskedLM"
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is PosEncForMaskedLM
    assert loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids).logits, model(input_ids).logits, atol=0, rtol=0)
