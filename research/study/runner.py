"""Training the grid: one run (data cached per worker, a lean Trainer, diagnostics) and all of them.

`run_point` trains and diagnoses one `Point` into a JSON-able record; `run_grid` runs every point of a
plan, in worker processes side by side, appending each record to a journal so that an interrupted grid
can resume.
"""

import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict
from functools import cache
from multiprocessing import get_context

import datasets
import numpy as np
import torch
import transformers
from transformers import set_seed

from posenc_hf.training.arguments import DataArguments, ModelArguments, RunArguments
from posenc_hf.training.plan import plan_model, plan_run
from posenc_hf.training.prepare import build_config
from posenc_hf.training.prepare import prepare_data as prepare_run_data

from ..diagnostics import GradientNormCallback, diagnose
from ..lean import lean_arguments, lean_trainer
from .plan import CORPUS_SETTINGS, Point, grid


@cache  # one entry per corpus and seed
def prepare_data(corpus, seed, train_rows):
    """The corpus (the order corpus is generated from `seed`), a tokenizer trained on its train split and
    the token ids, as a run prepares them (`posenc_hf.training.prepare.prepare_data`, with its checks)."""
    data_args = DataArguments(corpus=corpus, max_samples=train_rows, **CORPUS_SETTINGS[corpus])
    return prepare_run_data(plan_run(ModelArguments(), data_args, RunArguments(seed=seed, report_to="none")))


def model_arguments(point, plan):
    return ModelArguments(
        hidden_size=plan.hidden_size,
        num_attention_heads=plan.num_attention_heads,
        num_hidden_layers=point.depth,
        position_embedding_type=point.position,
        layer_norm_position=point.norm,
    )


def training_arguments(point, plan, output_dir):
    return lean_arguments(
        output_dir,
        point.seed,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=128,
        num_train_epochs=plan.epochs[point.corpus],
        learning_rate=point.learning_rate or plan.learning_rate,
        warmup_steps=plan.warmup if point.warmup else 0,
        weight_decay=0.01,
        logging_strategy="epoch",
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
    model = data.task.build_model(model_args, build_config(plan_model(model_args), data.tokenizer, data.label_names))
    gradient_norms = GradientNormCallback()
    with tempfile.TemporaryDirectory() as scratch:
        args = training_arguments(point, plan, scratch)
        trainer = lean_trainer(model, args, data.tokenized["train"], data.tokenizer, [gradient_norms])
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        test_score = accuracy(trainer, data.tokenized["test"])
        train_accuracy = accuracy(trainer, data.tokenized["train"])
    norms = gradient_norms.norms()
    test_texts = list(data.corpus["test"]["text"])
    report = diagnose(model, test_texts, data.tokenizer, max_texts=plan.probe_texts, seed=point.seed)
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

    run_each(run_point, todo, plan, workers, keep)
    return [finished[point] for point in points]


def run_each(run, points, plan, workers, keep):
    """`keep(run(point, plan))` for every point, as each finishes: in this process on one thread, or in
    `workers` spawned processes side by side, one thread each (`run` must be importable by name)."""
    if workers <= 1:
        quiet()
        with one_thread():
            for point in points:
                keep(run(point, plan))
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=init_worker) as pool:
            for future in as_completed([pool.submit(run, point, plan) for point in points]):
                keep(future.result())


def progress(record, index, total):
    name = (
        f"{record['corpus']}/{record['position']}/depth {record['depth']}/{record['norm']}-norm/seed {record['seed']}"
    )
    name += "" if record["warmup"] else "/no warm-up"
    name += f"/learning rate {record['learning_rate']:g}" if record.get("learning_rate") else ""
    return f"[{index}/{total}] {name}: test accuracy {record['test_accuracy']:.3f} ({record['train_seconds']:.0f} s)"
