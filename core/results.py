"""Results as every page and command shows them: one method's test tasks pooled over seeds, and
its summary rows."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from core.engine.algorithms import all_result_names
from core.engine.evaluation import summary_rows
from core.engine.events import MethodResult

# A result row: one method's score at one step in one metric, over its test tasks. The score
# columns are what every row has (sweep files too); the CLI's CSV writes all ROW_COLUMNS.
SCORE_COLUMNS = ("method", "step", "metric", "mean", "ci_low", "ci_high", "n_tasks", "diverged")
ROW_COLUMNS = (*SCORE_COLUMNS, "train_seconds", "test_lr")


@dataclass(frozen=True)
class Pooled:
    """One method's test scores with the tasks of every seed side by side."""

    method: str
    scores: dict[str, Tensor]  # metric -> (len(eval_steps), test tasks of all seeds)
    diverged: str  # why, when any seed diverged; "" otherwise
    seconds: float  # mean training time per seed
    test_lr: str  # the test-time α of each seed, in words, repeats dropped
    sound: int  # the leading eval steps every seed can report (all of them unless diverged)


def pool_seeds(results: Sequence[MethodResult]) -> list[Pooled]:
    """Per method (in order of first appearance): per-task scores concatenated over seeds."""
    pooled = []
    for name in dict.fromkeys(r.method for r in results):
        mine = [r for r in results if r.method == name]
        scores = {k: torch.cat([r.scores[k] for r in mine], dim=1) for k in mine[0].scores}
        diverged = next((r.diverged for r in mine if r.diverged), "")
        steps = len(next(iter(scores.values())))
        pooled.append(Pooled(name, scores, diverged, sum(r.seconds for r in mine) / len(mine),
                             ", ".join(dict.fromkeys(r.test_lr for r in mine)),
                             min(r.sound_steps(steps) for r in mine)))
    return pooled


def pooled_rows(results: Sequence[MethodResult], steps: tuple[int, ...]) -> list[dict]:
    """Summary rows per method, test tasks pooled over seeds; a diverged method's rows are NaN
    from the first step any seed could not report (all of them when training diverged)."""
    rows = []
    for p in pool_seeds(results):
        for row in summary_rows(p.method, p.scores, steps):
            bad = steps.index(row["step"]) >= p.sound
            if bad:
                row.update(mean=math.nan, ci_low=math.nan, ci_high=math.nan)
            rows.append({**row, "diverged": p.diverged if bad else "", "train_seconds": p.seconds,
                         "test_lr": p.test_lr})
    return rows


def unscored_rows(methods: Sequence[str], steps: Sequence[int], metrics: Sequence[str]) -> list[dict]:
    """The rows of a run that yielded no scores (a failed sweep cell): the same columns and the
    same results (ANIL's whole-net variant too) as a scored run, every number NaN."""
    nan = math.nan
    return [{"method": name, "step": step, "metric": metric, "mean": nan, "ci_low": nan,
             "ci_high": nan, "n_tasks": 0, "diverged": "", "train_seconds": nan, "test_lr": ""}
            for name in all_result_names(methods) for metric in metrics for step in steps]
