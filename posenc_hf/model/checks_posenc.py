"""Checks that turn bad input into an error naming the problem, for PosEnc models.

Without them a token id outside the vocabulary, an over-long input or weights of another shape fail
deep inside with an index error (on a GPU, a device-side assert). This file travels to the Hub with
the model code; it imports nothing but `torch` and `transformers`.
"""

import torch
from transformers.utils.import_utils import is_tracing


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
    error (or, on a GPU, a device-side assert). The token-id range is checked in eager mode only."""
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
    if attention_mask is not None and attention_mask.dim() == 2 and attention_mask.shape != tensor.shape[:2]:
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)}, but {name} is {tuple(tensor.shape[:2])}"
        )
    if input_ids is None or is_tracing(input_ids):
        return
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}): each text needs at least one token")
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
    low, high = (int(x) for x in torch.aminmax(input_ids))
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"input_ids hold token id {low if low < 0 else high}, outside the vocabulary [0, {vocab_size}): "
            f"the tokenizer does not belong to this model"
        )


class MismatchedWeightsError(ValueError, RuntimeError):
    """Weights whose shapes differ from the model the config describes (transformers raises `RuntimeError`).
    `head_only`: every such tensor is in the task head, as when the labels were changed on purpose."""

    def __init__(self, source, mismatched, head_only=False):
        lines = [
            f"  {key}: {tuple(saved)} in the weights file, {tuple(expected)} in the model the config describes"
            for key, saved, expected in sorted(mismatched)
        ]
        if head_only:
            advice = (
                "For a new head (another num_labels), pass ignore_mismatched_sizes=True: the encoder loads and the "
                "head starts afresh. If you changed nothing, the folder's weights and config.json disagree: save "
                "or download it again."
            )
        else:
            advice = "Save or download the folder again, or pass ignore_mismatched_sizes=True to re-initialise them."
        super().__init__(
            f"The weights in {source} do not match the config ({len(lines)} tensors differ in shape):\n"
            + "\n".join(lines + [advice])
        )


def checked_from_pretrained(load, *args, ignore_mismatched_sizes=False, output_loading_info=False, **kwargs):
    """`load(*args, **kwargs)` (a `from_pretrained`), reading weights from safetensors only, with an `OSError`
    naming a damaged weights file and a `MismatchedWeightsError` naming each tensor whose shape differs
    from the config's (transformers' own error points at a log above it)."""
    kwargs.setdefault("use_safetensors", True)
    source = args[0] if args else kwargs.get("pretrained_model_name_or_path")
    try:
        model, info = load(*args, ignore_mismatched_sizes=True, output_loading_info=True, **kwargs)
    except Exception as error:  # safetensors' error names neither the file nor what to do
        if type(error).__name__ != "SafetensorError":
            raise
        raise OSError(f"The weights file of {source} cannot be read ({error}): it is truncated or damaged.") from error
    if info["mismatched_keys"] and not ignore_mismatched_sizes:
        encoder_keys = [key for key, _, _ in info["mismatched_keys"] if key.startswith(f"{model.base_model_prefix}.")]
        head_only = model is not model.base_model and not encoder_keys  # a base model has no head
        raise MismatchedWeightsError(source, info["mismatched_keys"], head_only)
    return (model, info) if output_loading_info else model
