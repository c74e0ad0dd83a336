"""Position encodings that act inside attention: rotary, ALiBi, T5 bias, FIRE, KERPLE.

They add nothing to the token embeddings. Each one turns the position ids into the keyword arguments
transformers' attention functions take, once per forward and shared by every layer:

- rotary: `position_embeddings=(cos, sin)`, which each layer applies to its queries and keys (RoPE);
- the bias schemes: `position_bias`, an additive (batch, heads, query, key) float bias that SDPA,
  eager and flex attention all add to the attention scores.

None has a table, so none is capped at `max_position_embeddings`: they run at any length. Distances
are `key position - query position` (T5's convention); a bias scheme's `bias(positions, mask)` is
what the model card plots against distance. Each class states the same facts as the absolute tables in
`positions_posenc.py`. This file travels to the Hub with the model code; it imports nothing but `torch`
and `transformers`.
"""

import math

import torch
from torch import nn
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS, dynamic_rope_update
from transformers.utils.import_utils import is_tracing


class AttentionPositions(nn.Module):
    """What every scheme in this file shares: the token embeddings pass unchanged, there is no table
    to resize, and positions past `max_position_embeddings` are allowed."""

    has_table = False
    weight = None

    def forward(self, embeddings, position_ids):
        return embeddings

    def copy_resized(self, old, interpolate=False):
        """Copy the learned parameters: they do not depend on the number of positions."""
        self.load_state_dict(old.state_dict())


def relative_distances(position_ids):
    """(batch or 1, query, key) float distances `key - query` between the given positions."""
    positions = position_ids.float()
    return positions[:, None, :] - positions[:, :, None]


class BiasPositions(AttentionPositions):
    """A scheme whose whole effect is an additive attention bias, a function of the two positions."""

    def attention_inputs(self, position_ids, attention_mask):
        # contiguous: a permuted bias (T5's lookup, FIRE's MLP) made each combination with the key mask
        # 10x slower (where + copy of batch × heads × length², 49 against 5 ms at the bench's subject shape)
        return {"position_bias": self.bias(position_ids, attention_mask).contiguous()}


# ----------------------------------------------------------------------------------------------
# Rotary position embedding (Su et al. 2021), in transformers' conventions (Llama, ModernBERT).


def rotate_half(x):
    """Rotates half the hidden dims of the input (transformers' convention: halves, not interleaved)."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary_pos_emb(query, key, cos, sin):
    """RoPE on (batch, heads, length, head_dim) queries and keys; cos and sin are (batch, length, head_dim)."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return query * cos + rotate_half(query) * sin, key * cos + rotate_half(key) * sin


class PosEncRotaryEmbedding(AttentionPositions):
    """Rotates each head's queries and keys by angles proportional to their positions, so that their
    dot product depends on the distance only. `config.rope_parameters` is transformers' own: the
    default type with `rope_theta`, or any type in `ROPE_INIT_FUNCTIONS` (linear, dynamic, yarn, ...)."""

    tag = "rotary-positional-encoding"
    has_weights = False
    config_fields = ("hidden_size", "num_attention_heads", "max_position_embeddings", "rope_parameters")
    card_explanation = (
        "Rotary position embedding (RoPE, Su et al. 2021): in every layer each head's queries and keys are rotated by "
        "angles proportional to their positions (base θ = {config.rope_parameters[rope_theta]:g}), so that attention "
        "scores depend on how far apart two tokens are, not where they are. Nothing is added to the token embeddings "
        "and nothing is trained or saved; it runs at any length."
    )

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.max_seq_len_cached = self.original_max_seq_len = config.max_position_embeddings
        self.rope_type = config.rope_parameters["rope_type"]
        rope_init_fn = ROPE_INIT_FUNCTIONS.get(self.rope_type, self.compute_default_rope_parameters)
        inv_freq, self.attention_scaling = rope_init_fn(config)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.register_buffer("original_inv_freq", inv_freq.clone(), persistent=False)

    @staticmethod
    def compute_default_rope_parameters(config, device=None, **kwargs):
        """(inverse frequencies, attention scaling) of the original RoPE: θ^(-2i/head_dim)."""
        base = config.rope_parameters["rope_theta"]
        dim = config.hidden_size // config.num_attention_heads
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float, device=device) / dim))
        return inv_freq, 1.0

    @dynamic_rope_update  # for the dynamic and longrope types; a no-op otherwise
    def rotation(self, x, position_ids):
        """(cos, sin), each (batch, length, head_dim), in the dtype of `x`."""
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos() * self.attention_scaling, angles.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)

    def attention_inputs(self, position_ids, attention_mask):
        return {"position_embeddings": self.rotation(self.inv_freq, position_ids)}


# ----------------------------------------------------------------------------------------------
# ALiBi (Press et al. 2022), symmetric for an encoder.


def alibi_slopes(num_heads):
    """ALiBi's fixed geometric slopes, one per head: 2^(-8/n), 2^(-16/n), ... for n heads, and for a head
    count that is not a power of two the paper's interleaving of the two nearest powers."""
    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = [2 ** (-8 * (i + 1) / closest) for i in range(closest)]
    if closest < num_heads:
        slopes += [2 ** (-4 * (2 * i + 1) / closest) for i in range(num_heads - closest)]
    return torch.tensor(slopes, dtype=torch.float32)


class AlibiPositionBias(BiasPositions):
    """-slope × |distance|, a fixed slope per head: nearby tokens weigh more, at any length."""

    tag = "alibi"
    has_weights = False
    config_fields = ("num_attention_heads",)
    card_explanation = (
        "ALiBi (Press et al. 2022), symmetric for an encoder: each head adds −m·|i − j| to the attention score between"
        " tokens i and j, with fixed geometric slopes m = 2^(−8/{config.num_attention_heads}), "
        "2^(−16/{config.num_attention_heads}), … Nothing is added to the token embeddings, trained or saved; it runs "
        "at any length. As the bias depends on |i − j| only, a mean-pooled model gives a text and its reverse the same"
        " prediction."
    )

    def __init__(self, config):
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(config.num_attention_heads), persistent=False)

    def bias(self, position_ids, attention_mask=None):
        return -self.slopes[None, :, None, None] * relative_distances(position_ids).abs()[:, None]


# ----------------------------------------------------------------------------------------------
# T5's bucketed relative bias (Raffel et al. 2020), bidirectional, shared across layers as in T5.


def relative_position_bucket(relative_position, num_buckets, max_distance):
    """T5's bidirectional buckets (`T5Attention._relative_position_bucket`): exact below num_buckets / 4
    tokens each way, logarithmic up to `max_distance`, one bucket for all beyond."""
    num_buckets //= 2
    buckets = (relative_position > 0).long() * num_buckets
    distance = relative_position.abs()
    max_exact = num_buckets // 2
    large = (
        max_exact
        + (
            torch.log(distance.float().clamp(min=1) / max_exact)
            / math.log(max_distance / max_exact)
            * (num_buckets - max_exact)
        ).long()
    )
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(distance < max_exact, distance, large)


class T5RelativePositionBias(BiasPositions):
    """A learned scalar per head and distance bucket, looked up for every query-key pair."""

    tag = "t5-relative-position-bias"
    has_weights = True
    config_fields = ("num_attention_heads", "relative_attention_num_buckets", "relative_attention_max_distance")
    card_explanation = (
        "T5's relative position bias (Raffel et al. 2020): the distance j − i between two tokens falls in one of "
        "{config.relative_attention_num_buckets} buckets (exact for short distances, logarithmic up to "
        "{config.relative_attention_max_distance}, one bucket beyond), and each head learns one score per bucket, "
        "added to its attention scores in every layer. Nothing is added to the token embeddings; it runs at any "
        "length, every distance past {config.relative_attention_max_distance} sharing one bias."
    )

    def __init__(self, config):
        super().__init__()
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.relative_attention_bias = nn.Embedding(self.num_buckets, config.num_attention_heads)

    def bias(self, position_ids, attention_mask=None):
        distances = relative_distances(position_ids).long()
        buckets = relative_position_bucket(distances, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(0, 3, 1, 2)  # batch × heads × query × key


# ----------------------------------------------------------------------------------------------
# FIRE (Li et al. 2023): a learned function of the log-scaled, progressively interpolated distance.


def farthest_key_distance(position_ids, attention_mask):
    """(batch or 1, query) distance from each query to the farthest key it attends to in its own row."""
    positions = position_ids.float()
    if attention_mask is None or attention_mask.dim() != 2:
        first, last = positions.amin(-1, keepdim=True), positions.amax(-1, keepdim=True)
    else:
        kept = attention_mask.bool()
        first = torch.where(kept, positions, math.inf).amin(-1, keepdim=True)
        last = torch.where(kept, positions, -math.inf).amax(-1, keepdim=True)
    return torch.maximum(positions - first, last - positions)


class FirePositionBias(BiasPositions):
    """b(i, j) = MLP(sign(d) ψ(|d|) / ψ(max(L, farthest))) with ψ(x) = log(c x + 1), d = j − i.

    The paper's code (Appendix) with its two learned scalars: c (initialised at 0.1) and a multiplier
    on the threshold L (initialised at 1, so L starts at `max_position_embeddings`). The paper is causal
    and normalises by the query position, the farthest key a query sees; an encoder's query sees keys
    on both sides, so this normalises by the farthest key in its row and keeps the sign of d. Inputs
    then stay within [-1, 1] at any length: past L, distances are interpolated, not extrapolated.
    """

    tag = "fire"
    has_weights = True
    config_fields = ("num_attention_heads", "fire_mlp_width", "max_position_embeddings")
    card_explanation = (
        "FIRE (Li et al. 2023): each head's attention bias is a small learned MLP ({config.fire_mlp_width} hidden "
        "units) of the distance j − i, log-scaled and divided by the log-scaled distance to the farthest token in the "
        "text (or the learned threshold L, initially {positions}, when the text is shorter). Distances in a text "
        "longer than L are squeezed into the range seen in training (progressive interpolation). Nothing is added to "
        "the token embeddings; it runs at any length."
    )

    def __init__(self, config):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(1, config.fire_mlp_width), nn.ReLU(), nn.Linear(config.fire_mlp_width, config.num_attention_heads)
        )
        self.initial_threshold = float(config.max_position_embeddings)
        self.c = nn.Parameter(torch.tensor(0.1))
        self.threshold_scale = nn.Parameter(torch.tensor(1.0))

    def log_scaled(self, distance):
        return torch.log(torch.abs(self.c * distance) + 1)

    def normaliser(self, position_ids, attention_mask):
        """max(farthest key distance, L) per query, (batch or 1, query, 1); L alone, (1, 1, 1), when it exceeds
        every query's farthest distance (as it does at its initial value for texts no longer than
        `max_position_embeddings`): the bias is then the same for every row and its MLP runs on length² inputs,
        not batch × length² (outside tracing, where the check is a data-dependent branch)."""
        threshold = torch.abs(self.threshold_scale * self.initial_threshold)
        farthest = farthest_key_distance(position_ids, attention_mask)
        if not is_tracing(farthest) and bool((farthest < threshold).all()):
            return threshold.reshape(1, 1, 1)
        return torch.maximum(farthest, threshold)[..., None]

    def bias(self, position_ids, attention_mask=None):
        distances = relative_distances(position_ids)
        normaliser = self.normaliser(position_ids, attention_mask)
        scaled = torch.sign(distances) * self.log_scaled(distances) / (self.log_scaled(normaliser) + 1e-6)
        scaled = scaled.unsqueeze(-1).to(self.mlp[0].weight.dtype)  # positions are float32: a half model's MLP
        return self.mlp(scaled).permute(0, 3, 1, 2)  # batch (or 1) × heads × query × key


# ----------------------------------------------------------------------------------------------
# KERPLE (Chi et al. 2022), its logarithmic kernel.


class KerplePositionBias(BiasPositions):
    """-r1 log(1 + r2 |d|): two learned positive parameters per head (the paper's logarithmic variant)."""

    tag = "kerple"
    has_weights = True
    config_fields = ("num_attention_heads",)
    card_explanation = (
        "KERPLE (Chi et al. 2022), its logarithmic kernel: each head adds −r₁·log(1 + r₂·|i − j|) to its attention "
        "scores, with r₁ and r₂ two positive numbers it learns (2 × {config.num_attention_heads} parameters in all). "
        "Nothing is added to the token embeddings; it runs at any length. As the bias depends on |i − j| only, a "
        "mean-pooled model gives a text and its reverse the same prediction."
    )
    minimum = 1e-2  # the paper's clamp, which keeps both parameters positive

    def __init__(self, config):
        super().__init__()
        self.bias_scale = nn.Parameter(torch.empty(config.num_attention_heads))  # r1
        self.distance_scale = nn.Parameter(torch.empty(config.num_attention_heads))  # r2

    def bias(self, position_ids, attention_mask=None):
        r1 = self.bias_scale.clamp(min=self.minimum)[None, :, None, None]
        r2 = self.distance_scale.clamp(min=self.minimum)[None, :, None, None]
        return -r1 * torch.log1p(r2 * relative_distances(position_ids).abs()[:, None])
