"""Choose each default config's early-stopping patience on validation, then check it on test:
`docs/early_stopping.md` and `docs/early_stopping/results.json` (issue 20, item 9).

    nice -n 15 python -m research.early_stopping                       # 4 configs x 3 seeds
    python -m research.early_stopping --report_only                    # the document from results.json

For each config and seed: one run to the config's `num_train_epochs` (the ceiling), whose validation
curve (`trainer_state.json`) shows, for each candidate patience, the epoch `EarlyStoppingCallback`
would stop at and the checkpoint `load_best_model_at_end` would keep. The patience chosen is the
smallest that keeps the full run's checkpoint at every seed (its kept validation macro-F1, averaged
over seeds, equals the full runs'); then the config runs again with it, and its test scores stand
beside the full runs'. (A tolerance of half a point picked patience 1 for mmlu and goemotions, whose
test accuracy then dropped: 90.9 -> 90.0 and 76.2 -> 75.9 over seeds 0-2.) Runs are `train/run.py`
subprocesses (`research.quality.measured_run`); a run with a `model/metrics.json` is not repeated.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

from research.quality import REPO_ROOT, measured_run, train_command
from research.quality_report import machine

CONFIGS = {  # name -> (config, needs ../shared)
    "subject": ("configs/subject.yaml", False),
    "sentiment": ("configs/sentiment.yaml", False),
    "mmlu": ("configs/mmlu.yaml", True),
    "goemotions": ("configs/goemotions.yaml", True),
}
PATIENCES = (1, 2, 3, 4, 5, 8)
METRIC = "eval_macro_f1"  # metric_for_best_model of every default config
DOCS = REPO_ROOT / "docs"


def run(config, folder, seed, threads, *args):
    """Train once into `folder` (skipped when its model folder is there); the model's metrics.json."""
    metrics = folder / "model" / "metrics.json"
    if not metrics.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        measured_run(train_command(config, folder, seed, threads, *args), folder / "log.txt", threads)
    return json.loads(metrics.read_text())


def validation_curve(folder):
    """[(epoch, validation macro-F1)] of a finished run, from its last checkpoint's trainer_state.json."""
    states = sorted(folder.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    history = json.loads(states[-1].read_text())["log_history"]
    return [(round(entry["epoch"]), entry[METRIC]) for entry in history if METRIC in entry]


def stop_and_keep(curve, patience):
    """(epochs run, epoch kept, its score) under EarlyStoppingCallback(patience) and load_best_model_at_end:
    a strict improvement resets the count; the first best evaluation is kept."""
    best, kept, waited = float("-inf"), None, 0
    for epoch, score in curve:
        if score > best:
            best, kept, waited = score, epoch, 0
        else:
            waited += 1
        if waited >= patience:
            return epoch, kept, best
    return curve[-1][0], kept, best


def choose_patience(curves):
    """The smallest patience whose kept validation score, averaged over seeds, equals the full runs'."""
    full = statistics.mean(max(score for _, score in curve) for curve in curves)
    for patience in PATIENCES:
        kept = statistics.mean(stop_and_keep(curve, patience)[2] for curve in curves)
        if kept >= full - 1e-9:
            return patience
    return None


def study(name, seeds, threads, runs_dir, data_dir):
    config, _ = CONFIGS[name]
    data = ("--data_dir", data_dir) if data_dir else ()
    full = {seed: run(config, runs_dir / name / f"full_seed_{seed}", seed, threads, *data) for seed in seeds}
    curves = [validation_curve(runs_dir / name / f"full_seed_{seed}") for seed in seeds]
    patience = choose_patience(curves)
    simulated = {p: [stop_and_keep(curve, p)[:2] for curve in curves] for p in PATIENCES}
    early = {}
    if patience:
        for seed in seeds:
            folder = runs_dir / name / f"patience_{patience}_seed_{seed}"
            early[seed] = run(config, folder, seed, threads, *data, "--early_stopping_patience", str(patience))
    return {
        "config": config,
        "patience": patience,
        "curves": {seed: curve for seed, curve in zip(seeds, curves, strict=True)},
        "simulated": {p: dict(zip(seeds, runs, strict=True)) for p, runs in simulated.items()},
        "full": {seed: scores(report) for seed, report in full.items()},
        "early": {seed: scores(report) for seed, report in early.items()},
    }


def scores(report):
    return {
        "accuracy": report["test"]["accuracy"],
        "macro_f1": report["test"]["macro_f1"],
        "epochs_run": report["epochs"],
        "train_runtime_seconds": report["train_runtime_seconds"],
    }


def mean(runs, key):
    return statistics.mean(r[key] for r in runs.values())


def machine_text(info):
    return (
        f"{info['cpu_count']} cores ({info['processor']}), Python {info['python']}, torch {info['torch']}, "
        f"transformers {info['transformers']}"
    )


def report_text(results):
    """The markdown document: per config, the patience chosen, epochs run and test scores, full against early."""
    lines = [
        "# Early stopping in the default configs",
        "",
        "Generated by `python -m research.early_stopping` from `docs/early_stopping/results.json`; no number is",
        "typed by hand. Each config ran to its `num_train_epochs` (the ceiling) at every seed; the patience is",
        "the smallest of " + ", ".join(map(str, PATIENCES)) + " whose kept validation macro-F1 (mean over seeds)",
        "equals the full runs' (chosen on validation only: the same checkpoint is kept at every seed); the config",
        "then ran again with it, and a config adopts the patience where its test scores do not drop. Test scores are",
        "means over seeds " + ", ".join(map(str, results["seeds"])) + f". Ran on {machine_text(results['machine'])}.",
        "",
        "| config | patience | epochs run (full → early) | kept epoch per seed | test accuracy full / early |"
        " test macro-F1 full / early | train time full / early |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["configs"].items():
        p = r["patience"]
        if not p:
            lines.append(f"| {name} | none kept the full runs' validation score | | | | | |")
            continue
        kept = ", ".join(str(k) for _, k in r["simulated"][str(p)].values())
        lines.append(
            f"| {name} | {p} | {mean(r['full'], 'epochs_run'):.1f} → {mean(r['early'], 'epochs_run'):.1f} | {kept} "
            f"| {100 * mean(r['full'], 'accuracy'):.1f} / {100 * mean(r['early'], 'accuracy'):.1f} "
            f"| {100 * mean(r['full'], 'macro_f1'):.1f} / {100 * mean(r['early'], 'macro_f1'):.1f} "
            f"| {mean(r['full'], 'train_runtime_seconds'):.1f} s / {mean(r['early'], 'train_runtime_seconds'):.1f} s |"
        )
    lines += ["", "## Epochs run and kept for each patience (simulated on the full runs' validation curves)", ""]
    lines += [
        "| config | " + " | ".join(f"patience {p}" for p in PATIENCES) + " |",
        "|---" * (len(PATIENCES) + 1) + "|",
    ]
    for name, r in results["configs"].items():
        cells = [", ".join(f"{run}/{kept}" for run, kept in r["simulated"][str(p)].values()) for p in PATIENCES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Each cell: epochs run / epoch kept, one pair per seed."]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--runs_dir", type=Path, default=REPO_ROOT / "runs" / "early_stopping")
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--report_only", action="store_true", help="rewrite the document from results.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results_path = DOCS / "early_stopping" / "results.json"
    if not args.report_only:
        configs = {}
        for name in args.configs:
            data_dir = str(args.shared / name) if CONFIGS[name][1] else None
            configs[name] = study(name, args.seeds, args.threads, args.runs_dir, data_dir)
        results = json.loads(json.dumps({"seeds": args.seeds, "machine": machine(), "configs": configs}))
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    (DOCS / "early_stopping.md").write_text(report_text(json.loads(results_path.read_text())))


if __name__ == "__main__":
    sys.exit(main())
