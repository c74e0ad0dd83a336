"""PosEncConfig: defaults, round trip, and a clear error naming field and value for every bad value."""

import pytest
from helpers import CONFIG_ERRORS
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
        ("position_embedding_type", "xpos"),
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


# --- the bad-value matrix of docs/reliability.md §1 (configs) ---------------------------------


@pytest.mark.reliability
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_size": "64"}, r"Field 'hidden_size' expected int, got str \(value: '64'\)"),
        ({"num_hidden_layers": 2.0}, r"Field 'num_hidden_layers' expected int, got float \(value: 2.0\)"),
        ({"pad_token_id": "0"}, "Field 'pad_token_id' with value '0'"),
        ({"hidden_act": "swishy"}, "hidden_act must be one of"),
        ({"problem_type": "ranking"}, "problem_type must be one of"),
        ({"num_labels": "3"}, "num_labels must be a positive integer, got '3'"),
        ({"id2label": ["a", "b"]}, "id2label must be a dict"),
        ({"id2label": {"x": "a"}}, "id2label keys must be label ids"),
        ({"id2label": {0: "a", 5: "b"}}, r"without gaps, got ids \[0, 5\]"),
        ({"id2label": {}}, "id2label is empty"),
        ({"hidden_size": -8}, "hidden_size must be a positive integer, got -8"),
        ({"max_position_embeddings": 0}, "max_position_embeddings must be a positive integer, got 0"),
        ({"num_labels": -1}, "num_labels must be a positive integer, got -1"),
    ],
    ids=lambda x: repr(x)[:40] if isinstance(x, dict) else "",
)
def test_config_bad_value_names_field_and_value(kwargs, message):
    with pytest.raises(CONFIG_ERRORS, match=message):
        PosEncConfig(**kwargs)


@pytest.mark.reliability
def test_config_num_labels_replaces_the_labels_as_transformers_does():
    """The fine-tuning habit `from_pretrained(folder, num_labels=N)`: N fresh labels, as for BERT."""
    assert PosEncConfig(num_labels=4, id2label={0: "LABEL_0", 1: "LABEL_1"}).num_labels == 4
    config = PosEncConfig(num_labels=3, id2label={0: "a", 1: "b"})
    assert config.num_labels == 3 and list(config.id2label) == [0, 1, 2]


@pytest.mark.reliability
def test_config_accepts_label2id_values_written_as_strings():
    """transformers' own configs accept them, and Hub configs carry them."""
    config = PosEncConfig(id2label={0: "negative", 1: "positive"}, label2id={"negative": "0", "positive": "1"})
    assert config.num_labels == 2


@pytest.mark.reliability
def test_config_unknown_key_is_kept_like_every_transformers_config():
    """transformers keeps unknown keys as attributes (a config.json from a newer version still loads);
    a run config (YAML or command line) rejects them instead (tests/training/test_arguments.py)."""
    assert PosEncConfig(hiden_size=32).hiden_size == 32


@pytest.mark.reliability
def test_config_of_another_model_type_is_refused():
    with pytest.raises(ValueError, match="model_type='bert', not 'posenc'"):
        PosEncConfig.from_dict({"model_type": "bert", "hidden_size": 768})
