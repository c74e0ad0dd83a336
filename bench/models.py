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

BERT_DROPOUT = dict(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
MODELS = ("posenc_default", "posenc_same", "bert")
PAD_FRACTION = 0.3  # share of padding tokens in the padded batches


@dataclass(frozen=True)
class Shape:
    """An input size and a model size, the same for every model compared. The model fields are
    `PosEncConfig`'s (and `BertConfig`'s): same names, same defaults (intermediate 4 × hidden)."""

    name: str
    seq: int
    batch: int
    hidden_size: int = 64
    num_attention_heads: int = 8
    num_hidden_layers: int = 2
    intermediate_size: int | None = None
    vocab_size: int = 8000
    num_labels: int = 4

    def asdict(self):
        return asdict(self)

    @property
    def ffn(self):
        return self.intermediate_size or 4 * self.hidden_size


SHAPES = {
    "subject": Shape("subject", seq=128, batch=32),
    "sentiment15": Shape("sentiment15", seq=15, batch=32, hidden_size=128, num_hidden_layers=3),
    "sentiment32": Shape("sentiment32", seq=32, batch=32, hidden_size=128, num_hidden_layers=3),
}
SMOKE_SHAPES = {
    "tiny": Shape(
        "tiny",
        seq=12,
        batch=4,
        hidden_size=16,
        num_attention_heads=2,
        num_hidden_layers=1,
        intermediate_size=32,
        vocab_size=100,
    )
}


def sizes(shape):
    """The BertConfig/PosEncConfig size fields for a shape."""
    fields = {name: value for name, value in shape.asdict().items() if name not in ("name", "seq", "batch")}
    return {**fields, "intermediate_size": shape.ffn, "max_position_embeddings": shape.seq}


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
    ids = torch.randint(1, shape.vocab_size, (batch, shape.seq), generator=generator)
    shortest = (1 - 2 * PAD_FRACTION) * shape.seq if padded else shape.seq
    lengths = torch.linspace(shortest, shape.seq, batch).round().long().clamp(min=1)
    lengths = lengths[torch.randperm(batch, generator=generator)]
    mask = (torch.arange(shape.seq)[None, :] < lengths[:, None]).long()
    labels = torch.randint(0, shape.num_labels, (batch,), generator=generator)
    return {"input_ids": (ids * mask).to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def pad_fraction(batch):
    """The share of padding tokens in a batch."""
    return 1.0 - batch["attention_mask"].float().mean().item()
