"""One point of the length study: a task, a position scheme (ours, or x-transformers' as the outside
reference), plain or randomized positions, a seed; trained with `Trainer` on lengths 1..N and scored at
every length 1..M.

The data path is the package's: texts of words, a WordPiece tokenizer trained on the train texts
(`train_tokenizer`, `model_max_length` room for the longest test text), token ids (`tasks.tokenize`),
`DataCollatorWithPadding`, `PosEncForSequenceClassification` and `Trainer`. The train split is a fresh
sample for every step (steps × batch texts, the paper's setting: no text is seen twice).
"""

import tempfile
import time
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import set_seed
from transformers.modeling_outputs import SequenceClassifierOutput

from bench.models import X_TRANSFORMERS_SCHEMES  # our scheme -> x-transformers' Encoder option for it
from posenc_hf import PosEncForSequenceClassification
from posenc_hf.data.tokenization import train_tokenizer
from posenc_hf.training.arguments import ModelArguments
from posenc_hf.training.plan import plan_model
from posenc_hf.training.prepare import build_config
from posenc_hf.training.tasks import tokenize

from ..lean import lean_arguments, lean_trainer
from .tasks import TASKS, make_split

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
VOCAB_SIZE = 256  # room for every task's words whole, beside the alphabet (the order task has 28 words)


@dataclass(frozen=True)
class Point:
    task: str
    scheme: str
    randomized: bool
    seed: int
    implementation: str = "posenc"  # or "x_transformers"


RECIPES = {  # PosEncConfig's defaults moved towards x-transformers' Encoder's, one difference at a time
    "defaults": {},
    "no dropout": {"hidden_dropout_prob": 0.0},
    "pre-norm": {"layer_norm_position": "pre"},
    "pre-norm, no dropout": {"layer_norm_position": "pre", "hidden_dropout_prob": 0.0},
}


@dataclass(frozen=True)
class RecipePoint:
    """A point of ours (plain positions) trained with one of RECIPES' config changes."""

    task: str
    scheme: str
    recipe: str
    seed: int


@dataclass(frozen=True)
class Plan:
    """Sizes and budget of the study (the issue's setting: hidden 64, 4 heads, 3 layers, batch 64, lr 1e-3,
    train lengths 1-40, test 41-100)."""

    train_max_length: int = 40
    test_max_length: int = 100
    steps: int = 2500
    batch_size: int = 64
    learning_rate: float = 1e-3
    hidden_size: int = 64
    num_attention_heads: int = 4
    num_hidden_layers: int = 3
    max_position_embeddings: int = 128  # room for the longest test text and the randomized draws
    test_rows_per_length: int = 10

    @property
    def train_lengths(self):
        return range(1, self.train_max_length + 1)

    @property
    def test_lengths(self):
        return range(1, self.test_max_length + 1)


@cache
def prepare_data(task_name, seed, plan):
    """Tokenizer, tokenized train split (steps × batch texts) and test split (every length 1..M)."""
    task = TASKS[task_name]
    train = make_split(task, plan.train_lengths, plan.steps * plan.batch_size, seed)
    rows = plan.test_rows_per_length * len(plan.test_lengths)
    test = make_split(task, plan.test_lengths, rows, 10_000 + seed)
    tokenizer = train_tokenizer(
        train["text"][:10_000], vocab_size=VOCAB_SIZE, model_max_length=plan.max_position_embeddings
    )
    tokenized = {name: tokenize(split, tokenizer) for name, split in (("train", train), ("test", test))}
    check_one_token_per_word(task_name, tokenized["test"])
    return tokenizer, tokenized


def check_one_token_per_word(task_name, tokenized):
    """A text of n symbols must be n + 2 tokens, so that "length" counts positions and none is cut off."""
    for ids, length in zip(tokenized["input_ids"], tokenized["length"], strict=True):
        if len(ids) != length + SPECIAL_TOKENS:
            raise ValueError(
                f"{task_name}: a text of {length} symbols is {len(ids)} tokens, not {length + SPECIAL_TOKENS}: "
                f"the tokenizer splits its words (raise VOCAB_SIZE={VOCAB_SIZE}) or cuts the text "
                f"(raise max_position_embeddings)"
            )


def posenc_model(point, plan, tokenizer, config_fields=None):
    """Ours at the plan's size, its config built as a run builds it (`posenc_hf.training.prepare.build_config`:
    the tokenizer's vocabulary and padding id, its length checked against the table)."""
    model_args = ModelArguments(
        hidden_size=plan.hidden_size,
        num_attention_heads=plan.num_attention_heads,
        num_hidden_layers=plan.num_hidden_layers,
        max_position_embeddings=plan.max_position_embeddings,
        position_embedding_type=point.scheme,
        randomize_positions=point.randomized,
        **(config_fields or {}),
    )
    label_names = [f"LABEL_{i}" for i in range(TASKS[point.task].num_labels)]
    return PosEncForSequenceClassification(build_config(plan_model(model_args), tokenizer, label_names))


class XTransformersClassifier(nn.Module):
    """x-transformers' `TransformerWrapper(Encoder(...))` with mean pooling, called as a transformers
    classifier is (`input_ids`, `attention_mask`, `labels` -> `.loss`, `.logits`): its defaults otherwise
    (pre-norm, no dropout), the size and the classes of the point."""

    def __init__(self, point, plan, vocab_size):
        super().__init__()
        from x_transformers import Encoder, TransformerWrapper

        encoder = Encoder(
            dim=plan.hidden_size,
            depth=plan.num_hidden_layers,
            heads=plan.num_attention_heads,
            **X_TRANSFORMERS_SCHEMES[point.scheme],
        )
        self.model = TransformerWrapper(
            num_tokens=vocab_size,
            max_seq_len=plan.max_position_embeddings,
            attn_layers=encoder,
            use_abs_pos_emb=point.scheme == "learned",
            logits_dim=TASKS[point.task].num_labels,
            average_pool_embed=True,
        )

    def forward(self, input_ids, attention_mask=None, labels=None, **kwargs):
        logits = self.model(input_ids, mask=None if attention_mask is None else attention_mask.bool())
        return SequenceClassifierOutput(loss=None if labels is None else F.cross_entropy(logits, labels), logits=logits)


def build_model(point, plan, tokenizer, config_fields=None):
    if point.implementation == "x_transformers":
        return XTransformersClassifier(point, plan, len(tokenizer))
    return posenc_model(point, plan, tokenizer, config_fields)


def training_arguments(point, plan, output_dir):
    return lean_arguments(
        output_dir,
        point.seed,
        max_steps=plan.steps,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=256,
        learning_rate=plan.learning_rate,
        logging_strategy="no",
    )


def accuracy_by_length(trainer, test):
    """{length in symbols: accuracy}."""
    output = trainer.predict(test.remove_columns("length"))
    correct = output.predictions.argmax(-1) == output.label_ids
    lengths = np.asarray(test["length"])
    return {int(n): float(correct[lengths == n].mean()) for n in np.unique(lengths)}


def evaluations(point):
    """The evaluation modes of a point: its positions as trained, and for a randomized model of ours both
    the ordered positions 0..n-1 and the positions sampled per text (`randomized_eval_positions`)."""
    if point.implementation == "posenc" and point.randomized:
        return ("ordered", "sampled")
    return ("ordered",)


def run_point(point, plan, config_fields=None):
    """Train one point (ours with `config_fields` changed from the defaults, if given) and score it at every
    length; a JSON-able record."""
    tokenizer, tokenized = prepare_data(point.task, point.seed, plan)
    set_seed(point.seed)
    model = build_model(point, plan, tokenizer, config_fields)
    with tempfile.TemporaryDirectory() as scratch:
        train = tokenized["train"].remove_columns("length")
        trainer = lean_trainer(model, training_arguments(point, plan, scratch), train, tokenizer)
        start = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - start
        scores = {}
        for mode in evaluations(point):
            if point.implementation == "posenc":
                model.config.randomized_eval_positions = mode
            scores[mode] = accuracy_by_length(trainer, tokenized["test"])
    return {
        **asdict(point),
        "accuracy_by_length": scores,
        "train_loss": result.training_loss,
        "train_seconds": seconds,
        "threads": torch.get_num_threads(),
    }


def run_recipe_point(point, plan):
    record = run_point(Point(point.task, point.scheme, False, point.seed), plan, RECIPES[point.recipe])
    return {**record, "recipe": point.recipe}
