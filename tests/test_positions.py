"""Each position encoding's own facts (positions_posenc.py), which the card and the checkpoint check read,
are true of the module it builds."""

import pytest
import tiny
import torch

from posenc_hf.positions_posenc import POSITION_EMBEDDINGS

CHANGES = {"max_position_embeddings": 20, "hidden_size": 24, "initializer_range": 0.05}


def unsaved_state(kind, **changes):
    """What a checkpoint cannot bring back of the module: the shape of a saved table, all of an unsaved one."""
    cls = POSITION_EMBEDDINGS[kind]
    weight = cls(tiny.tiny_config(position_embedding_type=kind, **changes)).weight
    if weight is None:
        return None
    return tuple(weight.shape) if cls.has_weights else weight.detach()


def same(a, b):
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
def test_has_weights_says_whether_the_table_is_a_saved_parameter(kind):
    module = POSITION_EMBEDDINGS[kind](tiny.tiny_config(position_embedding_type=kind))
    assert bool(list(module.parameters())) == bool(module.state_dict()) == POSITION_EMBEDDINGS[kind].has_weights


@pytest.mark.parametrize("kind", list(POSITION_EMBEDDINGS))
@pytest.mark.parametrize("field, value", list(CHANGES.items()))
def test_config_fields_are_the_fields_that_change_what_a_checkpoint_cannot_restore(kind, field, value):
    changed = not same(unsaved_state(kind), unsaved_state(kind, **{field: value}))
    assert changed == (field in POSITION_EMBEDDINGS[kind].config_fields)
