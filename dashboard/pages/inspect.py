"""Inspect page: one task, each method before and after every fine-tuning step; click to edit."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.engine.evaluation import main_metric, make_learner
from core.engine.events import MethodResult
from core.engine.families.base import TaskFamily
from core.engine.tasks import TaskBatch
from core.runspec import RunSpec
from dashboard import adaptation, hosting
from dashboard.gallery_view import results_or_gallery
from dashboard.sidebar import current_run
from report import frames
from report.figures.inspect import (CLICK_LAYER, SUPPORT, regions_figure, regression_figure,
                                    task_curve_figure)
from report.i18n import fixed, t
from report.theme import class_color

HELD_OUT, NEW = "held-out", "new"  # task sources (in the URL as their labels: inspect.source.*)


def _pick_task(spec: RunSpec, family: TaskFamily, results: list[MethodResult]
               ) -> tuple[TaskBatch, int, tuple]:
    _clamp("task_index", spec.config.test_tasks - 1)
    if st.session_state.get("inspect_seed") not in spec.seeds:
        st.session_state["inspect_seed"] = spec.seeds[0]
    left, middle, right = st.columns(3)
    source = left.radio(t("inspect.show"), [HELD_OUT, NEW], key="task_source",
                        format_func=fixed(lambda s: t(f"inspect.source.{s}")), bind="query-params")
    seed = middle.selectbox(t("inspect.seed"), spec.seeds, key="inspect_seed",
                            help=t("inspect.seed.help"))
    if source == HELD_OUT:
        typical = frames.typical_task(results, seed, spec.config.eval_steps,
                                      min(spec.config.inner_steps, spec.config.max_eval_step))
        index = right.number_input(t("inspect.task_index"), 0, spec.config.test_tasks - 1,
                                   typical, key="task_index", bind="query-params",
                                   help=t("inspect.task_index.help", task=typical))
        task = adaptation.held_out_task(family, seed, spec.config.test_tasks, index)
    else:
        index = right.number_input(t("inspect.task_seed"), 0, 2**31 - 1, 0, key="task_seed",
                                   bind="query-params")
        task = adaptation.new_task(family, index)
    return task, seed, (spec.key(), source, seed, index)


def _clamp(key: str, high: int) -> None:
    """Keep a remembered slider/number inside a range that the settings may have shrunk."""
    if st.session_state.get(key, 0) > high:
        st.session_state[key] = high


def _support(task: TaskBatch, family: TaskFamily, task_id: tuple) -> pd.DataFrame:
    """The support set being edited; reset whenever another task is picked."""
    if st.session_state.get("support_task") != task_id:
        st.session_state.update(support_task=task_id, selected=None,
                                support=adaptation.support_frame(task, family))
        _bump()
    return st.session_state["support"]


def _bump() -> None:
    """New keys for the chart and the table: clears the click selection and the table's edits."""
    st.session_state["support_version"] = st.session_state.get("support_version", 0) + 1


def _set_support(support: pd.DataFrame) -> None:
    st.session_state.update(support=support.reset_index(drop=True), selected=None)
    _bump()
    st.rerun()


def _on_click(event, fig, support: pd.DataFrame, family: TaskFamily, new_label: int) -> None:
    points = event.selection.points if event else []
    if not points:
        return
    point = points[0]
    name = fig.data[point["curve_number"]].meta
    selected = st.session_state.get("selected")
    if name == SUPPORT:
        index = point["point_index"]
        st.session_state["selected"] = None if selected == index else index
        _bump()
        st.rerun()
    if name != CLICK_LAYER:
        return
    x, y = float(point["x"]), float(point["y"])
    row = ({"x": x, "y": y} if family.kind == "regression"
           else {"x1": x, "x2": y, "label": new_label})
    if selected is not None and selected < len(support):
        support = support.copy()
        for column, value in row.items():
            if column != "label":
                support.loc[selected, column] = value
    else:
        support = pd.concat([support, pd.DataFrame([row])], ignore_index=True)
    _set_support(support)


def _class_picker(ways: int) -> int:
    swatches = " ".join(f"<span style='color:{class_color(c)}'>■</span> "
                        + t("inspect.class", c=c) for c in range(ways))
    st.markdown(t("inspect.classes", swatches=swatches), unsafe_allow_html=True)
    return st.radio(t("inspect.new_label"), list(range(ways)), horizontal=True,
                    format_func=fixed(lambda c: t("inspect.class", c=c)), key="new_label")


def _figure(result: adaptation.Adaptation, family: TaskFamily, task: TaskBatch,
            support: pd.DataFrame, step: int):
    query = adaptation.query_frame(task, family)
    selected = st.session_state.get("selected")
    if result.curves is not None:
        truth = adaptation.truth_frame(family, task, result.axes[0])
        return regression_figure(result.curves, truth, support, query, result.scores, step,
                                 selected)
    return regions_figure(result.regions, result.axes, support, query, result.scores, step,
                          family.output_dim, selected)


def _editor(support: pd.DataFrame, family: TaskFamily) -> None:
    with st.expander(t("inspect.table")):
        edited = st.data_editor(support, num_rows="dynamic", hide_index=False,
                                key=f"editor-{st.session_state['support_version']}",
                                column_config={"label": t("inspect.column.label")})
        left, right = st.columns(2)
        if left.button(t("inspect.restore")):
            st.session_state["support_task"] = None
            st.rerun()
        if right.button(t("inspect.remove_all")):
            _set_support(support.iloc[0:0])
    edited = adaptation.clean_support(edited, family)
    if not adaptation.same_points(edited, support):
        _set_support(edited)


def _editable(family: TaskFamily, task: TaskBatch, task_id: tuple, result_for, step: int) -> None:
    """1-D regression or 2-D classification: the panels, click editing and the points table."""
    support = _support(task, family, task_id)
    result = result_for(adaptation.with_support(task, support, family))
    if support.empty:
        st.warning(t("inspect.no_support"))
        step = 0
    regions = adaptation.drawable(family) == "regions"
    new_label = _class_picker(family.output_dim) if regions else 0
    if st.session_state.get("selected") is not None:
        st.info(t("inspect.selected", point=st.session_state["selected"]))
    else:
        st.caption(t("inspect.count", n=len(support)))
    fig = _figure(result, family, task, support, step)
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points",),
                            key=f"inspect-{st.session_state['support_version']}")
    _on_click(event, fig, support, family, new_label)
    _editor(support, family)
    _task_curve(result, family)


def _images(result: adaptation.Adaptation, task: TaskBatch, step: int) -> None:
    """Image families: the support images by class and each method's query predictions."""
    from report.figures.images import image_task_figure
    fig = image_task_figure(*adaptation.task_images(task), result.predictions, step)
    st.plotly_chart(fig, key="chart-images")


def _task_curve(result: adaptation.Adaptation, family: TaskFamily) -> None:
    metric = main_metric(family.metrics)
    st.plotly_chart(task_curve_figure(result.scores, metric), key="chart-task-curve")


def _too_costly(learner, trained: dict, task: TaskBatch, steps: int) -> str | None:
    """On a shared server, one sentence when adapting every method for `steps` steps would cost
    more than a page may compute (naming the most steps that fit); None when it fits."""
    limit = hosting.PAGE_CPU_SECONDS
    seconds = adaptation.adapt_seconds(learner, trained, task, steps)
    if not hosting.hosted() or seconds <= limit:
        return None
    fit = adaptation.most_steps_within(learner, trained, task, steps, limit)
    return t("inspect.too_costly", steps=steps, seconds=f"{seconds:.0f}", limit=f"{limit:g}",
             fit=fit)


def main() -> None:
    """Settings → cached φ per method → one task, adapted step by step to editable points."""
    st.title(t("inspect.title"))
    st.markdown(t("inspect.intro"))
    shown = results_or_gallery(*current_run())
    if shown is None:
        return
    spec, results = shown.spec, shown.results
    family, cfg = spec.make_family(), spec.config
    task, seed, task_id = _pick_task(spec, family, results)
    _clamp("inspect_step", cfg.max_eval_step)
    step = st.slider(t("inspect.step"), 0, cfg.max_eval_step,
                     min(cfg.inner_steps, cfg.max_eval_step), key="inspect_step",
                     bind="query-params")
    learner = make_learner(family, cfg.hidden)
    # a method whose test-time steps diverge later is still shown: its first steps are sound
    trained = {r.method: r.test_plan(learner, cfg) for r in results
               if r.seed == seed and r.sound_steps(len(cfg.eval_steps)) > 0}
    too_costly = _too_costly(learner, trained, task, cfg.max_eval_step)
    if too_costly:
        st.warning(too_costly)
        return

    def result_for(edited: TaskBatch) -> adaptation.Adaptation:
        return adaptation.adapt_all(learner, trained, edited, cfg.max_eval_step)

    if adaptation.drawable(family):
        _editable(family, task, task_id, result_for, step)
    elif adaptation.shows_images(family):
        result = result_for(task)
        _images(result, task, step)
        _task_curve(result, family)
    else:
        st.info(t("inspect.not_drawable"))
        _task_curve(result_for(task), family)


main()
