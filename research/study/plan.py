"""The grid of the study: what each mode (full, quick, smoke) trains and measures, and its runs.

A `Plan` holds one mode's settings (`PLANS`); `grid(plan)` lists its runs, each a `Point`.
"""

from dataclasses import dataclass, field

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
    num_attention_heads: int = 4
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
        num_attention_heads=2,
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


def contrast_learning_rates(plan):
    """The warm-up contrast's (selection key, learning rate) pairs: the grid's rate (key None), then the higher ones."""
    return [(None, plan.learning_rate)] + [(rate, rate) for rate in plan.high_learning_rates]
