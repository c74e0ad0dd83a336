"""The benchmark shapes, the three models compared at each shape, and the input batches.

Models at a shape, all with identical sizes (vocab, hidden, heads, layers, intermediate, positions):

- `bert`: `BertForSequenceClassification` with BERT's dropouts (hidden 0.1, attention 0.1).
- `posenc_same`: ours with exactly BERT's dropouts, the like-for-like comparison.
- `posenc_default`: ours with `PosEncConfig`'s default dropouts (what a user of this package gets).

And, for the position schemes (`bench/positions.py`), x-transformers' `Encoder` of the same size as a peer
(`build_x_transformers`), with its options for the schemes it shares with ours.
"""

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

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
    if isinstance(model, XTransformersClassifier):
        return model.dropouts
    config = model.config
    return {
        "hidden": config.hidden_dropout_prob,
        "attention": config.attention_probs_dropout_prob,
        "classifier": config.classifier_dropout
        if config.classifier_dropout is not None
        else config.hidden_dropout_prob,
        "attn_implementation": config._attn_implementation,
    }


# Our position_embedding_type -> the x-transformers `Encoder` option that computes the same scheme.
X_TRANSFORMERS_SCHEMES = {
    "learned": {},  # none: TransformerWrapper's learned absolute table (its `use_abs_pos_emb`)
    "rotary": {"rotary_pos_emb": True},
    "alibi": {"alibi_pos_bias": True},
    "t5": {"rel_pos_bias": True},
}
# The peers: x-transformers' attention as it comes (its own einsum softmax attention: what the issue measured
# before), and with `attn_flash=True` (SDPA, as ours), which its T5 bias refuses.
X_TRANSFORMERS_PEERS = {"x_transformers": False, "x_transformers_flash": True}  # name -> attn_flash


def x_transformers_schemes(flash):
    """The schemes of `X_TRANSFORMERS_SCHEMES` x-transformers builds with or without `attn_flash`."""
    return [scheme for scheme in X_TRANSFORMERS_SCHEMES if not (flash and scheme == "t5")]


class XTransformersClassifier(nn.Module):
    """lucidrains' x-transformers `TransformerWrapper(attn_layers=Encoder(...))` at a shape, called like ours
    (`input_ids`, `attention_mask`, `labels` -> `.logits`, `.loss`), so that the bench's closures time it.

    Made like `posenc_default`: the same sizes (hidden, heads and head size, layers, feed-forward width,
    vocab, labels), post-norm with a norm after the embeddings, mean pooling over the kept tokens, GELU,
    and the dropouts at the same places with `PosEncConfig`'s probabilities (embeddings and each residual
    branch's output: hidden; attention weights: attention). Its own defaults elsewhere (no biases in the
    attention projections or the classifier, no classifier dropout; its attention is its einsum path, or
    SDPA with `flash`). Rotary rotates the whole head, as ours (x-transformers' default: half of it).
    """

    def __init__(self, shape, scheme, flash=False):
        super().__init__()
        from x_transformers import Encoder, TransformerWrapper

        from posenc_hf import PosEncConfig

        config = PosEncConfig(**sizes(shape))  # our defaults: dropouts, T5's buckets
        head_dim = shape.hidden_size // shape.num_attention_heads
        options = dict(X_TRANSFORMERS_SCHEMES[scheme])
        if scheme == "rotary":
            options["rotary_emb_dim"] = head_dim
        if scheme == "t5":
            options["rel_pos_num_buckets"] = config.relative_attention_num_buckets
            options["rel_pos_max_distance"] = config.relative_attention_max_distance
        encoder = Encoder(
            dim=shape.hidden_size,
            depth=shape.num_hidden_layers,
            heads=shape.num_attention_heads,
            attn_dim_head=head_dim,
            ff_mult=shape.ffn / shape.hidden_size,
            pre_norm=False,
            attn_flash=flash,
            attn_dropout=config.attention_probs_dropout_prob,
            attn_sublayer_dropout=config.hidden_dropout_prob,
            ff_sublayer_dropout=config.hidden_dropout_prob,
            verbose=False,  # its advice on rotary dimensions is for language models
            **options,
        )
        self.model = TransformerWrapper(
            num_tokens=shape.vocab_size,
            max_seq_len=shape.seq,
            attn_layers=encoder,
            use_abs_pos_emb=scheme == "learned",  # its ALiBi would otherwise keep the absolute table too
            post_emb_norm=True,
            emb_dropout=config.hidden_dropout_prob,
            logits_dim=shape.num_labels,
            average_pool_embed=True,
        )
        self.dropouts = {
            "hidden": config.hidden_dropout_prob,
            "attention": config.attention_probs_dropout_prob,
            "classifier": 0.0,
            "attn_implementation": "sdpa" if flash else "x-transformers einsum",
        }

    def forward(self, input_ids, attention_mask=None, labels=None):
        mask = None if attention_mask is None else attention_mask.bool()
        logits = self.model(input_ids, mask=mask)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def build_x_transformers(shape, scheme, device="cpu", seed=0, flash=False):
    """x-transformers' Encoder for one of `X_TRANSFORMERS_SCHEMES` at `shape` (`XTransformersClassifier`)."""
    torch.manual_seed(seed)
    return XTransformersClassifier(shape, scheme, flash).to(device)


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
