"""The benchmark shapes, the three models compared at each shape, and the input batches.

Models at a shape, all with identical sizes (vocab, hidden, heads, layers, intermediate, positions):

- `bert`: `BertForSequenceClassification` with BERT's dropouts (hidden 0.1, attention 0.1).
- `posenc_same`: ours with exactly BERT's dropouts, the like-for-like comparison.
- `posenc_default`: ours with `PosEncConfig`'s default dropouts (what a user of this package gets).
"""

from dataclasses import asdict, dataclass

import torch
from transformers import BertConfig, BertForSequenceClassification

from posenc_hf import PosEncConfig, PosEncForSequenceClassification

DEFAULT_INTERMEDIATE = PosEncConfig().intermediate_size  # 512 whatever the hidden size: 8x hidden at 64
BERT_DROPOUT = dict(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
MODELS = ("posenc_default", "posenc_same", "bert")
PAD_FRACTION = 0.3  # share of padding tokens in the padded batches


@dataclass(frozen=True)
class Shape:
    """A model size and an input size, the same for every model compared."""

    name: str
    hidden: int
    heads: int
    layers: int
    seq: int
    batch: int
    intermediate: int = DEFAULT_INTERMEDIATE
    vocab: int = 8000
    labels: int = 4

    def asdict(self):
        return asdict(self)


SHAPES = {
    "subject": Shape("subject", hidden=64, heads=8, layers=2, seq=128, batch=32),
    "sentiment15": Shape("sentiment15", hidden=128, heads=8, layers=3, seq=15, batch=32),
    "sentiment32": Shape("sentiment32", hidden=128, heads=8, layers=3, seq=32, batch=32),
}
SMOKE_SHAPES = {"tiny": Shape("tiny", hidden=16, heads=2, layers=1, seq=12, batch=4, intermediate=32, vocab=100)}


def sizes(shape):
    """The BertConfig/PosEncConfig size fields for a shape."""
    return dict(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        num_attention_heads=shape.heads,
        num_hidden_layers=shape.layers,
        intermediate_size=shape.intermediate,
        max_position_embeddings=shape.seq,
        num_labels=shape.labels,
    )


def build(name, shape, device="cpu", seed=0, **overrides):
    """One of `MODELS` at `shape`; `overrides` go to the config (e.g. `attn_implementation`, dropouts)."""
    torch.manual_seed(seed)
    if name == "bert":
        model = BertForSequenceClassification(BertConfig(**sizes(shape), **{**BERT_DROPOUT, **overrides}))
    elif name == "posenc_same":
        model = PosEncForSequenceClassification(PosEncConfig(**sizes(shape), **{**BERT_DROPOUT, **overrides}))
    elif name == "posenc_default":
        model = PosEncForSequenceClassification(PosEncConfig(**sizes(shape), **overrides))
    else:
        raise ValueError(f"unknown model {name!r}, expected one of {MODELS}")
    return model.to(device)


def dropouts(model):
    """The dropout probabilities a model was built with, for the results file."""
    config = model.config
    return {
        "hidden": config.hidden_dropout_prob,
        "attention": config.attention_probs_dropout_prob,
        "classifier": config.classifier_dropout
        if config.classifier_dropout is not None
        else config.hidden_dropout_prob,
        "attn_implementation": config._attn_implementation,
    }


def make_batch(shape, padded, device="cpu", seed=1, batch=None):
    """Token ids, attention mask and labels; right-padded to `shape.seq` when `padded`.

    Padded lengths are spread evenly over [(1 - 2 * PAD_FRACTION) * seq, seq] and shuffled, so that
    PAD_FRACTION of the tokens are padding (id 0, mask 0) and the longest row fills the length.
    Unpadded batches still carry an all-ones mask, as a tokenizer would give.
    """
    batch = batch or shape.batch
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, shape.vocab, (batch, shape.seq), generator=generator)
    shortest = (1 - 2 * PAD_FRACTION) * shape.seq if padded else shape.seq
    lengths = torch.linspace(shortest, shape.seq, batch).round().long().clamp(min=1)
    lengths = lengths[torch.randperm(batch, generator=generator)]
    mask = (torch.arange(shape.seq)[None, :] < lengths[:, None]).long()
    labels = torch.randint(0, shape.labels, (batch,), generator=generator)
    return {"input_ids": (ids * mask).to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def pad_fraction(batch):
    """The share of padding tokens in a batch."""
    return 1.0 - batch["attention_mask"].float().mean().item()
