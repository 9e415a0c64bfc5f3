"""Results as every page and command shows them: the result rows, and the one rule that pools a
method's seeds (Compare, Training, Sweeps, the CLI and the claims all use it).

The rule: one seed's score is the mean over its test tasks with the normal 95 % interval over
those tasks; several seeds' score is the mean of the seeds' means with Student's t 95 % interval
over them (n − 1 degrees of freedom). Every seed trains anew, and how much its training lands
apart from another's is part of what a method's score is uncertain about; the tasks' interval
alone leaves that out and covered the all-seeds score in only 41–86 % of 3-seed picks where
seeds differ (benchmarks/seed_pooling.py; docs/results.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from scipy.stats import t as student_t
from torch import Tensor

from core.engine.algorithms import all_result_names
from core.engine.evaluation import gain_ci, mean_ci, summary_rows
from core.engine.events import MethodResult

# A result row: one method's score at one step in one metric, over its test tasks. The score
# columns are what every row has (sweep files too); the CLI's CSV writes all ROW_COLUMNS.
SCORE_COLUMNS = ("method", "step", "metric", "mean", "ci_low", "ci_high", "n_tasks", "diverged")
ROW_COLUMNS = (*SCORE_COLUMNS, "train_seconds", "test_lr")


def over_seeds(means: Sequence[float]) -> tuple[float, float, float]:
    """The mean of several seeds' scores and its 95 % interval: Student's t over the seeds'
    means (docs/results.md says why)."""
    n = len(means)
    mean = math.fsum(means) / n
    sd = math.sqrt(math.fsum((m - mean) ** 2 for m in means) / (n - 1))
    half = float(student_t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Pooled:
    """One method's test scores with the tasks of every seed side by side."""

    method: str
    scores: dict[str, Tensor]  # metric -> (len(eval_steps), test tasks of all seeds)
    diverged: str  # why, when any seed diverged; "" otherwise
    seconds: float  # mean training time per seed
    test_lr: str  # the test-time α of each seed, in words, repeats dropped
    sound: int  # the leading eval steps every seed can report (all of them unless diverged)
    per_seed: tuple[dict[str, Tensor], ...]  # each seed's scores, in the order of `results`

    def interval(self, metric: str, index: int) -> tuple[float, float, float]:
        """The score at eval step `index` and its 95 % interval, by the rule above."""
        if len(self.per_seed) == 1:
            return mean_ci(self.per_seed[0][metric][index])
        return over_seeds([s[metric][index].double().mean().item() for s in self.per_seed])

    def gain(self, metric: str, before: int, after: int) -> tuple[float, float, float]:
        """The improvement in `metric` from eval step index `before` to `after`, paired per task,
        and its 95 % interval, by the same rule."""
        if len(self.per_seed) == 1:
            table = self.per_seed[0][metric]
            return gain_ci(table[before], table[after], metric)
        return over_seeds([gain_ci(s[metric][before], s[metric][after], metric)[0]
                           for s in self.per_seed])


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
                             min(r.sound_steps(steps) for r in mine),
                             tuple(r.scores for r in mine)))
    return pooled


def pooled_rows(results: Sequence[MethodResult], steps: tuple[int, ...]) -> list[dict]:
    """Summary rows per method over its seeds (by the rule above; n_tasks counts every seed's);
    a diverged method's rows are NaN from the first step any seed could not report (all of them
    when training diverged)."""
    rows = []
    for p in pool_seeds(results):
        for row in summary_rows(p.method, p.scores, steps):
            index = steps.index(row["step"])
            bad = index >= p.sound
            if bad:
                row.update(mean=math.nan, ci_low=math.nan, ci_high=math.nan)
            else:
                row.update(zip(("mean", "ci_low", "ci_high"), p.interval(row["metric"], index)))
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
