"""Compare page: each method's performance before adaptation (now) and after k steps (potential)."""
from __future__ import annotations

import hashlib
import json
from typing import Callable

import streamlit as st

from core.engine.events import MethodResult
from core.runspec import RunSpec
from core.scenarios.catalogue import Scenario
from dashboard import run_controls, runs_store
from dashboard.compare_charts import ChartParts, chart_parts, default_view, gallery_parts
from dashboard.scenario_sync import look_for, scenario_picker
from dashboard.shown_results import FROM_FILE, FROM_MY_TRAIN, Shown, shown_results
from dashboard.sidebar import current_run
from report import frames, story
from report.i18n import fixed, language, t
from report.theme import label, metric_name

MAX_SEGMENTS = 12  # more fine-tuning steps than this get a slider for k


def _view_controls(spec: RunSpec, chance_metric: bool) -> tuple[str, int]:
    steps = list(spec.config.eval_steps[1:])
    if st.session_state.get("k") not in steps:
        st.session_state["k"] = default_view(spec)[1]
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
    _draw(chart_parts(spec, results, metric, k, headline_only), tag, headline_only)


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
        _draw(gallery_parts(preset.key, metric, k, language()), tag="gallery")
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


def _provenance(shown: Shown | None, has_gallery: bool) -> None:
    """Whose result is below: this visitor's Train, a file they opened, or a Train on this server
    (someone's: the same settings give the same numbers, so the server shares what it trained)."""
    if shown is None or shown.origin == FROM_MY_TRAIN:
        if has_gallery:  # "yours" beside the gallery's
            st.subheader(t("compare.yours_heading"))
        return
    opened = shown.origin == FROM_FILE
    st.subheader(t("compare.opened_heading" if opened else "compare.server_heading"))
    st.caption(t("compare.opened_caption", name=shown.name) if opened else
               t("compare.server_caption"))


def main() -> None:
    """Settings → train (a server job, followed live) → charts, sentences and downloads."""
    spec, error = current_run()
    st.title(t("compare.title"))
    st.markdown(t("compare.intro"))
    shown = shown_results(spec)
    results = shown.results if shown else None
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    with left:
        preset = scenario_picker(spec)
    has_gallery = preset is not None and runs_store.gallery_run(preset.key) is not None
    run_controls.train_button(spec, error, where=right,
                              text=t("compare.train_yourself") if has_gallery else None)
    if error:
        st.error(error)
        return
    steps = spec.config.eval_steps
    _scenario_box(preset, results, steps)
    metric, k = _view_controls(spec, "accuracy" in spec.make_family().metrics)
    _provenance(shown, _gallery(preset, metric, k, expanded=results is None))
    snap = run_controls.follow(spec, partial=None if results else _live_headline(spec, metric, k),
                               shown=results is not None)
    finished = results is not None
    if results is None:
        results = run_controls.ended_note(snap, spec)  # a stopped run keeps its finished methods
    if results is None:
        if snap is None or not snap.active:
            run_controls.estimate_note(spec)
        return
    if finished and shown.origin != FROM_FILE:  # an opened run is in the store already
        _keep(spec, results, preset)
    _diverged(results)
    _charts(spec, results, metric, k, tag="final")
    _downloads(spec, results)

main()
