"""PosEncConfig: defaults, round trip, and a clear error naming field and value for every bad value."""

import pytest
from tiny import CONFIG_ERRORS
from transformers import AutoConfig

import posenc_hf  # noqa: F401  (registers the Auto classes)
from posenc_hf import PosEncConfig


def test_defaults_are_the_learned_position_model():
    config = PosEncConfig()
    assert config.model_type == "posenc"
    assert config.position_embedding_type == "learned"
    assert config.pooling == "mean"
    assert config.hidden_size % config.num_attention_heads == 0


def test_round_trip_through_save_and_auto_config(tmp_path):
    config = PosEncConfig(
        hidden_size=48,
        num_attention_heads=6,
        position_embedding_type="sinusoidal",
        layer_norm_position="pre",
        pooling="cls",
        id2label={0: "Biology", 1: "Physics"},
        label2id={"Biology": 0, "Physics": 1},
    )
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, PosEncConfig)
    assert loaded.to_diff_dict() == config.to_diff_dict()
    assert loaded.id2label == {0: "Biology", 1: "Physics"}


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_size", 0),
        ("hidden_size", -64),
        ("vocab_size", 0),
        ("num_attention_heads", -1),
        ("num_hidden_layers", 0),
        ("intermediate_size", 0),
        ("max_position_embeddings", -5),
        ("hidden_size", 64.0),
        ("num_hidden_layers", "2"),
        ("position_embedding_type", "rotary"),
        ("pooling", "max"),
        ("layer_norm_position", "middle"),
        ("hidden_dropout_prob", 1.0),
        ("hidden_dropout_prob", -0.1),
        ("attention_probs_dropout_prob", 1.5),
        ("classifier_dropout", 1.0),
        ("layer_norm_eps", 0),
        ("initializer_range", -0.02),
    ],
)
def test_bad_value_raises_an_error_naming_field_and_value(field, value):
    with pytest.raises(CONFIG_ERRORS) as error:
        PosEncConfig(**{field: value})
    assert field in str(error.value)
    assert repr(value) in str(error.value) or str(value) in str(error.value)


def test_hidden_size_not_divisible_by_heads_names_both():
    with pytest.raises(CONFIG_ERRORS, match=r"hidden_size \(100\).*num_attention_heads \(8\)"):
        PosEncConfig(hidden_size=100, num_attention_heads=8)


def test_pad_token_outside_vocabulary():
    with pytest.raises(CONFIG_ERRORS, match="pad_token_id"):
        PosEncConfig(vocab_size=10, pad_token_id=10)


def test_mismatched_label_maps():
    with pytest.raises(CONFIG_ERRORS, match="label2id"):
        PosEncConfig(id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 5})
