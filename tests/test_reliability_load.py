"""Inference under load: 10,000 texts through `pipeline`, `predict` and `posenc-predict` with the
memory growth measured against a documented bound, streaming that never reads far ahead, and four
threads sharing one pipeline giving exactly the single-thread results.

The measured numbers are printed: `python -m pytest tests/test_reliability_load.py -s` reproduces
the table in docs/reliability.md."""

import gc
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import torch
from conftest import tiny_texts

from posenc_hf.predict import load_classifier, predict

COUNT = 10_000
MIB = 2**20
GROWTH_BOUND_MIB = 64  # docs/reliability.md: RSS growth over 10,000 texts stays under this
REPEAT_BOUND_MIB = 16  # and a second pass over the same texts adds less than this (no leak)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: tiny batches on a shared 2-core machine run ~10× faster than with two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def classifier(tiny_folder):
    return load_classifier(tiny_folder)


def rss(pid=None):
    gc.collect()
    return psutil.Process(pid).memory_info().rss


def test_pipeline_on_10000_texts_keeps_memory_flat(classifier):
    texts = tiny_texts(COUNT)
    classifier(texts[:500], batch_size=64)  # warm up: allocator pools, lazy imports
    before = rss()
    results = classifier(texts, batch_size=64)  # the 10,000 small result dicts are held, no tensors
    growth = (rss() - before) / MIB
    assert len(results) == COUNT and all(r["label"] in ("Biology", "Chemistry", "Maths", "Physics") for r in results)
    print(f"\nmemory: pipeline(list of {COUNT}) RSS {before / MIB:.0f} MiB, +{growth:.1f} MiB")
    assert growth < GROWTH_BOUND_MIB


def test_predict_streams_10000_texts_with_flat_memory(classifier):
    texts = tiny_texts(COUNT)
    list(predict(classifier, iter(texts[:500]), batch_size=64))
    before = rss()
    count = sum(1 for _ in predict(classifier, iter(texts), batch_size=64))
    first = rss()
    count += sum(1 for _ in predict(classifier, iter(texts), batch_size=64))
    second = rss()
    assert count == 2 * COUNT
    growth, repeat = (first - before) / MIB, (second - first) / MIB
    print(
        f"\nmemory: predict(stream of {COUNT}) RSS {before / MIB:.0f} MiB, +{growth:.1f} MiB, again +{repeat:.1f} MiB"
    )
    assert growth < GROWTH_BOUND_MIB and repeat < REPEAT_BOUND_MIB


def test_predict_reads_at_most_one_chunk_ahead_of_its_results(classifier):
    """An endless stream: the first results come back, and only one chunk past them was read."""
    read = itertools.count()
    endless = (f"cell atom {next(read)}" for _ in itertools.count())
    results = list(itertools.islice(predict(classifier, endless, batch_size=32), 100))
    assert len(results) == 100 and next(read) <= 128


def test_posenc_predict_on_10000_lines_keeps_memory_flat(tiny_folder, tmp_path):
    texts = tiny_texts(COUNT)
    lines = tmp_path / "texts.txt"
    lines.write_text("\n".join(texts) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "posenc_hf.predict", str(tiny_folder), "--json", "--batch-size", "64"]
    with open(lines) as stdin:
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        shown = []
        for number, line in enumerate(process.stdout, 1):
            shown.append(json.loads(line)["text"])
            if number == 500:
                early = rss(process.pid)
            if number == COUNT:
                late = rss(process.pid)
        assert process.wait(timeout=60) == 0
    assert shown == texts  # every line, in order
    growth = (late - early) / MIB
    print(
        f"\nmemory: posenc-predict ({COUNT} lines) RSS {early / MIB:.0f} MiB at line 500, +{growth:.1f} MiB at the end"
    )
    assert growth < GROWTH_BOUND_MIB


def test_four_threads_sharing_one_pipeline_match_one_thread(classifier):
    texts = [text[:40] for text in tiny_texts(1000)]  # short enough to run untruncated too
    settings = [{}, {"top_k": 2}, {"truncation": False}, {"top_k": 2, "truncation": False}]
    expected = [classifier(texts, batch_size=32, **kwargs) for kwargs in settings]

    def work(job):
        return classifier(texts, batch_size=16 + job, **settings[job % 4])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(8)))
    for job, result in enumerate(results):
        assert result == expected[job % 4], f"job {job} ({settings[job % 4]}) differs from one thread"
