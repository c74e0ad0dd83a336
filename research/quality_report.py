"""The document of `python -m research.quality`: `docs/quality.md` (from `docs/quality/template.md`) and
`docs/quality/results.json`, written from the runs' results, or again from a stored results.json."""

import json
import os
import platform
import re
import statistics
import string
from pathlib import Path

import torch
import transformers

from research.quality_rows import CORPORA, METRICS, ROWS, TARGET, TARGET_CORPORA, TARGET_ROWS, TUNING

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "docs" / "quality" / "template.md"


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
