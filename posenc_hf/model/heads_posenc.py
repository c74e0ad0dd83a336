"""The pieces of PosEnc's heads: pooling (one vector per sequence), the sequence-classification loss
per `problem_type` (BERT's) and BERT's masked-LM head. `modeling_posenc.py` puts them on the encoder;
this file travels to the Hub with it as remote code.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN

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


def sequence_classification_loss(labels, pooled_logits, config, num_items_in_batch=None, **kwargs):
    """BERT's loss per `problem_type` (inferred as BERT does), summed and divided by `num_items_in_batch`
    when given, for every problem type: `Trainer` passes the label count over all accumulated
    micro-batches and processes, so that accumulation and DDP average over items, not micro-batches."""
    if config.problem_type is None:
        integer = labels.dtype in (torch.long, torch.int)
        multi = "multi_label_classification"
        config.problem_type = (
            "regression" if config.num_labels == 1 else "single_label_classification" if integer else multi
        )
    reduction = "mean" if num_items_in_batch is None else "sum"
    labels = labels.to(pooled_logits.device)
    if config.problem_type == "regression":
        logits = pooled_logits.squeeze(-1) if config.num_labels == 1 else pooled_logits
        loss = F.mse_loss(logits, labels.view(logits.shape).to(logits.dtype), reduction=reduction)
    elif config.problem_type == "single_label_classification":
        loss = F.cross_entropy(pooled_logits.view(-1, config.num_labels), labels.view(-1), reduction=reduction)
    else:
        loss = F.binary_cross_entropy_with_logits(pooled_logits, labels.to(pooled_logits.dtype), reduction=reduction)
    return loss if num_items_in_batch is None else loss / num_items_in_batch


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
