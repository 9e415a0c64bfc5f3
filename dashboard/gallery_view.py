"""What a results page shows: the visitor's results for the sidebar's settings, else the
scenario's pre-computed gallery run (server-owned, so the same for every visitor), else a prompt."""
from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from core.engine.events import MethodResult
from core.engine.families import FAMILIES
from core.runspec import RunSpec
from core.settings import location_names
from dashboard import run_controls, runs_store
from dashboard.scenario_sync import active_scenario
from dashboard.shown_results import cached_results
from report.i18n import t


@dataclass(frozen=True)
class PageRun:
    """The results a page draws and the settings they were trained with (shown_results.Shown
    says whose a visitor's results are; this says only whether they are the gallery's)."""

    spec: RunSpec
    results: list[MethodResult]
    gallery: str | None = None  # the scenario key when these are its gallery run


def gallery_spec(run_spec: RunSpec, sidebar: RunSpec) -> RunSpec:
    """The gallery run's settings with the sidebar's data location: a file never names a folder
    of this server (the visitor's or the server's own choice does)."""
    here, locations = dict(sidebar.family_settings), location_names(FAMILIES[run_spec.family])
    settings = tuple((name, here.get(name, value) if name in locations else value)
                     for name, value in run_spec.family_settings)
    return replace(run_spec, family_settings=settings)


def note(settings: dict) -> str:
    """The one line that says a page shows the gallery's run, with its budget."""
    seeds = len(settings["seeds"])
    return t("gallery.shown.one" if seeds == 1 else "gallery.shown.many", seeds=seeds,
             iterations=f"{settings['train']['iterations']:,}")


def results_or_gallery(spec: RunSpec | None, error: str | None) -> PageRun | None:
    """The visitor's results; else, for a scenario's settings, its gallery run, said in one line
    beside a Train button for the visitor's own (whose progress shows live); else the prompt."""
    results = None if error else cached_results(spec)
    if results is not None:
        return PageRun(spec, results)
    scenario = None if error else active_scenario(spec)
    run = runs_store.gallery_run(scenario.key) if scenario is not None else None
    if run is None:
        results = run_controls.results_or_prompt(spec, error)
        return None if results is None else PageRun(spec, results)
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.info(note(run.settings))
    run_controls.train_button(spec, error, where=right, text=t("compare.train_yourself"))
    run_controls.ended_note(run_controls.follow(spec), spec)
    return PageRun(gallery_spec(run.spec(), spec), run.results, scenario.key)
