"""Choose a corpus's training recipe on validation with `Trainer.hyperparameter_search` (optuna).

    nice -n 15 python -m research.search configs/mmlu.yaml --trials 16 --out docs/quality/search_mmlu.json

The data, tokenizer, model and Trainer are the package's own, built from the config as `train/run.py`
builds them and with the same checks (`posenc_hf.training.plan.read_plan`,
`posenc_hf.training.prepare.prepare_run`); each trial changes only what `SPACE` names, the training
fields through `hp_space` and the model fields through `model_init`. The objective is the
validation macro-F1 after the last epoch; the test split is never loaded into a trial. optuna's
median pruner stops a trial whose validation score trails the median of earlier trials at the same
step, from a third of the training on (the MMLU search of docs/quality.md pruned from step 5, i.e.
after the first epoch). The output lists every trial (parameters, objective, state) and the best one;
the chosen values are then copied into the corpus's config, with a comment that points here.
"""

import argparse
import copy
import json
import logging
import sys
import time
from pathlib import Path

import optuna
from transformers import EarlyStoppingCallback

from posenc_hf.model.configuration_posenc import POSITION_EMBEDDING_TYPES
from posenc_hf.training.arguments import configure_threads
from posenc_hf.training.plan import read_plan
from posenc_hf.training.prepare import prepare_run
from posenc_hf.training.tasks import Classification


def hp_space(trial):
    """The `TrainingArguments` fields a trial draws."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 0.0, 0.1),
        "label_smoothing_factor": trial.suggest_float("label_smoothing_factor", 0.0, 0.2),
        "warmup_steps": trial.suggest_float("warmup_steps", 0.0, 0.1),  # below 1: a share of the steps
    }


def model_fields(trial):
    """The `PosEncConfig` fields a trial draws (depth and width at about equal cost: 2 × 64 or 1 × 96 ...),
    the position scheme from the whole menu."""
    return {
        "hidden_dropout_prob": trial.suggest_float("hidden_dropout_prob", 0.0, 0.3),
        "num_hidden_layers": trial.suggest_int("num_hidden_layers", 1, 3),
        "pooling": trial.suggest_categorical("pooling", ["mean", "cls"]),
        "position_embedding_type": trial.suggest_categorical("position_embedding_type", list(POSITION_EMBEDDING_TYPES)),
    }


def warmup_steps(run_args, tokenized):
    """Prune no trial before a third of its optimizer steps (Trainer reports the objective by step): a
    slow start is not a bad recipe."""
    steps_per_epoch = -(-len(tokenized["train"]) // run_args.per_device_train_batch_size)
    return int(steps_per_epoch * run_args.num_train_epochs / 3)


def search(config_path, trials, seed, storage, extra_args=()):
    """Run the study; returns (trials as dicts, best trial as a dict)."""
    plan = read_plan(
        [config_path, "--seed", str(seed), "--save_strategy", "no", "--load_best_model_at_end", "false",
         "--report_to", "none", "--disable_tqdm", "true", "--output_dir", f"runs/search/{Path(config_path).stem}",
         *extra_args]
    )  # fmt: skip
    if not isinstance(plan.task, Classification) or plan.multi_label:
        raise ValueError("research.search tunes single-label classifiers (task: classification)")
    configure_threads(plan.run_args)
    prepared = prepare_run(plan)
    trainer, run_args = prepared.trainer, plan.run_args
    trainer.remove_callback(EarlyStoppingCallback)  # a trial runs its epochs: the pruner stops the bad ones

    def model_init(trial):
        config = copy.deepcopy(prepared.config)
        for name, value in (model_fields(trial) if trial is not None else {}).items():
            setattr(config, name, value)  # checked by the config's own validation
        return prepared.data.task.build_model(plan.model_args, config)

    trainer.model_init = model_init  # each trial builds its model (Trainer.hyperparameter_search calls it)
    tokenized = prepared.data.tokenized
    best = trainer.hyperparameter_search(
        hp_space=hp_space,
        compute_objective=lambda metrics: metrics["eval_macro_f1"],
        n_trials=trials - len(existing_trials(storage, Path(config_path).stem)),
        direction="maximize",
        backend="optuna",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=warmup_steps(run_args, tokenized)),
        storage=f"sqlite:///{storage}",  # every trial on disk: an interrupted search resumes
        study_name=Path(config_path).stem,
        load_if_exists=True,
    )
    return trials_of(storage, Path(config_path).stem), {"objective": best.objective, "params": best.hyperparameters}


def existing_trials(storage, name):
    """Trials a previous, interrupted search already finished (resumed, not repeated)."""
    if not Path(storage).is_file():
        return []
    try:
        return [t for t in trials_of(storage, name) if t["state"] in ("COMPLETE", "PRUNED")]
    except KeyError:  # no study of that name yet
        return []


def trials_of(storage, name):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{storage}")
    return [
        {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
         "seconds": t.duration.total_seconds() if t.duration else None}
        for t in study.trials
    ]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m research.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    storage = Path("runs") / "search" / f"{Path(args.config).stem}_seed{args.seed}.db"
    storage.parent.mkdir(parents=True, exist_ok=True)
    trials, best = search(args.config, args.trials, args.seed, storage, extra)
    result = {"config": args.config, "extra_args": extra, "seed": args.seed, "objective": "validation macro-F1",
              "trials": trials, "best": best, "seconds": time.perf_counter() - start}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(best, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
