"""Where a training step's time goes: torch.profiler's top operators for each model, and the step
split into linear-layer matmuls, attention, dropout masks and the rest."""

import torch
from torch.profiler import ProfilerActivity, profile

from bench.models import MODELS, build, make_batch
from bench.timing import train_step_fn

CATEGORIES = {  # first match wins, on the operator name
    "attention": ("scaled_dot_product", "softmax", "bmm"),
    "linear matmuls": ("aten::mm", "aten::addmm"),
    "dropout masks": ("bernoulli", "random_"),
}


def category(op):
    """The `CATEGORIES` key an operator belongs to, or "other" (elementwise, norms, optimizer, ...)."""
    for name, patterns in CATEGORIES.items():
        if any(op == p or (not p.startswith("aten::") and p in op) for p in patterns):
            return name
    return "other"


def top_ops(model_name, shape, device, steps, rows):
    """(table text, top `rows` operators by self time, ms per step per category) over `steps` steps."""
    step = train_step_fn(build(model_name, shape, device), make_batch(shape, padded=True, device=device))
    step()
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as profiler:
        for _ in range(steps):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
    events = profiler.key_averages()
    key = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    table = events.table(sort_by=key, row_limit=rows, max_name_column_width=60)
    ms = {event.key: getattr(event, key) / 1e3 / steps for event in events}
    total = sum(ms.values()) or 1.0
    ranked = sorted(ms, key=ms.get, reverse=True)
    ops = [{"op": op, "ms_per_step": ms[op], "share": ms[op] / total} for op in ranked[:rows]]
    categories = {name: 0.0 for name in [*CATEGORIES, "other"]}
    for op, value in ms.items():
        categories[category(op)] += value
    return table, ops, {**categories, "total": total}


def profile_all(shape, device, steps, rows):
    """`{model: (table, ops, categories)}` for every model at `shape`, padded input."""
    return {name: top_ops(name, shape, device, steps, rows) for name in MODELS}
