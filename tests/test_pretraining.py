"""PosEncForMaskedLM (loss, tied embedding, save/load, remote code), the pretraining text policy, and
starting a classifier from a pretrained folder."""

import json
import logging
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling

from posenc_hf import PosEncConfig, PosEncForMaskedLM, PosEncForSequenceClassification
from posenc_hf.arguments import DataArguments, ModelArguments
from posenc_hf.pretrained import load_pretrained_classifier, pretrained_config
from posenc_hf.corpora.unlabelled import pretraining_texts
from posenc_hf.tokenization import train_tokenizer
from posenc_hf.training import load_data

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["the cell divides in two", "acids give protons to bases", "solve for x in two steps", "light bends in glass"]


def tiny_mlm(seed=0, **overrides):
    torch.manual_seed(seed)
    values = dict(vocab_size=40, hidden_size=16, num_attention_heads=2, num_hidden_layers=2, intermediate_size=32)
    return PosEncForMaskedLM(PosEncConfig(**{**values, **overrides})).eval()


def masked_batch(vocab_size=40, seed=1):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab_size, (3, 8), generator=generator)
    labels = torch.full_like(input_ids, -100)
    labels[0, 1], labels[1, 3], labels[1, 6], labels[2, 0] = 7, 11, 5, 30
    return input_ids, labels


# --- the model --------------------------------------------------------------------------------


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


def test_collator_masks_text_tokens_never_special_ones():
    tokenizer = train_tokenizer(TEXTS * 3, vocab_size=60, model_max_length=16)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.5, seed=0)
    batch = collator([tokenizer(text, return_special_tokens_mask=True) for text in TEXTS])
    model = tiny_mlm(vocab_size=len(tokenizer))
    loss = model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert torch.isfinite(loss)
    special = torch.isin(batch["labels"], torch.tensor(tokenizer.all_special_ids))
    assert (batch["labels"] != -100).any() and not special.any()


# --- from a pretrained folder to a classifier ---------------------------------------------------


@pytest.fixture
def pretrained_folder(tmp_path):
    tokenizer = train_tokenizer(TEXTS * 3, vocab_size=60, model_max_length=16)
    model = tiny_mlm(vocab_size=len(tokenizer), max_position_embeddings=16)
    folder = tmp_path / "pretrained"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def test_classifier_from_pretrained_folder_keeps_encoder_and_gets_a_new_head(pretrained_folder, caplog):
    folder, mlm, tokenizer = pretrained_folder
    model_args = ModelArguments(model_name_or_path=str(folder), hidden_size=999, hidden_dropout_prob=0.3)
    config = pretrained_config(model_args, tokenizer, ["a", "b", "c"])
    assert config.hidden_size == 16 and config.hidden_dropout_prob == 0.3  # architecture from the folder
    with caplog.at_level(logging.WARNING, logger="posenc_hf.pretrained"):
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
    with pytest.raises(ValueError, match="use the folder's own tokenizer"):
        pretrained_config(ModelArguments(model_name_or_path=str(folder)), other, ["a", "b"])


# --- which text pretraining reads -------------------------------------------------------------


def write_corpus(folder):
    folder.mkdir()
    rows = [f"sample text number {i} about topic {i % 2},{'Biology' if i % 2 else 'Chemistry'}" for i in range(40)]
    (folder / "data.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    return folder / "data.csv"


def test_pretraining_reads_train_text_only_by_default(tmp_path):
    path = write_corpus(tmp_path / "corpus")
    data_args = DataArguments(corpus=str(path), validation_size=0.2, test_size=0.2)
    dataset = load_data(data_args, 0)
    texts = pretraining_texts(dataset, data_args, seed=0)
    assert sorted(texts) == sorted(dataset["train"]["text"])
    everything = pretraining_texts(dataset, DataArguments(**{**vars(data_args), "pretrain_splits": list(dataset)}), seed=0)
    assert len(everything) == 40


def test_goemotions_pretraining_text_leaves_out_validation_and_test(shared_dir):
    data_args = DataArguments(corpus="goemotions", data_dir=str(shared_dir / "data" / "goemotions"))
    dataset = load_data(data_args, 0)
    texts = set(pretraining_texts(dataset, data_args, seed=0))
    assert len(texts) > 30_000  # every train.tsv comment, not only the labelled rows
    held_out = set(dataset["validation"]["text"]) | set(dataset["test"]["text"])
    assert not texts & held_out  # also when train.tsv repeats a validation or test text
    assert set(dataset["train"]["text"]) - held_out <= texts


def test_mmlu_pretraining_text_is_train_questions_with_options(shared_dir):
    data_args = DataArguments(corpus="mmlu", data_dir=str(shared_dir / "data" / "mmlu"))
    dataset = load_data(data_args, 0)
    texts = pretraining_texts(dataset, data_args, seed=0)
    train = set(dataset["train"]["text"])
    with_options = [text for text in texts if text not in train]
    assert len(with_options) == len(train) and all("\nA. " in text for text in with_options)
    held_out = set(dataset["validation"]["text"]) | set(dataset["test"]["text"])
    assert not any(text.startswith(question) for text in with_options for question in held_out)


# --- the run pipeline: task mlm, then a classifier from its folder ------------------------------


def test_pretrain_then_fine_tune_through_the_run_pipeline(tmp_path, caplog):
    from posenc_hf.arguments import parse_run_arguments
    from posenc_hf.training import run_training

    smoke = str(REPO_ROOT / "configs" / "smoke.yaml")
    fast = ["--num_train_epochs", "1", "--report_to", "none", "--num_threads", "1"]
    pretrained = run_training(
        *parse_run_arguments([smoke, "--task", "mlm", "--output_dir", str(tmp_path / "mlm"), *fast])
    )
    assert (pretrained.folder / "model.safetensors").is_file() and pretrained.test_metrics["perplexity"] > 1
    assert json.loads((pretrained.folder / "config.json").read_text())["architectures"] == ["PosEncForMaskedLM"]
    model_args, data_args, run_args = parse_run_arguments(
        [smoke, "--model_name_or_path", str(pretrained.folder), "--output_dir", str(tmp_path / "cls"), *fast]
    )
    model_args.hidden_size = 64  # ignored: the architecture is the pretrained folder's
    with caplog.at_level(logging.WARNING, logger="posenc_hf.pretrained"):
        result = run_training(model_args, data_args, run_args, REPO_ROOT / "model_card.md")
    assert "newly initialised (2): classifier.bias, classifier.weight" in caplog.text
    assert (result.folder / "tokenizer.json").read_text() == (pretrained.folder / "tokenizer.json").read_text()
    config = json.loads((result.folder / "config.json").read_text())
    assert config["hidden_size"] == 16 and config["architectures"] == ["PosEncForSequenceClassification"]
