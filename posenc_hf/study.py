"""The positional-encoding study: train a grid of small encoders, measure them, write docs/study.md.

    python -m posenc_hf.study [--quick | --smoke] [--workers 2] [--out docs]

Grid: position type {learned, sinusoidal, none} × depth {1, 2, 4, 8} × {pre-norm, post-norm} on the
order and subject corpora over 3 seeds (2 with `--quick`, which also uses less data and fewer epochs:
see `PLANS`), all with learning-rate warm-up, plus the deepest stacks trained again without warm-up.
Each run is diagnosed with `posenc_hf.diagnostics`; a forward-time-versus-length series measures the
cost of attention. Everything measured goes to `<out>/study/results.json`; the report `<out>/study.md`
and its plots `<out>/study/*.png` are generated from it (`--report_only` regenerates them without
training).
"""

import argparse
import json
import math
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from multiprocessing import get_context
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from matplotlib.figure import Figure
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments, set_seed

from .arguments import DataArguments, ModelArguments
from .configuration_posenc import PosEncConfig
from .diagnostics import ONE_HOT_THRESHOLD, UNIFORM_THRESHOLD, GradientNormCallback, diagnose, draw_gradient_norms
from .modeling_posenc import PosEncForSequenceClassification
from .plots import save
from .training import build_config, build_model, get_tokenizer, load_data, tokenize_splits

BENCH_RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "results.json"
CORPUS_SETTINGS = {"order": dict(max_length=32, vocab_size=200), "subject": dict(max_length=64, vocab_size=8000)}


@dataclass
class Plan:
    """What one mode trains and measures."""

    positions: tuple = ("learned", "sinusoidal", "none")
    depths: tuple = (1, 2, 4, 8)
    norms: tuple = ("pre", "post")
    corpora: tuple = ("order", "subject")
    seeds: tuple = (0, 1, 2)
    no_warmup_depths: tuple = (8,)  # also trained without warm-up (order corpus, learned positions)
    high_learning_rates: tuple = (3e-3, 1e-2)  # ... and, with and without warm-up, at these learning rates
    hidden_size: int = 64
    num_heads: int = 4
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup: float = 0.1  # share of the steps spent warming the learning rate up, linearly from 0
    train_rows: dict = field(default_factory=lambda: {"order": None, "subject": None})  # None: all
    epochs: dict = field(default_factory=lambda: {"order": 5, "subject": 12})
    probe_texts: int = 400  # test texts the diagnostics run on
    lengths: tuple = (64, 128, 256, 512, 1024, 2048)  # forward time against length


PLANS = {
    "full": Plan(),
    "quick": Plan(
        seeds=(0, 1),
        train_rows={"order": 2000, "subject": None},
        epochs={"order": 4, "subject": 6},
        high_learning_rates=(1e-2,),
        probe_texts=200,
        lengths=(64, 128, 256, 512, 1024),
    ),
    "smoke": Plan(
        positions=("learned",),
        depths=(1,),
        norms=("post",),
        corpora=("order",),
        seeds=(0,),
        no_warmup_depths=(1,),
        high_learning_rates=(),
        hidden_size=16,
        num_heads=2,
        train_rows={"order": 64},
        epochs={"order": 1},
        probe_texts=32,
        lengths=(8, 16),
    ),
}


@dataclass(frozen=True)
class Point:
    """One training run of the grid."""

    corpus: str
    position: str
    depth: int
    norm: str
    seed: int
    warmup: bool = True
    learning_rate: float | None = None  # None: the plan's


def grid(plan):
    """Every run of the plan, most expensive first (so that parallel workers finish together)."""
    points = [
        Point(corpus, position, depth, norm, seed)
        for corpus in plan.corpora
        for position in plan.positions
        for depth in plan.depths
        for norm in plan.norms
        for seed in plan.seeds
    ]
    points += [
        Point("order", "learned", depth, norm, seed, warmup, learning_rate)
        for learning_rate in (None, *plan.high_learning_rates)
        for warmup in ((False,) if learning_rate is None else (True, False))  # the grid has the warm-up runs
        for depth in plan.no_warmup_depths
        for norm in plan.norms
        for seed in plan.seeds
    ]
    return sorted(points, key=lambda p: -p.depth)


# ----------------------------------------------------------------------------------------------
# One run: data (cached per worker), a lean Trainer (no evaluation, no checkpoints), diagnostics.


@dataclass
class PreparedData:
    tokenizer: object
    tokenized: datasets.DatasetDict
    label_names: list
    test_texts: list


@cache  # one entry per corpus and seed
def prepare_data(corpus, seed, train_rows):
    """The corpus (the order corpus is generated from `seed`), a tokenizer trained on its train split, token ids."""
    data_args = DataArguments(corpus=corpus, max_samples=train_rows, **CORPUS_SETTINGS[corpus])
    dataset = load_data(data_args, seed)
    tokenizer = get_tokenizer(data_args, list(dataset["train"]["text"]))
    label_names = dataset["train"].features["label"].names
    return PreparedData(tokenizer, tokenize_splits(dataset, tokenizer), label_names, list(dataset["test"]["text"]))


def model_arguments(point, plan):
    return ModelArguments(
        hidden_size=plan.hidden_size,
        num_attention_heads=plan.num_heads,
        num_hidden_layers=point.depth,
        position_embedding_type=point.position,
        layer_norm_position=point.norm,
    )


def training_arguments(point, plan, output_dir):
    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=128,
        num_train_epochs=plan.epochs[point.corpus],
        learning_rate=point.learning_rate or plan.learning_rate,
        warmup_steps=plan.warmup if point.warmup else 0,
        weight_decay=0.01,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="epoch",
        report_to=[],
        disable_tqdm=True,
        seed=point.seed,
        use_cpu=True,
    )


def accuracy(trainer, dataset):
    output = trainer.predict(dataset)
    return float((output.predictions.argmax(-1) == output.label_ids).mean())


def binned(norms, bins=50):
    """At most `bins` rows of (steps × layers) norms, each the mean of consecutive steps, and their middle steps."""
    chunks = np.array_split(np.arange(len(norms)), min(bins, len(norms)))
    return {"steps": [float(c.mean() + 1) for c in chunks], "norms": [norms[c].mean(axis=0).tolist() for c in chunks]}


def run_point(point, plan):
    """Train one grid point and diagnose it; returns a JSON-able record."""
    cpu_start = time.process_time()
    data = prepare_data(point.corpus, point.seed, plan.train_rows[point.corpus])
    set_seed(point.seed)
    model_args = model_arguments(point, plan)
    model = build_model(model_args, build_config(model_args, data.tokenizer, data.label_names))
    gradient_norms = GradientNormCallback()
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(
            model=model,
            args=training_arguments(point, plan, scratch),
            train_dataset=data.tokenized["train"],
            data_collator=DataCollatorWithPadding(data.tokenizer),
            callbacks=[gradient_norms],
        )
        trainer.remove_callback(PrinterCallback)  # no log line per epoch: the grid prints one per run
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        test_score = accuracy(trainer, data.tokenized["test"])
        train_accuracy = accuracy(trainer, data.tokenized["train"])
    norms = gradient_norms.norms()
    report = diagnose(model, data.test_texts, data.tokenizer, max_texts=plan.probe_texts, seed=point.seed)
    return {
        **asdict(point),
        "test_accuracy": test_score,
        "train_accuracy": train_accuracy,
        "train_loss_per_epoch": [entry["loss"] for entry in trainer.state.log_history if "loss" in entry],
        "train_seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_start,  # this process's CPU time for the whole run, one thread
        "grad_norm_per_layer": norms.mean(axis=0).tolist(),
        "grad_norm_curve": binned(norms),
        **report,
    }


def quiet():
    """No progress bars or warnings per run: the grid prints one line per run."""
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()


def init_worker():
    """One torch thread per process: small models gain nothing from more, and threads fight on a busy machine."""
    torch.set_num_threads(1)
    quiet()


@contextmanager
def one_thread():
    """torch on one thread for a while (the caller's setting comes back)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def point_of(record):
    return Point(**{name: record[name] for name in Point.__dataclass_fields__ if name in record})


def read_journal(path, mode):
    """The records that an interrupted run of the same mode wrote to `path`, one JSON line each."""
    if not path.is_file():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line["record"] for line in lines if line["mode"] == mode]


def run_grid(plan, workers=1, log=print, journal=None, mode=None, done=()):
    """Every grid point's record, in grid order; `workers` processes train points side by side.

    Points with a record in `done` are not trained again; each new record is appended to `journal` (an open
    file) as soon as it is there, so that an interrupted grid can resume.
    """
    points = grid(plan)
    finished = {point_of(record): record for record in done}
    todo = [point for point in points if point not in finished]

    def keep(record):
        finished[point_of(record)] = record
        if journal:
            journal.write(json.dumps({"mode": mode, "record": record}) + "\n")
            journal.flush()
        log(progress(record, len(finished), len(points)))

    if workers <= 1:
        quiet()
        with one_thread():
            for point in todo:
                keep(run_point(point, plan))
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=init_worker) as pool:
            for future in as_completed([pool.submit(run_point, point, plan) for point in todo]):
                keep(future.result())
    return [finished[point] for point in points]


def progress(record, index, total):
    name = (
        f"{record['corpus']}/{record['position']}/depth {record['depth']}/{record['norm']}-norm/seed {record['seed']}"
    )
    name += "" if record["warmup"] else "/no warm-up"
    name += f"/learning rate {record['learning_rate']:g}" if record.get("learning_rate") else ""
    return f"[{index}/{total}] {name}: test accuracy {record['test_accuracy']:.3f} ({record['train_seconds']:.0f} s)"


# ----------------------------------------------------------------------------------------------
# Cost against length: forward time of one small model, batch fixed, sequence length doubling.


@torch.no_grad()
def forward_seconds_by_length(lengths, hidden_size=64, num_heads=4, depth=2, batch=4, repeats=5):
    """The fastest of `repeats` forward passes (the least disturbed by other work) at each length, one thread."""
    config = PosEncConfig(
        vocab_size=1000,
        hidden_size=hidden_size,
        num_attention_heads=num_heads,
        num_hidden_layers=depth,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max(lengths),
        num_labels=4,
    )
    model = PosEncForSequenceClassification(config).eval()
    series = []
    for length in lengths:
        input_ids = torch.randint(5, 1000, (batch, length))
        model(input_ids)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(input_ids)
            times.append(time.perf_counter() - start)
        series.append({"length": length, "seconds": min(times)})
    settings = dict(hidden_size=hidden_size, num_heads=num_heads, depth=depth, batch=batch, repeats=repeats)
    return {"settings": settings, "series": series}


def log_log_slopes(xs, ys):
    """The exponent k of y ∝ x^k between consecutive points (1 linear, 2 quadratic)."""
    return [math.log(y1 / y0) / math.log(x1 / x0) for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False)]


def bench_scaling(path=BENCH_RESULTS):
    """The bench's ms per sample against length for our default model, when bench/results has them."""
    try:
        results = json.loads(Path(path).read_text())
        shape, tokens = next(iter(results["shapes"].values())), results["settings"]["plan"]["tokens"]
        series = {
            key: [(p["seq"], p[f"posenc_default/{key}"]["median"]) for p in results["scaling"]["seq"]]
            for key in ("infer", "train")
        }
    except (OSError, KeyError, TypeError, ValueError, StopIteration):
        return None
    description = (
        f"hidden {shape['hidden']}, {shape['heads']} heads, {shape['layers']} layers, batch × length = {tokens} "
        f"tokens, padded, {results['machine'].get('torch_threads', '?')} thread(s); median ms per sample"
    )
    return {"description": description, "series": series}


def length_series(results):
    """{name: [(length, ms), ...]}: the study's forward time per batch, then the bench's per sample."""
    study = [(p["length"], 1e3 * p["seconds"]) for p in results["length_scaling"]["series"]]
    bench = (results["bench_scaling"] or {}).get("series", {})
    return {f"study, forward, batch {results['length_scaling']['settings']['batch']}": study} | {
        f"bench, {key}": points for key, points in bench.items()
    }


# ----------------------------------------------------------------------------------------------
# Aggregation: mean ± sample standard deviation over seeds.


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


# ----------------------------------------------------------------------------------------------
# Plots.


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
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=7)
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
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=7)
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


def contrast_learning_rates(plan):
    """The warm-up contrast's (selection key, learning rate) pairs: the grid's rate (key None), then the higher ones."""
    return [(None, plan.learning_rate)] + [(rate, rate) for rate in plan.high_learning_rates]


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
            axes.grid(alpha=0.3)
            if axes.lines:
                axes.legend(fontsize=7)
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


# ----------------------------------------------------------------------------------------------
# Claims: each a verdict and the numbers behind it, computed from the records.

DECAY = 0.05  # a probe accuracy drop (embeddings → last layer) of at least 5 points counts as decay
WARMUP_GAP = 0.01  # warm-up "helps" when accuracy without it is lower by > 1 point and > both seed stds
CHANCE_MARGIN = 0.1  # within 10 points of the order corpus's 25 % chance counts as not learning
VANISHING_RATIO = 0.1  # layer 1 gets under a tenth of the last layer's gradient norm
QUADRATIC_SLOPE = 1.6  # a log-log slope of time against length of at least this reads as quadratic


def setting_means(records, plan, corpus, position, metric=accuracy_on_test):
    """{(depth, norm): (mean, std)} over seeds of the warm-up runs."""
    return {
        (d, n): mean_std(values(records, metric, corpus=corpus, position=position, depth=d, norm=n, warmup=True))
        for d in plan.depths
        for n in plan.norms
    }


def describe(setting, stats, percent=True):
    (depth, norm), (mean, std) = setting, stats
    number = f"{100 * mean:.1f} ± {100 * std:.1f} %" if percent else f"{mean:.3f} ± {std:.3f}"
    return f"{number} (depth {depth}, {norm}-norm)"


def claim_order_accuracy(records, plan):
    if "order" not in plan.corpora:
        return None
    parts, met_all, met_any = [], True, False
    for position in [p for p in ("learned", "sinusoidal") if p in plan.positions]:
        means = setting_means(records, plan, "order", position)
        reached = [s for s, (m, _) in means.items() if m >= 0.99]
        met_all &= len(reached) == len(means)
        met_any |= bool(reached)
        low, high = min(means, key=lambda s: means[s][0]), max(means, key=lambda s: means[s][0])
        parts.append(
            f"{position}: ≥ 99 % in {len(reached)} of {len(means)} settings (depth × norm); "
            f"lowest {describe(low, means[low])}, highest {describe(high, means[high])}"
        )
    if "none" in plan.positions:
        means = setting_means(records, plan, "order", "none")
        farthest = max(means, key=lambda s: abs(means[s][0] - 0.25))
        near_chance = abs(means[farthest][0] - 0.25) <= 0.02
        met_all &= near_chance
        parts.append(
            f"none: farthest from chance {describe(farthest, means[farthest])}"
            f" — {'near' if near_chance else 'not near'} 25 % (within 2 points)"
        )
    verdict = "holds" if met_all else "holds in part" if met_any else "does not hold"
    return "On the order corpus, learned and sinusoidal reach ≥ 99 %, none stays near chance", verdict, parts


def claim_position_decay(records, plan):
    depth, parts, decays = max(plan.depths), [], {}
    for corpus in plan.corpora:
        for position in [p for p in plan.positions if p != "none"]:
            for norm in plan.norms:
                where = dict(corpus=corpus, position=position, depth=depth, norm=norm, warmup=True)
                first, last = values(records, probe_first, **where), values(records, probe_last, **where)
                drop = mean_std(first)[0] - mean_std(last)[0]
                decays[corpus, position, norm] = drop >= DECAY
                by_depth = ", ".join(
                    f"{d}: {fmt(values(records, probe_last, **{**where, 'depth': d}))}" for d in plan.depths
                )
                parts.append(
                    f"{corpus}, {position}, {norm}-norm: embeddings {fmt(first)} → layer {depth} {fmt(last)} "
                    f"(drop {drop:+.3f}); last layer by depth {by_depth}"
                )
        if "none" in plan.positions:
            baseline = values(records, probe_last, corpus=corpus, position="none", depth=depth, warmup=True)
            parts.append(f"{corpus}, none (what token identity alone tells): layer {depth} {fmt(baseline)}")
    share = sum(decays.values())
    verdict = "holds" if share == len(decays) else "holds in part" if share else "does not hold"
    by_norm = {n: sum(v for (_, _, norm), v in decays.items() if norm == n) for n in plan.norms}
    counts = ", ".join(f"{n}-norm {by_norm[n]} of {len(decays) // len(plan.norms)}" for n in plan.norms)
    parts.insert(0, f"a drop of ≥ {DECAY:.2f} from the embeddings to layer {depth} in: {counts}")
    return "Position information decays with depth (probe accuracy per layer)", verdict, parts


def warmup_runs(records, metric, rate_key, depth, norm):
    """`metric` of the order/learned runs at `depth` and `norm` (with warm-up, without)."""
    where = dict(corpus="order", position="learned", depth=depth, norm=norm, learning_rate=rate_key)
    return values(records, metric, warmup=True, **where), values(records, metric, warmup=False, **where)


def claim_warmup(records, plan):
    parts, worse = [], {norm: [] for norm in plan.norms}
    for key, rate in contrast_learning_rates(plan):
        for depth in plan.no_warmup_depths:
            for norm in plan.norms:
                warm, cold = warmup_runs(records, accuracy_on_test, key, depth, norm)
                if not warm or not cold:
                    continue
                gap = mean_std(warm)[0] - mean_std(cold)[0]
                worse[norm].append((rate, gap > max(WARMUP_GAP, mean_std(warm)[1], mean_std(cold)[1])))
                stuck = max(mean_std(warm)[0], mean_std(cold)[0]) < 0.25 + CHANCE_MARGIN
                parts.append(
                    f"learning rate {rate:g}, depth {depth}, {norm}-norm: test accuracy {pct(warm)} with warm-up, "
                    f"{pct(cold)} without (gap {100 * gap:+.1f} points)"
                    + ("; near chance either way: warm-up does not rescue it" if stuck else "")
                )
    if not worse.get("post"):
        return None
    for norm, results in worse.items():
        rates = [f"{rate:g}" for rate, is_worse in results if is_worse]
        listed = f" ({', '.join(rates)})" if rates else ""
        parts.append(f"{norm}-norm worse without warm-up at {len(rates)} of {len(results)} learning rates{listed}")
    hits = sum(is_worse for _, is_worse in worse["post"])
    verdict = "holds" if hits == len(worse["post"]) else "holds in part" if hits else "not observed here"
    return "Deep post-norm stacks train worse without warm-up (order corpus, learned positions)", verdict, parts


def claim_gradients(records, plan):
    depth, parts, vanishing = max(plan.depths), [], []
    for corpus in plan.corpora:
        for norm in plan.norms:
            ratios = values(records, gradient_ratio, corpus=corpus, depth=depth, norm=norm, warmup=True)
            vanishing.append(mean_std(ratios)[0] < VANISHING_RATIO)
            parts.append(
                f"{corpus}, {norm}-norm, depth {depth}: layer 1 / layer {depth} gradient norm {fmt(ratios, 2)}"
            )
    parts.append("every model here has skip connections: the study does not train a stack without them")
    verdict = "holds" if all(vanishing) else "holds in part" if any(vanishing) else "not observed here"
    return f"Gradients vanish towards the first layers (ratio < {VANISHING_RATIO})", verdict, parts


def collapse_split(records, **where):
    """'uniform share / one-hot share' (means over seeds) of the matching runs."""
    uniform = mean_std(values(records, lambda r: r["attention"]["uniform_share"], **where))[0]
    one_hot = mean_std(values(records, lambda r: r["attention"]["one_hot_share"], **where))[0]
    return f"{uniform:.2f} / {one_hot:.2f}"


def claim_entropy(records, plan):
    parts, deepest, shallowest = [], max(plan.depths), min(plan.depths)
    for corpus in plan.corpora:
        for position in plan.positions:
            for norm in plan.norms:
                where = dict(corpus=corpus, position=position, norm=norm, warmup=True)
                runs = select(records, depth=deepest, **where)
                if not runs:
                    continue
                per_layer = np.mean([r["attention"]["entropy_per_layer"] for r in runs], axis=0)
                by_depth = ", ".join(
                    f"{d}: {fmt(values(records, mean_entropy, depth=d, **where))}" for d in plan.depths
                )
                shares = (collapse_split(records, depth=d, **where) for d in (shallowest, deepest))
                parts.append(
                    f"{corpus}, {position}, {norm}-norm: layer 1 → {deepest} of the depth-{deepest} model "
                    f"{per_layer[0]:.3f} → {per_layer[-1]:.3f}; mean over layers by depth {by_depth}; "
                    f"share of heads near-uniform / near-one-hot at depth {shallowest} vs {deepest}: "
                    + " vs ".join(shares)
                )
    return "How attention entropy moves with depth (1 = uniform, 0 = one-hot)", "measured", parts


def claim_quadratic(results):
    parts, quadratic = [], []
    for name, points in length_series(results).items():
        lengths, ms = zip(*points, strict=True)
        slopes = log_log_slopes(lengths, ms)
        quadratic.append(slopes[-1] >= QUADRATIC_SLOPE)
        steps = ", ".join(f"{a}→{b}: {k:.2f}" for a, b, k in zip(lengths, lengths[1:], slopes, strict=False))
        parts.append(f"{name}: exponent of time ∝ length^k per step {steps}")
    if not results["bench_scaling"]:
        parts.append("bench/results/results.json was not there when this report was written")
    verdict = (
        f"holds at long lengths in {sum(quadratic)} of {len(quadratic)} series (exponent ≥ {QUADRATIC_SLOPE} over "
        "the last step); short sequences cost closer to linearly"
        if any(quadratic)
        else "not reached at these lengths"
    )
    return "Cost grows quadratically with sequence length", verdict, parts


def claim_learned_vs_fixed(records, plan):
    parts = []
    for corpus in plan.corpora:
        pooled = ", ".join(
            f"{position} {pct(values(records, accuracy_on_test, corpus=corpus, position=position, warmup=True))}"
            for position in plan.positions
        )
        parts.append(f"{corpus} corpus, test accuracy pooled over depths, norms and seeds: {pooled}")
    return "Learned against fixed (sinusoidal) against no positions", "measured", parts


def claim_overfitting(records, plan):
    if "subject" not in plan.corpora:
        return None
    where = dict(corpus="subject", warmup=True)
    train, test = values(records, lambda r: r["train_accuracy"], **where), values(records, accuracy_on_test, **where)
    gap = mean_std(train)[0] - mean_std(test)[0]
    parts = [
        f"subject corpus, all settings pooled: train accuracy {pct(train)}, test {pct(test)} (gap {100 * gap:.1f} "
        "points); per setting in the table below"
    ]
    return "Small data overfits (subject corpus: 576 training texts)", "holds" if gap > 0.1 else "not observed", parts


def claims(results):
    records, plan = results["records"], Plan(**results["plan"])
    found = [
        claim_order_accuracy(records, plan),
        claim_position_decay(records, plan),
        claim_warmup(records, plan),
        claim_gradients(records, plan),
        claim_entropy(records, plan),
        claim_learned_vs_fixed(records, plan),
        claim_quadratic(results),
        claim_overfitting(records, plan),
    ]
    return [claim for claim in found if claim]


# ----------------------------------------------------------------------------------------------
# The report.


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
            f"hidden {plan.hidden_size}, {plan.num_heads} heads, feed-forward {4 * plan.hidden_size}, "
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
            "`python -m posenc_hf.study` for the full grid."
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
        "# Positional-encoding study\n\nGenerated by `python -m posenc_hf.study"
        f"{'' if results['mode'] == 'full' else ' --' + results['mode']}` from `study/results.json`: every "
        "number below is measured; do not edit by hand. Diagnostics: `posenc_hf.diagnostics`."
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


# ----------------------------------------------------------------------------------------------
# The command.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m posenc_hf.study", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="less data and fewer epochs: under 10 minutes on 2 cores")
    mode.add_argument("--smoke", action="store_true", help="two tiny runs: proves the pipeline works (tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel training processes")
    parser.add_argument("--report_only", action="store_true", help="rewrite the report from <out>/study/results.json")
    parser.add_argument("--resume", action="store_true", help="keep the runs an interrupted study already finished")
    return parser.parse_args(argv)


def machine():
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, one thread per worker"


def measure(mode, workers, folder, resume=False, log=print):
    """Train and diagnose the grid, then time forward passes against length; `folder/runs.jsonl` is the
    journal of finished runs (`resume` picks up its records instead of training them again)."""
    start, load_before = time.perf_counter(), os.getloadavg()
    plan, journal_path = PLANS[mode], folder / "runs.jsonl"
    done = read_journal(journal_path, mode) if resume else []
    folder.mkdir(parents=True, exist_ok=True)
    with journal_path.open("a" if resume else "w") as journal:
        records = run_grid(plan, workers, log, journal, mode, done)
    grid_seconds = time.perf_counter() - start
    log("measuring forward time against length")
    with one_thread():
        length_scaling = forward_seconds_by_length(plan.lengths, repeats=2 if mode == "smoke" else 5)
    journal_path.unlink()
    return {
        "mode": mode,
        "plan": asdict(plan),
        "workers": workers,
        "machine": machine(),
        "records": records,
        "resumed_runs": len(done),
        "grid_seconds": grid_seconds,
        "length_scaling": length_scaling,
        "bench_scaling": bench_scaling(),
        "seconds": time.perf_counter() - start,
        "load_average": {"before": load_before[0], "after": os.getloadavg()[0]},  # others' work slows the runs
    }


def main(argv=None):
    args = parse_args(argv)
    folder = args.out / "study"
    results_path = folder / "results.json"
    if args.report_only:
        results = json.loads(results_path.read_text())
        results["bench_scaling"] = bench_scaling() or results["bench_scaling"]  # the bench may have run since
    else:
        mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        results = measure(mode, args.workers, folder, args.resume, log=(lambda *a: None) if args.smoke else print)
    results_path.write_text(json.dumps(results, indent=1) + "\n")
    path = write_report(results, args.out)
    if not args.smoke:
        print(f"wrote {path} and {folder}/")
    return path


if __name__ == "__main__":
    main()
