"""Reading the run records: select runs, aggregate a metric over seeds (mean ± sample std), tabulate.

The metric getters at the end each take one record and return one number (or one list).
"""

import math

import numpy as np


def select(records, learning_rate=None, **where):
    """The records that match `where`, at `learning_rate` (None: the plan's, as in the main grid)."""
    return [
        r
        for r in records
        if r.get("learning_rate") == learning_rate and all(r[key] == value for key, value in where.items())
    ]


def values(records, metric, learning_rate=None, **where):
    return [metric(r) for r in select(records, learning_rate, **where)]


def mean_std(xs):
    """(mean, sample std) of a list, std 0 for one value; (nan, nan) for none."""
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def fmt(xs, digits=3):
    mean, std = mean_std(xs)
    return "–" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def pct(xs):
    mean, std = mean_std(xs)
    return "–" if math.isnan(mean) else f"{100 * mean:.1f} ± {100 * std:.1f} %"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def depth_table(records, plan, corpus, metric, formatter=fmt, positions=None, depths=None):
    """Rows: position type × norm; columns: depth; cells: the metric over seeds (warm-up runs)."""
    depths = depths or plan.depths
    rows = [
        [f"{position}, {norm}-norm"]
        + [
            formatter(values(records, metric, corpus=corpus, position=position, norm=norm, depth=d, warmup=True))
            for d in depths
        ]
        for position in positions or plan.positions
        for norm in plan.norms
    ]
    return table(["position, norm"] + [f"depth {d}" for d in depths], rows)


def accuracy_on_test(r):
    return r["test_accuracy"]


def probe_last(r):
    return r["position_probe"]["accuracy_per_layer"][-1]


def probe_first(r):
    return r["position_probe"]["accuracy_per_layer"][0]


def mean_entropy(r):
    return float(np.mean(r["attention"]["entropy_per_layer"]))


def collapsed(r):
    return r["attention"]["collapsed_share"]


def gradient_ratio(r):
    """Gradient norm of the first layer over the last, averaged over training (> 1: the first gets more)."""
    norms = r["grad_norm_per_layer"]
    return norms[0] / norms[-1] if norms[-1] > 0 else math.nan


def final_loss(r):
    return r["train_loss_per_epoch"][-1]


def loss_curve(r):
    return r["train_loss_per_epoch"]
