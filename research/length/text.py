"""Does extrapolation matter on real text? Each scheme trains a corpus's classifier (its `configs/<corpus>.yaml`
recipe) on texts cut to `train_tokens` tokens, selects on a validation split cut the same way, and is
scored on the test texts cut so and at full length (the config's `max_length`).

A run is the package's own (`posenc_hf.training.runner.run_training`, with every check it makes), given a task
that cuts the train and validation splits: positions past `train_tokens` are never trained, so a test
text longer than that asks each scheme to extrapolate. "long" is the share of test texts past
`train_tokens`, where the two scores can differ at all.
"""

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from datasets import DatasetDict

from posenc_hf.training.arguments import configure_threads
from posenc_hf.training.plan import read_plan
from posenc_hf.training.runner import run_training
from posenc_hf.training.tasks import Classification, evaluation_by_length, tokenize

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAIN_TOKENS = 32  # the setting: trained at 32 tokens, scored at full length
CORPORA = ("subject", "goemotions", "mmlu")  # the two, and MMLU's longer questions


@dataclass(frozen=True)
class TextPlan:
    train_tokens: int = TRAIN_TOKENS
    extra_args: tuple = ()  # command-line overrides of every run's config (the quick plan's small runs)


@dataclass(frozen=True)
class TextPoint:
    corpus: str  # configs/<corpus>.yaml
    scheme: str
    randomized: bool
    seed: int


class TrainedShort(Classification):
    """Classification on train and validation texts cut to `train_tokens` tokens; the test split is scored
    both cut so and whole."""

    def __init__(self, train_tokens):
        self.train_tokens = train_tokens

    def tokenize(self, splits, tokenizer):
        """Train and validation cut (and ordered by length, as the package's task orders validation); the
        test split whole and cut, in file order so that its two scorings pair up row by row."""
        cut = tokenize(splits, tokenizer, max_length=self.train_tokens)
        whole = tokenize(DatasetDict(test=splits["test"]), tokenizer)["test"]
        shortened = evaluation_by_length(DatasetDict(train=cut["train"], validation=cut["validation"]))
        return DatasetDict(**shortened, test=whole, test_cut=cut["test"])

    def report(self, trainer, tokenized, run_args, data_args, label_names):
        report = super().report(trainer, tokenized, run_args, data_args, label_names)
        return {**report, "extrapolation": self.scores(trainer, tokenized)}

    def scores(self, trainer, tokenized):
        """Accuracy of the test split whole and cut, over every text and over the texts past `train_tokens`."""
        whole, cut = (trainer.predict(tokenized[name]) for name in ("test", "test_cut"))
        right = {name: out.predictions.argmax(-1) == whole.label_ids for name, out in (("whole", whole), ("cut", cut))}
        long = np.asarray([len(ids) for ids in tokenized["test"]["input_ids"]]) > self.train_tokens
        return {
            "test_texts": len(long),
            "long_texts": int(long.sum()),
            "accuracy_whole": float(right["whole"].mean()),
            "accuracy_cut": float(right["cut"].mean()),
            "long_accuracy_whole": float(right["whole"][long].mean()) if long.any() else None,
            "long_accuracy_cut": float(right["cut"][long].mean()) if long.any() else None,
        }


def run_text_point(point, plan):
    """Train one corpus's classifier at `plan.train_tokens` tokens with one scheme; a JSON-able record."""
    with tempfile.TemporaryDirectory() as scratch:
        argv = [
            str(CONFIGS / f"{point.corpus}.yaml"), "--position_embedding_type", point.scheme,
            "--randomize_positions", str(point.randomized).lower(), "--seed", str(point.seed),
            "--output_dir", scratch, "--num_threads", "1", "--report_to", "none", "--disable_tqdm", "true",
            "--save_total_limit", "1", *plan.extra_args,
        ]  # fmt: skip
        run_plan = read_plan(argv, task=TrainedShort(plan.train_tokens))
        configure_threads(run_plan.run_args)
        result = run_training(run_plan)
        metrics = json.loads((result.folder / "metrics.json").read_text())
    return {**asdict(point), **metrics["extrapolation"], "max_length": run_plan.data_args.max_length,
            "train_seconds": metrics["train_runtime_seconds"]}  # fmt: skip
