"""Runs page: the visitor's saved runs beside the gallery's (read-only); rename, delete,
download, upload; overlay one or more of them."""
from __future__ import annotations

import re
from typing import Callable

import pandas as pd
import streamlit as st

from core.runs import gallery
from core.runs.runfile import MAX_FILE_BYTES, SavedRun
from core.runs.store import RunStore, StoreError
from core.scenarios.catalogue import SCENARIOS
from dashboard.runs_store import (gallery_run, hosted, import_file, load_run, open_problem,
                                  open_run, run_store, sentence)
from dashboard.scenario_sync import active_scenario
from dashboard.sidebar import current_run
from report import frames
from report.figures.runs import runs_before_after_figure, runs_curve_figure
from report.i18n import fixed, t
from report.theme import metric_name

MAX_OVERLAY = 6
GALLERY_ID = "gallery/"  # a gallery run's id on this page: the prefix and its scenario key


def _gallery() -> dict[str, SavedRun]:
    """The gallery's runs by id: the server's own files, the same for every visitor, read-only."""
    runs = {f"{GALLERY_ID}{e.key}": gallery_run(e.key) for e in gallery.entries()}
    return {name: run for name, run in runs.items() if run is not None}


def _name(run_id: str) -> str:
    """How a run is named on the page: a gallery run by its scenario key (short, for legends)."""
    if run_id.startswith(GALLERY_ID):
        return t("runs.gallery_name", key=run_id.removeprefix(GALLERY_ID))
    return run_id


def _row(name: str, kind: str, settings: dict, created: str) -> dict:
    return {t("runs.column.name"): _name(name), t("runs.column.kind"): kind,
            t("runs.column.family"): settings["family"],
            t("runs.column.methods"): ", ".join(settings["methods"]),
            t("runs.column.iterations"): settings["train"]["iterations"],
            t("runs.column.seeds"): len(settings["seeds"]),
            t("runs.column.saved"): created[:16].replace("T", " ")}


def _table(store: RunStore, shared: dict[str, SavedRun]) -> list[str]:
    """The visitor's runs, then the gallery's: their ids."""
    summaries = store.runs()
    rows = [_row(s.name, t("runs.kind.yours"), {"family": s.family, "methods": s.methods,
                                                 "train": {"iterations": s.iterations},
                                                 "seeds": s.seeds}, s.created)
            for s in summaries]
    rows += [_row(name, t("runs.kind.gallery"), run.settings, run.created)
             for name, run in shared.items()]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    return list(dict.fromkeys([s.name for s in summaries] + list(shared)))


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


def _manage(store: RunStore, shared: dict[str, SavedRun], names: list[str]) -> None:
    with st.expander(t("runs.manage")):
        name = st.selectbox(t("runs.run"), names, key="runs.manage", format_func=fixed(_name))
        read_only = name in shared  # the gallery is the server's: not renamed or deleted
        new_name = st.text_input(t("runs.new_name"), key="runs.new_name", max_chars=120,
                                 disabled=read_only)
        rename, delete, download, open_ = st.columns(4)
        rename.button(t("runs.rename"), disabled=read_only or not new_name.strip(),
                      on_click=_act, args=(_rename, store, name),
                      help=t("runs.read_only") if read_only else None)
        delete.button(t("runs.delete"), disabled=read_only,
                      help=t("runs.read_only") if read_only else t("runs.delete.help"),
                      on_click=_act, args=(store.delete, name))
        try:  # another tab may have renamed or deleted the run meanwhile
            data = (gallery.path_of(name.removeprefix(GALLERY_ID)).read_bytes() if read_only
                    else store.export_bytes(name))
            download.download_button(t("runs.download"), data, _file_name(name),
                                     "application/zip", on_click="ignore")
            if open_.button(t("runs.open"), help=t("runs.open.help")):
                spec, results = ((shared[name].spec(), shared[name].results) if read_only
                                 else load_run(store, name))
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
    _upload(store)
    shared = _gallery()
    if shared:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.info(t("runs.gallery_note"))
        right.page_link("dashboard/pages/compare.py", label=t("compare.train_yourself"),
                        icon=":material/play_arrow:")
    names = _table(store, shared)
    if not names:
        st.info(t("runs.none"))
        return
    _manage(store, shared, names)
    if "runs.overlay" not in st.session_state:  # open on the scenario's gallery run
        st.session_state["runs.overlay"] = [n for n in [_scenario_run()] if n in names]
    chosen = st.multiselect(t("runs.overlay"), names, key="runs.overlay", format_func=fixed(_name),
                            max_selections=MAX_OVERLAY)
    if not chosen:
        st.caption(t("runs.pick"))
        return
    if len(chosen) == 1:
        st.caption(t("runs.pick_another"))
    try:
        _overlay({_name(n): shared[n] if n in shared else store.load(n) for n in chosen})
    except StoreError as err:
        st.error(sentence(err))


def _scenario_run() -> str:
    """The id of the gallery run of the sidebar's scenario (the first one's for other settings)."""
    scenario = active_scenario(current_run()[0]) or SCENARIOS[0]
    return f"{GALLERY_ID}{scenario.key}"


main()
