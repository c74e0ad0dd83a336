"""Claims: each a verdict and the numbers behind it, computed from the records.

Each `claim_*` returns (title, verdict, supporting lines), or None where the plan lacks the runs that
would test it; the thresholds below decide the verdicts. `claims(results)` lists them all.
"""

import numpy as np

from .plan import Plan, contrast_learning_rates
from .records import (
    accuracy_on_test,
    fmt,
    gradient_ratio,
    mean_entropy,
    mean_std,
    pct,
    probe_first,
    probe_last,
    select,
    values,
)
from .scaling import length_series, log_log_slopes

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
