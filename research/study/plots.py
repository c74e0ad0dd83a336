"""The report's figures, drawn from the run records into `<out>/study/*.png`.

`write_plots` draws them all and returns {name: file name}; each other function draws one figure.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from posenc_hf.folder.plots import save

from ..diagnostics import draw_gradient_norms
from .plan import Plan, contrast_learning_rates
from .records import loss_curve, select, values
from .scaling import length_series

PER_LAYER_PLOTS = {  # name: (per-layer metric, title, y label, y limits, y scale)
    "position_probe": (
        lambda r: r["position_probe"]["accuracy_per_layer"],
        "Position probe accuracy per layer",
        "probe accuracy",
        (0, 1.02),
        "linear",
    ),
    "attention_entropy": (
        lambda r: r["attention"]["entropy_per_layer"],
        "Attention entropy per layer",
        "mean normalised entropy",
        (0, 1.02),
        "linear",
    ),
    "gradient_norms": (
        lambda r: r["grad_norm_per_layer"],
        "Gradient norm per layer (mean over training)",
        "gradient L2 norm",
        None,
        "log",
    ),
}


def grid_and_legend(axes):
    """A light grid, and a legend when something was drawn."""
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend(fontsize=7)


def per_layer_plot(records, plan, name, folder):
    """Mean over seeds of a per-layer metric of the deepest models, one line per position × norm, a panel per corpus."""
    metric, title, ylabel, ylim, yscale = PER_LAYER_PLOTS[name]
    depth = max(plan.depths)
    figure = Figure(figsize=(5 * len(plan.corpora), 4), layout="constrained")
    for axes, corpus in zip(np.atleast_1d(figure.subplots(1, len(plan.corpora))), plan.corpora, strict=True):
        for i, position in enumerate(plan.positions):
            for norm, style in zip(plan.norms, ("-o", "--s"), strict=False):
                runs = values(records, metric, corpus=corpus, position=position, norm=norm, depth=depth, warmup=True)
                if runs:
                    curve = np.mean(runs, axis=0)
                    first = depth + 1 - len(curve)  # 0 when the curve starts at the embeddings
                    label = f"{position}, {norm}"
                    axes.plot(range(first, depth + 1), curve, style, color=f"C{i}", markersize=3, label=label)
        xlabel = "layer (0 = embeddings)" if name == "position_probe" else "layer"
        axes.set(title=f"{corpus} corpus, depth {depth}", xlabel=xlabel, ylabel=ylabel)
        axes.set(ylim=ylim, yscale=yscale)
        grid_and_legend(axes)
    figure.suptitle(title)
    return save(figure, folder / f"{name}.png")


def similarity_plot(records, plan, folder):
    """Cosine similarity of two positions against their distance: learned tables (per norm) and the sinusoid."""
    figure = Figure(figsize=(5 * len(plan.corpora), 4), layout="constrained")
    for axes, corpus in zip(np.atleast_1d(figure.subplots(1, len(plan.corpora))), plan.corpora, strict=True):
        for i, position in enumerate(p for p in plan.positions if p != "none"):
            for norm, style in zip(plan.norms, ("-", "--"), strict=False):
                runs = select(records, corpus=corpus, position=position, norm=norm, warmup=True)
                curves = [r["position_table"]["similarity_by_distance"] for r in runs]
                if curves:
                    size = min(map(len, curves))
                    axes.plot(
                        np.mean([c[:size] for c in curves], axis=0),
                        style,
                        color=f"C{i}",
                        label=f"{position}, {norm} (all depths)",
                    )
        axes.set(title=f"{corpus} corpus", xlabel="distance |i - j|", ylabel="mean cosine similarity")
        grid_and_legend(axes)
    figure.suptitle("Position table: similarity against distance")
    return save(figure, folder / "position_similarity.png")


def length_plot(results, folder):
    """Every length series on log-log axes, with a line ∝ length² for reference."""
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    for name, points in length_series(results).items():
        axes.plot(*zip(*points, strict=True), "-o", markersize=3, label=name)
    lengths, ms = zip(*next(iter(length_series(results).values())), strict=True)
    reference = ms[-1] * (np.array(lengths) / lengths[-1]) ** 2
    axes.plot(lengths, reference, ":", color="gray", label="∝ length² (through the study's last point)")
    axes.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="ms", title="Cost against sequence length")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7)
    return save(figure, folder / "cost_vs_length.png")


def warmup_plot(records, plan, folder):
    """Train loss per epoch (mean over seeds) of the deepest stacks with and without warm-up: a row per learning
    rate, a column per norm."""
    depth = max(plan.no_warmup_depths)
    rates = [
        (key, rate) for key, rate in contrast_learning_rates(plan) if select(records, learning_rate=key, warmup=False)
    ]
    figure = Figure(figsize=(4.5 * len(plan.norms), 3 * len(rates)), layout="constrained")
    panels = np.array(figure.subplots(len(rates), len(plan.norms), squeeze=False))
    for row, (key, rate) in enumerate(rates):
        for column, norm in enumerate(plan.norms):
            axes = panels[row, column]
            for warmup, style in ((True, "-o"), (False, "--s")):
                where = dict(corpus="order", position="learned", depth=depth, norm=norm, warmup=warmup)
                losses = values(records, loss_curve, learning_rate=key, **where)
                if losses:
                    label = "warm-up" if warmup else "no warm-up"
                    axes.plot(range(1, len(losses[0]) + 1), np.mean(losses, axis=0), style, markersize=3, label=label)
            axes.set(title=f"depth {depth}, {norm}-norm, learning rate {rate:g}", xlabel="epoch", ylabel="train loss")
            grid_and_legend(axes)
    figure.suptitle("Order corpus, learned positions: train loss with and without warm-up")
    return save(figure, folder / "warmup.png")


def gradient_curves_plot(records, plan, folder):
    """Gradient norm per layer over training of the first seed's deepest order/learned model, a panel per norm."""
    depth = max(plan.depths)
    figure = Figure(figsize=(5 * len(plan.norms), 4), layout="constrained")
    for axes, norm in zip(np.atleast_1d(figure.subplots(1, len(plan.norms))), plan.norms, strict=True):
        where = dict(corpus=plan.corpora[0], position=plan.positions[0], depth=depth, norm=norm, seed=plan.seeds[0])
        runs = select(records, **where, warmup=True)
        if runs:
            draw_gradient_norms(axes, runs[0]["grad_norm_curve"]["norms"], runs[0]["grad_norm_curve"]["steps"])
        axes.set_title(f"{where['corpus']}, {where['position']}, depth {depth}, {norm}-norm, seed {where['seed']}")
    figure.suptitle("Gradient norm per layer during training")
    return save(figure, folder / "gradient_curves.png")


def write_plots(results, folder):
    """Every plot of the report into `folder`; returns {name: file name}."""
    records, plan = results["records"], Plan(**results["plan"])
    for stale in Path(folder).glob("*.png"):  # a plot a new report lacks must not linger
        stale.unlink()
    plots = {name: per_layer_plot(records, plan, name, folder) for name in PER_LAYER_PLOTS}
    plots["gradient_curves"] = gradient_curves_plot(records, plan, folder)
    plots["cost_vs_length"] = length_plot(results, folder)
    if plan.no_warmup_depths:
        plots["warmup"] = warmup_plot(records, plan, folder)
    if any(r["position_table"] for r in records):
        plots["position_similarity"] = similarity_plot(records, plan, folder)
    return {name: path.name for name, path in plots.items()}
