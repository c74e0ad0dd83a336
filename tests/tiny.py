"""Tiny models for fast tests: a few thousand parameters, built in milliseconds."""

import torch
from huggingface_hub.errors import StrictDataclassError

from posenc_hf import PosEncConfig, PosEncForSequenceClassification

CONFIG_ERRORS = (ValueError, StrictDataclassError)  # a bad config value: ours, or `@strict`'s, naming the field

TINY_SIZES = dict(
    vocab_size=50,
    hidden_size=16,
    num_attention_heads=4,
    num_hidden_layers=2,
    intermediate_size=32,
    max_position_embeddings=12,
    num_labels=3,
)


def tiny_config(**overrides):
    """`TINY_SIZES` with `overrides`; an `id2label` sets the number of labels itself."""
    sizes = {key: value for key, value in TINY_SIZES.items() if not (key == "num_labels" and "id2label" in overrides)}
    return PosEncConfig(**{**sizes, **overrides})


def tiny_model(cls=PosEncForSequenceClassification, seed=0, **overrides):
    """A seeded tiny model in eval mode: `cls` (a PosEnc model class) of `tiny_config(**overrides)`."""
    torch.manual_seed(seed)
    return cls(tiny_config(**overrides)).eval()


def batch(batch_size=2, length=7, vocab_size=50, seed=1):
    """Random token ids (never the padding id 0)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab_size, (batch_size, length), generator=generator)
