"""Sentences generated from the numbers: who is best before adaptation, who after, who gains."""
from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from core.evaluation import higher_is_better
from dashboard.frames import leaders
from dashboard.theme import label, steps_text



def _names(methods: list[str]) -> str:
    names = [label(m) for m in methods]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _best(row: pd.Series, metric: str) -> str:
    word = "highest" if higher_is_better(metric) else "lowest"
    text = f"**{label(row.best)}** has the {word} {metric} ({row.value:#.3g})"
    if row.tied:
        verb = "is" if len(row.tied) == 1 else "are"
        text += f", but {_names(row.tied)} {verb} within its 95 % CI"
    return text


def _when(first: int, last: int, final: int) -> str:
    if first == 0 and last == final:
        return f"at every step from 0 to {final}"
    if first == 0:
        return "before adaptation" + (f" and up to step {last}" if last > 0 else "")
    if last == final and last > first:
        return f"from step {first} on"
    return f"after {steps_text(first)}" if first == last else f"from step {first} to {last}"


def _level(seg: pd.DataFrame, leader: str) -> tuple[list[str], list[str]]:
    """Methods within the leader's 95 % CI at every step of the segment, and at only some."""
    counts = Counter(m for row in seg.itertuples() for m in dict.fromkeys([row.best, *row.tied])
                     if m != leader)
    always = [m for m, n in counts.items() if n == len(seg)]
    return always, [m for m in counts if m not in always]


def _segment(seg: pd.DataFrame, final: int) -> str:
    first, last = int(seg.step.iloc[0]), int(seg.step.iloc[-1])
    when, leader = _when(first, last, final), label(seg.leader.iloc[0])
    always, some = _level(seg, seg.leader.iloc[0])
    if seg.clear.all():
        return f"{leader} leads {when}"
    if seg.clear.any():
        return f"{leader} leads {when} ({_names(always + some)} within its 95 % CI at some steps)"
    every = " at every step" if len(seg) > 1 else ""
    level = [f"{_names(always)} {'is' if len(always) == 1 else 'are'} within its 95 % CI{every}"]
    if some:
        level = ([*level, f"{_names(some)} at some"] if always
                 else [f"{_names(some)} {'is' if len(some) == 1 else 'are'} within its 95 % CI "
                       "at some steps"])
    return f"{leader} is at the front {when}, but never clearly: " + ", ".join(level)


def leader_sentence(df: pd.DataFrame, metric: str) -> str:
    """E.g. 'Pre-training leads before adaptation; MAML leads from step 1 on.'"""
    lead = leaders(df, metric)
    if lead.empty:
        return "No method produced finite results."
    runs = (lead.leader != lead.leader.shift()).cumsum()
    final = int(lead.step.iloc[-1])
    parts = [_segment(seg, final) for _, seg in lead.groupby(runs, sort=True)]
    if len(parts) > 3:
        parts = parts[:2] + [f"the lead changes hands {len(parts) - 2} more times"]
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def headline(df: pd.DataFrame, gains: pd.DataFrame, metric: str, k: int) -> str:
    """Best before adaptation, best after k steps, and who gains most from adapting."""
    lead = leaders(df, metric).set_index("step")
    if lead.empty or k not in lead.index:
        return "No method produced finite results."
    text = (f"**Before adaptation** (step 0), {_best(lead.loc[0], metric)}. "
            f"**After {steps_text(k)}** on each new task's support set, "
            f"{_best(lead.loc[k], metric)}.")
    finite = gains[gains.gain.map(math.isfinite)]
    if not finite.empty:
        top = finite.sort_values("gain", ascending=False).iloc[0]
        text += (f" The biggest gain from adaptation — its *potential* — is "
                 f"{label(top.method)}'s: {top.gain:#.3g}.")
    return text


def _moved(start: float, end: float, metric: str) -> str:
    better = end > start if higher_is_better(metric) else end < start
    verb = ("rose" if end > start else "fell") + (" (better)" if better else " (worse)")
    return f"{verb} from {start:#.3g} to {end:#.3g}"


def training_sentences(checkpoints: pd.DataFrame, metric: str, trained_steps: int) -> list[str]:
    """Per method: how validation before and after adaptation moved over the checkpoints."""
    lines = []
    sub = checkpoints[checkpoints.metric == metric]
    for method, rows in sub.groupby("method", sort=False):
        ends = {}
        for step in (0, trained_steps):
            line = rows[rows.step == step].sort_values("iteration")["mean"]
            ends[step] = (line.iloc[0], line.iloc[-1])
        lines.append(f"**{label(method)}**: after {steps_text(trained_steps)} the validation "
                     f"{metric} {_moved(*ends[trained_steps], metric)}; before adaptation it "
                     f"{_moved(*ends[0], metric)}.")
    return lines
