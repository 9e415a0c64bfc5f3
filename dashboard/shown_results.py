"""Which finished results a visitor sees for the sidebar's settings, and whose they are: a run
they opened (theirs alone), their own Train, or another Train on this server."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.engine.events import MethodResult
from core.runspec import RunSpec
from dashboard.job_queue import DONE
from dashboard.server import job_manager, visitor

OPENED = "_opened_run"  # session key: the run this visitor opened from their saved runs
TRAINED = "_trained"  # session key: settings keys this visitor's own Train finished
# Where the results a page shows come from: a file this visitor opened, this visitor's Train, or
# another Train on this server (its results cache holds only what the server computed itself).
FROM_FILE, FROM_MY_TRAIN, FROM_SERVER = "file", "my train", "server"


@dataclass(frozen=True)
class Shown:
    """Finished results for the sidebar's settings, and where they come from."""

    results: list[MethodResult]
    origin: str  # FROM_FILE, FROM_MY_TRAIN or FROM_SERVER
    name: str = ""  # the opened run's name (FROM_FILE)


def hold_opened(spec: RunSpec, results: list[MethodResult], name: str) -> None:
    """Show an opened run's results for its settings, in this visitor's session only: a file's
    numbers are whatever its author wrote (its checksums are its own), so they never enter the
    server's results cache, where they would be every other visitor's (one run kept at a time)."""
    st.session_state[OPENED] = Shown(list(results), FROM_FILE, name), spec.key()


def shown_results(spec: RunSpec | None) -> Shown | None:
    """The results this visitor sees for these settings: a run they opened, else what this
    server trained (their own Train or someone else's), else None."""
    if spec is None:
        return None
    opened, key = st.session_state.get(OPENED, (None, None))
    if opened is not None and key == spec.key():
        return opened
    results = job_manager().store.get(spec.key())
    if results is None:
        return None
    return Shown(results, FROM_MY_TRAIN if _trained_by_me(spec.key()) else FROM_SERVER)


def _trained_by_me(key: str) -> bool:
    """Whether this session's own Train finished these settings (remembered past later runs)."""
    mine = st.session_state.setdefault(TRAINED, set())
    snap = job_manager().poll(visitor())
    if snap is not None and snap.state == DONE:
        mine.add(snap.key)
    return key in mine


def cached_results(spec: RunSpec | None) -> list[MethodResult] | None:
    """Finished results for these settings as this visitor sees them (`shown_results`), or None."""
    shown = shown_results(spec)
    return None if shown is None else shown.results
