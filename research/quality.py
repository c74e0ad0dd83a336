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
import platform
import re
import statistics
import string
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "docs" / "quality" / "template.md"
METRICS = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class Row:
    name: str  # folder name and JSON key
    label: str  # table text
    kind: str  # "baseline", "default" (configs/<corpus>.yaml), "bert" (its same-size BERT), "scratch", "pretrained"
    args: tuple = ()  # extra command-line fields of the row's run (for "pretrained": of fine-tuning)
    pretrain_args: tuple = ()  # for "pretrained": fields of the masked-LM run, which rows with the same ones share
    corpora: tuple = ()  # the corpora that run this row; () for all

    @property
    def mlm_folder(self):
        return "mlm_" + "_".join(value.lstrip("-") for value in self.pretrain_args[1::2])


@dataclass(frozen=True)
class Corpus:
    classify: str  # config of the classification runs (scratch and fine-tuning)
    pretrain: str | None = None  # config of the masked-LM runs; None: no pretrained rows
    scratch_args: tuple = ()  # fields only scratch runs change
    finetune_args: tuple = ()  # fields only fine-tuning from a pretrained folder changes
    shared_pretraining: bool = False  # one masked LM (seed 0) for every seed: its text is in no split of any seed
    default: str | None = None  # the config a user trains (configs/<corpus>.yaml): the "default" and "bert" rows
    args: tuple = ()  # fields every run of the corpus adds (the shift test's held-out files)
    only_rows: tuple = ()  # the rows this corpus runs; () for all that apply


TARGET_ROWS = ("tfidf_word", "tfidf_char", "default", "bert")  # the comparison the target is set on
CORPORA = {
    "mmlu": Corpus("configs/finetune_mmlu.yaml", "configs/pretrain_mmlu.yaml", default="configs/mmlu.yaml"),
    "mmlu_shift": Corpus(  # trained without the college files, scored on them
        "configs/finetune_mmlu.yaml",
        default="configs/mmlu.yaml",
        args=("--mmlu_heldout", "college"),
        only_rows=TARGET_ROWS,
    ),
    "goemotions": Corpus(
        "configs/finetune_goemotions.yaml",
        "configs/pretrain_goemotions.yaml",
        shared_pretraining=True,
        default="configs/goemotions.yaml",
    ),
    "subject": Corpus("configs/subject.yaml"),  # the built-in corpora, with the configs users train
    "sentiment": Corpus("configs/sentiment.yaml"),
}
TARGET_CORPORA = ("mmlu", "mmlu_shift", "goemotions")  # the corpora the target is set on
LEARNED, SINUSOIDAL = ("--position_embedding_type", "learned"), ("--position_embedding_type", "sinusoidal")
ROWS = (
    Row("tfidf_word", "TF-IDF + LR, word 1-2-grams", "baseline", ("--analyzer", "word")),
    Row("tfidf_char", "TF-IDF + LR, char 2-5-grams", "baseline", ("--analyzer", "char_wb")),
    Row("default", "PosEnc, the corpus's default config (`configs/<corpus>.yaml`)", "default"),
    Row("bert", "same-size `BertForSequenceClassification` from scratch, same config", "bert"),
    Row("scratch_learned", "PosEnc from scratch, learned positions", "scratch", LEARNED),
    Row("scratch_sinusoidal", "PosEnc from scratch, sinusoidal positions", "scratch", SINUSOIDAL),
    Row(
        "scratch_attention_dropout",
        "PosEnc from scratch, learned, attention dropout 0.1 (BERT's)",
        "scratch",
        LEARNED + ("--attention_probs_dropout_prob", "0.1"),
    ),  # fmt: skip
    Row("pretrained_learned", "PosEnc MLM-pretrained + fine-tuned, learned", "pretrained", (), LEARNED),
    Row("pretrained_sinusoidal", "PosEnc MLM-pretrained + fine-tuned, sinusoidal", "pretrained", (), SINUSOIDAL),
    Row(
        "pretrained_15_epochs_learned",
        "PosEnc MLM-pretrained 15 epochs (3× the config) + fine-tuned, learned",
        "pretrained",
        (),
        LEARNED + ("--num_train_epochs", "15"),
        corpora=("goemotions",),
    ),
    Row(
        "pretrained_15_epochs_sinusoidal",
        "PosEnc MLM-pretrained 15 epochs (3× the config) + fine-tuned, sinusoidal",
        "pretrained",
        (),
        SINUSOIDAL + ("--num_train_epochs", "15"),
        corpora=("goemotions",),
    ),
)
ROW_BY_NAME = {row.name: row for row in ROWS}
TARGET = "tfidf_word"  # the baseline the issue names; the char n-gram one is reported beside it
PRETRAINING_LOCKS = defaultdict(threading.Lock)
TUNING = {  # corpus -> Rows tried on validation (seed 0) while choosing the configs; see docs/quality.md
    "mmlu": (
        Row("try_v8000_lr3e-4", "from scratch, whole-word vocabulary, slower rate", "scratch",
            ("--vocab_size", "8000", "--learning_rate", "3e-4")),
        Row("try_v8000", "from scratch, whole-word vocabulary", "scratch", ("--vocab_size", "8000")),
        Row("try_v8000_dropout0.3", "from scratch, whole-word vocabulary, dropout 0.3", "scratch",
            ("--vocab_size", "8000", "--hidden_dropout_prob", "0.3")),
        Row("try_lr3e-4", "from scratch, slower rate", "scratch", ("--learning_rate", "3e-4")),
        Row("try_pretrained_lr3e-4", "pretrained, fine-tuned at the slower rate", "pretrained",
            ("--learning_rate", "3e-4"), LEARNED),
    ),
    "goemotions": (
        Row("try_balanced", "from scratch, class-balanced loss", "scratch", ("--class_weight", "balanced")),
        Row("try_lr1e-3", "from scratch, faster rate", "scratch", ("--learning_rate", "1e-3")),
        Row("try_pretrained_balanced", "pretrained, class-balanced loss", "pretrained",
            ("--class_weight", "balanced"), LEARNED),
        Row("try_pretrained_lr1e-4", "pretrained, fine-tuned at a slower rate", "pretrained",
            ("--learning_rate", "1e-4"), LEARNED),
    ),
}  # fmt: skip


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


# --- tables -------------------------------------------------------------------------------------


def mean_std(values):
    """(mean, sample standard deviation; 0 for one value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(results):
    """Per row: mean ± std of each test metric over seeds, and the mean cost."""
    summary = {}
    for name, per_seed in results.items():
        runs = list(per_seed.values())
        entry = {m: mean_std([run["test"][m] for run in runs]) for m in METRICS}
        entry["validation_macro_f1"] = mean_std([run["validation_macro_f1"] for run in runs])
        for key in ("wall_seconds", "cpu_seconds"):
            entry[key] = statistics.mean(run[key] for run in runs)
            if "pretraining" in runs[0]:
                entry[f"pretraining_{key}"] = statistics.mean(run["pretraining"][key] for run in runs)
        entry["peak_memory_mib"] = max(run["peak_memory_mib"] for run in runs)
        if "pretraining" in runs[0]:
            entry["pretraining_peak_memory_mib"] = max(run["pretraining"]["peak_memory_mib"] for run in runs)
            entry["pretraining_mlm_loss"] = mean_std([run["pretraining"]["mlm_loss"] for run in runs])
        entry["seeds"] = len(runs)
        summary[name] = entry
    return summary


def verdict(summary):
    """The PosEnc row with the best mean validation macro-F1, and its test margins over the target."""
    ours = [name for name in summary if not name.startswith("tfidf") and name != "bert"]
    if TARGET not in summary or not ours:
        return None
    best = max(ours, key=lambda name: summary[name]["validation_macro_f1"][0])
    margins = {m: summary[best][m][0] - summary[TARGET][m][0] for m in METRICS}
    return {"best": best, "margins": margins, "met": all(value >= 0 for value in margins.values())}


def target_verdict(summary):
    """The default config's mean test margins over each peer of the target (BERT, both TF-IDF), or None."""
    peers = [name for name in TARGET_ROWS if name != "default" and name in summary]
    if "default" not in summary or not peers:
        return None
    margins = {peer: {m: summary["default"][m][0] - summary[peer][m][0] for m in METRICS} for peer in peers}
    return {"margins": margins, "met": all(v >= 0 for peer in margins.values() for v in peer.values())}


def target_table(summaries):
    """Per target corpus: the default config, its peers, and whether it is at or above all of them."""
    header = ["corpus", *(f"{name}: accuracy / macro-F1 (%)" for name in TARGET_ROWS), "default at or above all"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for corpus in TARGET_CORPORA:
        summary = summaries.get(corpus, {})
        outcome = target_verdict(summary)
        if outcome is None:
            continue
        cells = [f"{fmt(summary[n]['accuracy'])} / {fmt(summary[n]['macro_f1'])}" if n in summary else "—"
                 for n in TARGET_ROWS]  # fmt: skip
        shortfall = [f"{m.replace('_', '-')} {v * 100:+.1f} vs {peer}" for peer, margin in outcome["margins"].items()
                     for m, v in margin.items() if v < 0]  # fmt: skip
        met = "yes" if outcome["met"] else "no: " + ", ".join(shortfall)
        lines.append(f"| {corpus} | {' | '.join(cells)} | {met} |")
    return "\n".join(lines)


def search_text(docs_dir):
    """The optuna searches (`python -m research.search`) whose results are in docs/quality/search_*.json."""
    parts = []
    for path in sorted((docs_dir / "quality").glob("search_*.json")):
        result = json.loads(path.read_text())
        done = [t for t in result["trials"] if t["state"] == "COMPLETE"]
        pruned = sum(t["state"] == "PRUNED" for t in result["trials"])
        best = result["best"]
        params = ", ".join(
            f"`{k}` {v:.3g}" if isinstance(v, float) else f"`{k}` {v}" for k, v in best["params"].items()
        )
        parts.append(
            f"**{path.stem.removeprefix('search_')}** (`python -m research.search {result['config']} "
            f"{' '.join(result['extra_args'])}`): {len(done)} trials completed, {pruned} pruned, "
            f"{result['seconds'] / 60:.0f} min; best validation macro-F1 {best['objective'] * 100:.1f} with {params}."
        )
    return "\n\n".join(parts) or "(no search results)"


def fmt(pair, scale=100):
    return f"{pair[0] * scale:.1f} ± {pair[1] * scale:.1f}"


def quality_table(summary, labels):
    lines = ["| model | test accuracy (%) | test macro-F1 (%) | validation macro-F1 (%) |", "|---|---|---|---|"]
    for name, entry in summary.items():
        lines.append(f"| {labels[name]} | {fmt(entry['accuracy'])} | {fmt(entry['macro_f1'])} | "
                     f"{fmt(entry['validation_macro_f1'])} |")  # fmt: skip
    return "\n".join(lines)


def cost_table(summary, labels):
    lines = ["| model | wall s | CPU s | peak memory MiB | pretraining: wall s | CPU s | peak MiB | MLM loss |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, entry in summary.items():
        pre = "| — | — | — | —"
        if "pretraining_wall_seconds" in entry:
            pre = (f"| {entry['pretraining_wall_seconds']:.0f} | {entry['pretraining_cpu_seconds']:.0f} | "
                   f"{entry['pretraining_peak_memory_mib']:.0f} | {fmt(entry['pretraining_mlm_loss'], 1)}")  # fmt: skip
        lines.append(f"| {labels[name]} | {entry['wall_seconds']:.0f} | {entry['cpu_seconds']:.0f} | "
                     f"{entry['peak_memory_mib']:.0f} {pre} |")  # fmt: skip
    return "\n".join(lines)


def verdict_text(corpus, outcome, labels, summary):
    if outcome is None:
        return f"**{corpus}**: no verdict (the baseline or every PosEnc row is missing from this run)."
    best, margins = outcome["best"], outcome["margins"]
    signs = ", ".join(f"{m.replace('_', '-')} {margins[m] * 100:+.1f} points" for m in METRICS)
    word = "at or above" if outcome["met"] else "below" if all(v < 0 for v in margins.values()) else "not above in both"
    char = {m: summary[best][m][0] - summary["tfidf_char"][m][0] for m in METRICS} if "tfidf_char" in summary else None
    text = (
        f"**{corpus}**: the best PosEnc configuration by validation macro-F1 is *{labels[best]}*; on test it is "
        f"{word} TF-IDF + LR (word n-grams): {signs}."
    )
    noise = {m: max(summary[best][m][1], summary[TARGET][m][1]) for m in METRICS}
    small = [m for m in METRICS if abs(margins[m]) < noise[m]]
    if small:
        text += (
            " Within the seeds' spread: "
            + ", ".join(
                f"the {m.replace('_', '-')} margin is smaller than the larger standard deviation of the two rows "
                f"({noise[m] * 100:.1f} points)"
                for m in small
            )
            + "."
        )
    if char:
        text += (
            " Against the character n-gram TF-IDF: "
            + ", ".join(f"{m.replace('_', '-')} {char[m] * 100:+.1f} points" for m in METRICS)
            + "."
        )
    return text


def tuning_table(tuning_results):
    lines = ["| corpus | variant | command-line fields | validation macro-F1 (%) |", "|---|---|---|---|"]
    for corpus, rows in tuning_results.items():
        for row, result in rows:
            fields = " ".join(row.pretrain_args + row.args)
            lines.append(f"| {corpus} | {row.label} | `{fields}` | {result['validation_macro_f1'] * 100:.1f} |")
    return "\n".join(lines)


def dropout_table(summaries):
    """Attention dropout 0.0 (the default) against 0.1 (BERT's), from scratch with learned positions."""
    header = "| corpus | attention dropout | test accuracy (%) | test macro-F1 (%) | CPU s per run |"
    lines = [header, "|---|---|---|---|---|"]
    for corpus, summary in summaries.items():
        for name, label in (("scratch_learned", "0.0 (default)"), ("scratch_attention_dropout", "0.1")):
            if name in summary:
                entry = summary[name]
                lines.append(f"| {corpus} | {label} | {fmt(entry['accuracy'])} | {fmt(entry['macro_f1'])} | "
                             f"{entry['cpu_seconds']:.0f} |")  # fmt: skip
    return "\n".join(lines)


def machine():
    """What the runs ran on (the load average is left out: at writing time it says nothing of the runs)."""
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def write_documents(results, tuning_results, seeds, threads, docs_dir, machine_info=None):
    """docs/quality.md and docs/quality/results.json from the runs' results; `machine_info` (else this
    machine's) is where they ran."""
    labels = {row.name: row.label for row in ROWS}
    summaries = {corpus: summarise(rows) for corpus, rows in results.items()}
    verdicts = {corpus: verdict(summary) for corpus, summary in summaries.items()}
    targets = {corpus: target_verdict(summary) for corpus, summary in summaries.items()}
    info = {"seeds": seeds, "threads_per_run": threads, "machine": machine_info or machine(), "baseline_target": TARGET}
    payload = {**info, "summary": summaries, "verdict": verdicts, "target": targets, "runs": results,
               "tuning": {c: [{"row": r.name, "args": list(r.args), **res} for r, res in rows]
                          for c, rows in tuning_results.items()}}  # fmt: skip
    (docs_dir / "quality").mkdir(parents=True, exist_ok=True)
    (docs_dir / "quality" / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    fields = {
        "seeds": ", ".join(map(str, seeds)),
        "threads": threads,
        "machine": json.dumps(info["machine"]),
        "verdicts": "\n\n".join(verdict_text(c, verdicts[c], labels, summaries[c]) for c in summaries),
        "target": target_table(summaries),
        "search": search_text(docs_dir),
        "tuning": tuning_table(tuning_results),
        "dropout": dropout_table(summaries),
        "commands": "\n".join(f"    {portable(run['command'])}" for run in commands_of(results)),
    }
    for corpus in CORPORA:
        fields[f"{corpus}_quality"] = quality_table(summaries[corpus], labels) if corpus in summaries else "(not run)"
        fields[f"{corpus}_cost"] = cost_table(summaries[corpus], labels) if corpus in summaries else "(not run)"
    (docs_dir / "quality.md").write_text(string.Template(TEMPLATE.read_text()).substitute(fields))


def portable(command):
    """A recorded command as a reader would type it: `python` for the interpreter's path, and paths into
    the runs folder relative to the repository (`runs/quality/...`)."""
    program, _, rest = command.partition(" ")
    program = "python" if Path(program).name.startswith("python") else program
    rest = re.sub(r"(?<= )/\S*/(runs/quality/)", r"\1", " " + rest)
    return program + rest


def commands_of(results):
    """The commands of the first seed of every row, pretraining first."""
    for rows in results.values():
        for per_seed in rows.values():
            first = per_seed[min(per_seed)]
            if "pretraining" in first:
                yield first["pretraining"]
            yield first


# --- main ---------------------------------------------------------------------------------------


def tuning_result(entry):
    """A tuning entry of results.json as its run's result: without the row's name and arguments."""
    return {key: value for key, value in entry.items() if key not in ("row", "args")}


def rewrite_documents(docs_dir):
    """docs/quality.md again from its stored docs/quality/results.json, running nothing (after the template
    or a search result changed)."""
    stored = json.loads((docs_dir / "quality" / "results.json").read_text())
    rows = {c: {row.name: row for row in tried} for c, tried in TUNING.items()}
    tuning = {c: [(rows[c][entry["row"]], tuning_result(entry)) for entry in tried]
              for c, tried in stored["tuning"].items()}  # fmt: skip
    write_documents(stored["runs"], tuning, stored["seeds"], stored["threads_per_run"], docs_dir, stored["machine"])


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


def rows_of(corpus, rows):
    """The rows a corpus runs: those meant for it, the pretrained ones only where it has a pretraining config,
    the default and BERT ones only where it has a default config."""
    spec = CORPORA[corpus]
    return [
        row
        for row in rows
        if (row.kind != "pretrained" or spec.pretrain)
        and (row.kind not in ("default", "bert") or spec.default)
        and (not row.corpora or corpus in row.corpora)
        and (not spec.only_rows or row.name in spec.only_rows)
    ]


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
