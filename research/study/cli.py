"""The positional-encoding study: train a grid of small encoders, measure them, write docs/study.md.

The command behind `python -m research.study`: `measure` trains the grid and times forward passes
against length; `main` measures (or, with `--report_only`, reads the last results back), saves
`<out>/study/results.json` and writes the report. The first line above is the command's --help.
"""

import argparse
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .plan import PLANS
from .report import write_report
from .runner import one_thread, read_journal, run_grid
from .scaling import bench_scaling, forward_seconds_by_length


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m research.study", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="less data and fewer epochs: under 10 minutes on 2 cores")
    mode.add_argument("--smoke", action="store_true", help="two tiny runs: proves the pipeline works (tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel training processes")
    parser.add_argument("--report_only", action="store_true", help="rewrite the report from <out>/study/results.json")
    parser.add_argument("--resume", action="store_true", help="keep the runs an interrupted study already finished")
    return parser.parse_args(argv)


def machine():
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, one thread per worker"


def measure(mode, workers, folder, resume=False, log=print):
    """Train and diagnose the grid, then time forward passes against length; `folder/runs.jsonl` is the
    journal of finished runs (`resume` picks up its records instead of training them again)."""
    start, load_before = time.perf_counter(), os.getloadavg()
    plan, journal_path = PLANS[mode], folder / "runs.jsonl"
    done = read_journal(journal_path, mode) if resume else []
    folder.mkdir(parents=True, exist_ok=True)
    with journal_path.open("a" if resume else "w") as journal:
        records = run_grid(plan, workers, log, journal, mode, done)
    grid_seconds = time.perf_counter() - start
    log("measuring forward time against length")
    with one_thread():
        length_scaling = forward_seconds_by_length(plan.lengths, repeats=2 if mode == "smoke" else 5)
    journal_path.unlink()
    return {
        "mode": mode,
        "plan": asdict(plan),
        "workers": workers,
        "machine": machine(),
        "records": records,
        "resumed_runs": len(done),
        "grid_seconds": grid_seconds,
        "length_scaling": length_scaling,
        "bench_scaling": bench_scaling(),
        "seconds": time.perf_counter() - start,
        "load_average": {"before": load_before[0], "after": os.getloadavg()[0]},  # others' work slows the runs
    }


def main(argv=None):
    args = parse_args(argv)
    folder = args.out / "study"
    results_path = folder / "results.json"
    if args.report_only:
        results = json.loads(results_path.read_text())
        results["bench_scaling"] = bench_scaling() or results["bench_scaling"]  # the bench may have run since
    else:
        mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        results = measure(mode, args.workers, folder, args.resume, log=(lambda *a: None) if args.smoke else print)
    results_path.write_text(json.dumps(results, indent=1) + "\n")
    path = write_report(results, args.out)
    if not args.smoke:
        print(f"wrote {path} and {folder}/")
    return path
