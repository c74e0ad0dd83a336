"""Eager-mode speed-ups for PosEnc, kept out of the model's reading path (bench/README.md measures them).

- Unpadding: the token-wise work (projections, feed-forward, norms, dropout) runs on the kept tokens
  only; attention re-pads them around the attention function.
- Dropout on CPU with a cheaper random mask than torch's `bernoulli_`.
- Attention dropout on CPU without leaving SDPA's fast kernels for its math path.
- CPU attention in float32 when the inputs are bf16/fp16 (CPU kernels train slower in reduced precision).
- A position bias combined with the key mask once per forward, not in each layer, and a bias shared by
  the rows passed as one row (transformers' SDPA function would copy it to every row in each layer).

Each one is taken only in eager mode: under `torch.compile`, `torch.export` and tracing, the model runs
its plain path (transformers' attention functions, `nn.Dropout`), which has no data-dependent branch.
This file travels to the Hub with the model code; it imports nothing but `torch` and `transformers`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def tracing():
    """Under `torch.compile`, `torch.export` or `torch.jit.trace`: take the plain path. (transformers'
    `is_tracing` checks more cases and costs 15x as much; this runs several times per layer.)"""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


# ----------------------------------------------------------------------------------------------
# Dropout with a cheaper random mask on CPU.


def random_drop_mask(shape, p, device):
    """(mask, scale): a boolean mask that drops each element with probability `p` (rounded to 1/65536),
    and 1 / (1 - that probability).

    16 random bits per element, drawn 64 at a time. On CPU, torch's own dropout mask (`bernoulli_`)
    draws one double per element, one element after another: for attention-sized tensors it costs more
    than the attention itself.
    """
    dropped = round(p * 65536)
    numel = math.prod(shape)
    bits = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    return bits.view(torch.int16)[:numel].view(shape) < dropped - 32768, 65536 / (65536 - dropped)


def fast_dropout(hidden_states, p, training):
    """`F.dropout`, with the cheaper mask of `random_drop_mask` on CPU in eager mode."""
    plain = not training or p == 0 or hidden_states.device.type != "cpu" or round(p * 65536) >= 65536
    if plain or tracing():
        return F.dropout(hidden_states, p, training)
    drop, scale = random_drop_mask(hidden_states.shape, p, hidden_states.device)
    return hidden_states * (~drop * scale).to(hidden_states.dtype)


class FastDropout(nn.Dropout):
    """`nn.Dropout` through `fast_dropout`."""

    def forward(self, hidden_states):
        return fast_dropout(hidden_states, self.p, self.training)


# ----------------------------------------------------------------------------------------------
# Unpadding: the layers see (1, kept tokens, hidden); attention sees the padded batch.


class Packing:
    """Where the kept tokens of a padded batch sit (any padding side), the key mask of the batch, and the
    position bias with that mask in, when the scheme has a bias."""

    def __init__(self, attention_mask):
        self.shape = attention_mask.shape
        self.index = attention_mask.flatten().nonzero().squeeze(1)
        self.key_mask = attention_mask[:, None, None, :].bool()  # batch × 1 × 1 × length: SDPA's cheapest
        self.bias_holds_mask = False

    def mask_bias(self, kwargs):
        """The position bias in `kwargs`, if any, replaced by the bias at kept keys and the dtype's minimum
        at padded ones: what transformers' SDPA function combines from the bias and the key mask in every
        layer, built here once per forward for every layer. It stays in `kwargs` (the model hands it to
        each layer as an input, which reentrant activation checkpointing differentiates)."""
        bias = kwargs.get("position_bias")
        if bias is not None:
            kwargs["position_bias"] = torch.where(self.key_mask, bias, torch.finfo(bias.dtype).min)
            self.bias_holds_mask = True

    def pack(self, hidden_states):
        """(batch, length, ...) -> (1, kept tokens, ...)."""
        return hidden_states.flatten(0, 1).index_select(0, self.index).unsqueeze(0)

    def pack_rotary(self, kwargs):
        """Rotary's (cos, sin) in `kwargs`, (batch or 1, length, head_dim), packed like the tokens."""
        if kwargs.get("position_embeddings") is not None:
            kwargs["position_embeddings"] = tuple(
                self.pack(part.expand(*self.shape, -1)) for part in kwargs["position_embeddings"]
            )

    def unpack(self, packed):
        """(1, kept tokens, ...) -> (batch, length, ...), zeros at the padding."""
        packed = packed.squeeze(0)
        padded = packed.new_zeros(self.shape.numel(), *packed.shape[1:]).index_copy(0, self.index, packed)
        return padded.view(*self.shape, *packed.shape[1:])


def packing_for(config, attention_mask, hidden_states, kwargs):
    """A `Packing` when unpadding pays and changes nothing the caller sees: eager mode, SDPA or eager
    attention, some padding, and no per-layer outputs asked for (they are returned padded); else `None`."""
    if attention_mask is None or attention_mask.dim() != 2 or tracing():
        return None
    if config._attn_implementation not in ("sdpa", "eager"):
        return None
    asked = [
        kwargs.get(f"output_{name}", getattr(config, f"output_{name}")) for name in ("hidden_states", "attentions")
    ]
    if any(asked) or int(attention_mask.count_nonzero()) in (0, attention_mask.numel()):
        return None
    return Packing(attention_mask)


def packed_attention(attention, packing):
    """`attention` on packed (1, heads, kept tokens, head_dim) inputs: padded for the call (with the
    batch's key mask, which SDPA and the eager function take), packed after."""

    def forward(module, query, key, value, attention_mask, **kwargs):
        query, key, value = (
            packing.unpack(states.squeeze(0).transpose(0, 1)).transpose(1, 2) for states in (query, key, value)
        )
        mask = packing.key_mask
        if packing.bias_holds_mask:  # the bias with the key mask in it: no mask beside it
            kwargs["position_bias"], mask = kwargs["position_bias"].to(query.dtype), None
        output, weights = attention(module, query, key, value, mask, **kwargs)
        return packing.pack(output), weights  # output: batch × length × heads × head_dim

    return forward


# ----------------------------------------------------------------------------------------------
# Attention on CPU: dropout without leaving the fast kernels, float32 for half-precision inputs.


def cpu_dropout_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Softmax attention with attention dropout, for training on CPU (where SDPA with dropout leaves its
    flash kernel for its math path and `bernoulli_`): the mask of `random_drop_mask`, and both scalings
    applied to the small tensors (query, output) rather than to the batch × heads × length² weights."""
    weights = torch.matmul(query * scaling, key.transpose(2, 3))
    if kwargs.get("position_bias") is not None:
        weights = weights + kwargs["position_bias"]
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            attention_mask = torch.zeros_like(attention_mask, dtype=weights.dtype).masked_fill(
                ~attention_mask, torch.finfo(weights.dtype).min
            )
        weights = weights + attention_mask
    weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    drop, keep_scale = random_drop_mask(weights.shape, dropout, weights.device)
    output = torch.matmul(torch.where(drop, 0.0, weights), value) * keep_scale  # where: 2x faster than masked_fill
    return output.transpose(1, 2).contiguous(), None


def float32_attention(attention):
    """`attention` computed in float32 on bf16/fp16 inputs, its output cast back. CPU attention kernels
    train slower in reduced precision than in float32 (bf16: 2x slower at length 128, 4x at 32, head
    size 8 and 16; bench/README.md), while the projections around them run faster."""

    def forward(module, query, key, value, attention_mask, **kwargs):
        if attention_mask is not None and attention_mask.is_floating_point():
            attention_mask = attention_mask.float()
        if kwargs.get("position_bias") is not None:
            kwargs["position_bias"] = kwargs["position_bias"].float()
        with torch.autocast("cpu", enabled=False):
            output, weights = attention(module, query.float(), key.float(), value.float(), attention_mask, **kwargs)
        return output.to(query.dtype), weights

    return forward


def unexpand_shared_bias(kwargs):
    """A position bias that every row shares (the model's batch-expanded view) as its one row: SDPA and the
    eager functions broadcast it, where transformers' SDPA function copies the expanded view to a
    batch × heads × length² tensor in every layer (`.contiguous()`)."""
    bias = kwargs.get("position_bias")
    if bias is not None and bias.shape[0] > 1 and bias.stride(0) == 0:
        kwargs["position_bias"] = bias[:1]


def fast_attention(attention, module, query, kwargs):
    """The attention function to call: `attention` itself under compile/export/tracing and off the CPU;
    in eager mode on CPU, with attention dropout in training, half-precision inputs and unpadding handled
    by the functions above."""
    packing = kwargs.pop("packing", None)
    if packing is None and module.config._attn_implementation in ("sdpa", "eager") and not tracing():
        unexpand_shared_bias(kwargs)
    if query.device.type == "cpu" and not tracing():
        weights_asked = kwargs.get("output_attentions", module.config.output_attentions)
        if module.training and module.config.attention_probs_dropout_prob > 0 and not weights_asked:
            attention = cpu_dropout_attention_forward
        if query.dtype != torch.float32:
            attention = float32_attention(attention)
    return attention if packing is None else packed_attention(attention, packing)
