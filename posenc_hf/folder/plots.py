"""The training and model plots that go into a model card, as PNG files.

Figures are built with `matplotlib.figure.Figure` directly, not with `pyplot`: such a figure renders
with the Agg backend, is never registered with pyplot's global figure manager (so nothing to close,
no backend switch, no leak across a long training run) and is freed with its last reference.

What a position scheme learned is drawn as it is stored: an absolute table (learned, sinusoidal) as a
heatmap with the similarity between its positions; an attention bias (alibi, t5, fire, kerple) as the
bias each head adds against the distance key - query; rotary, which learns nothing, as the cosine of
each frequency pair's rotation angle against distance (the factor on that pair's share of q·k); "none"
has no position plot.

Every plot is bounded in memory whatever the run's size: a position table is drawn at most
`MAX_POSITIONS` rows (and columns) of it, evenly spaced, distances reach at most `MAX_POSITIONS` each
way, and no figure is larger than `MAX_FIGURE_INCHES` a side. Plots are optional: `written` logs a
failing one in one line and goes on.
"""

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from ..model.attention_positions_posenc import BiasPositions, PosEncRotaryEmbedding
from .checkpoints import atomic_file

logger = logging.getLogger(__name__)

DPI = 120
MAX_POSITIONS = 512  # rows of a position table (and of its similarity matrix) drawn at most
MAX_FIGURE_INCHES = 24.0  # per side: 2,880 pixels at DPI, whatever the number of labels
MAX_ANNOTATED_LABELS = 30  # a confusion matrix over more labels shows colours only, no count in each cell
MAX_LEGEND_ENTRIES = 16  # more heads than this: lines without a legend


def save(figure, path):
    """Write `figure` as a PNG, creating the folder; return the path. The file appears whole or not at
    all (written beside it, then renamed): a run killed while plotting leaves no cut-short image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as partial:
        figure.savefig(partial, dpi=DPI, format="png")
    return path


def written(folder, steps):
    """Run each plot step ({name: function returning the path written, or None}); {name: path relative
    to `folder`} of the plots written. A step that raises is logged in one line naming it and the error,
    and the others still run: the model folder is complete without any of them."""
    plots = {}
    for name, step in steps.items():
        try:
            plots[name] = step()
        except Exception as error:
            logger.warning("Plot %s failed (%s: %s); the model folder is complete without it",
                           name, type(error).__name__, error)  # fmt: skip
    return relative_paths(folder, plots)


def series(log_history, key):
    """(epochs, values) of `key` in `trainer.state.log_history`; a repeated epoch keeps its last value."""
    by_epoch = {entry["epoch"]: entry[key] for entry in log_history if key in entry and "epoch" in entry}
    return list(by_epoch), list(by_epoch.values())


def plot_lines(log_history, keys_and_labels, path, title, ylabel, ylim=None, kept_epoch=None):
    """One line per logged key against epoch, as a PNG at `path` (`curves_figure`)."""
    return save(curves_figure(log_history, keys_and_labels, title, ylabel, ylim, kept_epoch), path)


def curves_figure(log_history, keys_and_labels, title, ylabel, ylim=None, kept_epoch=None):
    """One line per logged key against epoch; a dashed line at `kept_epoch`, the epoch whose weights were kept."""
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    for key, label in keys_and_labels:
        epochs, values = series(log_history, key)
        if values:
            axes.plot(epochs, values, marker="o" if len(values) < 50 else None, label=label)
    if kept_epoch is not None:
        axes.axvline(kept_epoch, color="gray", linestyle="--", linewidth=1, label=f"kept: epoch {kept_epoch:g}")
    axes.set(title=title, xlabel="epoch", ylabel=ylabel, ylim=ylim)
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend()
    return figure


def plot_loss_curves(log_history, path, kept_epoch=None):
    """Train loss (at each logging step, on the fractional epoch) and validation loss per epoch."""
    keys = [("loss", "train"), ("eval_loss", "validation")]
    return plot_lines(log_history, keys, path, "Loss", "cross-entropy loss", kept_epoch=kept_epoch)


def plot_validation_metrics(log_history, path, kept_epoch=None):
    """Validation accuracy and macro-F1 per epoch, on a 0-1 scale so that runs compare at a glance."""
    keys = [("eval_accuracy", "accuracy"), ("eval_macro_f1", "macro-F1")]
    return plot_lines(log_history, keys, path, "Validation metrics", "score", ylim=(0, 1.02), kept_epoch=kept_epoch)


def plot_validation_f1(log_history, path, kept_epoch=None):
    """A multi-label model's validation micro- and macro-F1 per epoch (at threshold 0.5), on a 0-1 scale."""
    keys = [("eval_micro_f1", "micro-F1"), ("eval_macro_f1", "macro-F1")]
    title = "Validation F1 (threshold 0.5)"
    return plot_lines(log_history, keys, path, title, "score", ylim=(0, 1.02), kept_epoch=kept_epoch)


def evenly_spaced(count, limit=MAX_POSITIONS):
    """At most `limit` indices of range(count), evenly spaced, the first and the last among them."""
    return np.unique(np.linspace(0, count - 1, num=min(count, limit)).round().astype(np.int64))


def position_table(model):
    """(positions, dims, rows) of the position table, at most MAX_POSITIONS of its positions and of its
    dimensions (evenly spaced; `rows` a float CPU tensor), or None when the model has none. Only the
    rows drawn are copied, so a table of any length costs the same."""
    weight = model.get_position_embeddings().weight
    if weight is None:
        return None
    positions, dims = evenly_spaced(weight.shape[0]), evenly_spaced(weight.shape[1])
    rows = weight.detach()[torch.from_numpy(positions)][:, torch.from_numpy(dims)].float().cpu()
    return positions, dims, rows


def position_similarity(model):
    """(positions, their cosine similarity matrix) over at most MAX_POSITIONS positions of the table
    (every dimension counts), or None when the model has no table."""
    weight = model.get_position_embeddings().weight
    if weight is None:
        return None
    positions = evenly_spaced(weight.shape[0])
    unit = F.normalize(weight.detach()[torch.from_numpy(positions)].float().cpu(), dim=-1)
    return positions, (unit @ unit.T).numpy()


def sampled(title, shown, count):
    """`title`, saying so when only some of `count` positions are drawn."""
    return title if len(shown) == count else f"{title}, {len(shown)} of {count} positions"


def plot_heatmap(matrix, path, title, xlabel, ylabel, vmax, colorbar_label, extent=None):
    """`heatmap_figure` as a PNG at `path`."""
    return save(heatmap_figure(matrix, title, xlabel, ylabel, vmax, colorbar_label, extent), path)


def heatmap_figure(matrix, title, xlabel, ylabel, vmax, colorbar_label, extent=None):
    """A diverging heatmap centred on 0, so that sign and size read directly; `extent` places the cells
    at the positions they stand for when only some are drawn."""
    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(
        matrix, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest", extent=extent
    )
    figure.colorbar(image, ax=axes, label=colorbar_label)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return figure


def cells_at(columns, rows):
    """imshow's extent that puts the first and last drawn cells at the indices they stand for."""
    return (columns[0] - 0.5, columns[-1] + 0.5, rows[-1] + 0.5, rows[0] - 0.5)


def plot_position_table(model, path):
    """The position table as a heatmap (positions × dims); None, and no file, for "none"."""
    drawn = position_table(model)
    if drawn is None:
        return None
    positions, dims, rows = drawn
    kind, count = model.config.position_embedding_type, model.get_position_embeddings().weight.shape[0]
    vmax = float(rows.abs().max()) or 1.0
    title = sampled(f"Position embeddings ({kind})", positions, count)
    extent = cells_at(dims, positions)
    return plot_heatmap(rows.numpy(), path, title, "dimension", "position", vmax, "value", extent)


def plot_position_similarity(model, path):
    """Cosine similarity between every two positions: shows how far apart the model keeps positions."""
    drawn = position_similarity(model)
    if drawn is None:
        return None
    positions, similarity = drawn
    kind, count = model.config.position_embedding_type, model.get_position_embeddings().weight.shape[0]
    title = sampled(f"Cosine similarity between positions ({kind})", positions, count)
    extent = cells_at(positions, positions)
    return plot_heatmap(similarity, path, title, "position", "position", 1.0, "cosine similarity", extent)


def distance_reach(config):
    """D, the farthest distance drawn each way: min(max_position_embeddings, MAX_POSITIONS)."""
    return min(config.max_position_embeddings, MAX_POSITIONS)


@torch.no_grad()
def bias_by_distance(model):
    """(distances -D..D, (heads, 2D + 1) bias) of a bias scheme, or None for another scheme: row D of the
    module's own `bias` over positions 0..2D, i.e. what a query with D tokens on each side adds to the
    score of each key. Read through `bias`, so it holds for any scheme, also one whose bias depends on
    more than the distance (FIRE normalises by the text's extent). Costs (2D + 1)² values per head."""
    module = model.get_position_embeddings()
    if not isinstance(module, BiasPositions):
        return None
    reach = distance_reach(model.config)
    positions = torch.arange(2 * reach + 1, device=model.device).unsqueeze(0)
    bias = module.bias(positions, None)[0, :, reach].float().cpu().numpy()
    return np.arange(-reach, reach + 1), bias


def bias_figure(model):
    """One line per head: the attention bias against the distance key - query; None without a bias."""
    drawn = bias_by_distance(model)
    if drawn is None:
        return None
    distances, bias = drawn
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    for head, values in enumerate(bias):
        axes.plot(distances, values, label=f"head {head}")
    axes.axvline(0, color="gray", linewidth=0.8)
    kind = model.config.position_embedding_type
    axes.set(title=f"Attention bias per head ({kind})", xlabel="distance (key − query)", ylabel="bias")
    axes.grid(alpha=0.3)
    if len(bias) <= MAX_LEGEND_ENTRIES:
        axes.legend(fontsize=8, ncol=2)
    return figure


def plot_position_bias(model, path):
    """`bias_figure` as a PNG at `path`; None, and no file, for a scheme without a bias."""
    figure = bias_figure(model)
    return None if figure is None else save(figure, path)


def rotary_cosines(model):
    """(distances -D..D, (pairs, 2D + 1) cos(θ_k · d)) of a rotary model, or None: for each frequency pair k
    of a head, the cosine of the angle between a query and a key d tokens apart once both are rotated,
    which multiplies that pair's share of q·k (the sine part mixes its two dims)."""
    module = model.get_position_embeddings()
    if not isinstance(module, PosEncRotaryEmbedding):
        return None
    reach = distance_reach(model.config)
    distances = np.arange(-reach, reach + 1)
    frequencies = module.inv_freq.detach().float().cpu().numpy()
    return distances, np.cos(np.outer(frequencies, distances))


def rotary_figure(model):
    """The cosines of `rotary_cosines` as a heatmap (frequency pair × distance, the fastest pair on top);
    None for another scheme."""
    drawn = rotary_cosines(model)
    if drawn is None:
        return None
    distances, cosines = drawn
    title = f"Rotary: cosine of each frequency pair's angle (θ = {model.config.rope_parameters['rope_theta']:g})"
    extent = cells_at(distances, np.arange(len(cosines)))
    ylabel, colorbar_label = "frequency pair k (fastest first)", "cos(θ_k · distance)"
    return heatmap_figure(cosines, title, "distance (key − query)", ylabel, 1.0, colorbar_label, extent)


def plot_rotary_angles(model, path):
    """`rotary_figure` as a PNG at `path`; None, and no file, for a scheme other than rotary."""
    figure = rotary_figure(model)
    return None if figure is None else save(figure, path)


def plot_confusion_matrix(matrix, label_names, path):
    """Counts, rows = true label, columns = predicted, each cell annotated."""
    counts = np.asarray(matrix)
    size = min(MAX_FIGURE_INCHES - 1, max(4.0, 0.5 * len(label_names) + 2.5))
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, label="examples")
    ticks = range(len(label_names))
    axes.set_xticks(ticks, label_names, rotation=45, ha="right")
    axes.set_yticks(ticks, label_names)
    axes.set(title="Confusion matrix", xlabel="predicted label", ylabel="true label")
    threshold = counts.max() / 2
    for (row, column), count in np.ndenumerate(counts if len(label_names) <= MAX_ANNOTATED_LABELS else []):
        color = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=9)
    return save(figure, path)


def plot_per_class_f1(per_class, threshold, path):
    """Each label's test F1 as a horizontal bar, with its support: where a multi-label model works and
    where it does not (what a confusion matrix shows for a single-label one)."""
    names = list(per_class)
    figure = Figure(figsize=(6, min(MAX_FIGURE_INCHES, max(3.0, 0.28 * len(names) + 1.2))), layout="constrained")
    axes = figure.subplots()
    bars = axes.barh(range(len(names)), [per_class[name]["f1"] for name in names], color="tab:blue")
    axes.bar_label(bars, labels=[f"n={per_class[name]['support']}" for name in names], padding=3, fontsize=8)
    axes.set_yticks(range(len(names)), names)
    axes.invert_yaxis()  # the first label on top, as in the card's table
    axes.set(title=f"Test F1 per label (threshold {threshold:g})", xlabel="F1", xlim=(0, 1.15))
    axes.grid(axis="x", alpha=0.3)
    return save(figure, path)


def write_all_plots(folder, log_history, model, confusion_matrix, label_names, kept_epoch=None):
    """Write every plot of a single-label classifier into `folder/plots/`; return {name: path relative to
    `folder`} for the card (of those written: see `written`). The curves mark `kept_epoch`."""
    plots = Path(folder) / "plots"
    steps = {
        "loss": lambda: plot_loss_curves(log_history, plots / "loss.png", kept_epoch),
        "validation_metrics": lambda: plot_validation_metrics(
            log_history, plots / "validation_metrics.png", kept_epoch
        ),
        **position_plots(plots, model),
        "confusion_matrix": lambda: plot_confusion_matrix(
            confusion_matrix, label_names, plots / "confusion_matrix.png"
        ),
    }
    return written(folder, steps)


def write_multi_label_plots(folder, log_history, model, test_report, kept_epoch=None):
    """`write_all_plots` for a multi-label classifier: validation micro- and macro-F1, and per-label test
    F1 (`test_report`: `posenc_hf.folder.metrics.multi_label_report`'s) instead of a confusion matrix."""
    plots = Path(folder) / "plots"
    per_class, threshold = test_report["per_class"], test_report["threshold"]
    steps = {
        "loss": lambda: plot_loss_curves(log_history, plots / "loss.png", kept_epoch),
        "validation_f1": lambda: plot_validation_f1(log_history, plots / "validation_f1.png", kept_epoch),
        **position_plots(plots, model),
        "per_class_f1": lambda: plot_per_class_f1(per_class, threshold, plots / "per_class_f1.png"),
    }
    return written(folder, steps)


def position_plots(plots, model):
    """The steps that draw what the position scheme holds into the folder `plots`: the table and the
    similarity between positions, the bias against distance, or rotary's cosines (each step returns
    None, writing nothing, for a scheme it does not apply to)."""
    return {
        "position_embeddings": lambda: plot_position_table(model, plots / "position_embeddings.png"),
        "position_similarity": lambda: plot_position_similarity(model, plots / "position_similarity.png"),
        "position_bias": lambda: plot_position_bias(model, plots / "position_bias.png"),
        "rotary_angles": lambda: plot_rotary_angles(model, plots / "rotary_angles.png"),
    }


def relative_paths(folder, plots):
    """{name: path relative to `folder`} of the plots written (not those that are None)."""
    return {name: path.relative_to(folder).as_posix() for name, path in plots.items() if path is not None}
