"""docs/length_generalization.md and its plots, from the stored results of `python -m research.length`."""

from collections import defaultdict
from statistics import mean, pstdev

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .runner import Plan  # noqa: E402

TARGET_POINTS = 10.0  # Ruoss et al.: randomized beats plain by +12.0 points mean at unseen lengths


def variant(record, mode):
    """The row a record's scores (in evaluation `mode`) belong to, e.g. "ours learned, randomized (sampled)"."""
    who = "x-transformers" if record["implementation"] == "x_transformers" else "ours"
    name = f"{who} {record['scheme']}"
    return f"{name}, randomized ({mode} eval)" if record["randomized"] else name


def split_means(scores, train_max_length):
    """(in-distribution, unseen-length) mean accuracy of one run's {length: accuracy}."""
    seen = [value for length, value in scores.items() if int(length) <= train_max_length]
    unseen = [value for length, value in scores.items() if int(length) > train_max_length]
    return mean(seen), mean(unseen)


def summarise(results):
    """{task: {variant: {"in": [per seed], "out": [per seed], "curve": {length: mean over seeds}}}}."""
    limit = results["plan"]["train_max_length"]
    table = defaultdict(lambda: defaultdict(lambda: {"in": [], "out": [], "curves": []}))
    for record in results["records"]:
        for mode, scores in record["accuracy_by_length"].items():
            cell = table[record["task"]][variant(record, mode)]
            seen, unseen = split_means(scores, limit)
            cell["in"].append(seen)
            cell["out"].append(unseen)
            cell["curves"].append({int(length): value for length, value in scores.items()})
    return table


def percent(values):
    spread = f" ± {100 * pstdev(values):.1f}" if len(values) > 1 else ""
    return f"{100 * mean(values):.1f}{spread}"


def results_table(table):
    variants = sorted({name for cells in table.values() for name in cells}, key=variant_order)
    tasks = list(table)
    header = "| position scheme | " + " | ".join(f"{task}: seen / unseen" for task in tasks) + " | mean unseen |"
    lines = [header, "|---|" + "---|" * (len(tasks) + 1)]
    for name in variants:
        cells = [table[task].get(name) for task in tasks]
        row = [f"{percent(c['in'])} / {percent(c['out'])}" if c else "—" for c in cells]
        unseen = [mean(c["out"]) for c in cells if c]
        lines.append(f"| {name} | " + " | ".join(row) + f" | {100 * mean(unseen):.1f} |")
    return "\n".join(lines)


def variant_order(name):
    return (name.startswith("x-transformers"), name.split(",")[0], name)


def mean_unseen(table, name):
    values = [mean(cells[name]["out"]) for cells in table.values() if name in cells]
    return 100 * mean(values) if values else None


def verdicts(table):
    """The randomized-against-plain comparison per scheme, and ours against x-transformers in distribution."""
    lines = [ranking_verdict(table), cycle_navigation_verdict(table)]
    schemes = sorted(
        {name.split(",")[0].removeprefix("ours ") for c in table.values() for name in c if name.startswith("ours")}
    )
    for scheme in schemes:
        plain = mean_unseen(table, f"ours {scheme}")
        for mode in ("sampled", "ordered"):
            randomized = mean_unseen(table, f"ours {scheme}, randomized ({mode} eval)")
            if plain is None or randomized is None:
                continue
            gain = randomized - plain
            met = "meets" if gain >= TARGET_POINTS else "misses"
            lines.append(
                f"- {scheme}, randomized ({mode} eval) against plain: {randomized:.1f} % against {plain:.1f} % mean "
                f"accuracy at unseen lengths, {gain:+.1f} points ({met} the paper's ≥ {TARGET_POINTS:g})."
            )
    for task, cells in table.items():
        for name, cell in cells.items():
            if not name.startswith("x-transformers"):
                continue
            ours = cells.get("ours" + name.removeprefix("x-transformers"))
            if ours:
                lines.append(
                    f"- {task}, {name.removeprefix('x-transformers ')} in distribution: ours {percent(ours['in'])} %, "
                    f"x-transformers {percent(cell['in'])} %."
                )
    return "\n".join(line for line in lines if line)


PUBLISHED_RANKING = ("none", "t5", "alibi", "rotary", "learned")  # Kazemnejad et al. 2023 (decoders)
ISSUE_CYCLE_NAVIGATION = 24.4  # the issue's report: ours with PosEncConfig's defaults, in distribution (%)


def ranking_verdict(table):
    """Our plain schemes ordered by mean accuracy at unseen lengths, beside the published decoder ranking."""
    plain = {name.removeprefix("ours "): mean_unseen(table, name) for c in table.values() for name in c
             if name.startswith("ours") and "," not in name}  # fmt: skip
    ours = sorted(plain, key=plain.get, reverse=True)
    shared = [scheme for scheme in ours if scheme in PUBLISHED_RANKING]
    order = " > ".join(f"{scheme} {plain[scheme]:.1f}" for scheme in ours)
    same = "holds" if shared == list(PUBLISHED_RANKING) else "does not hold"
    return (
        f"- Plain schemes by mean accuracy at unseen lengths: {order}. Kazemnejad et al.'s decoder order "
        f"(none ≈ t5 > alibi > rotary ≈ learned) {same} here: its five schemes rank {' > '.join(shared)}."
    )


def cycle_navigation_verdict(table):
    cell = table.get("cycle_navigation", {}).get("ours learned")
    if not cell:
        return ""
    return (
        f"- cycle_navigation, ours learned (PosEncConfig's defaults) in distribution: {percent(cell['in'])} %; the "
        f"issue reported {ISSUE_CYCLE_NAVIGATION} % (chance is 20 %) with the same sizes and budget: not reproduced."
    )


def plot_curves(table, train_max_length, path):
    """Accuracy against length, one panel per task, one line per variant (mean over seeds)."""
    tasks = list(table)
    figure, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 4), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for name in sorted(table[task], key=variant_order):
            curves = table[task][name]["curves"]
            lengths = sorted(curves[0])
            values = [mean(curve[n] for curve in curves) for n in lengths]
            style = "--" if "randomized" in name else ":" if name.startswith("x-") else "-"
            axis.plot(lengths, values, style, label=name, linewidth=1)
        axis.axvline(train_max_length + 0.5, color="grey", linewidth=0.8)
        axis.set(title=task, xlabel="length (symbols)", ylabel="accuracy", ylim=(0, 1.02))
    axes[0][-1].legend(fontsize=6, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_unseen(table, path):
    """Mean accuracy at unseen lengths over the tasks, per variant."""
    names = sorted({name for c in table.values() for name in c}, key=variant_order)
    values = [mean_unseen(table, name) for name in names]
    figure, axis = plt.subplots(figsize=(7, 0.28 * len(names) + 1))
    axis.barh(
        range(len(names)),
        values,
        color=["C1" if "randomized" in n else "C2" if n.startswith("x-") else "C0" for n in names],
    )
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.invert_yaxis()
    axis.set(xlabel="mean accuracy at unseen lengths (%)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def text_table(records):
    """Per corpus and scheme: test accuracy with the texts cut to the training length and whole, over all
    test texts and over those past it (means over seeds)."""
    rows = defaultdict(list)
    for record in records:
        rows[(record["corpus"], record["scheme"] + (", randomized" if record["randomized"] else ""))].append(record)
    lines = [
        "| corpus | position scheme | test: cut / whole | texts past the cut | those: cut / whole | whole − cut |",
        "|---|---|---|---|---|---|",
    ]
    for (corpus, name), runs in rows.items():
        long = [r for r in runs if r["long_accuracy_whole"] is not None]
        both = f"{percent([r['accuracy_cut'] for r in runs])} / {percent([r['accuracy_whole'] for r in runs])}"
        past = f"{runs[0]['long_texts']} of {runs[0]['test_texts']}"
        if long:
            cut, whole = [r["long_accuracy_cut"] for r in long], [r["long_accuracy_whole"] for r in long]
            gap = f"{100 * (mean(whole) - mean(cut)):+.1f}"
            lines.append(f"| {corpus} | {name} | {both} | {past} | {percent(cut)} / {percent(whole)} | {gap} |")
        else:
            lines.append(f"| {corpus} | {name} | {both} | {past} | — | — |")
    return "\n".join(lines)


def text_section(text):
    """The real-text part, or a line saying it has not been run."""
    if not text:
        return "Not run yet: `python -m research.length --parts text`.\n"
    plan, records = text["plan"], text["records"]
    seeds = sorted({r["seed"] for r in records})
    quick = " (quick mode)" if text["mode"] == "quick" else ""
    return f"""Each corpus's classifier (`configs/<corpus>.yaml`, through
`posenc_hf.training.runner.run_training`) trains and selects its checkpoint on texts cut to
{plan["train_tokens"]} tokens, then scores the test split cut the same way and whole (up to the config's
`max_length`); positions past {plan["train_tokens"]} are never trained. Seeds: {", ".join(map(str, seeds))};
{len(records)} runs, {text["wall_seconds"] / 60:.0f} min on {text["machine"]}{quick}.

{text_table(records)}
"""


def recipe_cells(records, limit):
    """(task, recipe, scheme) -> {"in": [seen accuracy per seed], "out": [unseen accuracy per seed]}."""
    cells = defaultdict(lambda: {"in": [], "out": []})
    for record in records:
        seen, unseen = split_means(record["accuracy_by_length"]["ordered"], limit)
        cells[(record["task"], record["recipe"], record["scheme"])]["in"].append(seen)
        cells[(record["task"], record["recipe"], record["scheme"])]["out"].append(unseen)
    return cells


def recipe_table(records, grid_table, limit):
    """Per recipe and scheme: in-distribution / unseen accuracy, and x-transformers' Encoder's from the grid."""
    cells, lines = recipe_cells(records, limit), []
    for task in dict.fromkeys(r["task"] for r in records):
        schemes = list(dict.fromkeys(r["scheme"] for r in records if r["task"] == task))
        lines += [f"| {task}: recipe | " + " | ".join(f"{s}: seen / unseen" for s in schemes) + " |",
                  "|---|" + "---|" * len(schemes)]  # fmt: skip
        for recipe in dict.fromkeys(r["recipe"] for r in records if r["task"] == task):
            row = [cells.get((task, recipe, scheme)) for scheme in schemes]
            lines.append(f"| ours, {recipe} | " + " | ".join(
                f"{percent(c['in'])} / {percent(c['out'])}" if c else "—" for c in row) + " |")  # fmt: skip
        peers = [grid_table.get(task, {}).get(f"x-transformers {scheme}") for scheme in schemes]
        lines.append("| x-transformers (grid) | " + " | ".join(
            f"{percent(c['in'])} / {percent(c['out'])}" if c else "—" for c in peers) + " |")  # fmt: skip
    return "\n".join(lines)


def recipe_verdicts(records, grid_table, limit):
    """Per task and scheme: the best recipe in distribution against the defaults and x-transformers' Encoder."""
    cells, lines = recipe_cells(records, limit), []
    for task, scheme in dict.fromkeys((r["task"], r["scheme"]) for r in records):
        seen = {name: mean(cell["in"]) * 100 for (t, name, s), cell in cells.items() if (t, s) == (task, scheme)}
        best = max(seen, key=seen.get)
        peer = grid_table.get(task, {}).get(f"x-transformers {scheme}")
        versus = f"; x-transformers {mean(peer['in']) * 100:.1f} %" if peer else ""
        lines.append(f"- {task}, {scheme}: defaults {seen['defaults']:.1f} % in distribution, best recipe "
                     f"({best}) {seen[best]:.1f} %{versus}.")  # fmt: skip
    return "\n".join(lines)


def recipe_section(recipe, grid_table):
    """The recipe part, or a line saying it has not been run."""
    if not recipe:
        return "Not run yet: `python -m research.length --parts recipe`.\n"
    seeds = sorted({r["seed"] for r in recipe["records"]})
    limit = recipe["plan"]["train_max_length"]
    return f"""Where ours trails x-transformers' Encoder in distribution, the same runs again with `PosEncConfig`'s
defaults moved towards the Encoder's one at a time (it is pre-norm and has no dropout; ours is post-norm
with `hidden_dropout_prob` 0.1): which difference is the gap? {recipe["plan"]["steps"]} steps, seeds
{", ".join(map(str, seeds))}; {len(recipe["records"])} runs, {recipe["wall_seconds"] / 60:.0f} min on
{recipe["machine"]}.

{recipe_table(recipe["records"], grid_table, limit)}

{recipe_verdicts(recipe["records"], grid_table, limit)}
"""


def reduced_run_caveat(plan, seeds):
    """A line saying how a run falls short of the whole study, or "" when it does not."""
    full = Plan()
    reduced = [f"{plan['steps']} steps, not {full.steps}"] if plan["steps"] != full.steps else []
    reduced += [f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}, not 3"] if len(seeds) < 3 else []
    if not reduced:
        return ""
    return (
        f"\n**A reduced run** ({', '.join(reduced)}): a first look, not the study's verdict; "
        "`python -m research.length` runs the whole grid.\n"
    )


def write_report(study, out):
    """Write <out>/length_generalization.md and its plots from the stored {"grid": ..., "text": ...}
    results; returns the document's path."""
    results, folder = study["grid"], out / "length_generalization"
    plan = results["plan"]
    folder.mkdir(parents=True, exist_ok=True)
    table = summarise(results)
    plot_curves(table, plan["train_max_length"], folder / "accuracy_by_length.png")
    plot_unseen(table, folder / "unseen_accuracy.png")
    seeds = sorted({r["seed"] for r in results["records"]})
    caveat = reduced_run_caveat(plan, seeds) if results["mode"] != "quick" else ""
    text = f"""# Length generalisation: which position encoding to pick

Generated by `python -m research.length{" --quick" if results["mode"] == "quick" else ""}` from
`length_generalization/results.json` (`--report_only` rewrites this file from it).

Setting (Ruoss et al. 2023's, scaled to a CPU): each model trains {plan["steps"]} steps of batch {plan["batch_size"]}
(a fresh text each time) on lengths 1–{plan["train_max_length"]} and is scored on {plan["test_rows_per_length"]} texts
at every length 1–{plan["test_max_length"]}: "seen" is the mean accuracy over lengths 1–{plan["train_max_length"]},
"unseen" over {plan["train_max_length"] + 1}–{plan["test_max_length"]}. Hidden {plan["hidden_size"]},
{plan["num_attention_heads"]} heads, {plan["num_hidden_layers"]} layers, learning rate {plan["learning_rate"]:g},
`max_position_embeddings` {plan["max_position_embeddings"]}, `PosEncConfig`'s defaults otherwise; x-transformers'
Encoder at the same size with its own defaults and mean pooling. Seeds: {", ".join(map(str, seeds))}
(± is the spread over seeds). {len(results["records"])} runs, {results["workers"]} workers,
{results["wall_seconds"] / 60:.0f} min on {results["machine"]}.
{caveat}
## Results (accuracy, %)

{results_table(table)}

![accuracy against length](length_generalization/accuracy_by_length.png)

![mean accuracy at unseen lengths](length_generalization/unseen_accuracy.png)

## Verdicts

{verdicts(table)}

## Real text: trained at {study.get("text", {}).get("plan", {}).get("train_tokens", 32)} tokens, scored whole

{text_section(study.get("text"))}
## In distribution: ours against x-transformers' Encoder, recipe by recipe

{recipe_section(study.get("recipe"), table)}"""
    path = out / "length_generalization.md"
    path.write_text(text)
    return path
