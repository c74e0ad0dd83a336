"""The length-generalisation study: train every position scheme on short inputs, score it on longer ones.

`python -m research.length` trains the grid (every task, every scheme of ours plain and randomized, and
x-transformers' schemes as the outside reference; 3 seeds) and the real-text part (each corpus's
classifier trained at 32 tokens, scored at full length; `research/length/text.py`) and the recipe part
(cycle navigation with PosEncConfig's defaults moved towards x-transformers', `runner.RECIPES`) into
docs/length_generalization/results.json, appending each finished run to a journal first (`--resume`
keeps them), and writes docs/length_generalization.md and its plots; `--report_only` rewrites the
document from the stored results. `--quick` is a tiny grid (the tests run it); `--seeds`, `--steps`,
`--tasks`, `--schemes`, `--corpora` and `--parts` narrow the full one.
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

from posenc_hf.model.configuration_posenc import POSITION_EMBEDDING_TYPES

from ..study.runner import run_each
from .report import write_report
from .runner import RECIPES, X_TRANSFORMERS_SCHEMES, Plan, Point, RecipePoint, run_point, run_recipe_point
from .tasks import TASKS
from .text import CORPORA, TextPlan, TextPoint, run_text_point

DOCS = Path(__file__).resolve().parents[2] / "docs"
PLANS = {
    "full": Plan(),
    "quick": Plan(train_max_length=6, test_max_length=10, steps=20, batch_size=8, test_rows_per_length=2,
                  hidden_size=16, num_attention_heads=2, num_hidden_layers=1, max_position_embeddings=16),
}  # fmt: skip
QUICK_GRID = {"tasks": ("parity_check", "cycle_navigation"), "schemes": ("learned", "alibi"), "seeds": (0,)}
TEXT_PLANS = {
    "full": TextPlan(),
    "quick": TextPlan(train_tokens=8, extra_args=(
        "--max_samples", "40", "--num_train_epochs", "1", "--hidden_size", "16", "--num_attention_heads", "2",
        "--num_hidden_layers", "1", "--vocab_size", "200")),
}  # fmt: skip
TEXT_SCHEMES = ("learned",)  # randomized too: the schemes a text point is run for, besides every plain one
RECIPE_TASKS = ("cycle_navigation",)  # where ours trailed x-transformers' Encoder most in distribution
QUICK_RECIPES = {"tasks": ("cycle_navigation",), "schemes": ("learned",), "seeds": (0,)}
PARTS = {"grid": (Point, run_point), "text": (TextPoint, run_text_point), "recipe": (RecipePoint, run_recipe_point)}


def grid(tasks, schemes, seeds, peers):
    """Every point: ours plain and randomized for each scheme (`none` has no positions to randomize), then
    x-transformers' for each scheme it shares."""
    points = [
        Point(task, scheme, randomized, seed)
        for task, seed, scheme, randomized in product(tasks, seeds, schemes, (False, True))
        if not (randomized and scheme == "none")
    ]
    if peers:
        shared = [scheme for scheme in schemes if scheme in X_TRANSFORMERS_SCHEMES]
        points += [
            Point(task, scheme, False, seed, "x_transformers") for task, seed, scheme in product(tasks, seeds, shared)
        ]
    return points


def text_grid(corpora, schemes, seeds):
    """Every corpus with every scheme plain, and randomized for TEXT_SCHEMES."""
    return [
        TextPoint(corpus, scheme, randomized, seed)
        for corpus, seed, scheme, randomized in product(corpora, seeds, schemes, (False, True))
        if not randomized or scheme in TEXT_SCHEMES
    ]


def recipe_grid(tasks, schemes, seeds):
    """Every recipe for each scheme x-transformers shares (the in-distribution comparison is with its Encoder)."""
    shared = [scheme for scheme in schemes if scheme in X_TRANSFORMERS_SCHEMES]
    return [RecipePoint(*point) for point in product(tasks, shared, RECIPES, seeds)]


def point_of(record, kind=Point):
    return kind(**{name: record[name] for name in kind.__dataclass_fields__})


def read_journal(path, kind=Point):
    if not path.is_file():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {point_of(record, kind): record for record in records}


def run_grid(points, plan, workers, journal_path, resume, part="grid", earlier=(), log=print):
    """The record of every point, in grid order; each finished one appended to the journal at once.
    `resume`: the points of `earlier` records (the stored results' at the same plan) or of the journal
    are not run again."""
    kind, run = PARTS[part]
    done = {point_of(record, kind): record for record in earlier} | read_journal(journal_path, kind) if resume else {}
    todo = [point for point in points if point not in done]
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    with journal_path.open("a" if resume else "w") as journal:

        def keep(record):
            done[point_of(record, kind)] = record
            journal.write(json.dumps(record) + "\n")
            journal.flush()
            log(f"[{len(done)}/{len(points)}] {describe(record)}")

        run_each(run, todo, plan, workers, keep)
    return [done[point] for point in points]


def describe(record):
    if "corpus" in record:
        name = f"{record['corpus']}/{record['scheme']}{'/randomized' if record['randomized'] else ''}"
        return (f"{name}/seed {record['seed']}: accuracy whole {record['accuracy_whole']:.3f}, cut "
                f"{record['accuracy_cut']:.3f} ({record['train_seconds']:.0f} s)")  # fmt: skip
    name = f"{record['task']}/{record['implementation']}/{record['scheme']}"
    name += "/randomized" if record["randomized"] else ""
    name += f" [{record['recipe']}]" if "recipe" in record else ""
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
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), help="the real-text part's corpora")
    parser.add_argument("--parts", nargs="+", choices=sorted(PARTS), default=sorted(PARTS))
    parser.add_argument("--report_only", action="store_true", help="rewrite the document from the stored results")
    parser.add_argument(
        "--resume", action="store_true", help="keep the runs an interrupted study, or the stored results, finished"
    )
    return parser.parse_args(argv)


def run_part(part, args, folder, stored):
    """Train one part of the study (its journal beside the results while it runs); its results entry.
    `stored`: the part's results as stored before, whose runs `--resume` keeps where the plan is the same."""
    mode = "quick" if args.quick else "full"
    grid_plan = PLANS[mode] if not args.steps else replace(PLANS[mode], steps=args.steps)
    if part == "grid":
        plan = grid_plan
        chosen = QUICK_GRID if args.quick else {"tasks": args.tasks, "schemes": args.schemes, "seeds": args.seeds}
        points = grid(chosen["tasks"], chosen["schemes"], chosen["seeds"], peers=not args.no_peers)
    elif part == "recipe":
        plan = grid_plan
        tasks = [task for task in args.tasks if task in RECIPE_TASKS]
        chosen = QUICK_RECIPES if args.quick else {"tasks": tasks, "schemes": args.schemes, "seeds": args.seeds}
        points = recipe_grid(chosen["tasks"], chosen["schemes"], chosen["seeds"])
    else:
        plan = TEXT_PLANS[mode]
        chosen = {"corpora": ["subject"], **QUICK_GRID} if args.quick else vars(args)
        points = text_grid(chosen["corpora"], chosen["schemes"], chosen["seeds"])
    journal = folder / f"{part}_journal.jsonl"
    same_plan = stored and stored["plan"] == json.loads(json.dumps(asdict(plan)))
    earlier = stored["records"] if args.resume and same_plan else []
    start, load = time.perf_counter(), os.getloadavg()
    records = run_grid(points, plan, args.workers, journal, args.resume, part, earlier)
    journal.unlink()
    return {
        "mode": mode,
        "plan": asdict(plan),
        "workers": args.workers,
        "machine": machine(),
        "load_average_before": load,
        "wall_seconds": time.perf_counter() - start + (stored["wall_seconds"] if earlier else 0),
        "records": records,
    }


def main(argv=None):
    args = parse_args(argv)
    folder = args.out / "length_generalization"
    results_path = folder / "results.json"
    if not args.report_only:
        folder.mkdir(parents=True, exist_ok=True)
        stored = json.loads(results_path.read_text()) if results_path.is_file() else {}
        results = {part: stored[part] for part in PARTS if part in stored and part not in args.parts}
        for part in args.parts:  # each part written as it finishes: the other's stored results are kept
            results[part] = run_part(part, args, folder, stored.get(part))
            results_path.write_text(json.dumps(results, indent=1) + "\n")
    document = write_report(json.loads(results_path.read_text()), args.out)
    print(f"wrote {document}")
