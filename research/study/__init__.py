"""The positional-encoding study: train a grid of small encoders, measure them, write docs/study.md.

    python -m research.study [--quick | --smoke] [--workers 2] [--out docs]

Grid: position type {learned, sinusoidal, none} × depth {1, 2, 4, 8} × {pre-norm, post-norm} on the
order and subject corpora over 3 seeds (2 with `--quick`, which also uses less data and fewer epochs:
see `PLANS`), all with learning-rate warm-up, plus the deepest stacks trained again without warm-up.
Each run is diagnosed with `research.diagnostics`; a forward-time-versus-length series measures the
cost of attention. Everything measured goes to `<out>/study/results.json`; the report `<out>/study.md`
and its plots `<out>/study/*.png` are generated from it (`--report_only` regenerates them without
training).

The code, one idea a file:

    plan.py     what a mode trains: `Plan`, `PLANS`, `Point`, `grid`
    runner.py   one run (data, a lean Trainer, diagnostics) and the grid of them, in parallel, resumable
    scaling.py  forward time against sequence length, and the bench's reading of it
    records.py  mean ± std over seeds of a metric of the run records, as markdown tables
    plots.py    the report's figures
    claims.py   each claim's verdict and the numbers behind it
    report.py   the markdown sections and `write_report`
    cli.py      the command: arguments, `measure`, `main`
"""

from .claims import claims
from .cli import main, measure, parse_args
from .plan import PLANS, Plan, Point, grid
from .report import markdown, write_report
from .runner import run_grid, run_point

__all__ = [
    "PLANS",
    "Plan",
    "Point",
    "claims",
    "grid",
    "main",
    "markdown",
    "measure",
    "parse_args",
    "run_grid",
    "run_point",
    "write_report",
]
