"""Time per sample against sequence length and depth, for the three models, and its plot.

The batch holds a fixed number of tokens (batch × length = `tokens`), so that every point does similar
work for the linear layers and long sequences stay affordable; times are per sample (per sequence).
"""

import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.models import MODELS, build, make_batch  # noqa: E402
from bench.timing import infer_fn, interleaved, summary, train_step_fn  # noqa: E402


def sweep_point(shape, repeats, block_s, device):
    """Median ms per sample (training step and inference) for each model at one shape, padded input."""
    batch = make_batch(shape, padded=True, device=device)
    models = {name: build(name, shape, device) for name in MODELS}
    fns = {(name, "train"): train_step_fn(model, batch) for name, model in models.items()}
    fns.update({(name, "infer"): infer_fn(model, batch) for name, model in models.items()})
    seconds = interleaved(fns, repeats, block_s, device)
    return {f"{name}/{mode}": summary([1e3 * s / shape.batch for s in seconds[name, mode]]) for name, mode in fns}


def sweep(base, seqs, depths, tokens, repeats, block_s, device):
    """`{"seq": [...], "depth": [...]}`, each point the shape varied and its ms per sample per model."""
    points = {"seq": [], "depth": []}
    for seq in seqs:
        shape = dataclasses.replace(base, seq=seq, batch=max(1, tokens // seq))
        points["seq"].append({"seq": seq, "batch": shape.batch, **sweep_point(shape, repeats, block_s, device)})
    for depth in depths:
        shape = dataclasses.replace(base, num_hidden_layers=depth, batch=max(1, tokens // base.seq))
        points["depth"].append({"layers": depth, "batch": shape.batch, **sweep_point(shape, repeats, block_s, device)})
    return points


def plot(points, path, title):
    """Two panels, ms per sample against length and depth; solid lines train, dashed lines infer."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (key, x_name) in zip(axes, [("seq", "seq"), ("depth", "layers")], strict=True):
        xs = [point[x_name] for point in points[key]]
        for i, name in enumerate(MODELS):
            for mode, style in [("train", "-o"), ("infer", "--s")]:
                ys = [point[f"{name}/{mode}"]["median"] for point in points[key]]
                ax.plot(xs, ys, style, color=f"C{i}", label=f"{name} {mode}", markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length" if key == "seq" else "layers")
        ax.set_ylabel("ms per sample")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
