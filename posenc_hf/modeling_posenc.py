"""PosEnc: a small self-attention encoder that learns its position embeddings.

Read top to bottom: position encodings, embeddings, attention, layer, base model, classifier.
This file travels to the Hub as remote code: it imports nothing but `torch`, `transformers`
and its sibling `configuration_posenc`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutputWithPooling, MaskedLMOutput, SequenceClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_posenc import PosEncConfig

# ----------------------------------------------------------------------------------------------
# Position encodings: small interchangeable modules, picked by `config.position_embedding_type`.
# Each one maps (token embeddings, position ids) to token embeddings that know their position.


class LearnedPositionEmbedding(nn.Embedding):
    """A trained table with one vector per absolute position (BERT, GPT-2)."""

    def __init__(self, config):
        super().__init__(config.max_position_embeddings, config.hidden_size)

    def forward(self, embeddings, position_ids):
        return embeddings + super().forward(position_ids)

    @torch.no_grad()
    def copy_resized(self, old):
        """Fill this table from `old`, linearly interpolated to this table's length."""
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


class SinusoidalPositionEmbedding(nn.Module):
    """The fixed sinusoidal table: a buffer, not a parameter, so it is neither trained nor saved.

    It is scaled to the RMS of freshly initialised token embeddings (`initializer_range`), so that
    neither signal drowns the other at the start of training.
    """

    def __init__(self, config):
        super().__init__()
        self.scale = config.initializer_range * math.sqrt(2.0)  # a sinusoid's RMS is 1/sqrt(2)
        table = sinusoidal_table(config.max_position_embeddings, config.hidden_size) * self.scale
        self.register_buffer("weight", table, persistent=False)

    def forward(self, embeddings, position_ids):
        return embeddings + F.embedding(position_ids, self.weight).to(embeddings.dtype)

    def copy_resized(self, old):
        """Nothing to copy: the table is a function of its length."""


class NoPositionEmbedding(nn.Module):
    """No position information: the encoder sees a bag of tokens (an ablation)."""

    weight = None

    def __init__(self, config):
        super().__init__()

    def forward(self, embeddings, position_ids):
        return embeddings

    def copy_resized(self, old):
        """Nothing to copy."""


POSITION_EMBEDDINGS = {
    "learned": LearnedPositionEmbedding,
    "sinusoidal": SinusoidalPositionEmbedding,
    "none": NoPositionEmbedding,
}


def check_sequence_length(seq_length, max_positions):
    """Fail fast, with both ways out, when the input is longer than the position table."""
    if seq_length > max_positions:
        raise ValueError(
            f"Input sequence length {seq_length} is longer than max_position_embeddings={max_positions}. "
            f"Truncate the input (tokenizer(..., truncation=True) cuts it to {max_positions} tokens) or "
            f"extend the position table with model.resize_position_embeddings({seq_length})."
        )


def check_inputs(input_ids, inputs_embeds, attention_mask, vocab_size):
    """Fail fast, naming the problem, on inputs that would otherwise fail deep inside with an index
    error (or, on a GPU, a device-side assert): not a tensor, wrong rank or dtype, empty, a token id
    outside the vocabulary, an attention mask of another shape."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("Pass exactly one of input_ids or inputs_embeds")
    name, tensor, rank = ("input_ids", input_ids, 2) if input_ids is not None else ("inputs_embeds", inputs_embeds, 3)
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor, got {type(tensor).__name__}: tokenize texts first, "
            f"e.g. tokenizer(texts, padding=True, truncation=True, return_tensors='pt')"
        )
    if tensor.dim() != rank:
        hint = ": add the batch dimension with .unsqueeze(0)" if tensor.dim() == rank - 1 else ""
        raise ValueError(
            f"{name} must have {rank} dimensions (batch × length ...), got shape {tuple(tensor.shape)}{hint}"
        )
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}): each text needs at least one token")
    if input_ids is not None:
        if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
            raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
        if not torch.compiler.is_compiling():
            low, high = (int(x) for x in torch.aminmax(input_ids))
            if low < 0 or high >= vocab_size:
                raise ValueError(
                    f"input_ids hold token id {low if low < 0 else high}, outside the vocabulary [0, {vocab_size}): "
                    f"the tokenizer does not belong to this model"
                )
    if attention_mask is not None and tuple(attention_mask.shape) != tuple(tensor.shape[:2]):
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)}, but {name} is (batch, length) = "
            f"{tuple(tensor.shape[:2])}"
        )


def mismatched_weights_message(source, mismatched):
    """Name each tensor whose shape in the weights file differs from the model built from the config."""
    lines = [
        f"  {key}: {tuple(saved)} in the weights file, {tuple(expected)} in the model the config describes"
        for key, saved, expected in sorted(mismatched)
    ]
    return (
        f"The weights in {source} do not match its config ({len(lines)} tensors differ in shape):\n"
        + "\n".join(lines)
        + "\nThe config.json and model.safetensors do not belong together: save or download the folder again, "
        "or pass ignore_mismatched_sizes=True to re-initialise those tensors."
    )


# ----------------------------------------------------------------------------------------------
# Dropout with a cheaper random mask on CPU.


def random_drop_mask(shape, p, device):
    """(mask, scale): a boolean mask that drops each element with probability `p` (rounded to 1/65536),
    and 1 / (1 - that probability).

    16 random bits per element, drawn 64 at a time. On CPU, torch's own dropout mask (`bernoulli_`)
    draws one double per element, one element after another (its parallel MKL path is taken only on
    Intel CPUs): for attention-sized tensors it costs more than the attention itself.
    """
    dropped = round(p * 65536)
    numel = math.prod(shape)
    bits = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    return bits.view(torch.int16)[:numel].view(shape) < dropped - 32768, 65536 / (65536 - dropped)


def fast_dropout(hidden_states, p, training):
    """`F.dropout`, with the cheaper mask of `random_drop_mask` on CPU."""
    if not training or p == 0 or hidden_states.device.type != "cpu" or round(p * 65536) >= 65536:
        return F.dropout(hidden_states, p, training)
    drop, scale = random_drop_mask(hidden_states.shape, p, hidden_states.device)
    return hidden_states * (~drop * scale).to(hidden_states.dtype)


class FastDropout(nn.Dropout):
    """`nn.Dropout` through `fast_dropout`."""

    def forward(self, hidden_states):
        return fast_dropout(hidden_states, self.p, self.training)


# ----------------------------------------------------------------------------------------------
# Embeddings, attention, feed-forward and one encoder layer.


class PosEncEmbeddings(nn.Module):
    """Token embedding + position encoding, then layer norm and dropout."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = POSITION_EMBEDDINGS[config.position_embedding_type](config)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = FastDropout(config.hidden_dropout_prob)
        self.register_buffer(
            "position_ids", torch.arange(config.max_position_embeddings).unsqueeze(0), persistent=False
        )

    def forward(self, input_ids=None, inputs_embeds=None, position_ids=None):
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        if position_ids is None:
            check_sequence_length(embeddings.shape[1], self.position_ids.shape[1])
            position_ids = self.position_ids[:, : embeddings.shape[1]]
        else:
            check_sequence_length(int(position_ids.max()) + 1, self.position_ids.shape[1])
        embeddings = self.position_embeddings(embeddings, position_ids)
        return self.dropout(self.LayerNorm(embeddings))

    def resize_position_embeddings(self, new_num_positions):
        old = self.position_embeddings
        self.position_embeddings = POSITION_EMBEDDINGS[self.config.position_embedding_type](self.config)
        self.position_embeddings.to(self.position_ids.device)
        self.position_embeddings.copy_resized(old)
        self.position_ids = torch.arange(new_num_positions, device=self.position_ids.device).unsqueeze(0)


class Packing:
    """Where the kept tokens of a right- or left-padded batch sit, so that the token-wise work
    (projections, feed-forward, norms, dropout) runs on kept tokens only; attention unpacks them."""

    def __init__(self, attention_mask):
        self.shape = attention_mask.shape
        self.index = attention_mask.flatten().nonzero().squeeze(1)

    def pack(self, hidden_states):
        """(batch, length, ...) -> (kept tokens, ...)."""
        return hidden_states.flatten(0, 1).index_select(0, self.index)

    def unpack(self, packed):
        """(kept tokens, ...) -> (batch, length, ...), zeros at the padding."""
        padded = packed.new_zeros(self.shape.numel(), *packed.shape[1:]).index_copy(0, self.index, packed)
        return padded.view(*self.shape, *packed.shape[1:])


def padding_mask(attention_mask, dtype, implementation):
    """The (batch × 1 × 1 × length) key mask in the form the attention function wants.

    `None` when nothing is padded (SDPA then takes its fastest path), a boolean keep-mask for SDPA,
    an additive bias (0 to keep, the dtype's minimum to drop) for eager attention.
    """
    if attention_mask is None or bool(attention_mask.all()):
        return None
    keep = attention_mask[:, None, None, :].bool()
    if implementation == "sdpa":
        return keep
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, torch.finfo(dtype).min)


def eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Plain softmax attention; returns (output of shape batch × length × heads × head_dim, weights)."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = fast_dropout(weights, dropout, module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def cpu_dropout_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Softmax attention with attention dropout, for training on CPU (where SDPA with dropout leaves its
    flash kernel for its math path and `bernoulli_`): the mask of `random_drop_mask`, and both scalings
    applied to the small tensors (query, output) rather than to the batch × heads × length² weights."""
    weights = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    drop, keep_scale = random_drop_mask(weights.shape, dropout, weights.device)
    output = torch.matmul(torch.where(drop, 0.0, weights), value) * keep_scale  # where: 2x faster than masked_fill
    return output.transpose(1, 2).contiguous(), None


def attention_implementation(config, output_attentions, training=False, device=None):
    """The configured attention ("sdpa" by default); eager when the weights are asked for; on CPU,
    training with attention dropout, `cpu_dropout_attention_forward` (with the eager additive mask)."""
    if output_attentions:
        return "eager"
    if training and config.attention_probs_dropout_prob > 0 and device is not None and device.type == "cpu":
        return "cpu_dropout"
    return config._attn_implementation


def run_attention(attention, module, query, key, value, attention_mask, **kwargs):
    """`attention(module, query, key, value, attention_mask, **kwargs)`; on CPU in float32 when the inputs are
    bf16 or fp16 (autocast or a half-precision model). CPU attention kernels train slower in reduced precision
    than in float32 (bf16: 2x slower at length 128, 4x at 32, head size 8 and 16; bench/README.md), while the
    projections around them run faster; the output is cast back to the inputs' dtype."""
    if query.device.type != "cpu" or query.dtype == torch.float32:
        return attention(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    with torch.autocast("cpu", enabled=False):
        output, weights = attention(module, query.float(), key.float(), value.float(), attention_mask, **kwargs)
    return output.to(query.dtype), weights


class PosEncAttention(nn.Module):
    """Multi-head self-attention with one fused query/key/value projection."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False  # an encoder: SDPA without a mask must not turn causal
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states, attention_mask=None, output_attentions=False, packing=None):
        qkv = self.qkv(hidden_states) if packing is None else packing.unpack(self.qkv(hidden_states))
        batch, length, _ = qkv.shape
        qkv = qkv.view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each batch × heads × length × head_dim
        implementation = attention_implementation(self.config, output_attentions, self.training, hidden_states.device)
        attention = (
            cpu_dropout_attention_forward
            if implementation == "cpu_dropout"
            else ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        )
        dropout = self.config.attention_probs_dropout_prob if self.training else 0.0
        output, weights = run_attention(
            attention, self, query, key, value, attention_mask, dropout=dropout, scaling=self.scaling, is_causal=False
        )
        output = output.reshape(batch, length, -1)
        return self.output(output if packing is None else packing.pack(output)), weights


class PosEncFeedForward(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states):
        return self.down(self.act(self.up(hidden_states)))


class PosEncLayer(nn.Module):
    """Attention and feed-forward, each in a residual branch with layer norm before or after it."""

    def __init__(self, config):
        super().__init__()
        self.pre_norm = config.layer_norm_position == "pre"
        self.attention = PosEncAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = PosEncFeedForward(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = FastDropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None, output_attentions=False, packing=None):
        if self.pre_norm:
            attended, weights = self.attention(
                self.attention_norm(hidden_states), attention_mask, output_attentions, packing
            )
            hidden_states = hidden_states + self.dropout(attended)
            hidden_states = hidden_states + self.dropout(self.feed_forward(self.feed_forward_norm(hidden_states)))
        else:
            attended, weights = self.attention(hidden_states, attention_mask, output_attentions, packing)
            hidden_states = self.attention_norm(hidden_states + self.dropout(attended))
            hidden_states = self.feed_forward_norm(hidden_states + self.dropout(self.feed_forward(hidden_states)))
        return hidden_states, weights


# ----------------------------------------------------------------------------------------------
# Pooling: one vector per sequence.


def mean_pool(hidden_states, attention_mask):
    """Average over the tokens the attention mask keeps (all of them when there is no mask)."""
    if attention_mask is None:
        return hidden_states.mean(dim=1)
    keep = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)


def cls_pool(hidden_states, attention_mask):
    """The first token's vector ([CLS] with this package's tokenizer)."""
    return hidden_states[:, 0]


POOLERS = {"mean": mean_pool, "cls": cls_pool}


# ----------------------------------------------------------------------------------------------
# Models.


class PosEncPreTrainedModel(PreTrainedModel):
    config_class = PosEncConfig
    config: PosEncConfig
    base_model_prefix = "posenc"
    main_input_name = "input_ids"
    _supports_sdpa = True
    _no_split_modules = ["PosEncLayer"]
    # The Auto classes a saved folder names in `config.json`, so that every one of them loads it
    # with `trust_remote_code=True` (`register_for_auto_class` would name only the saved class).
    _auto_map = {
        "AutoConfig": "configuration_posenc.PosEncConfig",
        "AutoModel": "modeling_posenc.PosEncModel",
        "AutoModelForSequenceClassification": "modeling_posenc.PosEncForSequenceClassification",
        "AutoModelForMaskedLM": "modeling_posenc.PosEncForMaskedLM",
    }

    @torch.no_grad()
    def _init_weights(self, module):
        """BERT's init, plus the buffers: models are built on the meta device, so buffers are too."""
        super()._init_weights(module)
        if isinstance(module, PosEncEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[1]).unsqueeze(0))
        elif isinstance(module, SinusoidalPositionEmbedding):
            num_positions, dim = module.weight.shape
            module.weight.copy_(sinusoidal_table(num_positions, dim) * module.scale)

    def get_position_embeddings(self):
        """The position encoding module: `.weight` is the (positions × hidden) table, `None` for "none"."""
        return self.base_model.embeddings.position_embeddings

    def resize_position_embeddings(self, new_num_position_embeddings):
        """Grow or shrink the position table; a learned table is linearly interpolated to the new length."""
        if isinstance(new_num_position_embeddings, bool) or not isinstance(new_num_position_embeddings, int):
            raise ValueError(f"new_num_position_embeddings must be an integer, got {new_num_position_embeddings!r}")
        if new_num_position_embeddings <= 0:
            raise ValueError(f"new_num_position_embeddings must be positive, got {new_num_position_embeddings}")
        self.config.max_position_embeddings = new_num_position_embeddings
        self.base_model.embeddings.resize_position_embeddings(new_num_position_embeddings)

    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.auto_map = dict(self._auto_map)
        super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, *args, ignore_mismatched_sizes=False, output_loading_info=False, **kwargs):
        """`PreTrainedModel.from_pretrained`, reading weights from safetensors only (never a pickle),
        with a `ValueError` that names every tensor whose shape differs from the config's (transformers
        only logs them), unless `ignore_mismatched_sizes=True`."""
        kwargs.setdefault("use_safetensors", True)
        source = args[0] if args else kwargs.get("pretrained_model_name_or_path")
        try:
            model, info = super().from_pretrained(
                *args, ignore_mismatched_sizes=True, output_loading_info=True, **kwargs
            )
        except Exception as error:  # safetensors' error names neither the file nor what to do
            if type(error).__name__ != "SafetensorError":
                raise
            raise OSError(
                f"The weights file of {source} cannot be read ({error}): it is truncated or damaged. "
                f"Download or save the folder again."
            ) from error
        if info["mismatched_keys"] and not ignore_mismatched_sizes:
            raise ValueError(mismatched_weights_message(source, info["mismatched_keys"]))
        return (model, info) if output_loading_info else model


class PosEncModel(PosEncPreTrainedModel):
    """The bare encoder: `last_hidden_state` per token and `pooler_output` per sequence."""

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = PosEncEmbeddings(config)
        self.layers = nn.ModuleList([PosEncLayer(config) for _ in range(config.num_hidden_layers)])
        self.final_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
            if config.layer_norm_position == "pre"
            else nn.Identity()
        )
        self.pool = POOLERS[config.pooling]
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,  # accepted and ignored: pipelines and BERT-style collators pass it
        position_ids=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ):
        check_inputs(input_ids, inputs_embeds, attention_mask, self.config.vocab_size)
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        hidden_states = self.embeddings(input_ids, inputs_embeds, position_ids)
        implementation = attention_implementation(self.config, output_attentions, self.training, hidden_states.device)
        mask = padding_mask(attention_mask, hidden_states.dtype, implementation)

        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        packing = Packing(attention_mask) if mask is not None else None
        unpack = (lambda states: states) if packing is None else packing.unpack
        if packing is not None:
            hidden_states = packing.pack(hidden_states)
        for layer in self.layers:
            hidden_states, weights = layer(hidden_states, mask, output_attentions, packing)
            if output_hidden_states:
                all_hidden_states += (unpack(hidden_states),)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = unpack(self.final_norm(hidden_states))
        if output_hidden_states:
            all_hidden_states = all_hidden_states[:-1] + (hidden_states,)

        output = BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=self.pool(hidden_states, attention_mask),
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )
        return output if return_dict is not False else output.to_tuple()


def classification_loss(logits, labels, problem_type, num_items_in_batch=None):
    """BERT's loss per `problem_type`, summed and divided by `num_items_in_batch` when given.

    `Trainer` passes `num_items_in_batch` (the label count over all accumulated micro-batches and
    processes), so that gradient accumulation and DDP average over items, not over micro-batches.
    """
    reduction = "mean" if num_items_in_batch is None else "sum"
    if problem_type == "regression":
        if logits.shape[-1] == 1:
            logits, labels = logits.squeeze(-1), labels.view(-1)
        loss = F.mse_loss(logits, labels.to(logits.dtype), reduction=reduction)
    elif problem_type == "single_label_classification":
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), reduction=reduction)
    else:
        loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction=reduction)
    if num_items_in_batch is not None:
        loss = loss / num_items_in_batch
    return loss


def infer_problem_type(num_labels, labels):
    """BERT's rule: one output is regression, integer labels are single-label, floats multi-label."""
    if num_labels == 1:
        return "regression"
    if labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


class PosEncForSequenceClassification(PosEncPreTrainedModel):
    """The encoder with a linear classification head on the pooled vector."""

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.posenc = PosEncModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = FastDropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        num_items_in_batch=None,
        **kwargs,
    ):
        outputs = self.posenc(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))

        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            if self.config.problem_type is None:
                self.config.problem_type = infer_problem_type(self.num_labels, labels)
            loss = classification_loss(logits, labels, self.config.problem_type, num_items_in_batch)

        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return output if return_dict is not False else output.to_tuple()


# ----------------------------------------------------------------------------------------------
# Masked-language-model pretraining (BERT): predict the masked tokens from the rest of the text.


class PosEncLMHead(nn.Module):
    """BERT's head: dense, activation and layer norm, then a decoder whose weight is the token embedding."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)  # weight tied, bias its own

    def forward(self, hidden_states):
        return self.decoder(self.LayerNorm(self.act(self.dense(hidden_states))))


class PosEncForMaskedLM(PosEncPreTrainedModel):
    """The encoder with BERT's masked-LM head, for pretraining on unlabelled text.

    `labels` hold the original token id at masked positions and -100 elsewhere (what
    `DataCollatorForLanguageModeling` makes); the loss is the cross-entropy over the masked positions.
    With `sparse_prediction = True` (a model attribute, as in ModernBERT) and labels given, the head
    runs only on the masked positions and `logits` is (masked tokens × vocab): the same loss, and
    with a vocabulary much wider than the model the decoder is most of the cost. Its folder
    fine-tunes as a classifier: `PosEncForSequenceClassification.from_pretrained(folder, num_labels=...)`.
    """

    _tied_weights_keys = {"lm_head.decoder.weight": "posenc.embeddings.word_embeddings.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.posenc = PosEncModel(config)
        self.lm_head = PosEncLMHead(config)
        self.sparse_prediction = False
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.lm_head.decoder = new_embeddings

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        num_items_in_batch=None,
        **kwargs,
    ):
        outputs = self.posenc(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state
        if labels is not None:
            labels = labels.to(hidden_states.device)
            if self.sparse_prediction:
                masked = labels != -100
                hidden_states, labels = hidden_states[masked], labels[masked]
        logits = self.lm_head(hidden_states)

        loss = None
        if labels is not None:
            loss = classification_loss(logits, labels, "single_label_classification", num_items_in_batch)

        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return output if return_dict is not False else output.to_tuple()


PosEncConfig.register_for_auto_class()
PosEncModel.register_for_auto_class("AutoModel")
PosEncForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
PosEncForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")

__all__ = ["PosEncModel", "PosEncForSequenceClassification", "PosEncForMaskedLM", "PosEncPreTrainedModel"]
