"""`python -m bench.data`: the data path's cost per phase at growing corpus sizes (issue 16).

Builds single-label CSVs from `../shared` GoEmotions `train.tsv` (28 classes: each row's first
emotion), repeated to each size with every row made distinct by a trailing row-number token, and
measures, for each size in its own subprocess (so that peak memory is that size's alone):

- `load+split`: `posenc_hf.data.sources.load_corpus(csv)`, i.e. read, check, encode and the stratified
  80/10/10 split;
- `tokenizer`: `train_tokenizer` on the train split's text column, as a run does;
- `tokenization`: the batched `.map` of the tokenizer over every split, then validation and test
  ordered by length, as a classification run does;
- `label counts`: `posenc_hf.data.labels.label_counts` for every split, as the card and report do;
- `test prediction`: `Trainer.predict` over the tokenized test split (10% of the rows) with a model of
  `configs/sentiment.yaml`'s size (hidden 128, 8 heads, 3 layers, batches of 64 padded to their
  longest), as a run's report does. The weights are untrained: the time does not depend on them.

Each phase reports seconds, rows/s (rows of the whole corpus) and its peak RSS (the high-water mark
is reset before each phase through `/proc/self/clear_refs` where Linux allows it). Each size starts
from an empty datasets cache, as a first run on a new file does. Results go to
`bench/results/data.json` (or `--out`) and a markdown table to stdout.

    python -m bench.data                       # 43k and 434k rows
    python -m bench.data --sizes 43410 434100 4341000
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

SHARED = Path(os.environ.get("POSENC_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GOEMOTIONS = SHARED / "data" / "goemotions"
DEFAULT_SIZES = (43_410, 434_100)
PHASES = ("load+split", "tokenizer", "tokenization", "label counts", "test prediction")
PREDICTION_SHAPE = {"hidden_size": 128, "num_attention_heads": 8, "num_hidden_layers": 3}  # configs/sentiment.yaml
MAX_LENGTH = 64  # configs/sentiment.yaml
RESULTS = Path(__file__).parent / "results"


def goemotions_rows(folder: Path = GOEMOTIONS) -> list[tuple[str, str]]:
    """GoEmotions train.tsv as (text, first emotion's name) pairs."""
    emotions = (folder / "labels.txt").read_text(encoding="utf-8").split()
    with (folder / "train.tsv").open(newline="", encoding="utf-8") as file:
        rows = csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(text, emotions[int(ids.split(",")[0])]) for text, ids, _ in rows]


def write_corpus(path: Path, rows: int, source: list[tuple[str, str]]) -> Path:
    """A `text,label` CSV of `rows` rows: `source` repeated, each text ending in its row number."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        for number in range(rows):
            text, label = source[number % len(source)]
            writer.writerow([f"{text} r{number}", label])
    return path


def peak_rss_reset() -> bool:
    """Reset this process's peak RSS (VmHWM); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """This process's peak RSS since the last reset (else since it started), in MiB."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_phases(csv_path: Path, num_proc: int | None = None, vocab_size: int = 8000) -> dict:
    """Run the phases on `csv_path` in this process; seconds and peak RSS (MiB) per phase."""
    from posenc_hf.data.labels import label_counts
    from posenc_hf.data.sources import load_corpus
    from posenc_hf.data.tokenization import train_tokenizer
    from posenc_hf.training.tasks import evaluation_by_length, tokenize  # what a classification run does

    options = {} if num_proc is None else {"num_proc": num_proc}
    state, results = {}, {}
    steps = {
        "load+split": lambda: state.update(corpus=load_corpus(csv_path, **options)),
        "tokenizer": lambda: state.update(
            tokenizer=train_tokenizer(
                state["corpus"]["train"]["text"], vocab_size=vocab_size, model_max_length=MAX_LENGTH
            )
        ),
        "tokenization": lambda: state.update(
            tokenized=evaluation_by_length(tokenize(state["corpus"], state["tokenizer"], num_proc))
        ),
        "label counts": lambda: state.update(counts={s: label_counts(rows) for s, rows in state["corpus"].items()}),
        "test prediction": lambda: predict_test_split(state["tokenized"]["test"], state["tokenizer"], state["corpus"]),
    }
    for phase, step in steps.items():
        reset = peak_rss_reset()
        start = time.perf_counter()
        step()
        results[phase] = {"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib(), "rss_reset": reset}
    results["rows"] = sum(len(rows) for rows in state["corpus"].values())
    results["vocab"] = len(state["tokenizer"])
    return results


def predict_test_split(test, tokenizer, corpus) -> None:
    """`Trainer.predict` over the test split with an untrained model of the sentiment config's size."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from posenc_hf.data.labels import class_names
    from posenc_hf.model.configuration_posenc import PosEncConfig
    from posenc_hf.model.modeling_posenc import PosEncForSequenceClassification

    config = PosEncConfig(
        **PREDICTION_SHAPE,
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=len(class_names(corpus["train"])),
    )
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(output_dir, per_device_eval_batch_size=64, report_to="none", use_cpu=True)
        trainer = Trainer(
            PosEncForSequenceClassification(config), args, data_collator=DataCollatorWithPadding(tokenizer)
        )
        trainer.predict(test)


def run_size(rows: int, folder: Path, source: list[tuple[str, str]], num_proc: int | None) -> dict:
    """Write the CSV for `rows`, then measure it in a fresh interpreter with an empty datasets cache."""
    csv_path = write_corpus(folder / f"goemotions_{rows}.csv", rows, source)
    env = {**os.environ, "HF_DATASETS_CACHE": str(folder / f"cache_{rows}"), "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    command = [sys.executable, "-m", "bench.data", "--worker", str(csv_path)]
    if num_proc is not None:
        command += ["--num_proc", str(num_proc)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"measuring {rows} rows failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["csv_mib"] = csv_path.stat().st_size / 2**20
    csv_path.unlink()
    return result


def exponent(small: dict, large: dict, phase: str) -> float:
    """The cost exponent k of seconds ∝ rows^k between two sizes."""
    ratio = large[phase]["seconds"] / max(small[phase]["seconds"], 1e-9)
    return math.log(ratio) / math.log(large["rows"] / small["rows"])


def markdown(results: list[dict]) -> str:
    """One row per phase: seconds, rows/s and peak RSS at each size; the exponent between sizes."""
    header = ["phase"] + [f"{r['rows']:,} rows: s / rows/s / peak MiB" for r in results]
    header += [f"exponent {a['rows']:,}→{b['rows']:,}" for a, b in pairwise(results)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for phase in (*PHASES, "total"):
        cells = [phase] + [cell(r, phase) for r in results]
        cells += [f"{exponent(a, b, phase):.2f}" for a, b in pairwise(results)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell(result: dict, phase: str) -> str:
    """`seconds / rows per second / peak MiB` of one phase at one size."""
    seconds, peak = result[phase]["seconds"], result[phase]["peak_rss_mib"]
    return f"{seconds:.1f} / {result['rows'] / seconds:,.0f} / {peak:,.0f}"


def with_total(result: dict) -> dict:
    """Add a `total` phase: the sum of the seconds, the largest peak."""
    phases = [result[phase] for phase in PHASES]
    total = {"seconds": sum(p["seconds"] for p in phases), "peak_rss_mib": max(p["peak_rss_mib"] for p in phases)}
    return {**result, "total": total}


def load_average() -> str:
    """`uptime`'s load averages (1, 5, 15 minutes)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(sizes=DEFAULT_SIZES, num_proc: int | None = None, out: Path = RESULTS, source=None) -> list[dict]:
    """Measure every size; write `data.json` under `out` after each size; return the per-size results."""
    source = source or goemotions_rows()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_data_") as folder:
        for rows in sizes:
            before = load_average()
            result = with_total(run_size(rows, Path(folder), source, num_proc))
            results.append({**result, "load_before": before, "load_after": load_average()})
            write_results(out, sizes, num_proc, results)
    return results


def write_results(out: Path, sizes, num_proc: int | None, results: list[dict]) -> None:
    """`data.json`: the settings and the sizes measured so far (a long run keeps what it measured)."""
    out.mkdir(parents=True, exist_ok=True)
    record = {"sizes": list(sizes), "num_proc": num_proc, "cpus": os.cpu_count(), "results": results}
    (out / "data.json").write_text(json.dumps(record, indent=2) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="corpus sizes in rows")
    parser.add_argument("--num_proc", type=int, default=None, help="load_corpus/map processes (default: automatic)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for data.json")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # measure this CSV, print JSON
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(measure_phases(args.worker, args.num_proc)))
        return
    results = run(args.sizes, args.num_proc, args.out)
    print(markdown(results))
    print("load average (1, 5, 15 min) before each size: " + "; ".join(r["load_before"] for r in results))


if __name__ == "__main__":
    main()
