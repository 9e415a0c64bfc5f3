"""A sweep's results: the file checked, seeds summarised, MAML's lead and where it starts."""
from __future__ import annotations

import json
import math
import numbers
from typing import Any, Callable

import numpy as np
import pandas as pd

from core.engine.algorithms import method_title
from core.engine.evaluation import higher_is_better, main_metric
from core.results import SCORE_COLUMNS, over_seeds

MAX_FILE_BYTES = 20_000_000  # a sweep file larger than this is refused before it is parsed
MAX_ROWS = 200_000
REQUIRED_COLUMNS = ("seed", "status", *SCORE_COLUMNS)  # what every row of a sweep file must have
META_METHODS = ("maml", "fomaml", "reptile")  # preferred in this order as "meta-learning"


class SweepFileError(ValueError):
    """A sweep file that cannot be read; the message is one sentence."""


def sweep_document(meta: dict[str, Any], rows: list[dict]) -> dict[str, Any]:
    """What `sweep --json` writes: the sweep's description and its tidy rows."""
    return {"sweep": meta, "rows": rows}


def load_sweep(data: bytes) -> tuple[dict[str, Any], pd.DataFrame]:
    """A sweep document from bytes (an upload or a shipped file), checked; SweepFileError if not."""
    if len(data) > MAX_FILE_BYTES:
        raise SweepFileError(f"The file is larger than {MAX_FILE_BYTES // 1_000_000} MB.")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SweepFileError("The file is not JSON; choose the file `python -m core sweep --json` "
                             "wrote.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sweep"), dict) \
            or not isinstance(doc.get("rows"), list):
        raise SweepFileError("The file has no sweep and rows; choose the file `python -m core "
                             "sweep --json` wrote.")
    meta = doc["sweep"]
    axes = meta.get("axes")
    if not isinstance(axes, list) or not 1 <= len(axes) <= 2 or not all(
            isinstance(a, dict) and isinstance(a.get("name"), str) for a in axes):
        raise SweepFileError("The sweep must name one or two varied settings under sweep.axes.")
    if not doc["rows"] or len(doc["rows"]) > MAX_ROWS:
        raise SweepFileError(f"The file must hold between 1 and {MAX_ROWS} rows.")
    return meta, _checked_rows(doc["rows"], [a["name"] for a in axes])


def _checked_rows(rows: list, axes: list[str]) -> pd.DataFrame:
    if not all(isinstance(r, dict) for r in rows):
        raise SweepFileError("Every row must be an object of named values.")
    df = pd.DataFrame(rows)
    missing = [c for c in (*axes, *REQUIRED_COLUMNS) if c not in df.columns]
    if missing:
        raise SweepFileError(f"The rows lack the column(s) {', '.join(missing)}.")
    try:
        for column in ("mean", "ci_low", "ci_high"):
            df[column] = pd.to_numeric(df[column]).astype(float)
        for column in ("seed", "step", "n_tasks"):
            df[column] = pd.to_numeric(df[column]).astype(int)
    except (ValueError, TypeError):
        raise SweepFileError("The rows' mean, CI, seed, step and n_tasks must be "
                             "numbers.") from None
    for column in (*axes, "method", "metric", "status"):
        if df[column].map(lambda v: isinstance(v, (list, dict)) or v is None).any():
            raise SweepFileError(f"The values of {column} must be numbers, text or true/false.")
    if (df.step < 0).any() or df.duplicated([*axes, "seed", "method", "step", "metric"]).any():
        raise SweepFileError("Each setting, seed, method, step and metric must appear once, "
                             "with steps of at least 0.")
    df["diverged"] = df["diverged"].fillna("").astype(str)
    return df


# --- seeds pooled --------------------------------------------------------------------------------

def summarise_seeds(rows: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """One row per setting combination, method, step and metric, over the seeds.

    Each cell's rows hold one seed, so this is core/results.py's rule applied to them: one seed
    keeps its CI over its test tasks; several give the mean of their means with Student's t
    95 % CI over them. A combination where a seed failed or a method diverged is marked, not
    pooled."""
    keys = [*axes, "method", "step", "metric"]
    out = [_pool(group, dict(zip(keys, key))) for key, group in
           rows.groupby(keys, sort=False, dropna=False)]
    return pd.DataFrame(out, columns=[*keys, "mean", "ci_low", "ci_high", "n_tasks", "seeds",
                                      "problem"])


def _pool(group: pd.DataFrame, key: dict) -> dict:
    seeds, n_tasks = len(group), int(group.n_tasks.sum())
    bad = group[(group.status == "failed") | (group.diverged != "")]
    if not bad.empty:
        problem = "failed" if (bad.status == "failed").any() else "diverged"
        return {**key, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "n_tasks": n_tasks, "seeds": seeds, "problem": problem}
    if seeds == 1:
        row = group.iloc[0]
        return {**key, "mean": row["mean"], "ci_low": row.ci_low, "ci_high": row.ci_high,
                "n_tasks": n_tasks, "seeds": 1, "problem": ""}
    mean, low, high = over_seeds(group["mean"].to_numpy(float).tolist())
    return {**key, "mean": mean, "ci_low": low, "ci_high": high,
            "n_tasks": n_tasks, "seeds": seeds, "problem": ""}


# --- meta-learning against pre-training ----------------------------------------------------------

def meta_method(methods) -> str | None:
    """The meta-learning method a sweep's lead is measured for: MAML first."""
    return next((m for m in META_METHODS if m in set(methods)), None)


def advantage(pooled: pd.DataFrame, axes: list[str], metric: str, step: int,
              meta: str = "maml", base: str = "pretrain") -> pd.DataFrame:
    """Per setting combination: `meta`'s lead over `base` after `step` steps (positive: meta is
    better, in the metric's units), and whether their 95 % CIs overlap (a tie)."""
    sub = pooled[(pooled.metric == metric) & (pooled.step == step)]
    joined = pd.merge(sub[sub.method == meta], sub[sub.method == base], on=axes, sort=False,
                      suffixes=("_meta", "_base"))
    sign = 1.0 if higher_is_better(metric) else -1.0
    lead = sign * (joined.mean_meta - joined.mean_base)
    tie = (joined.ci_low_meta <= joined.ci_high_base) & (joined.ci_low_base <= joined.ci_high_meta)
    missing = joined.mean_meta.isna() | joined.mean_base.isna()
    winner = np.where(missing, "unknown", np.where(tie, "tie", np.where(lead > 0, meta, base)))
    out = joined[axes].copy()
    out["lead"], out["tie"], out["winner"] = lead, tie & ~missing, winner
    out["step"], out["metric"] = step, metric
    return out


# The boundary sentence's words, by name. The core writes English; a caller with another
# language passes its own templates with the same names and placeholders (the dashboard's
# catalogue, `sweep.phrase.<name>`), so the logic that picks the words has one home.
PHRASES: dict[str, str] = {
    "before": "before adaptation",
    "after_one": "after 1 step",
    "after_many": "after {step} steps",
    "metric.loss": "loss",
    "metric.accuracy": "accuracy",
    "no_cells": "The sweep has no cells with both {m} and {b} to compare.",
    "every_cell": "{m} beats {b} in {metric} {after} in every cell of the sweep (95 % CIs apart).",
    "never": "{m} never beats {b} clearly in {metric} {after} in this sweep{behind}.",
    "behind": "; {b} is ahead in {lost} of {cells} cells",
    "wins": "{m} beats {b} in {metric} {after} (95 % CIs apart) {where}; elsewhere they {rest}.",
    "rest_tie": "tie",
    "rest_lost": "tie or {b} is ahead ({lost} of {cells} cells)",
    "whatever": "{where}, whatever the {y}",
    "with": "{where} with {y} = {values}",
    "list": ", ",
    "nowhere": "nowhere",
    "for_every": "for every {x}",
    "onward": "for {x} {op} {start}",
    "from_on": "from {x} = {start} on",
    "only_at": "only at {x} = {values}",
}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class _Words:
    """The phrase templates and method titles one sentence is written with."""

    def __init__(self, phrases: dict[str, str], title: Callable[[str], str]) -> None:
        self.phrases, self.title = phrases, title

    def __call__(self, name: str, **values: Any) -> str:
        return self.phrases[name].format(**values)

    def join(self, items) -> str:
        return self.phrases["list"].join(items)


def boundary_sentence(adv: pd.DataFrame, axes: list[str], step: int, meta: str = "maml",
                      base: str = "pretrain", phrases: dict[str, str] = PHRASES,
                      title: Callable[[str], str] = method_title) -> str:
    """Where, along the first varied setting, `meta` starts to beat `base` clearly after `step`
    steps (for each value of the second setting), in words built from the advantage table."""
    w = _Words(phrases, title)
    after = w("before") if step == 0 else w("after_one") if step == 1 else w("after_many", step=step)
    m, b = title(meta), title(base)
    if adv.empty:
        return w("no_cells", m=m, b=b)
    won, lost = adv.winner == meta, adv.winner == base
    said = {"m": m, "b": b, "after": after, "metric": w(f"metric.{adv.metric.iloc[0]}")}
    counts = {"b": b, "lost": int(lost.sum()), "cells": len(adv)}
    if won.all():
        return w("every_cell", **said)
    if not won.any():
        return w("never", **said, behind=w("behind", **counts) if lost.any() else "")
    rest = w("rest_lost", **counts) if lost.any() else w("rest_tie")
    return w("wins", **said, where=_where(adv, won, axes, w), rest=rest)


def _where(adv: pd.DataFrame, won: pd.Series, axes: list[str], w: _Words) -> str:
    """The threshold along the first setting, for each value of the second (alike ones joined)."""
    x = axes[0]
    if len(axes) == 1:
        return _threshold(list(adv[x]), list(won), x, w)
    by_text: dict[str, list] = {}
    for y, group in adv.groupby(axes[1], sort=False):
        by_text.setdefault(_threshold(list(group[x]), list(won[group.index]), x, w), []).append(y)
    if len(by_text) == 1:
        return w("whatever", where=next(iter(by_text)), y=axes[1])
    return w.join(w("with", where=text, y=axes[1], values=w.join(map(_fmt, ys)))
                  for text, ys in by_text.items())


def _threshold(values: list, won: list[bool], x: str, w: _Words) -> str:
    """'for shift ≥ 2', 'only at shift = 1, 3' or 'nowhere' along one row of the grid."""
    if not any(won):
        return w("nowhere")
    first = won.index(True)
    if all(won[first:]):
        if not first:
            return w("for_every", x=x)
        op = _onward(values)
        start = _fmt(values[first])
        return w("onward", x=x, op=op, start=start) if op else w("from_on", x=x, start=start)
    return w("only_at", x=x, values=w.join(_fmt(v) for v, won_here in zip(values, won) if won_here))


def is_number(value: Any) -> bool:
    """A number (Python's or numpy's), not a boolean: it has an order along an axis."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _onward(values: list) -> str:
    """'≥' or '≤' when the axis is numeric and ordered; '' when it has no order to speak of."""
    if all(is_number(v) for v in values):
        if values == sorted(values):
            return "≥"
        if values == sorted(values, reverse=True):
            return "≤"
    return ""


def summary_sentences(pooled: pd.DataFrame, axes: list[str], after: int,
                      metric: str | None = None, phrases: dict[str, str] = PHRASES,
                      title: Callable[[str], str] = method_title) -> list[str]:
    """Where meta-learning beats pre-training after `after` steps and before adaptation (in
    `metric`, default the main one), in `phrases`; empty when the sweep lacks either method."""
    meta = meta_method(pooled.method)
    if meta is None or "pretrain" not in set(pooled.method):
        return []
    metric = metric or main_metric(pooled.metric)
    return [boundary_sentence(advantage(pooled, axes, metric, step, meta), axes, step, meta,
                              phrases=phrases, title=title)
            for step in dict.fromkeys((after, 0))]
