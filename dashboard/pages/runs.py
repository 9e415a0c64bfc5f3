"""Runs page: the saved runs; rename, delete, download, upload; overlay two or more of them."""
from __future__ import annotations

import re
from typing import Callable

import pandas as pd
import streamlit as st

from core.runfile import MAX_FILE_BYTES, SavedRun
from core.store import RunStore, StoreError
from dashboard import frames
from dashboard.figures.runs import runs_before_after_figure, runs_curve_figure
from dashboard.i18n import fixed, t
from dashboard.runs_store import (add_gallery, hosted, import_file, load_run, open_problem, open_run,
                                  run_store, sentence)
from dashboard.theme import metric_name

MAX_OVERLAY = 6


def _table(store: RunStore) -> list[str]:
    summaries = store.runs()
    if summaries:
        st.dataframe(pd.DataFrame(
            [{t("runs.column.name"): s.name, t("runs.column.family"): s.family,
              t("runs.column.methods"): ", ".join(s.methods),
              t("runs.column.iterations"): s.iterations, t("runs.column.seeds"): len(s.seeds),
              t("runs.column.saved"): s.created[:16].replace("T", " ")} for s in summaries]),
            hide_index=True)
    return [s.name for s in summaries]


def _upload(store: RunStore) -> None:
    upload = st.file_uploader(t("runs.upload", mb=MAX_FILE_BYTES // 2**20),
                              type=["metarun"], key="runs.upload")
    if upload is not None and st.session_state.get("runs.uploaded") != upload.file_id:
        st.session_state["runs.uploaded"] = upload.file_id  # import each upload once
        ok, text = import_file(store, upload.getvalue())
        (st.success if ok else st.error)(t("runs.imported", name=text) if ok else text)


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80] + ".metarun"


def _act(action: Callable[..., object], *args: object) -> None:
    """A button's callback: it acts on the run shown when the button was drawn, even if another
    tab changed the list since; a refusal is kept for the page to show."""
    try:
        action(*args)
    except StoreError as err:
        st.session_state["runs.error"] = sentence(err)


def _rename(store: RunStore, name: str) -> None:
    store.rename(name, st.session_state["runs.new_name"])


def _manage(store: RunStore, names: list[str]) -> None:
    with st.expander(t("runs.manage")):
        name = st.selectbox(t("runs.run"), names, key="runs.manage")
        new_name = st.text_input(t("runs.new_name"), key="runs.new_name", max_chars=120)
        rename, delete, download, open_ = st.columns(4)
        rename.button(t("runs.rename"), disabled=not new_name.strip(), on_click=_act,
                      args=(_rename, store, name))
        delete.button(t("runs.delete"), help=t("runs.delete.help"),
                      on_click=_act, args=(store.delete, name))
        try:  # another tab may have renamed or deleted the run meanwhile
            download.download_button(t("runs.download"), store.export_bytes(name),
                                     _file_name(name), "application/zip", on_click="ignore")
            if open_.button(t("runs.open"), help=t("runs.open.help")):
                spec, results = load_run(store, name)
                if (problem := open_problem(spec)) is not None:
                    st.error(problem)
                else:
                    open_run(spec, results, name)
                    st.switch_page("dashboard/pages/compare.py")
        except StoreError as err:
            st.error(sentence(err))


def _overlay(runs: dict[str, SavedRun]) -> None:
    df = frames.runs_frame({name: (tuple(r.settings["train"]["eval_steps"]), r.results)
                            for name, r in runs.items()})
    metrics = [m for m in ("accuracy", "loss")
               if all(m in set(df[df.run == name].metric) for name in runs)]
    steps = sorted(set.intersection(*(set(r.settings["train"]["eval_steps"]) for r in runs.values()))
                   - {0})
    if not steps:
        st.warning(t("runs.no_common_step"))
        return
    left, right = st.columns([3, 2])
    k = left.select_slider(t("compare.k"), steps, key="runs.k")
    metric = right.radio(t("compare.score"), metrics, horizontal=True, key="runs.metric",
                         format_func=fixed(metric_name))
    differences = frames.settings_differences({n: r.settings for n, r in runs.items()})
    if not differences.empty:
        st.markdown(t("runs.differ"))
        st.dataframe(differences.rename(columns={"setting": t("runs.column.setting")}),
                     hide_index=True)
    st.plotly_chart(runs_before_after_figure(df, metric, k), key="runs-before-after")
    st.plotly_chart(runs_curve_figure(df, metric), key="runs-curves")


def main() -> None:
    """Store → table, upload and management → the selected runs overlaid."""
    st.title(t("runs.title"))
    st.markdown(t("runs.intro"))
    store, warning = run_store()
    if warning:
        st.warning(warning)
    if refusal := st.session_state.pop("runs.error", None):
        st.error(refusal)
    if hosted():
        st.caption(t("runs.hosted"))
    left, right = st.columns([3, 2], vertical_alignment="bottom")  # the label fits at 900 px
    with left:
        _upload(store)
    if right.button(t("runs.gallery"), help=t("runs.gallery.help")):
        added = len(add_gallery(store))
        st.success(t("runs.added.one" if added == 1 else "runs.added.many", n=added))
    names = _table(store)
    if not names:
        st.info(t("runs.none"))
        return
    _manage(store, names)
    chosen = st.multiselect(t("runs.overlay"), names, key="runs.overlay",
                            max_selections=MAX_OVERLAY)
    if len(chosen) < 2:
        st.caption(t("runs.pick_two"))
        return
    try:
        _overlay({name: store.load(name) for name in chosen})
    except StoreError as err:
        st.error(sentence(err))


main()
