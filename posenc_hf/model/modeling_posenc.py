"""PosEnc: a small self-attention encoder that learns its position embeddings.

Read top to bottom: embeddings, attention, layer, base model, heads. The model follows BERT in
transformers v5 (attention functions, output capture, gradient checkpointing, loss functions). Its
position encodings live in `positions_posenc.py` (tables added to the token embeddings) and
`attention_positions_posenc.py` (rotary and attention biases), the positions it reads tokens at in
`random_positions_posenc.py`, its input checks in `checks_posenc.py`, its eager-mode CPU speed-ups in
`fast_paths_posenc.py`, pooling, the classification loss and the masked-LM head in `heads_posenc.py`:
these files and `configuration_posenc.py` travel to the Hub together as remote code. The heads' forwards
have the same signature and call the encoder alike, as BERT's do (transformers inspects each signature).
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling, MaskedLMOutput, SequenceClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple, merge_with_config_defaults
from transformers.utils.import_utils import is_tracing
from transformers.utils.output_capturing import capture_outputs

from .attention_positions_posenc import (
    AlibiPositionBias,
    FirePositionBias,
    KerplePositionBias,
    alibi_slopes,
    apply_rotary_pos_emb,
)
from .checks_posenc import check_inputs, check_sequence_length, checked_from_pretrained
from .configuration_posenc import PosEncConfig
from .fast_paths_posenc import FastDropout, fast_attention, packing_for
from .heads_posenc import POOLERS, PosEncLMHead, sequence_classification_loss
from .positions_posenc import POSITION_EMBEDDINGS, SinusoidalPositionEmbedding, resize_position_table, sinusoidal_table
from .random_positions_posenc import position_ids_for

# ----------------------------------------------------------------------------------------------
# Embeddings, attention, feed-forward and one encoder layer.


class PosEncEmbeddings(nn.Module):
    """Token embedding + an absolute position table (when the scheme has one), then layer norm and dropout."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = POSITION_EMBEDDINGS[config.position_embedding_type](config)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = FastDropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, inputs_embeds=None, position_ids=None):
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        embeddings = self.position_embeddings(embeddings, position_ids)
        return self.dropout(self.LayerNorm(embeddings))

    def position_ids_for(self, input_ids, inputs_embeds, attention_mask, position_ids=None):
        """The positions to read the tokens at (`random_positions_posenc.position_ids_for`), or the given
        ones; a scheme with a table refuses positions past its end, naming both lengths."""
        tokens = input_ids if input_ids is not None else inputs_embeds
        table = self.position_embeddings.has_table
        if table:
            check_sequence_length(tokens.shape[1], self.config.max_position_embeddings)
        if position_ids is None:
            return position_ids_for(self.config, tokens, input_ids, attention_mask, self.training)
        if table and not is_tracing(position_ids):
            check_sequence_length(int(position_ids.max()) + 1, self.config.max_position_embeddings)
        return position_ids


def eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Plain softmax attention, plus the scheme's `position_bias` when it has one (as SDPA adds it);
    returns (output of shape batch × length × heads × head_dim, weights)."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if kwargs.get("position_bias") is not None:
        weights = weights + kwargs["position_bias"]
    if attention_mask is not None and attention_mask.dtype == torch.bool:  # SDPA's mask: weights asked for per call
        weights = weights.masked_fill(~attention_mask, torch.finfo(weights.dtype).min)
    elif attention_mask is not None:
        weights = weights + attention_mask
    weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = F.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class PosEncSelfAttention(nn.Module):
    """Multi-head self-attention with one fused query/key/value projection."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False  # an encoder: SDPA without a mask must not turn causal
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states, attention_mask=None, position_embeddings=None, **kwargs):
        input_shape = hidden_states.shape[:-1]
        qkv = self.qkv(hidden_states).view(*input_shape, 3, -1, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each batch × heads × length × head_dim
        if position_embeddings is not None:  # rotary: (cos, sin) for these tokens
            cos, sin = (part.to(query.dtype) for part in position_embeddings)
            query, key = apply_rotary_pos_emb(query, key, cos, sin)
        if kwargs.get("position_bias") is not None:
            kwargs["position_bias"] = kwargs["position_bias"].to(query.dtype)

        # The attention weights need eager attention; every other call takes the configured one (SDPA by default).
        implementation = "eager" if kwargs.get("output_attentions") else self.config._attn_implementation
        attention = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        attention = fast_attention(attention, self, query, kwargs)  # eager-mode CPU speed-ups; itself when compiled
        dropout = self.config.attention_probs_dropout_prob if self.training else 0.0
        output, weights = attention(
            self, query, key, value, attention_mask, dropout=dropout, scaling=self.scaling, **kwargs
        )
        return self.output(output.reshape(*input_shape, -1)), weights


class PosEncFeedForward(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states):
        return self.down(self.act(self.up(hidden_states)))


class PosEncLayer(GradientCheckpointingLayer):
    """Attention and feed-forward, each in a residual branch with layer norm before or after it."""

    def __init__(self, config):
        super().__init__()
        self.pre_norm = config.layer_norm_position == "pre"
        self.attention = PosEncSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = PosEncFeedForward(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = FastDropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None, position_bias=None, **kwargs):
        """`position_bias` comes positionally, so that activation checkpointing with `use_reentrant=True`
        differentiates it as an input: as a keyword argument, every layer's recomputation would backpropagate
        into the one graph that built it (a learned bias: t5, fire, kerple), which fails from the second layer."""
        kwargs["position_bias"] = position_bias
        if self.pre_norm:
            attended, _ = self.attention(self.attention_norm(hidden_states), attention_mask, **kwargs)
            hidden_states = hidden_states + self.dropout(attended)
            return hidden_states + self.dropout(self.feed_forward(self.feed_forward_norm(hidden_states)))
        attended, _ = self.attention(hidden_states, attention_mask, **kwargs)
        hidden_states = self.attention_norm(hidden_states + self.dropout(attended))
        return self.feed_forward_norm(hidden_states + self.dropout(self.feed_forward(hidden_states)))


# ----------------------------------------------------------------------------------------------
# Models.


class PosEncPreTrainedModel(PreTrainedModel):
    config: PosEncConfig
    config_class = PosEncConfig
    base_model_prefix = "posenc"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _no_split_modules = ["PosEncEmbeddings", "PosEncLayer"]
    _can_record_outputs = {"hidden_states": PosEncLayer, "attentions": PosEncSelfAttention}
    # Every Auto class a saved folder names in `config.json`, so that each loads it with
    # `trust_remote_code=True` (`register_for_auto_class` would name only the saved class).
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
        if isinstance(module, SinusoidalPositionEmbedding):
            num_positions, dim = module.weight.shape
            module.weight.copy_(sinusoidal_table(num_positions, dim) * module.scale)
        elif isinstance(module, AlibiPositionBias):
            module.slopes.copy_(alibi_slopes(module.slopes.shape[0]))
        elif isinstance(module, FirePositionBias):
            init.constant_(module.c, 0.1)
            init.constant_(module.threshold_scale, 1.0)
        elif isinstance(module, KerplePositionBias):  # the paper's code: r1 ~ U(0, 2), r2 ~ U(0, 1)
            init.uniform_(module.bias_scale, 0.0, 2.0)
            init.uniform_(module.distance_scale, 0.0, 1.0)

    def get_position_embeddings(self):
        """The position encoding module: `.weight` is the (positions × hidden) table, `None` for a scheme
        without one ("none", and those acting in attention: rotary, alibi, t5, fire, kerple)."""
        return self.base_model.embeddings.position_embeddings

    def resize_position_embeddings(self, new_num_position_embeddings, interpolate=False):
        """Grow or shrink the position table. A learned table keeps its first rows (new rows are freshly
        initialised), or with `interpolate=True` is linearly resampled to the new length. A scheme without
        a table keeps what it learned and only records the new `max_position_embeddings`."""
        resize_position_table(self, new_num_position_embeddings, interpolate)

    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.auto_map = dict(self._auto_map)
        super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """`PreTrainedModel.from_pretrained` with the checks of `checks_posenc.checked_from_pretrained`:
        safetensors only (never a pickle), errors naming a damaged file or each tensor of another shape."""
        return checked_from_pretrained(super().from_pretrained, *args, **kwargs)


class PosEncModel(PosEncPreTrainedModel):
    """The bare encoder: `last_hidden_state` per token (zeros at padding) and `pooler_output` per sequence."""

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = PosEncEmbeddings(config)
        self.layers = nn.ModuleList([PosEncLayer(config) for _ in range(config.num_hidden_layers)])
        pre_norm = config.layer_norm_position == "pre"
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if pre_norm else nn.Identity()
        self.pool = POOLERS[config.pooling]
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,  # accepted and ignored: pipelines and BERT-style collators pass it
        position_ids=None,
        inputs_embeds=None,
        **kwargs: Unpack[TransformersKwargs],
    ):
        check_inputs(input_ids, inputs_embeds, attention_mask, self.config.vocab_size)
        kwargs.pop("num_items_in_batch", None)
        position_ids = self.embeddings.position_ids_for(input_ids, inputs_embeds, attention_mask, position_ids)
        hidden_states = self.embeddings(input_ids, inputs_embeds, position_ids)
        positions = self.embeddings.position_embeddings.attention_inputs(position_ids, attention_mask)
        if "position_bias" in positions:  # one bias for every row and layer (a view when shared by the rows)
            positions["position_bias"] = positions["position_bias"].expand(hidden_states.shape[0], -1, -1, -1)
        kwargs.update(positions)

        packing = packing_for(self.config, attention_mask, hidden_states, kwargs)  # eager mode: skip the padding
        if packing is not None:  # attention then re-pads with the batch's own key mask
            hidden_states, kwargs["packing"], mask = packing.pack(hidden_states), packing, None
            packing.pack_rotary(kwargs)
            packing.mask_bias(kwargs)
        else:
            mask = create_bidirectional_mask(self.config, hidden_states, attention_mask)
        position_bias = kwargs.pop("position_bias", None)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask, position_bias, **kwargs)
        hidden_states = self.final_norm(hidden_states)
        if packing is not None:
            hidden_states = packing.unpack(hidden_states)
        elif attention_mask is not None and attention_mask.dim() == 2:
            hidden_states = hidden_states * attention_mask.unsqueeze(-1).to(hidden_states.dtype)

        return BaseModelOutputWithPooling(
            last_hidden_state=hidden_states, pooler_output=self.pool(hidden_states, attention_mask)
        )


class PosEncForSequenceClassification(PosEncPreTrainedModel):
    """The encoder with a linear classification head on the pooled vector."""

    _loss_function = staticmethod(sequence_classification_loss)  # `model.loss_function = ...` replaces it

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.posenc = PosEncModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = FastDropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        **kwargs: Unpack[TransformersKwargs],
    ):
        outputs = self.posenc(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = None if labels is None else self.loss_function(labels, logits, self.config, **kwargs)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# ----------------------------------------------------------------------------------------------
# Masked-language-model pretraining (BERT): predict the masked tokens from the rest of the text.


class PosEncForMaskedLM(PosEncPreTrainedModel):
    """The encoder with BERT's masked-LM head, for pretraining on unlabelled text (labels: -100 but at
    masked tokens). With `sparse_prediction = True` (as in ModernBERT; eager training only) the head runs
    on the masked tokens only: the same loss, cheaper when the vocabulary is much wider than the model."""

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

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        **kwargs: Unpack[TransformersKwargs],
    ):
        outputs = self.posenc(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        if labels is not None and self.sparse_prediction:
            masked = labels.to(hidden_states.device) != -100
            hidden_states, labels = hidden_states[masked], labels[masked]
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


PosEncConfig.register_for_auto_class()
PosEncModel.register_for_auto_class("AutoModel")
PosEncForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
PosEncForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")

__all__ = ["PosEncModel", "PosEncForSequenceClassification", "PosEncForMaskedLM", "PosEncPreTrainedModel"]
