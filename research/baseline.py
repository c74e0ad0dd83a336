"""The baseline to beat: TF-IDF features and logistic regression (scikit-learn), on the same splits
as a PosEnc run (the same `load_corpus` call, the same seed).

    python -m research.baseline configs/goemotions.yaml [--seed 1] [--analyzer char_wb]
    python -m research.baseline mmlu --data_dir ../shared/data/mmlu

The first argument is a run's YAML config (its data fields, `seed` and `output_dir` are used, the
model fields ignored) or a corpus (anything `load_corpus` reads). `C` and `class_weight` are chosen
on the validation split by macro-F1, the model is fitted on `train` only (as the PosEnc classifier
is) and scored once on `test`. Writes `<output_dir>/baseline[_char_wb]/metrics.json`.
"""

import json
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from transformers import HfArgumentParser

from posenc_hf.folder.metrics import classification_report
from posenc_hf.training.arguments import DataArguments, ModelArguments, RunArguments, read_config_file
from posenc_hf.training.plan import plan_run
from posenc_hf.training.prepare import load_data

ANALYZERS = {"word": (1, 2), "char_wb": (2, 5)}  # analyzer -> n-gram range


@dataclass
class BaselineArguments:
    seed: int = field(default=42, metadata={"help": "Seed of the splits (the run's seed) and of the solver."})
    output_dir: str | None = field(
        default=None, metadata={"help": "Scores go to <output_dir>/baseline/; default runs/<data name>."}
    )
    analyzer: str = field(default="word", metadata={"help": "word (1-2 grams) or char_wb (2-5 character grams)."})
    C: list[float] = field(
        default_factory=lambda: [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
        metadata={"help": "Inverse regularisation strengths to choose from on validation."},
    )
    class_weight: list[str] = field(
        default_factory=lambda: ["none", "balanced"], metadata={"help": "Class weightings to choose from."}
    )


def parse_baseline_arguments(argv=None):
    """(DataArguments, BaselineArguments) from `CONFIG.yaml|CORPUS [--field value ...]`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = {}
    if argv and argv[0].endswith((".yaml", ".yml")):
        defaults = read_config_file(argv.pop(0))
    elif argv and not argv[0].startswith("--"):
        defaults = {"corpus": argv.pop(0)}
    parser = HfArgumentParser((DataArguments, BaselineArguments))
    known = {f.name for cls in (DataArguments, BaselineArguments) for f in fields(cls)}
    parser.set_defaults(**{key: value for key, value in defaults.items() if key in known})
    data_args, args = parser.parse_args_into_dataclasses(args=argv)
    if args.analyzer not in ANALYZERS:
        raise ValueError(f"analyzer must be one of {list(ANALYZERS)}, got {args.analyzer!r}")
    return data_plan(data_args, args), args


def data_plan(data_args, args):
    """The plan of a run on this data (its source, options and output_dir, checked as a run's are); the
    baseline reads only its data part."""
    run_args = RunArguments(output_dir=args.output_dir, seed=args.seed, report_to="none")
    plan = plan_run(ModelArguments(), data_args, run_args)
    args.output_dir = plan.run_args.output_dir
    return plan


def tfidf_logistic_regression(analyzer, C, class_weight, seed):
    """Sublinear TF-IDF over word or character n-grams, then multinomial logistic regression."""
    return make_pipeline(
        TfidfVectorizer(analyzer=analyzer, ngram_range=ANALYZERS[analyzer], sublinear_tf=True),
        LogisticRegression(
            C=C, class_weight=None if class_weight == "none" else class_weight, max_iter=5000, random_state=seed
        ),
    )


def select_on_validation(dataset, args):
    """Every (C, class_weight) fitted on train; the best by validation macro-F1 (first best on ties)."""
    best = None
    for C in args.C:
        for class_weight in args.class_weight:
            model = tfidf_logistic_regression(args.analyzer, C, class_weight, args.seed)
            model.fit(dataset["train"]["text"], dataset["train"]["label"])
            score = f1_score(
                dataset["validation"]["label"], model.predict(dataset["validation"]["text"]), average="macro"
            )
            if best is None or score > best[0]:
                best = (score, {"C": C, "class_weight": class_weight}, model)
    return best


def run_baseline(plan, args):
    """Choose, fit and score the baseline on the plan's data; returns the report written to metrics.json."""
    start, data_args = time.perf_counter(), plan.data_args
    dataset = load_data(plan)
    label_names = dataset["train"].features["label"].names
    validation_f1, chosen, model = select_on_validation(dataset, args)
    predictions = model.predict(dataset["test"]["text"])
    return {
        "model": f"TF-IDF ({args.analyzer} {ANALYZERS[args.analyzer]}-grams) + logistic regression",
        "corpus": data_args.corpus,
        "seed": args.seed,
        "chosen": chosen,
        "validation_macro_f1": validation_f1,
        "test": classification_report(predictions, dataset["test"]["label"], label_names),
        "splits": {split: len(rows) for split, rows in dataset.items()},
        "seconds": time.perf_counter() - start,
    }


def output_folder(args):
    return Path(args.output_dir) / ("baseline" if args.analyzer == "word" else f"baseline_{args.analyzer}")


def main(argv=None):
    plan, args = parse_baseline_arguments(argv)
    report = run_baseline(plan, args)
    folder = output_folder(args)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    test = report["test"]
    print(f"{report['model']} on {report['corpus']} (seed {args.seed}), chosen on validation: {report['chosen']}")
    print(f"Test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}")
    print(f"Scores: {folder / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
