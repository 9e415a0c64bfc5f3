"""The Compare page's charts and sentences for one result, and the gallery's, built once per server.

A result's parts are a function of the numbers, the view (metric, k) and the language; the
gallery's are the server's own file's (runs_store.gallery_run), so they are built once per view
and language and shared by every visitor. A visitor's results are never cached here.
"""
from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from core.engine.evaluation import main_metric
from core.engine.events import MethodResult
from core.runspec import RunSpec
from dashboard import runs_store
from report import frames, story
from report.figures.compare import adaptation_curve_figure, before_after_figure, gain_figure
from report.i18n import t, using


@dataclass(frozen=True)
class ChartParts:
    """What the charts of one result show, computed once and drawn as often as needed."""

    headline: str
    before_after: go.Figure
    test_lr: str
    crossings: str
    curve: go.Figure | None  # None: the headline only
    gain: go.Figure | None


def default_view(spec: RunSpec) -> tuple[str, int]:
    """The (metric, k) a page opens on: the main metric (accuracy where it is scored), and the
    training's own number of steps (or the most the test shows)."""
    k = min(spec.config.inner_steps, spec.config.eval_steps[-1])
    return main_metric(spec.make_family().metrics), k


def chart_parts(spec: RunSpec, results: list[MethodResult], metric: str, k: int,
                headline_only: bool = False) -> ChartParts:
    """The parts for `results`, in the current language."""
    steps = spec.config.eval_steps
    df = frames.results_frame(results, steps)
    chance = 1 / spec.make_family().output_dim if metric == "accuracy" else None
    gains = frames.gain_frame(results, steps, metric, k)
    head = (story.headline(df, gains, metric, k), before_after_figure(df, metric, k, chance))
    if headline_only:
        return ChartParts(*head, "", "", None, None)
    return ChartParts(*head, test_lr_note(spec, df),
                      t("compare.crossings", sentence=story.leader_sentence(df, metric)),
                      adaptation_curve_figure(df, metric, frames.crossings(df, metric), chance),
                      gain_figure(gains))


@st.cache_resource(max_entries=64, show_spinner=False)
def gallery_parts(key: str, metric: str, k: int, lang: str) -> ChartParts:
    """The gallery run's charts, built once per server for each view and language: the run is
    the server's own file (gallery_run), so every visitor may be shown the same figures.
    (st.plotly_chart copies a figure before sending it, so sharing one is safe.)"""
    run = runs_store.gallery_run(key)
    with using(lang):
        return chart_parts(run.spec(), run.results, metric, k)


def test_lr_note(spec: RunSpec, df) -> str:
    """Which α adapted each method at test time: the training one, or one chosen per method."""
    used = df.drop_duplicates("method").set_index("label").test_lr
    trained = f"{spec.config.inner_lr:g}"  # runs saved before plans were kept adapted with it
    key = "compare.test_lr.auto" if spec.config.test_lr == "auto" else "compare.test_lr.train"
    return t(key, values=t("list.sep").join(f"{m} {a or trained}" for m, a in used.items()))
