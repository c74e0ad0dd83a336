"""Regenerate `docs/quality.md` and `docs/quality/results.json` from real runs: TF-IDF + logistic
regression against PosEnc from scratch and pretrained (masked LM) then fine-tuned, with learned and
sinusoidal positions, on MMLU subjects and GoEmotions sentiment, over several seeds.

    nice -n 15 python -m research.quality                        # everything: 2 corpora × 3 seeds
    nice -n 15 python -m research.quality --corpora mmlu --seeds 0 --jobs 1
    python -m research.quality --report_only                     # the document again from results.json

Every run is a subprocess with the repository's own commands (`python -m research.baseline`,
`python train/run.py`), so the table reports exactly what a user gets; its wall time, CPU time
(user + system) and peak resident memory are measured from outside (`os.wait4`). A run writes
`runs/quality/<corpus>/<row>/seed_<seed>/result.json`; a run with that file is not repeated (delete
it to redo), so an interrupted regeneration resumes. Tuning variants (`TUNING`) are scored on the
validation split only. No number in the document is typed by hand.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from research.quality_report import REPO_ROOT, rewrite_documents, tuning_result, write_documents
from research.quality_rows import CORPORA, METRICS, ROW_BY_NAME, ROWS, TARGET_ROWS, TUNING, rows_of

PRETRAINING_LOCKS = defaultdict(threading.Lock)


# --- running one command ------------------------------------------------------------------------


def measured_run(command, log_path, threads):
    """Run `command` from the repository root; return its wall and CPU seconds and peak memory (MiB)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log_path}")
    return {
        "wall_seconds": time.perf_counter() - start,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_memory_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
        "command": " ".join(command),
    }


def train_command(config, folder, seed, threads, *args):
    return [sys.executable, "train/run.py", config, "--seed", str(seed), "--output_dir", str(folder),
            "--num_threads", str(threads), "--disable_tqdm", "true", "--report_to", "none", *args]  # fmt: skip


def step(folder, command, threads, read):
    """Run once: reuse `folder/result.json` when present, else run `command` (unless `resources.json` says
    it already ran) and record its result."""
    path, measured = folder / "result.json", folder / "resources.json"
    if path.is_file():
        return json.loads(path.read_text())
    if measured.is_file():  # the run finished but reading its metrics failed: no need to run it again
        resources = json.loads(measured.read_text())
    else:
        folder.mkdir(parents=True, exist_ok=True)
        resources = measured_run(command, folder / "log.txt", threads)
        measured.write_text(json.dumps(resources, indent=2) + "\n")
    result = {**read(folder), **resources}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def read_baseline(analyzer):
    def read(folder):
        report = json.loads(
            (folder / ("baseline" if analyzer == "word" else f"baseline_{analyzer}") / "metrics.json").read_text()
        )
        return {"test": {m: report["test"][m] for m in METRICS}, "validation_macro_f1": report["validation_macro_f1"]}

    return read


def read_classifier(folder):
    report = json.loads((folder / "model" / "metrics.json").read_text())
    return {"test": {m: report["test"][m] for m in METRICS}, "validation_macro_f1": report["validation"]["macro_f1"]}


def read_pretrained(folder):
    return json.loads((folder / "model" / "metrics.json").read_text())["validation"]


def run_row(corpus_name, row, seed, runs_dir, threads, data_dir):
    """One row, one seed: the baseline, a scratch run, or pretraining then fine-tuning."""
    corpus = CORPORA[corpus_name]
    folder = runs_dir / corpus_name / row.name / f"seed_{seed}"
    data = (("--data_dir", data_dir) if data_dir else ()) + corpus.args
    if row.kind == "default":
        return step(folder, train_command(corpus.default, folder, seed, threads, *data, *row.args), threads,
                    read_classifier)  # fmt: skip
    if row.kind == "bert":
        command = train_command(corpus.default, folder, seed, threads, *data, *row.args)
        command[1:2] = ["-m", "research.bert_peer"]
        return step(folder, command, threads, read_classifier)
    if row.kind == "baseline":
        analyzer = row.args[row.args.index("--analyzer") + 1]
        command = [sys.executable, "-m", "research.baseline", corpus.classify, "--seed", str(seed),
                   "--output_dir", str(folder), *data, *row.args]  # fmt: skip
        return step(folder, command, threads, read_baseline(analyzer))
    if row.kind == "scratch":
        command = train_command(corpus.classify, folder, seed, threads, *data, *corpus.scratch_args, *row.args)
        return step(folder, command, threads, read_classifier)
    pretrain_seed = 0 if corpus.shared_pretraining else seed
    pretrain_folder = runs_dir / corpus_name / row.mlm_folder / f"seed_{pretrain_seed}"
    pretrain_command = train_command(
        corpus.pretrain, pretrain_folder, pretrain_seed, threads, *data, *row.pretrain_args
    )
    with PRETRAINING_LOCKS[pretrain_folder]:  # rows and seeds sharing a masked LM wait for the first to make it
        pretrain = step(pretrain_folder, pretrain_command, threads, read_pretrained)
    finetune = train_command(corpus.classify, folder, seed, threads, *data, *corpus.finetune_args, *row.args,
                             "--model_name_or_path", str(pretrain_folder / "model"))  # fmt: skip
    return {**step(folder, finetune, threads, read_classifier), "pretraining": pretrain}


# --- main ---------------------------------------------------------------------------------------


def seed_runs(previous, runs_dir):
    """Write each run of an earlier results.json as `result.json` in its folder, unless one is there. The
    target's rows (`TARGET_ROWS`) are left to run again: they are compared with each other, so all of
    them come from the current code and splits."""
    for corpus, rows in previous["runs"].items():
        for row, per_seed in rows.items():
            if row in TARGET_ROWS:
                continue
            for seed, result in per_seed.items():
                write_missing(runs_dir / corpus / row / f"seed_{seed}", result)
                if "pretraining" in result and row in ROW_BY_NAME:  # and its masked LM, which run_row asks for first
                    pretrain_seed = 0 if CORPORA[corpus].shared_pretraining else seed
                    mlm_folder = runs_dir / corpus / ROW_BY_NAME[row].mlm_folder / f"seed_{pretrain_seed}"
                    write_missing(mlm_folder, result["pretraining"])
    for corpus, tried in previous.get("tuning", {}).items():
        for entry in tried:
            write_missing(runs_dir / corpus / entry["row"] / "seed_0", tuning_result(entry))


def write_missing(folder, result):
    """`folder/result.json` holding `result`, unless the folder already has one (`step` then reuses it)."""
    path = folder / "result.json"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m research.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=[row.name for row in ROWS], choices=[row.name for row in ROWS])
    parser.add_argument("--runs_dir", type=Path, default=REPO_ROOT / "runs" / "quality")
    parser.add_argument("--docs_dir", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument(
        "--data_dir_root", default=None, help="Folder holding mmlu/ and goemotions/ (else the configs')."
    )
    parser.add_argument("--jobs", type=int, default=2, help="Runs at a time.")
    parser.add_argument(
        "--reuse", type=Path, default=None,
        help="A results.json of an earlier regeneration: its runs are not repeated (their commands are listed as run).",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="Torch threads per run.")
    parser.add_argument(
        "--report_only", action="store_true", help="Rewrite quality.md from quality/results.json; run nothing."
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.report_only:
        rewrite_documents(args.docs_dir)
        print(f"Wrote {args.docs_dir / 'quality.md'} from {args.docs_dir / 'quality' / 'results.json'}")
        return 0

    def data_dir(corpus):  # the shift test reads the mmlu folder
        return str(Path(args.data_dir_root) / corpus.removesuffix("_shift")) if args.data_dir_root else None

    rows = [row for row in ROWS if row.name in args.rows]
    if args.reuse:
        seed_runs(json.loads(args.reuse.read_text()), args.runs_dir)
    jobs = [(c, row, seed) for c in args.corpora for row in rows_of(c, rows) for seed in args.seeds]
    jobs += [(c, row, 0) for c in args.corpora for row in TUNING.get(c, ())]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {job: pool.submit(run_row, job[0], job[1], job[2], args.runs_dir, args.threads, data_dir(job[0]))
                   for job in jobs}  # fmt: skip
    results = {c: {row.name: {} for row in rows_of(c, rows)} for c in args.corpora}
    tuning = {c: [] for c in args.corpora}
    for (corpus, row, seed), future in futures.items():
        if row in TUNING.get(corpus, ()):
            tuning[corpus].append((row, future.result()))
        else:
            results[corpus][row.name][seed] = future.result()
    write_documents(results, tuning, args.seeds, args.threads, args.docs_dir)
    print(f"Wrote {args.docs_dir / 'quality.md'} and {args.docs_dir / 'quality' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
