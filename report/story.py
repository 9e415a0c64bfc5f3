"""Sentences generated from the numbers: who is best before adaptation, who after, who gains.

Every fragment is a translated template with named values (report/locales), so the
sentences are built in the reader's language, never translated from finished English.
"""
from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from core.engine.evaluation import higher_is_better
from core.scenarios.catalogue import Scenario
from core.scenarios.claims import Beats, Close, Condition, Near
from report.frames import leaders
from report.i18n import t
from report.theme import label, metric_name, steps_text


def _names(methods: list[str]) -> str:
    names = [label(m) for m in methods]
    if len(names) == 1:
        return names[0]
    return t("list.last", rest=t("list.sep").join(names[:-1]), last=names[-1])


def _number(value: float) -> str:
    return f"{value:#.3g}"


def _one_or_many(key: str, methods: list[str], **values: str) -> str:
    """`key.one` or `key.many` (English needs 'is'/'are'), filled with the methods' names."""
    return t(f"{key}.{'one' if len(methods) == 1 else 'many'}", names=_names(methods), **values)


def _best(row: pd.Series, metric: str) -> str:
    word = "highest" if higher_is_better(metric) else "lowest"
    text = t(f"story.best.{word}", method=label(row.best), metric=metric_name(metric),
             value=_number(row.value))
    if row.tied:
        text += _one_or_many("story.tied", row.tied)
    return text


def _when(first: int, last: int, final: int) -> str:
    if first == 0 and last == final:
        return t("story.when.every", final=final)
    if first == 0:
        return t("story.when.before_until", last=last) if last > 0 else t("story.when.before")
    if last == final and last > first:
        return t("story.when.from", first=first)
    if first == last:
        return t("story.when.after", steps=steps_text(first))
    return t("story.when.range", first=first, last=last)


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
        return t("story.leads", leader=leader, when=when)
    if seg.clear.any():
        return t("story.leads_some", leader=leader, when=when, names=_names(always + some))
    if always:
        every = t("story.every_step") if len(seg) > 1 else ""
        level = [_one_or_many("story.within", always, every=every)]
        if some:
            level.append(t("story.at_some", names=_names(some)))
    else:
        level = [_one_or_many("story.within_some", some)]
    return t("story.front", leader=leader, when=when, level=t("punct.comma").join(level))


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + t("punct.stop")


def leader_sentence(df: pd.DataFrame, metric: str) -> str:
    """E.g. 'Pre-training leads before adaptation; MAML leads from step 1 on.'"""
    lead = leaders(df, metric)
    if lead.empty:
        return t("story.no_results")
    runs = (lead.leader != lead.leader.shift()).cumsum()
    final = int(lead.step.iloc[-1])
    parts = [_segment(seg, final) for _, seg in lead.groupby(runs, sort=True)]
    if len(parts) > 3:
        parts = parts[:2] + [t("story.more_changes", n=len(parts) - 2)]
    return _sentence(t("punct.semicolon").join(parts))


def headline(df: pd.DataFrame, gains: pd.DataFrame, metric: str, k: int) -> str:
    """Best before adaptation (now), best after k steps (the potential, as the lecture names
    it), and who gains most: the gain is after minus before, a different thing, since a low
    start leaves more room to gain."""
    lead = leaders(df, metric).set_index("step")
    if lead.empty or k not in lead.index:
        return t("story.no_results")
    text = t("story.headline", before=_best(lead.loc[0], metric), steps=steps_text(k),
             after=_best(lead.loc[k], metric))
    finite = gains[gains.gain.map(math.isfinite)]
    if not finite.empty:
        top = finite.sort_values("gain", ascending=False).iloc[0]
        same = top.method == lead.loc[k].best
        text += t("story.gain.same" if same else "story.gain.other", method=label(top.method),
                  gain=_number(top.gain))
    return text


def _moved(start: float, end: float, metric: str) -> str:
    better = end > start if higher_is_better(metric) else end < start
    key = f"story.moved.{'rose' if end > start else 'fell'}.{'better' if better else 'worse'}"
    return t(key, start=_number(start), end=_number(end))


def training_sentences(checkpoints: pd.DataFrame, metric: str, trained_steps: int) -> list[str]:
    """Per method: how validation before and after adaptation moved over the checkpoints."""
    lines = []
    sub = checkpoints[checkpoints.metric == metric]
    for method, rows in sub.groupby("method", sort=False):
        ends = {}
        for step in (0, trained_steps):
            line = rows[rows.step == step].sort_values("iteration")["mean"]
            ends[step] = (line.iloc[0], line.iloc[-1])
        lines.append(t("story.training", method=label(method), steps=steps_text(trained_steps),
                       metric=metric_name(metric), after=_moved(*ends[trained_steps], metric),
                       before=_moved(*ends[0], metric)))
    return lines


def _claim(condition: Condition) -> str:
    """One checked part of a scenario's sentence, in words."""
    if isinstance(condition, Beats):
        extra = t("claim.apart") if condition.separated else ""
        extra += t("claim.margin", margin=f"{condition.margin:.0%}") if condition.margin else ""
        return t("claim.beats", winner=label(condition.winner), loser=label(condition.loser),
                 winner_steps=steps_text(condition.winner_step),
                 loser_steps=steps_text(condition.loser_step),
                 metric=metric_name(condition.metric), extra=extra)
    if isinstance(condition, Near):
        return t("claim.near", method=label(condition.method), metric=metric_name(condition.metric),
                 step=condition.step, value=f"{condition.value:.3g}", tol=f"{condition.tol:g}")
    if isinstance(condition, Close):
        return t("claim.close", first=label(condition.first), second=label(condition.second),
                 metric=metric_name(condition.metric), step=condition.step,
                 tol=f"{condition.tol:g}")
    return t("claim.overfits", method=label(condition.method), by_step=condition.by_step,
             ratio=f"{condition.ratio:g}")


def claim_failures(scenario: Scenario, rows: pd.DataFrame) -> list[str]:
    """The parts of the scenario's sentence that the pooled result rows contradict, in words."""
    return [_claim(c) for c in scenario.claims if not c.holds(rows)]
