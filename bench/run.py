"""The benchmark run: memory, matmul peak, model comparison, decisions, torch.compile, scaling, profile.

`python -m bench [--quick | --smoke] [--device cpu|cuda] [--threads N] [--out DIR]`; writes
results.json, results.md, scaling.png and profile.md to `--out` (default bench/results).
"""

import json
import os
import time

import torch

from bench import command, decisions, flops, memory, positions, profiling, report, routes, scaling
from bench.models import MODELS, SHAPES, SMOKE_SHAPES, build, dropouts, make_batch, pad_fraction
from bench.timing import infer_fn, interleaved, paired_ratio, summary, throughput, train_step_fn

RESULTS = command.RESULTS
TARGETS = {"train posenc_same": 1.3, "train posenc_default": 3.0, "infer posenc_default": 1.5}
PLANS = {  # repeats and block_s of the main comparison; the rest is scaled from them
    "full": dict(repeats=7, block_s=0.25, seqs=[32, 64, 128, 256, 512, 1024], depths=[1, 2, 4, 8], tokens=4096),
    "quick": dict(repeats=5, block_s=0.15, seqs=[32, 128, 512], depths=[1, 4], tokens=4096),
    "smoke": dict(repeats=2, block_s=0.0, seqs=[8, 12], depths=[1, 2], tokens=48),
}


def parse_args(argv=None):
    parser = command.parser(
        "python -m bench",
        __doc__.splitlines()[0],
        quick_help="fewer repeats and sweep points, no torch.compile",
        smoke_help="tiny shapes, 2 repeats: proves the bench runs (CI)",
    )
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurement")
    return parser.parse_args(argv)


def measure_memory(shapes, device):
    """`{(shape, model): {"infer_mb", "train_mb"}}`, padded input, each in a fresh child process."""
    threads = torch.get_num_threads()
    return {
        (shape.name, name): memory.measure_in_subprocess(
            {"device": device, "threads": threads, "shape": shape.asdict(), "model": name, "padded": True}
        )
        for shape in shapes
        for name in MODELS
    }


def compare(shape, padded, repeats, block_s, device):
    """Training, inference and batch-1 latency of the three models at one shape, all interleaved."""
    batch = make_batch(shape, padded, device)
    models = {name: build(name, shape, device) for name in MODELS}
    fns = {}
    for name, model in models.items():
        fns[name, "train"] = train_step_fn(model, batch)
        fns[name, "infer"] = infer_fn(model, batch)
        fns[name, "latency"] = infer_fn(model, batch, batch_size=1)
    seconds = interleaved(fns, repeats, block_s, device)
    rows = [
        {
            "shape": shape.name,
            "padded": padded,
            "pad_fraction": pad_fraction(batch),
            "model": name,
            "dropouts": dropouts(models[name]),
            "train_samples_per_s": throughput(seconds[name, "train"], shape.batch),
            "infer_samples_per_s": throughput(seconds[name, "infer"], shape.batch),
            "latency_ms": summary([1e3 * s for s in seconds[name, "latency"]]),
            "forward_flops_per_sample": flops.forward_flops(shape, name),
            "train_flops_per_sample": flops.train_flops(shape, name),
        }
        for name in MODELS
    ]
    ratios = {
        f"{mode} {name}": paired_ratio(seconds["bert", mode], seconds[name, mode])
        for mode in ("train", "infer", "latency")
        for name in MODELS
        if name != "bert"
    }
    return rows, {"shape": shape.name, "padded": padded, "speed_vs_bert": ratios}


def add_peak_share(rows, peak_gflops):
    """Achieved share of the measured matmul peak, from median samples/s and the analytic FLOPs."""
    for row in rows:
        for mode, flops_key in [("train", "train_flops_per_sample"), ("infer", "forward_flops_per_sample")]:
            achieved = row[flops_key] * row[f"{mode}_samples_per_s"]["median"] / 1e9
            row[f"{mode}_gflops"] = achieved
            row[f"{mode}_share_of_peak"] = achieved / peak_gflops


def check_targets(ratios):
    """Each target against each shape and padding: the median paired speed ratio and whether it passes."""
    return [
        {
            "shape": entry["shape"],
            "padded": entry["padded"],
            "target": key,
            "needed": needed,
            "got": entry["speed_vs_bert"][key]["median"],
            "met": entry["speed_vs_bert"][key]["median"] >= needed,
        }
        for entry in ratios
        for key, needed in TARGETS.items()
    ]


def main(argv=None):
    args = parse_args(argv)
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.threads or args.smoke:  # smoke: one thread, robust on a busy CI machine
        torch.set_num_threads(args.threads or 1)
    shapes = list((SMOKE_SHAPES if args.smoke else SHAPES).values())
    repeats, block_s, device = plan["repeats"], plan["block_s"], args.device
    started, load_before = time.time(), os.getloadavg()
    log = print if not args.smoke else (lambda *a: None)
    log(f"bench: {'smoke' if args.smoke else 'quick' if args.quick else 'full'} run on {device}")

    memory_mb = measure_memory(shapes, device)
    log("memory done")
    peak_size = 256 if args.smoke else 8192 if device == "cuda" else 2048
    peaks = [flops.matmul_peak(device, peak_size, repeats, block_s)]
    rows, ratios = [], []
    for shape in shapes:
        for padded in (True, False):
            shape_rows, shape_ratios = compare(shape, padded, repeats, block_s, device)
            rows += shape_rows
            ratios.append(shape_ratios)
            log(f"compared {shape.name} padded={padded}")
    for row in rows:
        row["peak_memory_mb"] = memory_mb[row["shape"], row["model"]]
    decision_shapes = list({shape.name: shape for shape in (shapes[0], shapes[-1])}.values())
    decision_rows = decisions.all_decisions(decision_shapes, max(2, repeats - 2), block_s, device)
    log("decisions done")
    compiled = None
    if not (args.smoke or args.quick or args.no_compile):
        compiled = decisions.try_compile(shapes[0], max(2, repeats - 4), block_s, device)
        log("compile done")
    compile_routes = not (args.smoke or args.quick or args.no_compile)
    inference_routes = routes.measure(shapes[0], max(2, repeats - 2), block_s, device, compile_routes)
    log("inference routes done")
    scheme_shapes = shapes if args.smoke else list(positions.scheme_shapes().values())
    schemes = positions.measure(scheme_shapes, repeats, block_s, device)
    log("position schemes done")
    points = scaling.sweep(shapes[0], plan["seqs"], plan["depths"], plan["tokens"], max(2, repeats // 2), 0, device)
    log("scaling done")
    profiles = profiling.profile_all(shapes[0], device, steps=1 if args.smoke else 5, rows=15)
    peaks.append(flops.matmul_peak(device, peak_size, repeats, block_s))
    peak = summary([p["median"] for p in peaks])
    add_peak_share(rows, peak["median"])

    results = {
        "machine": {
            **command.machine(device),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "settings": {"plan": plan, "smoke": args.smoke, "quick": args.quick, "repeats": repeats, "block_s": block_s},
        "shapes": {shape.name: shape.asdict() for shape in shapes},
        "matmul_peak_gflops": {"size": peak_size, "before": peaks[0], "after": peaks[1], "median": peak["median"]},
        "results": rows,
        "ratios": ratios,
        "targets": check_targets(ratios),
        "decisions": decision_rows,
        "compile": compiled,
        "inference_routes": inference_routes,
        "positions": schemes,
        "scaling": points,
        "profile": {name: {"top_ops": ops, "ms_per_step": split} for name, (_, ops, split) in profiles.items()},
        "wall_s": time.time() - started,
    }
    write(results, profiles, args.out, shapes[0])
    log(f"wrote {args.out} in {results['wall_s']:.0f} s")
    return results


def write(results, profiles, out, scaling_shape):
    """results.json, results.md, profile.md and scaling.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    (out / "profile.md").write_text(
        report.profile_markdown(results, {k: table for k, (table, _, _) in profiles.items()})
    )
    title = f"{scaling_shape.name} shape (hidden {scaling_shape.hidden_size}, padded input), ms per sample"
    scaling.plot(results["scaling"], out / "scaling.png", title)


if __name__ == "__main__":
    main()
