"""PosEnc model configuration.

This file travels to the Hub as remote code: it imports nothing but `transformers` and its siblings
(`positions_posenc.py` holds the position encodings, whose registry names the choices).
"""

from transformers import PreTrainedConfig
from transformers.activations import ACT2FN
from transformers.configuration_utils import strict  # huggingface_hub's, as BertConfig uses it

from .positions_posenc import POSITION_EMBEDDINGS

POSITION_EMBEDDING_TYPES = tuple(POSITION_EMBEDDINGS)  # the registry's keys: "learned", "sinusoidal", "none", ...
EVAL_POSITIONS = ("ordered", "sampled")  # how a model trained with randomized positions reads a text at evaluation
POOLING_TYPES = ("mean", "cls")
LAYER_NORM_POSITIONS = ("post", "pre")
MULTI_LABEL = "multi_label_classification"  # the problem_type of a multi-label classifier: a sigmoid per label
PROBLEM_TYPES = (None, "regression", "single_label_classification", MULTI_LABEL)

_POSITIVE_INTS = (
    "vocab_size",
    "hidden_size",
    "num_attention_heads",
    "num_hidden_layers",
    "intermediate_size",
    "max_position_embeddings",
    "relative_attention_num_buckets",
    "relative_attention_max_distance",
    "fire_mlp_width",
)
_PROBABILITIES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout")
_POSITIVE_NUMBERS = ("layer_norm_eps", "initializer_range")
_CHOICES = {
    "position_embedding_type": POSITION_EMBEDDING_TYPES,
    "pooling": POOLING_TYPES,
    "layer_norm_position": LAYER_NORM_POSITIONS,
    "randomized_eval_positions": EVAL_POSITIONS,
}


@strict
class PosEncConfig(PreTrainedConfig):
    r"""
    Configuration of a small self-attention encoder that learns its position embeddings.

    Field names follow `BertConfig`, so a BERT user needs no new habit. The fields that are new:

    - `position_embedding_type`: how the encoder knows where each token is.
      - Added to the token embeddings, capped at `max_position_embeddings`: `"learned"` (an absolute
        table trained with the model, the default) or `"sinusoidal"` (the fixed table of Vaswani et al.).
      - Inside attention, at any length: `"rotary"` (RoPE on queries and keys; `rope_parameters`, as in
        transformers, e.g. `rope_theta=10000.0`), `"alibi"` (fixed symmetric linear biases), `"t5"` (T5's
        learned bucketed bias; `relative_attention_num_buckets`, `relative_attention_max_distance`),
        `"fire"` (a learned MLP of the log-scaled distance; `fire_mlp_width`), `"kerple"` (a learned
        logarithmic kernel).
      - `"none"`: no position information: the encoder is then blind to word order (for ablations).
    - `randomize_positions`: in training, read each text of n tokens at n sorted positions drawn from
      [0, max_position_embeddings) (Ruoss et al. 2023). `randomized_eval_positions` says how such a model
      reads a text at evaluation: at `"ordered"` positions 0..n-1, or at `"sampled"` ones drawn the same way
      from a generator seeded by the text (so one text always gets one prediction).
    - `layer_norm_position`: `"post"` (BERT: norm after each residual sum) or `"pre"` (GPT-2: norm
      before each sub-layer, plus a final norm).
    - `pooling`: `"mean"` (average over non-padding tokens) or `"cls"` (the first token).

    The defaults are those of `train/run.py` (a run's YAML sets these same fields): hidden size 64,
    8 heads, 2 layers, a feed-forward 4 × the hidden size, and no attention dropout, which costs
    the most CPU time of anything in training for no measured gain on the built-in corpora.

    Validation is transformers' own (`@strict`): a value of the wrong type, or one that cannot build a
    model, raises an error naming the field and the value.

    Example:

    ```python
    >>> from posenc_hf import PosEncConfig, PosEncForSequenceClassification
    >>> config = PosEncConfig(hidden_size=64, num_attention_heads=8, num_hidden_layers=2, num_labels=4)
    >>> model = PosEncForSequenceClassification(config)
    ```
    """

    model_type = "posenc"

    vocab_size: int = 8000
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 8
    intermediate_size: int | None = None  # None: 4 × hidden_size (BERT's ratio)
    hidden_act: str = "gelu"
    max_position_embeddings: int = 128
    position_embedding_type: str = "learned"
    layer_norm_position: str = "post"
    pooling: str = "mean"
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.0
    classifier_dropout: float | int | None = None
    layer_norm_eps: float | int = 1e-12
    initializer_range: float | int = 0.02
    pad_token_id: int | None = 0
    tie_word_embeddings: bool = True  # the masked-LM decoder shares the token embedding (BERT)
    rope_parameters: dict | None = None  # rotary; transformers' own field, {"rope_type": "default", "rope_theta": 1e4}
    relative_attention_num_buckets: int = 32  # t5 (T5's names and defaults)
    relative_attention_max_distance: int = 128  # t5
    fire_mlp_width: int = 32  # fire (the paper's width)
    randomize_positions: bool = False
    randomized_eval_positions: str = "ordered"

    def __post_init__(self, **kwargs):
        source_model_type = kwargs.get("model_type")
        if source_model_type is not None and source_model_type != self.model_type:
            raise ValueError(
                f"This config is for model_type={source_model_type!r}, not {self.model_type!r}: it does not "
                f"describe a PosEnc model (load it with AutoConfig / the matching Auto class instead)."
            )
        num_labels = kwargs.get("num_labels")
        if num_labels is not None and (
            isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1
        ):
            raise ValueError(f"num_labels must be a positive integer, got {num_labels!r}")
        _check_id2label(self.id2label)
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Part of `@strict` validation: raise naming the first field whose value cannot build a model."""
        for name in _POSITIVE_INTS:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in _PROBABILITIES:
            if getattr(self, name) is not None and not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {getattr(self, name)!r}")
        for name in _POSITIVE_NUMBERS:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.position_embedding_type == "rotary" and self.hidden_size // self.num_attention_heads % 2:
            raise ValueError(
                f"rotary rotates pairs of dimensions, so its head size must be even, got hidden_size / "
                f"num_attention_heads = {self.hidden_size} / {self.num_attention_heads} = "
                f"{self.hidden_size // self.num_attention_heads}"
            )
        if self.relative_attention_max_distance <= self.relative_attention_num_buckets // 4:
            raise ValueError(
                f"relative_attention_max_distance ({self.relative_attention_max_distance}) must exceed a quarter of "
                f"relative_attention_num_buckets ({self.relative_attention_num_buckets}), where T5's exact buckets end"
            )
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id must lie in [0, vocab_size={self.vocab_size}), got {self.pad_token_id!r}")
        if isinstance(self.hidden_act, str) and self.hidden_act not in ACT2FN:
            raise ValueError(
                f"hidden_act must be one of transformers' activations, e.g. 'gelu', got {self.hidden_act!r}"
            )

    def validate_labels(self):
        """Part of `@strict` validation: the problem type and the two label maps agree."""
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}")
        if self.id2label is not None and sorted(self.id2label) != list(range(len(self.id2label))):
            raise ValueError(
                f"id2label must number its labels 0, 1, 2, ... without gaps, got ids {sorted(self.id2label)}"
            )
        if self.id2label is not None and self.label2id is not None:
            if sorted(int(i) for i in self.label2id.values()) != sorted(int(i) for i in self.id2label):
                raise ValueError(f"label2id {self.label2id} does not match id2label {self.id2label}")


def _check_id2label(id2label):
    """Before transformers turns the keys into integers: a dict keyed by label ids."""
    if id2label is None:
        return
    if not isinstance(id2label, dict):
        raise ValueError(f"id2label must be a dict of label id -> name, got {type(id2label).__name__} {id2label!r}")
    if not id2label:
        raise ValueError("id2label is empty: a classifier needs at least one label")
    for key in id2label:
        if isinstance(key, bool) or not isinstance(key, (int, str)) or not str(key).isdigit():
            raise ValueError(f"id2label keys must be label ids 0, 1, 2, ..., got {key!r}")


__all__ = ["PosEncConfig"]
