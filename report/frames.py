"""Training results as tidy pandas DataFrames: the one input every figure and sentence reads."""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
import torch

from core.engine.evaluation import higher_is_better, main_metric
from core.engine.events import MethodResult
from core.results import ROW_COLUMNS, pool_seeds, pooled_rows
from report.i18n import t
from report.theme import label

SUMMARY_COLUMNS = ["method", "label", *ROW_COLUMNS[1:]]


def results_frame(results: Sequence[MethodResult], steps: tuple[int, ...]) -> pd.DataFrame:
    """One row per method, fine-tuning step and metric, seeds pooled (core/results.py)."""
    if not results:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    df = pd.DataFrame(pooled_rows(results, steps))
    df.insert(1, "label", df.method.map(label))
    return df[SUMMARY_COLUMNS]


def headed(df: pd.DataFrame) -> pd.DataFrame:
    """The table with its column headers in the current language (for display and download)."""
    return df.rename(columns={c: t(f"column.{c}") for c in df.columns})


def gain_frame(results: Sequence[MethodResult], steps: tuple[int, ...], metric: str,
               k: int) -> pd.DataFrame:
    """Improvement from step 0 to step k per method, paired per test task, with its 95 % CI
    (over the seeds' mean gains when there are several: core/results.py)."""
    rows = []
    before, after = steps.index(0), steps.index(k)
    for p in pool_seeds(results):
        bad = max(before, after) >= p.sound
        mean, low, high = (math.nan,) * 3 if bad else p.gain(metric, before, after)
        rows.append({"method": p.method, "label": label(p.method), "metric": metric, "k": k,
                     "gain": mean, "ci_low": low, "ci_high": high,
                     "diverged": p.diverged if bad else ""})
    return pd.DataFrame(rows)


def typical_task(results: Sequence[MethodResult], seed: int, steps: tuple[int, ...],
                 k: int) -> int:
    """The test task of `seed` whose gain from step 0 to step k, averaged over the methods
    that finished, is the median one: a representative task to inspect, not task #0."""
    before, after = steps.index(0), steps.index(k)
    mine = [r for r in results
            if r.seed == seed and r.sound_steps(len(steps)) > max(before, after)]
    if not mine:
        return 0
    metric = main_metric(mine[0].scores)
    sign = 1.0 if higher_is_better(metric) else -1.0
    gains = torch.stack([sign * (r.scores[metric][after] - r.scores[metric][before])
                         for r in mine]).mean(0)
    return int(gains.argsort()[len(gains) // 2])


def history_frame(results: Sequence[MethodResult]) -> pd.DataFrame:
    """Meta-loss per method, seed and iteration (methods without training have no rows)."""
    rows = [{"method": p.method, "label": label(p.method), "seed": p.seed, "iteration": p.iteration,
             "meta_loss": p.meta_loss} for r in results for p in r.history]
    return pd.DataFrame(rows, columns=["method", "label", "seed", "iteration", "meta_loss"])


def checkpoint_frame(results: Sequence[MethodResult]) -> pd.DataFrame:
    """Validation scores at checkpoints, averaged over seeds: method, iteration, step, metric."""
    rows = [{**row, "iteration": c.iteration} for r in results for c in r.checkpoints
            for row in c.rows]
    columns = ["method", "label", "iteration", "step", "metric", "mean"]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows).groupby(["method", "iteration", "step", "metric"], sort=False,
                                     as_index=False)["mean"].mean()
    df.insert(1, "label", df.method.map(label))
    return df[columns]


def curve(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean metric as a (step × method) table, diverged methods left out."""
    sub = df[(df.metric == metric) & (df.diverged == "")]
    return sub.pivot(index="step", columns="method", values="mean")[list(dict.fromkeys(sub.method))]


def leaders(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per step: the best method, those within its 95 % CI, the leader, and whether it is clear.

    The leader only changes hands when the old one falls outside the new best's CI, so
    statistically tied curves that wiggle past each other do not count as crossings.
    """
    rows, leader = [], None
    sub = df[(df.metric == metric) & (df.diverged == "")]
    for step, group in sub.groupby("step"):
        group = group.sort_values("mean", ascending=not higher_is_better(metric))
        best = group.iloc[0]
        overlap = (group.ci_low <= best.ci_high) & (group.ci_high >= best.ci_low)
        tied = list(group[overlap].method[1:])
        if leader not in [best.method, *tied]:
            leader = best.method
        rows.append({"step": step, "best": best.method, "value": best["mean"], "tied": tied,
                     "leader": leader, "clear": leader == best.method and not tied})
    return pd.DataFrame(rows, columns=["step", "best", "value", "tied", "leader", "clear"])


def crossings(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Where a clear lead changes hands: the two curves' crossing between neighbouring steps."""
    table, lead = curve(df, metric), leaders(df, metric)
    rows = []
    for (_, prev), (_, nxt) in zip(lead.iterrows(), lead.iloc[1:].iterrows()):
        if prev.leader == nxt.leader or not prev.clear:
            continue
        old, new = table[prev.leader], table[nxt.leader]
        if pd.isna(old[nxt.step]):  # the old leader's adaptation diverged: no one overtook it
            continue
        gap_before = new[prev.step] - old[prev.step]
        gap_after = new[nxt.step] - old[nxt.step]
        t = gap_before / (gap_before - gap_after) if gap_before != gap_after else 0.5
        t = min(max(t, 0.0), 1.0)  # the old leader may not have been strictly best before
        rows.append({"x": prev.step + t * (nxt.step - prev.step),
                     "y": old[prev.step] + t * (old[nxt.step] - old[prev.step]),
                     "step": nxt.step, "winner": nxt.leader, "loser": prev.leader})
    return pd.DataFrame(rows, columns=["x", "y", "step", "winner", "loser"])


def runs_frame(runs: dict[str, tuple[tuple[int, ...], Sequence[MethodResult]]]) -> pd.DataFrame:
    """Summary rows of several saved runs stacked, each tagged with its name in column `run`."""
    parts = [results_frame(results, steps).assign(run=name)
             for name, (steps, results) in runs.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=[*SUMMARY_COLUMNS, "run"])


def _flat(settings: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def settings_differences(settings: dict[str, dict]) -> pd.DataFrame:
    """The settings on which the named runs differ: one row per setting, one column per run."""
    flat = {name: _flat(s) for name, s in settings.items()}
    keys = list(dict.fromkeys(k for f in flat.values() for k in f))
    rows = []
    for key in keys:
        values = [flat[name].get(key, "—") for name in flat]
        if any(v != values[0] for v in values):
            rows.append({"setting": key.split(".", 1)[-1],
                         **{name: str(v) for name, v in zip(flat, values)}})
    return pd.DataFrame(rows, columns=["setting", *flat])
