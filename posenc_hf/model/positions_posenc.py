"""Position encodings: small interchangeable modules, picked by `config.position_embedding_type`.

Each one has two ways in, called once per forward: `forward(embeddings, position_ids)` returns the token
embeddings with what it adds to them (the absolute tables in this file), and `attention_inputs(position_ids,
attention_mask)` returns the keyword arguments it hands every attention layer (rotary and the attention
biases, in `attention_positions_posenc.py`). Each can be resized to a new number of positions, and states
its own facts, so that no other file restates them (the model card and the checkpoint check read them
through `POSITION_EMBEDDINGS`):

- `tag`: its Hub tag, in the model card's metadata;
- `card_explanation`: the model card's paragraph on it, formatted with `config`, `positions`, `hidden` and
  `count` (positions × hidden);
- `has_table`: whether it holds one vector per absolute position, so that it cannot read past
  `max_position_embeddings` (the others run at any length);
- `has_weights`: whether its table is a trained parameter, saved with the weights;
- `config_fields`: the config fields that decide what a checkpoint cannot restore of it (a saved table's
  shape, all of an unsaved one), so a run resumes only from a checkpoint that agrees on them.

This file travels to the Hub with the model code; it imports nothing but `torch`, `transformers` and its
sibling.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention_positions_posenc import (
    AlibiPositionBias,
    FirePositionBias,
    KerplePositionBias,
    PosEncRotaryEmbedding,
    T5RelativePositionBias,
)


class AbsolutePositions:
    """What the schemes of this file share: nothing for attention."""

    def attention_inputs(self, position_ids, attention_mask):
        return {}


class LearnedPositionEmbedding(AbsolutePositions, nn.Embedding):
    """A trained table with one vector per absolute position (BERT, GPT-2)."""

    tag = "learned-positional-encoding"
    has_weights = True
    has_table = True
    config_fields = ("max_position_embeddings", "hidden_size")
    card_explanation = (
        "A trainable table of {positions} × {hidden} vectors ({count:,} parameters, included in the count above), "
        "added to the token embeddings before the first layer. Each vector is learned from the training data, so "
        "positions that few training texts reach are the least trained."
    )

    def __init__(self, config):
        super().__init__(config.max_position_embeddings, config.hidden_size)

    def forward(self, embeddings, position_ids):
        return embeddings + super().forward(position_ids)

    @torch.no_grad()
    def copy_resized(self, old, interpolate=False):
        """Fill this table from `old`: its first rows, the new rows keeping their fresh initialisation
        (transformers' convention), or with `interpolate` all of `old`, linearly resampled to this length."""
        if not interpolate:
            rows = min(old.num_embeddings, self.num_embeddings)
            self.weight[:rows] = old.weight[:rows]
            return
        table = old.weight.t().unsqueeze(0).float()  # (1, dims, old_positions)
        resized = F.interpolate(table, size=self.num_embeddings, mode="linear", align_corners=True)
        self.weight.copy_(resized.squeeze(0).t().to(self.weight.dtype))


def sinusoidal_table(num_positions, dim):
    """The fixed table of "Attention Is All You Need": sin on even dims, cos on odd dims."""
    positions = torch.arange(num_positions, dtype=torch.float32).unsqueeze(1)
    frequencies = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(positions * frequencies)
    table[:, 1::2] = torch.cos(positions * frequencies[: dim // 2])
    return table


class SinusoidalPositionEmbedding(AbsolutePositions, nn.Module):
    """The fixed sinusoidal table: a buffer, not a parameter, so it is neither trained nor saved.

    It is scaled to the RMS of freshly initialised token embeddings (`initializer_range`), so that
    neither signal drowns the other at the start of training.
    """

    tag = "sinusoidal-positional-encoding"
    has_weights = False
    has_table = True
    config_fields = ("max_position_embeddings", "hidden_size", "initializer_range")
    card_explanation = (
        "The fixed sine/cosine table of Vaswani et al. (2017), {positions} × {hidden}, added to the token embeddings "
        "before the first layer. It is a function of the position, not a parameter: it is neither trained nor saved "
        "with the weights, and is rebuilt when the model loads."
    )

    def __init__(self, config):
        super().__init__()
        self.scale = config.initializer_range * math.sqrt(2.0)  # a sinusoid's RMS is 1/sqrt(2)
        table = sinusoidal_table(config.max_position_embeddings, config.hidden_size) * self.scale
        self.register_buffer("weight", table, persistent=False)

    def forward(self, embeddings, position_ids):
        return embeddings + F.embedding(position_ids, self.weight).to(embeddings.dtype)

    def copy_resized(self, old, interpolate=False):
        """Nothing to copy: the table is a function of its length."""


class NoPositionEmbedding(AbsolutePositions, nn.Module):
    """No position information: the encoder sees a bag of tokens (an ablation)."""

    tag = "no-positional-encoding"
    has_weights = False
    has_table = False
    config_fields = ()
    card_explanation = (
        "None: the encoder sees a bag of tokens, so word order cannot change its prediction. This model is the "
        "ablation baseline: it shows how far the classes can be told apart without order."
    )
    weight = None

    def __init__(self, config):
        super().__init__()

    def forward(self, embeddings, position_ids):
        return embeddings

    def copy_resized(self, old, interpolate=False):
        """Nothing to copy."""


POSITION_EMBEDDINGS = {
    "learned": LearnedPositionEmbedding,
    "sinusoidal": SinusoidalPositionEmbedding,
    "none": NoPositionEmbedding,
    "rotary": PosEncRotaryEmbedding,
    "alibi": AlibiPositionBias,
    "t5": T5RelativePositionBias,
    "fire": FirePositionBias,
    "kerple": KerplePositionBias,
}


def resize_position_table(model, new_num_positions, interpolate=False):
    """Give `model` a position table of `new_num_positions`, filled from the old one (`copy_resized`)."""
    if isinstance(new_num_positions, bool) or not isinstance(new_num_positions, int) or new_num_positions <= 0:
        raise ValueError(f"new_num_position_embeddings must be a positive integer, got {new_num_positions!r}")
    embeddings = model.base_model.embeddings
    old = embeddings.position_embeddings
    model.config.max_position_embeddings = new_num_positions
    embeddings.position_embeddings = POSITION_EMBEDDINGS[model.config.position_embedding_type](model.config)
    embeddings.position_embeddings.to(embeddings.word_embeddings.weight.device)
    model._init_weights(embeddings.position_embeddings)
    embeddings.position_embeddings.copy_resized(old, interpolate)
