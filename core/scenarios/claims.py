"""The claims a scenario's sentence rests on: conditions that read the pooled result rows of one
run, each able to say it in words and to fail."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.engine.algorithms import method_title
from core.engine.evaluation import higher_is_better


def _row(rows: pd.DataFrame, metric: str, method: str, step: int) -> pd.Series:
    hit = rows[(rows.metric == metric) & (rows.method == method) & (rows.step == step)]
    if hit.empty:
        raise KeyError(f"no {metric} of {method} at step {step}")
    return hit.iloc[0]


@dataclass(frozen=True)
class Beats:
    """`winner` at step `winner_step` is better than `loser` at `loser_step`."""

    metric: str
    winner: str
    winner_step: int
    loser: str
    loser_step: int
    separated: bool = True  # also require the two 95 % CIs not to overlap
    margin: float = 0.0  # and a lead of at least this fraction of the loser's value

    def holds(self, rows: pd.DataFrame) -> bool:
        """Whether the rows back the condition."""
        w, lo = self._rows(rows)
        lead = abs(lo["mean"]) * self.margin
        ahead = (w["mean"] > lo["mean"] + lead if higher_is_better(self.metric)
                 else w["mean"] < lo["mean"] - lead)
        return bool(ahead and (self._gap(w, lo) > 0 or not self.separated))

    def gap(self, rows: pd.DataFrame) -> float:
        """How far apart the two 95 % CIs lie in the winner's favour, in the metric's units
        (negative: they overlap, or the loser leads)."""
        return self._gap(*self._rows(rows))

    def _rows(self, rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        """The winner's row and the loser's."""
        return (_row(rows, self.metric, self.winner, self.winner_step),
                _row(rows, self.metric, self.loser, self.loser_step))

    def _gap(self, w: pd.Series, lo: pd.Series) -> float:
        if higher_is_better(self.metric):
            return float(w.ci_low - lo.ci_high)
        return float(lo.ci_low - w.ci_high)

    def describe(self) -> str:
        """The condition in words."""
        extra = " (95 % CIs apart)" if self.separated else ""
        extra += f" by at least {self.margin:.0%}" if self.margin else ""
        return (f"{method_title(self.winner)} after {self.winner_step} steps beats {method_title(self.loser)} "
                f"after {self.loser_step} steps in {self.metric}{extra}")


@dataclass(frozen=True)
class Near:
    """`method`'s metric at `step` is within `tol` of `value` (e.g. chance accuracy)."""

    metric: str
    method: str
    step: int
    value: float
    tol: float

    def holds(self, rows: pd.DataFrame) -> bool:
        """Whether the rows back the condition."""
        value = _row(rows, self.metric, self.method, self.step)["mean"]
        return bool(abs(value - self.value) <= self.tol)

    def describe(self) -> str:
        """The condition in words."""
        return (f"{method_title(self.method)}'s {self.metric} at step {self.step} is "
                f"{self.value:.3g} ± {self.tol:g}")


@dataclass(frozen=True)
class Close:
    """Two methods' metric at `step` differ by at most `tol`."""

    metric: str
    first: str
    second: str
    step: int
    tol: float

    def holds(self, rows: pd.DataFrame) -> bool:
        """Whether the rows back the condition."""
        a = _row(rows, self.metric, self.first, self.step)["mean"]
        return bool(abs(a - _row(rows, self.metric, self.second, self.step)["mean"]) <= self.tol)

    def describe(self) -> str:
        """The condition in words."""
        return (f"{method_title(self.first)} and {method_title(self.second)} are within {self.tol:g} "
                f"in {self.metric} at step {self.step}")


@dataclass(frozen=True)
class Overfits:
    """`method`'s loss is lowest by step `by_step` and at least `ratio`× that at the last step."""

    method: str
    by_step: int
    ratio: float

    def holds(self, rows: pd.DataFrame) -> bool:
        """Whether the rows back the condition."""
        curve = rows[(rows.metric == "loss") & (rows.method == self.method)].sort_values("step")
        best = curve.loc[curve["mean"].idxmin()]
        climbs = curve["mean"].iloc[-1] >= self.ratio * best["mean"]
        return bool(best.step <= self.by_step and climbs)

    def describe(self) -> str:
        """The condition in words."""
        return (f"{method_title(self.method)}'s loss is lowest by step {self.by_step} and at least "
                f"{self.ratio:g}× higher at the last step")


Condition = Beats | Near | Close | Overfits
