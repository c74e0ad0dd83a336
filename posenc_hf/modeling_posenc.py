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
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput
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
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
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
    weights = F.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def attention_implementation(config, output_attentions):
    """The configured attention ("sdpa" by default), or eager when the weights are asked for."""
    return "eager" if output_attentions else config._attn_implementation


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

    def forward(self, hidden_states, attention_mask=None, output_attentions=False):
        batch, length, _ = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each batch × heads × length × head_dim
        attention = ALL_ATTENTION_FUNCTIONS.get_interface(
            attention_implementation(self.config, output_attentions), eager_attention_forward
        )
        dropout = self.config.attention_probs_dropout_prob if self.training else 0.0
        output, weights = attention(
            self, query, key, value, attention_mask, dropout=dropout, scaling=self.scaling, is_causal=False
        )
        return self.output(output.reshape(batch, length, -1)), weights


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
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None, output_attentions=False):
        if self.pre_norm:
            attended, weights = self.attention(self.attention_norm(hidden_states), attention_mask, output_attentions)
            hidden_states = hidden_states + self.dropout(attended)
            hidden_states = hidden_states + self.dropout(self.feed_forward(self.feed_forward_norm(hidden_states)))
        else:
            attended, weights = self.attention(hidden_states, attention_mask, output_attentions)
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
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds")
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        hidden_states = self.embeddings(input_ids, inputs_embeds, position_ids)
        implementation = attention_implementation(self.config, output_attentions)
        mask = padding_mask(attention_mask, hidden_states.dtype, implementation)

        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            hidden_states, weights = layer(hidden_states, mask, output_attentions)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.final_norm(hidden_states)
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
        self.dropout = nn.Dropout(dropout)
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


PosEncConfig.register_for_auto_class()
PosEncModel.register_for_auto_class("AutoModel")
PosEncForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = ["PosEncModel", "PosEncForSequenceClassification", "PosEncPreTrainedModel"]
