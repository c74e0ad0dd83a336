"""The report: docs/study.md, section by section, from the results (and the plots' file names).

`write_report` draws the plots and writes `<out>/study.md`; `markdown` assembles the sections.
"""

from pathlib import Path

from ..diagnostics import ONE_HOT_THRESHOLD, UNIFORM_THRESHOLD
from .claims import claims, warmup_runs
from .plan import CORPUS_SETTINGS, Plan, contrast_learning_rates
from .plots import write_plots
from .records import (
    accuracy_on_test,
    collapsed,
    depth_table,
    final_loss,
    fmt,
    gradient_ratio,
    mean_entropy,
    pct,
    probe_last,
    table,
)
from .scaling import length_series


def settings_section(results):
    plan, mode = Plan(**results["plan"]), results["mode"]
    rows = [
        [
            "grid",
            f"positions {', '.join(plan.positions)} × depths {', '.join(map(str, plan.depths))} × "
            f"{', '.join(plan.norms)}-norm × corpora {', '.join(plan.corpora)} × seeds "
            f"{', '.join(map(str, plan.seeds))}, all with warm-up; without warm-up: depth "
            f"{', '.join(map(str, plan.no_warmup_depths))}, order corpus, learned, at learning rates "
            f"{', '.join(f'{rate:g}' for _, rate in contrast_learning_rates(plan))}",
        ],
        [
            "model",
            f"hidden {plan.hidden_size}, {plan.num_attention_heads} heads, feed-forward {4 * plan.hidden_size}, "
            "dropout 0.1, mean pooling, SDPA attention (eager for the diagnostics)",
        ],
        [
            "training",
            f"AdamW, learning rate {plan.learning_rate:g}, weight decay 0.01, batch {plan.batch_size}, "
            f"linear decay, warm-up {plan.warmup:.0%} of the steps (or none), gradient clipping at 1.0",
        ],
        [
            "data",
            "; ".join(
                f"{c}: {plan.train_rows.get(c) or 'all'} training texts, {plan.epochs[c]} epochs, "
                f"max length {CORPUS_SETTINGS[c]['max_length']}"
                for c in plan.corpora
            ),
        ],
        [
            "diagnostics",
            f"on up to {plan.probe_texts} test texts; probe: logistic regression on the tokens of 70 % "
            "of the texts, scored on the other 30 %",
        ],
        ["runs", runtime(results)],
        ["machine", results["machine"]],
        [
            "load average",
            f"{results['load_average']['before']:.1f} at the start, {results['load_average']['after']:.1f} at the end "
            "(other jobs on the same cores slow every run down)",
        ],
    ]
    note = (
        ""
        if mode == "full"
        else (
            f"\n\n**Generated with `--{mode}`**: less data and fewer epochs than the full study; run "
            "`python -m research.study` for the full grid."
        )
    )
    return f"## Settings ({mode})\n\n" + table(["", ""], rows) + note


def runtime(results):
    cpu_minutes = sum(r.get("cpu_seconds", 0.0) for r in results["records"]) / 60
    resumed = f" ({results['resumed_runs']} of them from an interrupted run)" if results.get("resumed_runs") else ""
    return (
        f"{len(results['records'])} runs{resumed} in {results['grid_seconds'] / 60:.1f} min with {results['workers']} "
        f"worker(s), whole command {results['seconds'] / 60:.1f} min; the runs took {cpu_minutes:.1f} CPU-minutes "
        f"(one thread each), so ≈ {cpu_minutes / 2:.1f} min on two otherwise idle cores"
    )


def claims_section(results):
    lines = ["## Claims and verdicts", ""]
    for title, verdict, parts in claims(results):
        lines.append(f"- **{title}: {verdict}.**")
        lines += [f"  - {part}" for part in parts]
    return "\n".join(lines)


def accuracy_section(records, plan):
    text = ["## Test accuracy (mean ± std over seeds)"]
    for corpus in plan.corpora:
        text += [f"### {corpus} corpus", depth_table(records, plan, corpus, accuracy_on_test, pct)]
    if "subject" in plan.corpora:
        gap = lambda r: r["train_accuracy"] - r["test_accuracy"]  # noqa: E731
        text += ["### Train − test accuracy, subject corpus (overfitting)", depth_table(records, plan, "subject", gap)]
    return "\n\n".join(text)


def image(plots, name):
    return f"![{name.replace('_', ' ')}]({plots[name]})"


def warmup_section(records, plan, plots):
    rows = [
        [f"{rate:g}", f"depth {depth}, {norm}-norm"]
        + [pct(runs) for runs in warmup_runs(records, accuracy_on_test, key, depth, norm)]
        + [fmt(runs) for runs in warmup_runs(records, final_loss, key, depth, norm)]
        for key, rate in contrast_learning_rates(plan)
        for depth in plan.no_warmup_depths
        for norm in plan.norms
        if any(warmup_runs(records, accuracy_on_test, key, depth, norm))
    ]
    header = ["learning rate", "order, learned", "accuracy, warm-up", "accuracy, no warm-up", "final loss, warm-up"]
    return (
        f"## Warm-up or not\n\nWarm-up: the learning rate rises linearly over the first {plan.warmup:.0%} of the "
        "steps, then decays linearly; without it, it decays from the first step.\n\n"
        + table(header + ["final loss, no warm-up"], rows)
        + "\n\n"
        + image(plots, "warmup")
    )


def probe_section(records, plan, plots):
    text = [
        "## Position information per layer\n\nA linear probe (logistic regression) reads each token's absolute "
        "position from the hidden states; the plot follows it through the deepest models, the tables give it "
        "after the last layer. `none` shows what token identity alone tells. A probe near 1.0 is at its ceiling: "
        f"it shows that positions stay readable, not how sharply.\n\n{image(plots, 'position_probe')}"
    ]
    for corpus in plan.corpora:
        text += [f"### {corpus} corpus", depth_table(records, plan, corpus, probe_last)]
    return "\n\n".join(text)


def entropy_section(records, plan, plots):
    text = [
        "## Attention entropy\n\nMean normalised entropy over layers and heads (1 = uniform over the unpadded "
        f"keys, 0 = one-hot). A head counts as collapsed when its mean is ≥ {UNIFORM_THRESHOLD} or ≤ "
        f"{ONE_HOT_THRESHOLD}.\n\n{image(plots, 'attention_entropy')}"
    ]
    for corpus in plan.corpora:
        text += [f"### {corpus} corpus: entropy", depth_table(records, plan, corpus, mean_entropy)]
        text += [f"### {corpus} corpus: share of collapsed heads", depth_table(records, plan, corpus, collapsed)]
    return "\n\n".join(text)


def gradient_section(records, plan, plots):
    text = [
        "## Gradient norm per layer\n\nRecorded by `GradientNormCallback` at every optimizer step (after clipping, "
        "which scales all layers alike). The tables give layer 1's norm over the last layer's, averaged over "
        f"training (> 1: the first layer gets the larger gradient).\n\n{image(plots, 'gradient_norms')}\n\n"
        f"{image(plots, 'gradient_curves')}"
    ]
    deep = [d for d in plan.depths if d > 1] or plan.depths
    for corpus in plan.corpora:
        text += [f"### {corpus} corpus", depth_table(records, plan, corpus, gradient_ratio, depths=deep)]
    return "\n\n".join(text)


def table_section(records, plan, plots):
    text = [
        "## Position table\n\nEffective rank (exp of the entropy of the normalised singular values) of the rows "
        "of the positions seen in the test texts. The sinusoidal table is fixed: its rank is the same in every "
        f"run.\n\n{image(plots, 'position_similarity')}"
    ]
    rank = lambda r: r["position_table"]["effective_rank"]  # noqa: E731
    with_table = [p for p in plan.positions if p != "none"]
    for corpus in plan.corpora:
        text += [f"### {corpus} corpus", depth_table(records, plan, corpus, rank, lambda xs: fmt(xs, 1), with_table)]
    return "\n\n".join(text)


def length_section(results, plots):
    settings = ", ".join(f"{k} {v}" for k, v in results["length_scaling"]["settings"].items())
    bench = results["bench_scaling"]
    bench_text = f"the bench's ({bench['description']}, from bench/results)" if bench else "no bench results found"
    series = length_series(results)
    lengths = sorted({length for points in series.values() for length, _ in points})
    cells = [dict(points) for points in series.values()]
    rows = [[length] + [f"{ms[length]:.2f}" if length in ms else "–" for ms in cells] for length in lengths]
    return (
        f"## Cost against sequence length\n\nThe study's forward time of one model ({settings}; the fastest of the "
        f"repeats, one thread) and {bench_text}.\n\n{image(plots, 'cost_vs_length')}\n\n"
        + table(["length"] + [f"{name} (ms)" for name in series], rows)
    )


def markdown(results, plots):
    records, plan = results["records"], Plan(**results["plan"])
    title = (
        "# Positional-encoding study\n\nGenerated by `python -m research.study"
        f"{'' if results['mode'] == 'full' else ' --' + results['mode']}` from `study/results.json`: every "
        "number below is measured; do not edit by hand. Diagnostics: `research.diagnostics`."
    )
    sections = [title, claims_section(results), settings_section(results), accuracy_section(records, plan)]
    if plan.no_warmup_depths:
        sections.append(warmup_section(records, plan, plots))
    sections += [probe_section(records, plan, plots), entropy_section(records, plan, plots)]
    sections.append(gradient_section(records, plan, plots))
    if "position_similarity" in plots:
        sections.append(table_section(records, plan, plots))
    sections.append(length_section(results, plots))
    return "\n\n".join(sections) + "\n"


def write_report(results, out):
    """`<out>/study.md` and `<out>/study/*.png` from the results."""
    folder = Path(out) / "study"
    plots = {name: f"study/{name_}" for name, name_ in write_plots(results, folder).items()}
    path = Path(out) / "study.md"
    path.write_text(markdown(results, plots))
    return path
