"""What the Parameter space page's searches and animation cost, counted from their settings
before anything runs, so that a link cannot make the server compute for seconds per request.

Every search of core/param_space/landscape.py evaluates the closed-form task losses through
`adapt_path`: on a grid of φ (many rows at once, few operations) and in Newton refinements
(one row per task, many small operations). The counts below follow those loops; the budget's
calibration (core/budget/) turns them into CPU-seconds. Fitted on the worst hostile link and
on every preset (tests/test_page_costs.py holds the estimate near measured CPU time).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from core.budget.estimator import Work, plain_seconds
from core.engine.config import TrainConfig
from core.param_space import landscape as ps

# The unit of work is one evaluation of the task losses at a few φ: worth EVAL_OPS tensor
# operations at the budget's calibrated rate (fitted: autograd's bookkeeping included); a grid
# of many φ at once costs one more unit per ROWS_PER_EVAL rows.
EVAL_OPS, ROWS_PER_EVAL = 4.0, 20_000
# A Newton iteration evaluates f, its gradient and its Hessian (one more backward per
# variable) and backtracks at least once: about this many evaluations plus 3 per variable.
NEWTON_EVALS = 8


def _f(steps: int, rows: float = 0) -> float:
    """Units of f(φ) after `steps` inner steps over `rows` rows: each step a loss and its
    gradient."""
    return (3 * steps + 1) * (1 + rows / ROWS_PER_EVAL)


def _newton(variables: int, steps: int) -> float:
    """Units of one Newton iteration on a function of `variables` numbers."""
    return _f(steps) * (NEWTON_EVALS + 3 * variables)


def seconds(units: float) -> float:
    """Estimated CPU-seconds of `units` of work on this machine."""
    return plain_seconds(Work(ops=EVAL_OPS * units))


@dataclass(frozen=True)
class PageWork:
    """Units of the page's computations for one setting: the searches (the three optima and
    Meta-SGD's, found once per setting), what each run draws (directions, adaptation paths),
    and the animation's meta-training paths."""

    search: float
    drawn: float
    animation: float


def page_work(landscape: ps.Landscape, cfg: TrainConfig, test_steps: int,
              iterations: int) -> PageWork:
    """The work of the page's searches, figures and animation for these settings."""
    dim, tasks = landscape.dim, len(landscape.tasks)
    s, r = cfg.inner_steps, cfg.reptile_inner_steps
    grid = ps.GRID_POINTS[dim] ** dim * tasks
    newton = ps.OPTIMUM_CANDIDATES * ps.NEWTON_ITERS
    optima = sum(_f(steps, grid) + _newton(dim, steps) * newton for steps in (0, s))
    reptile = _f(r, grid) + _f(r) * ((1 + 2 * dim) * ps.FIXED_POINT_ITERS
                                     + (3 + 2 * dim) * ps.REPTILE_CANDIDATES)
    pairs = ps.METASGD_GRID[dim] ** dim * len(ps.METASGD_SCALES) ** dim * tasks
    metasgd = _f(s, pairs) + _newton(2 * dim, s) * (ps.METASGD_CANDIDATES * ps.NEWTON_ITERS)
    update = _f(0) + 3 * _f(s) + _f(r)  # one step of each of the five methods
    drawn = 3 * update + 3 * _f(test_steps)
    return PageWork(optima + reptile + metasgd, drawn, 3 * iterations * update)


# What one request may compute on a shared server: every preset's searches with all five
# tasks at its own step counts fit (the costliest, 2-D at one inner step and ten of Reptile's,
# is 39,913 units: about 2 CPU-s measured on the 2-core development machine under load).
LIMIT_UNITS = 45_000

# Settings that lower the work, each with its smallest value: the searches, the animation.
SEARCH_LEVERS = (("inner_steps", 1), ("reptile_inner_steps", 1))
ANIMATION_LEVERS = (("iterations", 10), ("inner_steps", 1), ("reptile_inner_steps", 1))


def largest_fitting(units: Callable[[dict], float], settings: dict, name: str,
                    low: int) -> int | None:
    """The largest value of settings[name] below its current one (and at least `low`) whose
    work `units(settings with it)` is within LIMIT_UNITS; None if there is none."""
    for value in range(settings[name] - 1, low - 1, -1):
        if units({**settings, name: value}) <= LIMIT_UNITS:
            return value
    return None
