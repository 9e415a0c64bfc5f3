"""The dashboard's run store: the local SQLite store, or one in memory per visitor when hosted."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from core.engine.events import MethodResult
from core.runs import gallery
from core.runs.runfile import MAX_FILE_BYTES, RunFileError, SavedRun, unpacked_bytes
from core.runs.store import (MEMORY, RunStore, StoreError, default_path, load_run, open_store,
                             save_run)
from core.runspec import RunSpec
from core.scenarios.catalogue import interactive_spec
from core.settings import SettingError, without_paths
from dashboard.hosting import hosted, tab_store_bytes
from dashboard.scenario_sync import apply_spec
from dashboard.sidebar import MAX_SEEDS, MAX_TEST_STEPS
from dashboard.shown_results import hold_opened
from report.i18n import t

__all__ = ["run_store", "save_run", "load_run", "import_file", "gallery_run", "gallery_caption",
           "hosted"]


@st.cache_resource
def _local_store(path: str) -> tuple[RunStore, str | None]:
    return open_store(path)


def run_store() -> tuple[RunStore, str | None]:
    """This visitor's store and, when the file store could not be opened, why.

    Hosted: a store in memory that lives as long as the browser session. Locally: the SQLite
    file (`$META_LAB_HOME/runs.sqlite` or the user data folder), shared by every tab.
    """
    if hosted():
        if "runs.store" not in st.session_state:
            st.session_state["runs.store"] = RunStore(MEMORY)
        return st.session_state["runs.store"], None
    return _local_store(str(default_path()))


def import_file(store: RunStore, data: bytes) -> tuple[bool, str]:
    """Import an uploaded run file: (True, its name) or (False, one sentence why not)."""
    if len(data) > MAX_FILE_BYTES:
        return False, t("runs.too_large", mb=MAX_FILE_BYTES // 2**20)
    try:
        if _full(store, unpacked_bytes(data)):
            return False, t("runs.tab_full", mb=round(tab_store_bytes() / 1e6))
        return True, store.import_bytes(data)
    except (RunFileError, StoreError) as err:
        return False, sentence(err)


def sentence(err: Exception) -> str:
    """An error's one-sentence message, capitalised and with its full stop (the store's words
    stay English; Chinese puts a translated lead in front)."""
    text = str(err)
    return t("runs.error", detail=text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."))


def _full(store: RunStore, more: int) -> bool:
    """Whether a hosted visitor's runs, held in the server's memory, would pass their bound."""
    return store.in_memory and hosted() and store.size_bytes() + more > tab_store_bytes()


def save_finished(store: RunStore, spec: RunSpec, results: Sequence[MethodResult],
                  name: str | None = None) -> str | None:
    """Save a finished comparison; None (and nothing raised) when the store refuses it or a
    hosted visitor's runs already hold their bound (the comparison is still shown)."""
    if _full(store, 0):
        return None
    try:
        return save_run(store, spec, results, name)
    except (RunFileError, StoreError):
        return None


@st.cache_resource
def gallery_run(key: str) -> SavedRun | None:
    """The gallery's full-budget run for a scenario key, or None when it is not built."""
    if key not in {e.key for e in gallery.entries()}:  # never a path from a visitor
        return None
    try:
        return gallery.load(key)
    except (OSError, RunFileError):
        return None


def gallery_caption(key: str) -> str | None:
    """E.g. "Pre-computed: 70,000 iterations, 1 seed (`python -m core gallery build --only
    maml-sinusoid`)", or None when the scenario has no gallery run."""
    run = gallery_run(key)
    if run is None:
        return None
    seeds = len(run.settings["seeds"])
    return t("runs.gallery_caption.one" if seeds == 1 else "runs.gallery_caption.many",
             iterations=f"{run.settings['train']['iterations']:,}", seeds=seeds, key=key)


def open_problem(spec: RunSpec) -> str | None:
    """Why the settings sidebar cannot show this run (None: it can), in one sentence."""
    train = {k: v for k, v in spec.config.as_dict().items() if k not in ("eval_steps", "seed")}
    try:
        same = spec == interactive_spec(spec.family, dict(spec.family_settings), spec.methods, train,
                                spec.config.max_eval_step, len(spec.seeds), spec.seeds[0])
    except SettingError:
        same = False
    if not same or len(spec.seeds) > MAX_SEEDS or spec.config.max_eval_step > MAX_TEST_STEPS:
        return t("runs.not_openable")
    if hosted() and without_paths(spec.make_family()) != spec.make_family():
        return t("runs.local_data")
    return None


def open_run(spec: RunSpec, results: Sequence[MethodResult], name: str) -> None:
    """Make the run what this visitor's Compare, Inspect and Training show: its results and its
    settings (for this session only; no other visitor sees it)."""
    hold_opened(spec, list(results), name)
    apply_spec(spec)
