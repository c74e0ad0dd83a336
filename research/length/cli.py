"""The length-generalisation study: train every position scheme on short inputs, score it on longer ones.

`python -m research.length` trains the grid (every task, every scheme of ours plain and randomized, and
x-transformers' schemes as the outside reference; 3 seeds) into docs/length_generalization/results.json,
appending each finished run to a journal first (`--resume` keeps them), and writes
docs/length_generalization.md and its plots; `--report_only` rewrites the document from the stored
results. `--quick` is a tiny grid (the tests run it); `--seeds`, `--steps`, `--tasks`, `--schemes` narrow
the full one.
"""

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, replace
from itertools import product
from pathlib import Path

import torch

from posenc_hf.configuration_posenc import POSITION_EMBEDDING_TYPES

from ..study.runner import run_each
from .report import write_report
from .runner import X_TRANSFORMERS_OPTIONS, Plan, Point, run_point
from .tasks import TASKS

DOCS = Path(__file__).resolve().parents[2] / "docs"
PLANS = {
    "full": Plan(),
    "quick": Plan(train_max_length=6, test_max_length=10, steps=20, batch_size=8, test_rows_per_length=2,
                  hidden_size=16, num_attention_heads=2, num_hidden_layers=1, max_position_embeddings=16),
}  # fmt: skip
QUICK_GRID = {"tasks": ("parity_check", "cycle_navigation"), "schemes": ("learned", "alibi"), "seeds": (0,)}


def grid(tasks, schemes, seeds, peers):
    """Every point: ours plain and randomized for each scheme (`none` has no positions to randomize), then
    x-transformers' for each scheme it shares."""
    points = [
        Point(task, scheme, randomized, seed)
        for task, seed, scheme, randomized in product(tasks, seeds, schemes, (False, True))
        if not (randomized and scheme == "none")
    ]
    if peers:
        shared = [scheme for scheme in schemes if scheme in X_TRANSFORMERS_OPTIONS]
        points += [
            Point(task, scheme, False, seed, "x_transformers") for task, seed, scheme in product(tasks, seeds, shared)
        ]
    return points


def point_of(record):
    return Point(**{name: record[name] for name in Point.__dataclass_fields__})


def read_journal(path):
    if not path.is_file():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {point_of(record): record for record in records}


def run_grid(points, plan, workers, journal_path, resume, log=print):
    """The record of every point, in grid order; each finished one appended to the journal at once."""
    done = read_journal(journal_path) if resume else {}
    todo = [point for point in points if point not in done]
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    with journal_path.open("a" if resume else "w") as journal:

        def keep(record):
            done[point_of(record)] = record
            journal.write(json.dumps(record) + "\n")
            journal.flush()
            log(f"[{len(done)}/{len(points)}] {describe(record)}")

        run_each(run_point, todo, plan, workers, keep)
    return [done[point] for point in points]


def describe(record):
    name = f"{record['task']}/{record['implementation']}/{record['scheme']}"
    name += "/randomized" if record["randomized"] else ""
    scores = record["accuracy_by_length"]["ordered"]
    accuracy = sum(scores.values()) / len(scores)
    return f"{name}/seed {record['seed']}: mean accuracy {accuracy:.3f} ({record['train_seconds']:.0f} s)"


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    capability = torch.backends.cpu.get_cpu_capability()
    cores = f"{os.cpu_count()} cores, torch {torch.__version__}, one thread per worker"
    return f"{cpu or platform.machine()} ({capability}), {cores}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m research.length", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny grid in seconds (the tests run it)")
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the plan's)")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument(
        "--schemes", nargs="+", choices=POSITION_EMBEDDING_TYPES, default=list(POSITION_EMBEDDING_TYPES)
    )
    parser.add_argument("--no_peers", action="store_true", help="leave out x-transformers' runs")
    parser.add_argument("--report_only", action="store_true", help="rewrite the document from the stored results")
    parser.add_argument("--resume", action="store_true", help="keep the runs an interrupted study finished")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    folder = args.out / "length_generalization"
    results_path = folder / "results.json"
    if not args.report_only:
        plan = PLANS["quick" if args.quick else "full"]
        plan = replace(plan, steps=args.steps) if args.steps else plan
        chosen = QUICK_GRID if args.quick else {"tasks": args.tasks, "schemes": args.schemes, "seeds": args.seeds}
        points = grid(chosen["tasks"], chosen["schemes"], chosen["seeds"], peers=not args.no_peers)
        start, load = time.perf_counter(), os.getloadavg()
        records = run_grid(points, plan, args.workers, folder / "journal.jsonl", args.resume)
        results = {
            "mode": "quick" if args.quick else "full",
            "plan": asdict(plan),
            "workers": args.workers,
            "machine": machine(),
            "load_average_before": load,
            "wall_seconds": time.perf_counter() - start,
            "records": records,
        }
        results_path.write_text(json.dumps(results, indent=1) + "\n")
        (folder / "journal.jsonl").unlink()
    document = write_report(json.loads(results_path.read_text()), args.out)
    print(f"wrote {document}")
