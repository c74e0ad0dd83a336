"""Position schemes side by side: a training step and inference for every `position_embedding_type` of ours
and, as peers, x-transformers' `Encoder` of the same size for the schemes it shares (`bench.models`:
`X_TRANSFORMERS_SCHEMES`, and `X_TRANSFORMERS_PEERS`: its attention as it comes, and with SDPA), all
interleaved in one run, at the shapes of configs/subject.yaml and configs/sentiment.yaml, padded and unpadded.

Reported per row: samples/s, the cost against the same implementation's learned table (time ÷ the learned
row's time, paired per repeat: > 1 is slower) and, for ours, the speed against each peer's row of the same
scheme (its time ÷ ours: > 1 is faster). Targets (issue 21), at the subject shape: every scheme of ours at
most `COST_TARGET` × the learned table's time, and ours ahead of x-transformers as it comes by `LEAD_TARGETS`
(the lead measured before on its learned-absolute Encoder) for every scheme they share.

`python -m bench.positions [--quick | --smoke] [--threads N] [--out DIR]` runs this part alone and writes
positions.json and positions.md (with the machine and its fp32 matmul peak before and after);
`python -m bench` runs it too, into results.json and results.md.
"""

import json
import os
import time
from pathlib import Path

import torch

from bench import command, flops, report
from bench.models import (
    SMOKE_SHAPES,
    X_TRANSFORMERS_PEERS,
    Shape,
    build,
    build_x_transformers,
    dropouts,
    make_batch,
    pad_fraction,
    x_transformers_schemes,
)
from bench.timing import infer_fn, interleaved, paired_ratio, summary, throughput, train_step_fn
from posenc_hf.model.configuration_posenc import POSITION_EMBEDDING_TYPES
from posenc_hf.training.arguments import read_config_file

CONFIGS = Path(__file__).parents[1] / "configs"
SHAPE_CONFIGS = ("subject", "sentiment")  # configs/<name>.yaml
COST_TARGET = 1.3  # no scheme of ours above 1.3 × the learned table's time, train or infer, at the subject shape
LEAD_TARGETS = {"train": 2.5, "infer": 4.1}  # ours ÷ x-transformers as it comes, learned, subject: measured before
LEAD_PEER = "x_transformers"
MODES = ("train", "infer")


def shape_from_config(name):
    """The bench `Shape` of a training config: its model sizes, `max_length` and training batch size."""
    values = read_config_file(CONFIGS / f"{name}.yaml")
    sizes = ("vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size")
    return Shape(
        name,
        seq=values["max_length"],
        batch=values["per_device_train_batch_size"],
        **{key: values[key] for key in sizes if key in values},
    )


def scheme_shapes():
    return {name: shape_from_config(name) for name in SHAPE_CONFIGS}


def has_x_transformers():
    try:
        import x_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def models_at(shape, device):
    """`{(implementation, scheme): model}`: ours for every scheme, each x-transformers peer for those it has
    (none when x-transformers is not installed)."""
    models = {
        ("posenc", scheme): build("posenc_default", shape, device, position_embedding_type=scheme)
        for scheme in POSITION_EMBEDDING_TYPES
    }
    if not has_x_transformers():
        return models
    for peer, flash in X_TRANSFORMERS_PEERS.items():
        for scheme in x_transformers_schemes(flash):
            models[peer, scheme] = build_x_transformers(shape, scheme, device, flash=flash)
    return models


def compare_schemes(shape, padded, repeats, block_s, device):
    """One row per (implementation, scheme) at `shape`: train and infer samples/s, cost against the
    learned table of the same implementation, and for ours the speed against each peer's same scheme."""
    batch = make_batch(shape, padded, device)
    models = models_at(shape, device)
    fns = {}
    for key, model in models.items():
        fns[(*key, "train")] = train_step_fn(model, batch)
        fns[(*key, "infer")] = infer_fn(model, batch)
    seconds = interleaved(fns, repeats, block_s, device)
    rows = []
    for (implementation, scheme), model in models.items():
        row = {
            "shape": shape.name,
            "padded": padded,
            "pad_fraction": pad_fraction(batch),
            "implementation": implementation,
            "scheme": scheme,
            "dropouts": dropouts(model),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        for mode in MODES:
            mine = seconds[implementation, scheme, mode]
            row[f"{mode}_samples_per_s"] = throughput(mine, shape.batch)
            row[f"{mode}_cost_vs_learned"] = paired_ratio(mine, seconds[implementation, "learned", mode])
        if implementation == "posenc":
            row["speed_vs_peers"] = {
                peer: {
                    mode: paired_ratio(seconds[peer, scheme, mode], seconds["posenc", scheme, mode]) for mode in MODES
                }
                for peer in X_TRANSFORMERS_PEERS
                if (peer, scheme) in models
            }
        rows.append(row)
    return rows


def check_targets(rows, shape_name="subject"):
    """At `shape_name`: each of our schemes' cost against the learned table (≤ `COST_TARGET`) and, for each
    scheme shared with x-transformers, our lead over it as it comes (`LEAD_PEER`, ≥ `LEAD_TARGETS`)."""
    checks = []
    for row in rows:
        if row["shape"] != shape_name or row["implementation"] != "posenc":
            continue
        for mode in MODES:
            cost = row[f"{mode}_cost_vs_learned"]["median"]
            checks.append(target(row, mode, "cost vs learned", COST_TARGET, cost, cost <= COST_TARGET))
            if LEAD_PEER in row["speed_vs_peers"]:
                lead = row["speed_vs_peers"][LEAD_PEER][mode]["median"]
                checks.append(
                    target(row, mode, "lead over x-transformers", LEAD_TARGETS[mode], lead, lead >= LEAD_TARGETS[mode])
                )
    return checks


def target(row, mode, name, needed, got, met):
    keys = {"shape": row["shape"], "padded": row["padded"], "scheme": row["scheme"], "mode": mode, "target": name}
    return {**keys, "needed": needed, "got": got, "met": met}


def measure(shapes, repeats, block_s, device):
    """`{"rows", "targets"}` for every shape, padded and unpadded."""
    rows = []
    for shape in shapes:
        for padded in (True, False):
            rows += compare_schemes(shape, padded, repeats, block_s, device)
    return {"rows": rows, "targets": check_targets(rows, shapes[0].name)}


# --- report ----------------------------------------------------------------------------------------


def markdown(results):
    """positions.md: the machine and its matmul peak, then the table (`report.positions_section`)."""
    title = "# Position schemes: speed benchmark\n\nGenerated by `python -m bench.positions`; see bench/README.md."
    return "\n\n".join([title, report.machine_section(results), report.positions_section(results)]) + "\n"


# --- the command -----------------------------------------------------------------------------------

PLANS = {
    "full": dict(repeats=7, block_s=0.25),
    "quick": dict(repeats=5, block_s=0.15),
    "smoke": dict(repeats=2, block_s=0.0),
}


def parse_args(argv=None):
    parser = command.parser(
        "python -m bench.positions",
        __doc__.splitlines()[0],
        quick_help="fewer repeats, shorter blocks",
        smoke_help="the tiny shape, 2 repeats, one thread",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.threads or args.smoke:
        torch.set_num_threads(args.threads or 1)
    shapes = list((SMOKE_SHAPES if args.smoke else scheme_shapes()).values())
    started, load_before = time.time(), os.getloadavg()
    peak_size = 256 if args.smoke else 8192 if args.device == "cuda" else 2048
    peaks = [flops.matmul_peak(args.device, peak_size, plan["repeats"], plan["block_s"])]
    positions = measure(shapes, plan["repeats"], plan["block_s"], args.device)
    peaks.append(flops.matmul_peak(args.device, peak_size, plan["repeats"], plan["block_s"]))
    results = {
        "machine": {
            **command.machine(args.device),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "settings": {"plan": plan, "smoke": args.smoke, "quick": args.quick, "repeats": plan["repeats"]},
        "shapes": {shape.name: shape.asdict() for shape in shapes},
        "matmul_peak_gflops": {
            "size": peak_size,
            "before": peaks[0],
            "after": peaks[1],
            "median": summary([p["median"] for p in peaks])["median"],
        },  # fmt: skip
        "positions": positions,
        "wall_s": time.time() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "positions.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "positions.md").write_text(markdown(results))
    if not args.smoke:
        print(f"wrote {args.out / 'positions.md'} in {results['wall_s']:.0f} s")
    return results


if __name__ == "__main__":
    main()
