"""The training and model plots that go into a model card, as PNG files.

Figures are built with `matplotlib.figure.Figure` directly, not with `pyplot`: such a figure renders
with the Agg backend, is never registered with pyplot's global figure manager (so nothing to close,
no backend switch, no leak across a long training run) and is freed with its last reference.
"""

from pathlib import Path

import numpy as np
import torch.nn.functional as F
from matplotlib.figure import Figure

DPI = 120


def save(figure, path):
    """Write `figure` as a PNG, creating the folder; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def series(log_history, key):
    """(epochs, values) of `key` in `trainer.state.log_history`; a repeated epoch keeps its last value."""
    by_epoch = {entry["epoch"]: entry[key] for entry in log_history if key in entry and "epoch" in entry}
    return list(by_epoch), list(by_epoch.values())


def plot_lines(log_history, keys_and_labels, path, title, ylabel, ylim=None):
    """One line per logged key against epoch."""
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    for key, label in keys_and_labels:
        epochs, values = series(log_history, key)
        if values:
            axes.plot(epochs, values, marker="o" if len(values) < 50 else None, label=label)
    axes.set(title=title, xlabel="epoch", ylabel=ylabel, ylim=ylim)
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend()
    return save(figure, path)


def plot_loss_curves(log_history, path):
    """Train loss (at each logging step, on the fractional epoch) and validation loss per epoch."""
    keys = [("loss", "train"), ("eval_loss", "validation")]
    return plot_lines(log_history, keys, path, "Loss", "cross-entropy loss")


def plot_validation_metrics(log_history, path):
    """Validation accuracy and macro-F1 per epoch, on a 0-1 scale so that runs compare at a glance."""
    keys = [("eval_accuracy", "accuracy"), ("eval_macro_f1", "macro-F1")]
    return plot_lines(log_history, keys, path, "Validation metrics", "score", ylim=(0, 1.02))


def plot_validation_f1(log_history, path):
    """A multi-label model's validation micro- and macro-F1 per epoch (at threshold 0.5), on a 0-1 scale."""
    keys = [("eval_micro_f1", "micro-F1"), ("eval_macro_f1", "macro-F1")]
    return plot_lines(log_history, keys, path, "Validation F1 (threshold 0.5)", "score", ylim=(0, 1.02))


def position_table(model):
    """The (positions × hidden) position table as a float CPU tensor, or None when the model has none."""
    weight = model.get_position_embeddings().weight
    return None if weight is None else weight.detach().float().cpu()


def plot_heatmap(matrix, path, title, xlabel, ylabel, vmax, colorbar_label):
    """A diverging heatmap centred on 0, so that sign and size read directly."""
    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(matrix, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    figure.colorbar(image, ax=axes, label=colorbar_label)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return save(figure, path)


def plot_position_table(model, path):
    """The position table as a heatmap (positions × dims); None, and no file, for "none"."""
    table = position_table(model)
    if table is None:
        return None
    kind = model.config.position_embedding_type
    vmax = float(table.abs().max()) or 1.0
    return plot_heatmap(table.numpy(), path, f"Position embeddings ({kind})", "dimension", "position", vmax, "value")


def plot_position_similarity(model, path):
    """Cosine similarity between every two positions: shows how far apart the model keeps positions."""
    table = position_table(model)
    if table is None:
        return None
    unit = F.normalize(table, dim=-1)
    similarity = (unit @ unit.T).numpy()
    kind = model.config.position_embedding_type
    title = f"Cosine similarity between positions ({kind})"
    return plot_heatmap(similarity, path, title, "position", "position", 1.0, "cosine similarity")


def plot_confusion_matrix(matrix, label_names, path):
    """Counts, rows = true label, columns = predicted, each cell annotated."""
    counts = np.asarray(matrix)
    size = max(4.0, 0.5 * len(label_names) + 2.5)
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, label="examples")
    ticks = range(len(label_names))
    axes.set_xticks(ticks, label_names, rotation=45, ha="right")
    axes.set_yticks(ticks, label_names)
    axes.set(title="Confusion matrix", xlabel="predicted label", ylabel="true label")
    threshold = counts.max() / 2
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=9)
    return save(figure, path)


def plot_per_class_f1(per_class, threshold, path):
    """Each label's test F1 as a horizontal bar, with its support: where a multi-label model works and
    where it does not (what a confusion matrix shows for a single-label one)."""
    names = list(per_class)
    figure = Figure(figsize=(6, max(3.0, 0.28 * len(names) + 1.2)), layout="constrained")
    axes = figure.subplots()
    bars = axes.barh(range(len(names)), [per_class[name]["f1"] for name in names], color="tab:blue")
    axes.bar_label(bars, labels=[f"n={per_class[name]['support']}" for name in names], padding=3, fontsize=8)
    axes.set_yticks(range(len(names)), names)
    axes.invert_yaxis()  # the first label on top, as in the card's table
    axes.set(title=f"Test F1 per label (threshold {threshold:g})", xlabel="F1", xlim=(0, 1.15))
    axes.grid(axis="x", alpha=0.3)
    return save(figure, path)


def write_all_plots(folder, log_history, model, confusion_matrix, label_names):
    """Write every plot of a single-label classifier into `folder/plots/`; return {name: path relative to
    `folder`} for the card."""
    folder = Path(folder)
    plots = {
        "loss": plot_loss_curves(log_history, folder / "plots" / "loss.png"),
        "validation_metrics": plot_validation_metrics(log_history, folder / "plots" / "validation_metrics.png"),
        **position_plots(folder, model),
        "confusion_matrix": plot_confusion_matrix(
            confusion_matrix, label_names, folder / "plots" / "confusion_matrix.png"
        ),
    }
    return relative_paths(folder, plots)


def write_multi_label_plots(folder, log_history, model, test_report):
    """`write_all_plots` for a multi-label classifier: validation micro- and macro-F1, and per-label test
    F1 (`test_report`: `posenc_hf.metrics.multi_label_report`'s) instead of a confusion matrix."""
    folder = Path(folder)
    plots = {
        "loss": plot_loss_curves(log_history, folder / "plots" / "loss.png"),
        "validation_f1": plot_validation_f1(log_history, folder / "plots" / "validation_f1.png"),
        **position_plots(folder, model),
        "per_class_f1": plot_per_class_f1(
            test_report["per_class"], test_report["threshold"], folder / "plots" / "per_class_f1.png"
        ),
    }
    return relative_paths(folder, plots)


def position_plots(folder, model):
    """The position table and the similarity between positions (None for a model without a table)."""
    return {
        "position_embeddings": plot_position_table(model, folder / "plots" / "position_embeddings.png"),
        "position_similarity": plot_position_similarity(model, folder / "plots" / "position_similarity.png"),
    }


def relative_paths(folder, plots):
    """{name: path relative to `folder`} of the plots written (not those that are None)."""
    return {name: path.relative_to(folder).as_posix() for name, path in plots.items() if path is not None}
