"""PosEnc model configuration.

This file travels to the Hub as remote code: it imports nothing but `transformers`.
"""

from transformers import PreTrainedConfig

POSITION_EMBEDDING_TYPES = ("learned", "sinusoidal", "none")
POOLING_TYPES = ("mean", "cls")
LAYER_NORM_POSITIONS = ("post", "pre")

_POSITIVE_INTS = (
    "vocab_size",
    "hidden_size",
    "num_attention_heads",
    "num_hidden_layers",
    "intermediate_size",
    "max_position_embeddings",
)
_PROBABILITIES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout")
_CHOICES = {
    "position_embedding_type": POSITION_EMBEDDING_TYPES,
    "pooling": POOLING_TYPES,
    "layer_norm_position": LAYER_NORM_POSITIONS,
}


class PosEncConfig(PreTrainedConfig):
    r"""
    Configuration of a small self-attention encoder that learns its position embeddings.

    Field names follow `BertConfig`, so a BERT user needs no new habit. The fields that are new:

    - `position_embedding_type`: `"learned"` (an absolute table trained with the model, the default),
      `"sinusoidal"` (the fixed table of Vaswani et al., not a parameter) or `"none"` (no position
      information at all: the encoder is then blind to word order; for ablations).
    - `layer_norm_position`: `"post"` (BERT: norm after each residual sum) or `"pre"` (GPT-2: norm
      before each sub-layer, plus a final norm).
    - `pooling`: `"mean"` (average over non-padding tokens) or `"cls"` (the first token).

    Invalid values raise `ValueError` naming the field and the value.

    Example:

    ```python
    >>> from posenc_hf import PosEncConfig, PosEncForSequenceClassification
    >>> config = PosEncConfig(hidden_size=64, num_attention_heads=8, num_hidden_layers=2, num_labels=4)
    >>> model = PosEncForSequenceClassification(config)
    ```
    """

    model_type = "posenc"

    vocab_size: int = 8000
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 8
    intermediate_size: int = 512
    hidden_act: str = "gelu"
    max_position_embeddings: int = 128
    position_embedding_type: str = "learned"
    layer_norm_position: str = "post"
    pooling: str = "mean"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    classifier_dropout: float | None = None
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate_architecture()

    def validate_architecture(self):
        """Raise `ValueError` naming the first field whose value cannot build a model."""
        for name in _POSITIVE_INTS:
            _check_positive_int(name, getattr(self, name))
        for name in _PROBABILITIES:
            _check_probability(name, getattr(self, name))
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if not isinstance(self.layer_norm_eps, (int, float)) or self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be a positive number, got {self.layer_norm_eps!r}")
        if not isinstance(self.initializer_range, (int, float)) or self.initializer_range <= 0:
            raise ValueError(f"initializer_range must be a positive number, got {self.initializer_range!r}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id must lie in [0, vocab_size={self.vocab_size}), got {self.pad_token_id!r}")
        if self.id2label is not None and self.label2id is not None:
            if sorted(self.label2id.values()) != sorted(int(i) for i in self.id2label):
                raise ValueError(f"label2id {self.label2id} does not match id2label {self.id2label}")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_probability(name, value):
    if value is None and name == "classifier_dropout":
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


__all__ = ["PosEncConfig"]
