"""results.md and profile.md from the results dictionary."""

MODEL_NOTES = {
    "posenc_default": "ours, PosEncConfig default dropouts",
    "posenc_same": "ours, BERT's dropouts",
    "bert": "BertForSequenceClassification",
}


def spread(stats, digits=0):
    """`median [min–max]` of a summary."""
    return f"{stats['median']:.{digits}f} [{stats['min']:.{digits}f}–{stats['max']:.{digits}f}]"


def ratio(stats):
    return f"{stats['median']:.2f}× [{stats['min']:.2f}–{stats['max']:.2f}]"


def padding(padded, fraction=None):
    return f"padded ({fraction:.0%})" if padded and fraction is not None else "padded" if padded else "none"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def machine_section(results):
    m, peak = results["machine"], results["matmul_peak_gflops"]
    load = (
        ", ".join(f"{x:.2f}" for x in m["load_average_before"])
        + " → "
        + ", ".join(f"{x:.2f}" for x in m["load_average_after"])
    )
    rows = [
        ("CPU", f"{m['cpu']} ({m['cpu_capability']})"),
        ("cores (logical / usable)", f"{m['logical_cores']} / {m['usable_cores']}"),
        ("torch threads", m["torch_threads"]),
        ("device", m["device"]),
        ("torch / transformers / python", f"{m['torch']} / {m['transformers']} / {m['python']}"),
        ("load average (1, 5, 15 min) before → after", load),
        (
            f"fp32 matmul peak ({peak['size']}², GFLOP/s)",
            f"{spread(peak['before'])} before, {spread(peak['after'])} after",
        ),
        ("run", f"{results['wall_s']:.0f} s, {results['settings']['repeats']} interleaved repeats"),
    ]
    text = "## Machine\n\n" + table(["", ""], rows)
    if max(m["load_average_before"][0], m["load_average_after"][0]) > m["usable_cores"]:
        text += (
            "\n\nThe machine was shared (load average above its core count): absolute numbers are low and noisy; "
            "the ratios, paired per repeat, are the robust result."
        )
    return text


def ratio_section(results):
    rows = [
        (
            entry["shape"],
            padding(entry["padded"]),
            ratio(entry["speed_vs_bert"]["train posenc_same"]),
            ratio(entry["speed_vs_bert"]["train posenc_default"]),
            ratio(entry["speed_vs_bert"]["infer posenc_default"]),
            ratio(entry["speed_vs_bert"]["latency posenc_default"]),
        )
        for entry in results["ratios"]
    ]
    header = ["shape", "padding", "train, same dropouts", "train, our defaults", "inference", "batch-1 latency"]
    met = [t for t in results["targets"] if t["met"]]
    summary = f"{len(met)} of {len(results['targets'])} target checks met (train same ≥ 1.3×, train defaults ≥ 3×, "
    summary += "inference ≥ 1.5×)."
    return (
        "## Speed against BERT (ours ÷ BERT, median of per-repeat paired ratios [min–max])\n\n"
        + table(header, rows)
        + "\n\n"
        + summary
    )


def model_section(results):
    rows = []
    for r in results["results"]:
        d = r["dropouts"]
        rows.append(
            (
                r["shape"],
                padding(r["padded"], r["pad_fraction"]),
                r["model"],
                f"{d['hidden']}/{d['attention']}",
                spread(r["train_samples_per_s"]),
                spread(r["infer_samples_per_s"]),
                spread(r["latency_ms"], 2),
                f"{r['peak_memory_mb']['train_mb']:.0f} / {r['peak_memory_mb']['infer_mb']:.0f}",
                f"{r['train_flops_per_sample'] / 1e6:.0f}",
                f"{r['train_gflops']:.1f} ({r['train_share_of_peak']:.0%})",
                f"{r['infer_gflops']:.1f} ({r['infer_share_of_peak']:.0%})",
            )
        )
    header = [
        "shape",
        "padding",
        "model",
        "dropout hidden/attn",
        "train samples/s",
        "infer samples/s",
        "batch-1 latency ms",
        "peak MB train / infer",
        "train MFLOP/sample",
        "train GFLOP/s (% peak)",
        "infer GFLOP/s (% peak)",
    ]
    notes = "; ".join(f"`{k}`: {v}" for k, v in MODEL_NOTES.items())
    return "## Per model (median [min–max] over repeats)\n\n" + notes + ".\n\n" + table(header, rows)


def decision_section(results):
    rows = [
        (
            d["decision"],
            d["shape"],
            d["mode"],
            d["candidate"],
            spread(d["samples_per_s"]),
            ratio(d["speed_vs_first"]),
        )
        for d in results["decisions"]
    ]
    header = ["decision", "shape", "mode", "candidate", "samples/s", "speed vs first candidate"]
    title = "## Decisions (padded input; our model with its defaults unless the decision says BERT)"
    return title + "\n\n" + table(header, rows)


def compile_section(results):
    c = results["compile"]
    if c is None:
        return "## torch.compile\n\nnot measured in this run (`--quick`, `--smoke` or `--no-compile`)."
    if "error" in c:
        return f"## torch.compile\n\nfailed on {c['shape']}: `{c['error']}`"
    rows = [(name, spread(stats)) for name, stats in c["samples_per_s"].items()]
    s = c["compile_s"]
    text = f"Compile time: {s['train']:.1f} s (first training step), {s['infer']:.1f} s (first inference call). "
    text += (
        f"Speed vs eager: train {ratio(c['speed_vs_eager']['train'])}, inference {ratio(c['speed_vs_eager']['infer'])}."
    )
    return f"## torch.compile ({c['shape']}, our defaults, padded)\n\n{text}\n\n" + table(["", "samples/s"], rows)


def routes_section(results):
    routes = results.get("inference_routes")
    if routes is None:
        return "## Inference routes\n\nnot measured in this run (CPU only)."
    rows = [
        (r["route"], r["model"], spread(r["infer_samples_per_s"]), ratio(r["vs_eager"]), f"{r['setup_s']:.1f}")
        for r in routes["rows"]
    ]
    ours_vs_bert = ", ".join(f"{route} {ratio(stats)}" for route, stats in routes["ours_vs_bert"].items())
    shape = routes["rows"][0]["shape"]
    return (
        f"## Inference routes ({shape}, padded, batch 32; ONNX Runtime with intra-op spinning off)\n\n"
        + table(["route", "model", "samples/s", "vs eager", "setup s"], rows)
        + f"\n\nOurs ÷ BERT through the same route: {ours_vs_bert}."
    )


def scaling_section(results):
    points = results["scaling"]
    names = [key for key in points["seq"][0] if "/" in key]
    rows = [(f"seq {p['seq']} × batch {p['batch']}", *(f"{p[n]['median']:.3f}" for n in names)) for p in points["seq"]]
    rows += [(f"layers {p['layers']}", *(f"{p[n]['median']:.3f}" for n in names)) for p in points["depth"]]
    return "## Scaling (ms per sample, median; batch × length fixed)\n\n![scaling](scaling.png)\n\n" + table(
        ["point", *names], rows
    )


def positions_section(results):
    """Per shape, padding, implementation and scheme: samples/s, the cost against the same implementation's
    learned table (paired time ratio, > 1 slower) and, for ours, ours ÷ each x-transformers peer."""
    positions = results["positions"]
    peers = sorted({peer for r in positions["rows"] for peer in r.get("speed_vs_peers", {})}, key=len)
    rows = [
        (
            r["shape"],
            padding(r["padded"], r["pad_fraction"]),
            r["implementation"],
            r["scheme"],
            spread(r["train_samples_per_s"]),
            ratio(r["train_cost_vs_learned"]),
            spread(r["infer_samples_per_s"]),
            ratio(r["infer_cost_vs_learned"]),
            *(
                ratio(r["speed_vs_peers"][peer][mode]) if peer in r.get("speed_vs_peers", {}) else "—"
                for peer in peers
                for mode in ("train", "infer")
            ),
        )
        for r in positions["rows"]
    ]
    header = ["shape", "padding", "implementation", "scheme", "train samples/s", "train cost ÷ learned"]
    header += ["infer samples/s", "infer cost ÷ learned"]
    header += [f"{mode}: ours ÷ {peer}" for peer in peers for mode in ("train", "infer")]
    targets = positions["targets"]
    missed = [
        f"{t['scheme']} {t['mode']} {padding(t['padded'])} ({t['target']} {t['got']:.2f}×, needs "
        f"{'≤' if t['target'] == 'cost vs learned' else '≥'} {t['needed']}×)"
        for t in targets
        if not t["met"]
    ]
    text = f"{sum(t['met'] for t in targets)} of {len(targets)} target checks met"
    text += f" at the {targets[0]['shape']} shape" if targets else ""
    text += " (each of our schemes ≤ 1.3× the time of our learned table; ours ÷ x-transformers as it comes ≥ the "
    text += "issue's earlier lead)." + ("" if not missed else " Missed: " + "; ".join(missed) + ".")
    title = "## Position schemes (ours with its defaults; x-transformers' Encoder of the same size as the peers)"
    return title + "\n\n" + table(header, rows) + "\n\n" + text


def markdown(results):
    title = "# posenc_hf speed benchmark\n\nGenerated by `python -m bench`; see bench/README.md for the columns."
    sections = [machine_section, ratio_section, model_section, profile_section, decision_section, compile_section]
    sections += [routes_section, positions_section, scaling_section]
    return "\n\n".join([title] + [section(results) for section in sections]) + "\n"


def profile_section(results):
    """The training step split by kind of work, from torch.profiler self times (profiler overhead included)."""
    splits = {name: entry["ms_per_step"] for name, entry in results["profile"].items()}
    kinds = [kind for kind in next(iter(splits.values())) if kind != "total"]
    rows = [
        (name, *(f"{split[k]:.1f} ({split[k] / split['total']:.0%})" for k in kinds), f"{split['total']:.1f}")
        for name, split in splits.items()
    ]
    shape = next(iter(results["shapes"]))
    return (
        f"## Where a training step goes ({shape}, padded; ms per step, torch.profiler self time)\n\n"
        + table(["model", *kinds, "total"], rows)
        + "\n\nTop operators per model: [profile.md](profile.md)."
    )


def profile_markdown(results, tables):
    """The step split, then one torch.profiler table per model."""
    parts = [
        "# Training-step profiles",
        profile_section(results).replace("\n\nTop operators per model: [profile.md](profile.md).", ""),
    ]
    for name, text in tables.items():
        parts.append(f"## {name} ({MODEL_NOTES[name]}): top operators by self time\n\n```\n{text}\n```")
    return "\n\n".join(parts) + "\n"
