"""Compare page: each method's performance before adaptation (now) and after k steps (potential)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from core.training import MethodResult
from dashboard import frames, runs_store, state, story
from dashboard.figures.compare import adaptation_curve_figure, before_after_figure, gain_figure
from core.runspec import RunSpec
from core.scenarios import Scenario
from dashboard.i18n import fixed, language, t, using
from dashboard.scenario_sync import look_for, scenario_picker
from dashboard.sidebar import current_run
from dashboard.theme import label, metric_name

MAX_SEGMENTS = 12  # more fine-tuning steps than this get a slider for k


def _view_controls(spec: RunSpec, chance_metric: bool) -> tuple[str, int]:
    steps = list(spec.config.eval_steps[1:])
    if st.session_state.get("k") not in steps:
        st.session_state["k"] = min(spec.config.inner_steps, steps[-1])
    left, right = st.columns([3, 2])
    text = t("compare.k")
    if len(steps) <= MAX_SEGMENTS:  # every choice visible at once
        k = left.segmented_control(text, steps, key="k", required=True, bind="query-params")
    else:  # a slider whose ends show the range
        k = left.select_slider(text, steps, key="k", bind="query-params")
    metric = "loss"
    if chance_metric:
        metric = right.radio(t("compare.score"), ["accuracy", "loss"], horizontal=True,
                             key="metric", format_func=fixed(metric_name), bind="query-params")
    return metric, k


@dataclass(frozen=True)
class ChartParts:
    """What the charts of one result show, computed once and drawn as often as needed."""

    headline: str
    before_after: go.Figure
    test_lr: str
    crossings: str
    curve: go.Figure | None  # None: the headline only
    gain: go.Figure | None


def _chart_parts(spec: RunSpec, results: list[MethodResult], metric: str, k: int,
                 headline_only: bool = False) -> ChartParts:
    steps = spec.config.eval_steps
    df = frames.results_frame(results, steps)
    chance = 1 / spec.make_family().output_dim if metric == "accuracy" else None
    gains = frames.gain_frame(results, steps, metric, k)
    head = (story.headline(df, gains, metric, k), before_after_figure(df, metric, k, chance))
    if headline_only:
        return ChartParts(*head, "", "", None, None)
    return ChartParts(*head, _test_lr_note(spec, df),
                      t("compare.crossings", sentence=story.leader_sentence(df, metric)),
                      adaptation_curve_figure(df, metric, frames.crossings(df, metric), chance),
                      gain_figure(gains))


def _draw(parts: ChartParts, tag: str, headline_only: bool = False) -> None:
    """The charts; `tag` keeps element keys unique while the headline is redrawn live."""
    st.markdown(parts.headline)
    st.plotly_chart(parts.before_after, key=f"{tag}-before-after")
    if headline_only:
        return
    st.caption(parts.test_lr)
    st.markdown(parts.crossings)
    st.plotly_chart(parts.curve, key=f"{tag}-curve")
    st.plotly_chart(parts.gain, key=f"{tag}-gain")
    st.caption(t("compare.gain_caption"))  # so that a big gain from a low start is not read as potential


def _charts(spec: RunSpec, results: list[MethodResult], metric: str, k: int, tag: str,
            headline_only: bool = False) -> None:
    _draw(_chart_parts(spec, results, metric, k, headline_only), tag, headline_only)


@st.cache_resource(max_entries=64, show_spinner=False)
def _gallery_parts(key: str, metric: str, k: int, lang: str) -> ChartParts:
    """The gallery run's charts, built once per server for each view and language: the run is
    the server's own file (gallery_run), so every visitor may be shown the same figures.
    (st.plotly_chart copies a figure before sending it, so sharing one is safe.)"""
    run = runs_store.gallery_run(key)
    with using(lang):
        return _chart_parts(run.spec(), run.results, metric, k)


def _test_lr_note(spec: RunSpec, df) -> str:
    """Which α adapted each method at test time: the training one, or one chosen per method."""
    used = df.drop_duplicates("method").set_index("label").test_lr
    trained = f"{spec.config.inner_lr:g}"  # runs saved before plans were kept adapted with it
    key = "compare.test_lr.auto" if spec.config.test_lr == "auto" else "compare.test_lr.train"
    return t(key, values=t("list.sep").join(f"{m} {a or trained}" for m, a in used.items()))


def _diverged(results: list[MethodResult]) -> None:
    for result in results:
        if result.diverged:
            st.warning(t("compare.diverged", method=label(result.method), seed=result.seed,
                         detail=result.diverged))


def _downloads(spec: RunSpec, results: list[MethodResult]) -> None:
    df = frames.headed(frames.results_frame(results, spec.config.eval_steps))
    with st.expander(t("compare.numbers")):
        st.dataframe(df, hide_index=True)
    left, right = st.columns(2)
    # A download needs no rerun (on a busy server the rerun could cancel the download).
    left.download_button(t("compare.download_results"), df.to_csv(index=False), "results.csv",
                         "text/csv", on_click="ignore")
    right.download_button(t("compare.download_settings"), json.dumps(spec.as_dict(), indent=2),
                          "settings.json", "application/json", on_click="ignore")


def _live_headline(spec: RunSpec, metric: str, k: int) -> Callable[[list[MethodResult]], None]:
    """The headline chart of the methods finished so far, redrawn while the rest train."""
    def show(partial: list[MethodResult]) -> None:
        _charts(spec, partial, metric, k, tag="live", headline_only=True)
    return show


def _gallery(preset: Scenario | None, metric: str, k: int, expanded: bool) -> bool:
    """The scenario's full-budget result from the gallery, if it has one: on screen at once."""
    run = runs_store.gallery_run(preset.key) if preset is not None else None
    if run is None or k not in run.spec().config.eval_steps:
        return False
    with st.expander(t("compare.gallery_heading"), expanded=expanded):
        st.caption(runs_store.gallery_caption(preset.key))
        _draw(_gallery_parts(preset.key, metric, k, language()), tag="gallery")
    return True


def _keep(spec: RunSpec, results: list[MethodResult], preset: Scenario | None) -> None:
    """Every finished comparison goes into the visitor's run store, once per settings."""
    store, _ = runs_store.run_store()
    digest = hashlib.sha1(spec.key().encode()).hexdigest()[:8]
    name = f"{preset.name if preset else spec.family} · {digest}"
    if name not in store.names():
        runs_store.save_finished(store, spec, results, name)


def _scenario_box(preset: Scenario | None, results: list[MethodResult] | None,
                  steps: tuple[int, ...]) -> None:
    """The scenario's sentence, and once trained whether these results back it."""
    if preset is None:
        st.caption(t("compare.pick_scenario"))
        return
    text = t("compare.look_for", sentence=look_for(preset))
    failures = (story.claim_failures(preset, frames.results_frame(results, steps)) if results
                else None)
    if failures is None:
        st.info(text)
    elif failures:
        st.warning(text + "\n\n" + t("compare.claims_fail",
                                       failures=t("punct.semicolon").join(failures)))
    else:
        st.success(text + "\n\n" + t("compare.claims_hold"))


def _provenance(shown: state.Shown | None, has_gallery: bool) -> None:
    """Whose result is below: this visitor's Train, a file they opened, or a Train on this server
    (someone's: the same settings give the same numbers, so the server shares what it trained)."""
    if shown is None or shown.origin == state.FROM_MY_TRAIN:
        if has_gallery:  # "yours" beside the gallery's
            st.subheader(t("compare.yours_heading"))
        return
    opened = shown.origin == state.FROM_FILE
    st.subheader(t("compare.opened_heading" if opened else "compare.server_heading"))
    st.caption(t("compare.opened_caption", name=shown.name) if opened else
               t("compare.server_caption"))


def main() -> None:
    """Settings → train (a server job, followed live) → charts, sentences and downloads."""
    spec, error = current_run()
    st.title(t("compare.title"))
    st.markdown(t("compare.intro"))
    shown = state.shown_results(spec)
    results = shown.results if shown else None
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    with left:
        preset = scenario_picker(spec)
    has_gallery = preset is not None and runs_store.gallery_run(preset.key) is not None
    state.train_button(spec, error, where=right,
                       text=t("compare.train_yourself") if has_gallery else None)
    if error:
        st.error(error)
        return
    steps = spec.config.eval_steps
    _scenario_box(preset, results, steps)
    metric, k = _view_controls(spec, spec.make_family().kind == "classification")
    _provenance(shown, _gallery(preset, metric, k, expanded=results is None))
    snap = state.follow(spec, partial=None if results else _live_headline(spec, metric, k))
    if results is None and state.finished_meanwhile(snap, spec):
        st.rerun()  # it ended after this run read the results (none yet): draw them
    finished = results is not None
    if results is None:
        results = state.ended_note(snap, spec)  # a stopped run keeps its finished methods
    if results is None:
        if snap is None or not snap.active:
            state.estimate_note(spec)
        return
    if finished and shown.origin != state.FROM_FILE:  # an opened run is in the store already
        _keep(spec, results, preset)
    _diverged(results)
    _charts(spec, results, metric, k, tag="final")
    _downloads(spec, results)

main()
