"""Each position encoding's own facts (positions_posenc.py, attention_positions_posenc.py), which the card
and the checkpoint check read, are true of the module it builds."""

import helpers
import pytest
import torch

from posenc_hf.model.positions_posenc import POSITION_EMBEDDINGS

CHANGES = {
    "max_position_embeddings": 20,
    "hidden_size": 24,
    "initializer_range": 0.05,
    "num_attention_heads": 2,
    "relative_attention_num_buckets": 16,
    "relative_attention_max_distance": 64,
    "fire_mlp_width": 8,
    "rope_parameters": {"rope_type": "default", "rope_theta": 500.0},
}


def unsaved_state(kind, **changes):
    """What a checkpoint cannot bring back of the module: the shapes of its parameters, the values of its
    buffers and the numbers and names it holds as attributes (a threshold, a scale, a rope type)."""
    module = POSITION_EMBEDDINGS[kind](helpers.tiny_config(position_embedding_type=kind, **changes))
    shapes = {name: tuple(parameter.shape) for name, parameter in module.named_parameters()}
    buffers = dict(module.named_buffers())
    attributes = {
        (prefix, key): value
        for prefix, part in module.named_modules()
        for key, value in vars(part).items()
        if isinstance(value, (int, float, str)) and not key.startswith("_")
    }
    return shapes, buffers, attributes


def same(a, b):
    shapes_a, buffers_a, attributes_a = a
    shapes_b, buffers_b, attributes_b = b
    same_buffers = buffers_a.keys() == buffers_b.keys() and all(
        buffers_a[name].shape == buffers_b[name].shape and torch.equal(buffers_a[name], buffers_b[name])
        for name in buffers_a
    )
    return shapes_a == shapes_b and same_buffers and attributes_a == attributes_b


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
def test_has_weights_says_whether_the_table_is_a_saved_parameter(kind):
    module = POSITION_EMBEDDINGS[kind](helpers.tiny_config(position_embedding_type=kind))
    assert bool(list(module.parameters())) == bool(module.state_dict()) == POSITION_EMBEDDINGS[kind].has_weights


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
@pytest.mark.parametrize("field, value", list(CHANGES.items()))
def test_config_fields_are_the_fields_that_change_what_a_checkpoint_cannot_restore(kind, field, value):
    changed = not same(unsaved_state(kind), unsaved_state(kind, **{field: value}))
    assert changed == (field in POSITION_EMBEDDINGS[kind].config_fields)


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
def test_has_table_says_whether_longer_input_is_refused(kind):
    model = helpers.tiny_model(position_embedding_type=kind)
    longer = helpers.batch(1, model.config.max_position_embeddings + 3)
    if POSITION_EMBEDDINGS[kind].has_table:
        with pytest.raises(ValueError, match="longer than max_position_embeddings"):
            model(longer)
    else:
        assert torch.isfinite(model(longer).logits).all()
