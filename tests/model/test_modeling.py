"""PosEncModel and PosEncForSequenceClassification (modeling_posenc.py): shapes, attention backends, padding,
over-long input, position tables, save/load and transformers' conventions. The input checks, heads, speed
paths and the masked LM have their own files (test_checks.py, test_heads.py, test_fast_paths.py,
test_masked_lm.py)."""

import copy
import itertools
import json
from pathlib import Path

import pytest
import torch
from helpers import batch, tiny_config, tiny_model
from transformers import AutoModel, AutoModelForSequenceClassification

import posenc_hf
from posenc_hf import PosEncForSequenceClassification, PosEncModel
from posenc_hf.model.configuration_posenc import LAYER_NORM_POSITIONS, POOLING_TYPES, POSITION_EMBEDDING_TYPES


@pytest.mark.parametrize(
    "position, pooling, norm", list(itertools.product(POSITION_EMBEDDING_TYPES, POOLING_TYPES, LAYER_NORM_POSITIONS))
)
def test_forward_shapes(position, pooling, norm):
    model = tiny_model(position_embedding_type=position, pooling=pooling, layer_norm_position=norm)
    input_ids = batch(3, 9)
    out = model.posenc(input_ids, output_hidden_states=True, output_attentions=True)
    assert out.last_hidden_state.shape == (3, 9, 16)
    assert out.pooler_output.shape == (3, 16)
    assert len(out.hidden_states) == 3 and all(h.shape == (3, 9, 16) for h in out.hidden_states)
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (3, 4, 9, 9)
    logits = model(input_ids).logits
    assert logits.shape == (3, 3)
    assert torch.isfinite(logits).all()


def test_attentions_are_row_stochastic_and_ignore_padding():
    model = tiny_model()
    input_ids = batch(2, 6)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    attentions = model(input_ids, attention_mask=mask, output_attentions=True).attentions[0]
    torch.testing.assert_close(attentions.sum(-1), torch.ones(2, 4, 6))
    assert attentions[1, :, :, 4:].abs().max() == 0


@pytest.mark.parametrize("position", POSITION_EMBEDDING_TYPES)
@pytest.mark.parametrize("norm", LAYER_NORM_POSITIONS)
def test_eager_and_sdpa_agree(position, norm):
    config = tiny_config(position_embedding_type=position, layer_norm_position=norm)
    torch.manual_seed(0)
    eager = PosEncForSequenceClassification._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    sdpa = PosEncForSequenceClassification._from_config(copy.deepcopy(config), attn_implementation="sdpa").eval()
    sdpa.load_state_dict(eager.state_dict())
    assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
    input_ids = batch(3, 8)
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3, [1] * 2 + [0] * 6])
    for attention_mask in (None, mask):
        torch.testing.assert_close(
            eager(input_ids, attention_mask=attention_mask).logits,
            sdpa(input_ids, attention_mask=attention_mask).logits,
            atol=1e-5,
            rtol=0,
        )


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("pooling", POOLING_TYPES)
def test_text_alone_and_in_right_padded_batch_agree(implementation, pooling):
    config = tiny_config(pooling=pooling)
    torch.manual_seed(0)
    model = PosEncForSequenceClassification._from_config(config, attn_implementation=implementation).eval()
    short, long = batch(1, 4, seed=2), batch(1, 10, seed=3)
    padded = torch.cat([torch.cat([short, torch.zeros(1, 6, dtype=torch.long)], dim=1), long])
    mask = torch.tensor([[1] * 4 + [0] * 6, [1] * 10])
    together = model(padded, attention_mask=mask).logits
    torch.testing.assert_close(together[0], model(short).logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(together[1], model(long).logits[0], atol=1e-5, rtol=0)


def test_token_type_ids_are_accepted_and_ignored():
    model = tiny_model()
    input_ids = batch()
    torch.testing.assert_close(
        model(input_ids, token_type_ids=torch.zeros_like(input_ids)).logits, model(input_ids).logits
    )


def test_inputs_embeds_match_input_ids():
    model = tiny_model()
    input_ids = batch()
    embeds = model.get_input_embeddings()(input_ids)
    torch.testing.assert_close(model(inputs_embeds=embeds).logits, model(input_ids).logits)
    with pytest.raises(ValueError, match="input_ids.*inputs_embeds"):
        model(input_ids, inputs_embeds=embeds)


def test_return_dict_false_gives_a_tuple():
    model = tiny_model()
    out = model(batch(), labels=torch.tensor([0, 1]), return_dict=False)
    assert isinstance(out, tuple) and out[0].ndim == 0 and out[1].shape == (2, 3)


def test_positions_change_the_output_only_when_the_model_has_them():
    input_ids = torch.tensor([[5, 6, 7, 8]])
    swapped_ids = torch.tensor([[6, 5, 7, 8]])  # not a reversal: the symmetric biases cannot see one (below)
    for position in POSITION_EMBEDDING_TYPES:
        model = tiny_model(position_embedding_type=position, hidden_dropout_prob=0.0, initializer_range=0.5)
        same = torch.allclose(model(input_ids).logits, model(swapped_ids).logits, atol=1e-6)
        assert same == (position == "none"), position


@pytest.mark.parametrize("position", POSITION_EMBEDDING_TYPES)
def test_only_the_symmetric_schemes_read_a_text_and_its_reverse_alike(position):
    """ALiBi and KERPLE depend on |i - j| only, so with mean pooling a text and its reverse get one
    prediction (their card paragraphs say so); every other scheme with positions tells them apart."""
    input_ids = torch.tensor([[5, 6, 7, 8, 9]])
    model = tiny_model(position_embedding_type=position, hidden_dropout_prob=0.0, initializer_range=0.5)
    same = torch.allclose(model(input_ids).logits, model(input_ids.flip(1)).logits, atol=1e-6)
    assert same == (position in ("none", "alibi", "kerple"))


# --- over-long inputs and resizing ------------------------------------------------------------


def test_over_long_input_error_names_both_lengths_and_both_fixes():
    model = tiny_model()
    with pytest.raises(ValueError) as error:
        model(batch(1, 20))
    message = str(error.value)
    assert "20" in message and "max_position_embeddings=12" in message
    assert "truncation=True" in message and "resize_position_embeddings" in message


@pytest.mark.parametrize("position", POSITION_EMBEDDING_TYPES)
def test_resize_then_longer_input_runs_and_save_load_keeps_size(position, tmp_path):
    model = tiny_model(position_embedding_type=position)
    model.resize_position_embeddings(24)
    assert model.config.max_position_embeddings == 24
    if model.get_position_embeddings().has_table:
        assert model.get_position_embeddings().weight.shape == (24, 16)
    long_input = batch(2, 20)
    logits = model(long_input).logits
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.max_position_embeddings == 24
    torch.testing.assert_close(loaded(long_input).logits, logits)


def test_resize_keeps_the_first_rows_of_the_learned_table():
    model = tiny_model()
    old = model.get_position_embeddings().weight.detach().clone()
    model.resize_position_embeddings(20)
    new = model.get_position_embeddings().weight.detach()
    torch.testing.assert_close(new[:12], old)
    assert 0.5 * 0.02 < new[12:].std() < 2 * 0.02  # fresh rows at the configured initializer_range
    model.resize_position_embeddings(5)
    torch.testing.assert_close(model.get_position_embeddings().weight.detach(), old[:5])


def test_resize_can_interpolate_the_learned_table():
    model = tiny_model()
    old = model.get_position_embeddings().weight.detach().clone()
    model.resize_position_embeddings(23, interpolate=True)  # 12 -> 23: every old row lands on an even new row
    new = model.get_position_embeddings().weight.detach()
    torch.testing.assert_close(new[::2], old)
    torch.testing.assert_close(new[1::2], (old[:-1] + old[1:]) / 2)


def test_resize_rejects_bad_sizes():
    model = tiny_model()
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="new_num_position_embeddings"):
            model.resize_position_embeddings(bad)


# --- position tables ---------------------------------------------------------------------------


def test_learned_table_is_a_parameter_that_receives_gradients():
    model = tiny_model().train()
    table = model.get_position_embeddings().weight
    assert isinstance(table, torch.nn.Parameter)
    model(batch(), labels=torch.tensor([0, 2])).loss.backward()
    assert table.grad[:7].abs().sum() > 0  # the 7 positions of the batch learn
    assert table.grad[7:].abs().max() == 0  # the positions it never reached do not


def test_sinusoidal_table_is_a_fixed_buffer():
    model = tiny_model(position_embedding_type="sinusoidal")
    table = model.get_position_embeddings().weight
    assert not isinstance(table, torch.nn.Parameter)
    assert all(table is not p for p in model.parameters())
    assert "posenc.embeddings.position_embeddings.weight" not in model.state_dict()
    # sin on even dims: position 0 is all zeros there and all ones (times the scale) on odd dims
    scale = model.get_position_embeddings().scale
    torch.testing.assert_close(table[0, 0::2], torch.zeros(8))
    torch.testing.assert_close(table[0, 1::2], torch.full((8,), scale))


def test_none_has_no_table():
    model = tiny_model(position_embedding_type="none")
    assert model.get_position_embeddings().weight is None
    assert not any("position_embeddings" in name for name, _ in model.named_parameters())


@pytest.mark.parametrize("position", ["sinusoidal", "rotary", "alibi"])
def test_buffers_are_initialised_when_loading(position, tmp_path):
    """Models load on the meta device: non-persistent buffers must be rebuilt by _init_weights."""
    model = tiny_model(position_embedding_type=position)
    model.save_pretrained(tmp_path)
    loaded = PosEncForSequenceClassification.from_pretrained(tmp_path)
    buffers = dict(loaded.get_position_embeddings().named_buffers())
    assert buffers
    for name, expected in model.get_position_embeddings().named_buffers():
        torch.testing.assert_close(buffers[name], expected)


# --- save and load -----------------------------------------------------------------------------


def test_saved_folder_contents(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    model_folder = Path(posenc_hf.__file__).parent / "model"  # the whole folder travels, and nothing else
    code = {path.name for path in model_folder.glob("*.py")} - {"__init__.py"}
    assert len(code) == 8 and names == {"model.safetensors", "config.json"} | code
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_posenc.PosEncConfig",
        "AutoModel": "modeling_posenc.PosEncModel",
        "AutoModelForSequenceClassification": "modeling_posenc.PosEncForSequenceClassification",
        "AutoModelForMaskedLM": "modeling_posenc.PosEncForMaskedLM",
    }


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")


@pytest.mark.reliability
def test_a_saved_folder_holds_no_pickle(tiny_folder):
    """docs/reliability.md §5: weights only in safetensors, in a folder with its tokenizer too."""
    assert not [p.name for p in tiny_folder.rglob("*") if p.name.endswith(PICKLE_SUFFIXES)]
    assert (tiny_folder / "model.safetensors").is_file()


@pytest.mark.parametrize("position", POSITION_EMBEDDING_TYPES)
def test_save_load_gives_identical_logits(position, tmp_path):
    model = tiny_model(position_embedding_type=position, layer_norm_position="pre")
    input_ids = batch()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, PosEncForSequenceClassification)
    assert torch.equal(loaded(input_ids).logits, model(input_ids).logits)


def test_auto_model_loads_the_encoder_out_of_a_classification_folder(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    encoder = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(encoder, PosEncModel)
    input_ids = batch()
    assert torch.equal(encoder(input_ids).last_hidden_state, model.posenc(input_ids).last_hidden_state)


# --- transformers conventions: config-driven outputs, activation checkpointing, new heads -------


def test_return_dict_and_outputs_follow_the_config():
    model = tiny_model(return_dict=False, output_hidden_states=True)
    logits, hidden_states = model(batch())
    assert logits.shape == (2, 3) and len(hidden_states) == 3
    assert isinstance(model(batch(), return_dict=True).hidden_states, tuple)


@pytest.mark.filterwarnings("error::FutureWarning")  # the old gradient_checkpointing spelling warns
def test_activation_checkpointing_gives_the_same_gradients():
    model = tiny_model(hidden_dropout_prob=0.0).train()
    input_ids, mask, labels = (
        batch(3, 8),
        torch.tensor([[1] * 8, [1] * 5 + [0] * 3, [1] * 2 + [0] * 6]),
        torch.tensor([0, 1, 2]),
    )
    model(input_ids, attention_mask=mask, labels=labels).loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    model.activation_checkpointing_enable()
    assert model.is_activation_checkpointing
    calls = []
    for layer in model.posenc.layers:
        layer.feed_forward.register_forward_hook(lambda *_: calls.append(1))
    model(input_ids, attention_mask=mask, labels=labels).loss.backward()
    assert len(calls) == 2 * len(model.posenc.layers)  # each layer ran again in the backward pass
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], msg=name)


@pytest.mark.filterwarnings("error::FutureWarning")
def test_trainer_activation_checkpointing_flag(tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    model = tiny_model().train()
    rows = Dataset.from_dict({"input_ids": batch(8, 6).tolist(), "labels": [0, 1, 2, 0, 1, 2, 0, 1]})
    args = TrainingArguments(
        tmp_path,
        activation_checkpointing=True,
        max_steps=2,
        per_device_train_batch_size=4,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        dataloader_pin_memory=False,
    )
    result = Trainer(model=model, args=args, train_dataset=rows).train()
    assert model.is_activation_checkpointing and result.global_step == 2


def test_new_head_from_a_folder_is_fresh_and_reported(tmp_path):
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging

    source = tiny_model(num_labels=4, id2label={i: name for i, name in enumerate("abcd")})
    source.save_pretrained(tmp_path)
    with CaptureLogger(logging.get_logger("transformers.modeling_utils")) as log:
        model = PosEncForSequenceClassification.from_pretrained(tmp_path, num_labels=3, ignore_mismatched_sizes=True)
    assert model.classifier.weight.shape == (3, 16) and model.config.num_labels == 3
    torch.testing.assert_close(
        model.posenc.embeddings.word_embeddings.weight, source.posenc.embeddings.word_embeddings.weight
    )
    assert "Reinit due to size mismatch" in log.out and "classifier.weight" in log.out  # transformers' load report
    with pytest.raises(RuntimeError, match="classifier.weight"):
        PosEncForSequenceClassification.from_pretrained(tmp_path, num_labels=3)


@pytest.mark.reliability
def test_a_head_of_other_labels_suggests_a_new_head_and_other_mismatches_a_damaged_folder(tmp_path):
    tiny_model(num_labels=4, id2label={i: name for i, name in enumerate("abcd")}).save_pretrained(tmp_path)
    with pytest.raises(ValueError) as head:
        AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3)  # on purpose: another label count
    assert (
        str(head.value)
        .splitlines()[-1]
        .startswith("For a new head (another num_labels), pass ignore_mismatched_sizes=True: the encoder loads")
    )
    assert "Save or download the folder again" not in str(head.value)
    for model_class in (AutoModelForSequenceClassification, AutoModel):  # the encoder differs; a base model has no head
        with pytest.raises(ValueError) as other:
            model_class.from_pretrained(tmp_path, vocab_size=60)
        assert str(other.value).splitlines()[-1].startswith("Save or download the folder again"), model_class


def test_fine_tune_a_4_label_folder_on_a_3_label_csv_as_run_classification_does(tiny_folder, tmp_path):
    """The calls of transformers' examples/pytorch/text-classification/run_classification.py, with
    `--trust_remote_code true --ignore_mismatched_sizes true` on a folder whose label count differs."""
    from datasets import load_dataset
    from transformers import (
        AutoConfig,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    csv = tmp_path / "train.csv"
    rows = [("good thing", "positive"), ("bad thing", "negative"), ("some thing", "neutral")] * 4
    csv.write_text("sentence,label\n" + "".join(f"{text},{label}\n" for text, label in rows))
    raw = load_dataset("csv", data_files={"train": str(csv)})
    label_list = sorted(set(raw["train"]["label"]))
    config = AutoConfig.from_pretrained(
        tiny_folder, num_labels=len(label_list), finetuning_task="text-classification", trust_remote_code=True
    )
    config.problem_type = "single_label_classification"
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder, trust_remote_code=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_folder, config=config, trust_remote_code=True, ignore_mismatched_sizes=True
    )
    label_to_id = {label: i for i, label in enumerate(label_list)}
    model.config.label2id = label_to_id
    model.config.id2label = {i: label for label, i in label_to_id.items()}

    def preprocess(examples):
        result = tokenizer(examples["sentence"], padding="max_length", max_length=16, truncation=True)
        result["labels"] = [label_to_id[label] for label in examples["label"]]  # "label" would keep its str type
        return result

    train = raw["train"].map(preprocess, batched=True, remove_columns=["sentence", "label"])
    args = TrainingArguments(tmp_path / "out", max_steps=3, per_device_train_batch_size=4, use_cpu=True, report_to=[])
    trainer = Trainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, data_collator=default_data_collator
    )
    assert trainer.train().global_step == 3
    trainer.save_model(tmp_path / "model")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "model")
    assert reloaded.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert reloaded.classifier.weight.shape[0] == 3
