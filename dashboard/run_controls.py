"""The page parts that start and follow a visitor's run: Train, the estimate or refusal before
it, the place in the queue, live bars and Stop while it goes, a line in the sidebar elsewhere."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from core.engine.events import MethodResult
from core.runspec import RunSpec
from dashboard import hosting
from dashboard.estimates import plan
from dashboard.job_queue import DONE, QUEUED, RUNNING, Snapshot
from dashboard.language import in_session_language
from dashboard.server import job_manager, visitor
from dashboard.shown_results import cached_results
from report.i18n import t

# The page asks for its run's progress this often (each ask is the run's heartbeat): often
# enough to look live, rarely enough that six browsers redrawing do not slow the training.
POLL_S = 2.0
# A running job due to end within two polls is asked about this often instead, so that a short
# run's result is not held back by the poll (the default's ~1.5 s run waited up to 2 s more).
FAST_POLL_S = 0.5
FOLLOWED = "_followed"  # session key: this script run already shows the visitor's run


def start(spec: RunSpec) -> None:
    """Queue the run for this visitor, unless the server refuses it."""
    p = plan(spec)
    if p.refusal is None:
        job_manager().submit(visitor(), spec, p.seconds, hosting.deadline_s())


def my_run(spec: RunSpec | None) -> Snapshot | None:
    """This visitor's latest run; a reloaded page takes back its run of these settings."""
    manager = job_manager()
    snap = manager.poll(visitor())
    if (snap is None or not snap.active) and spec is not None:
        snap = manager.adopt(visitor(), spec.key()) or snap
    return snap


def _status(snap: Snapshot) -> None:
    if snap.state == QUEUED:
        key = "state.queued.one" if snap.position == 1 else "state.queued.many"
        st.info(t(key, ahead=snap.position - 1, position=snap.position,
                  wait=round(snap.wait_s)))
        st.button(t("state.leave_queue"), key="leave-queue", on_click=job_manager().stop,
                  args=(visitor(),))
        return
    st.caption(t("state.training", elapsed=round(snap.elapsed_s), left=round(snap.wait_s)))
    for method, bar in snap.bars.items():
        st.progress(bar.fraction, text=bar.text)
    st.button(t("state.stop"), key="stop-run", on_click=job_manager().stop, args=(visitor(),),
              help=t("state.stop.help"))


def follow(spec: RunSpec | None, partial: Callable[[list[MethodResult]], None] | None = None,
           shown: bool = False) -> Snapshot | None:
    """Show this visitor's run live (place in the queue, bars, Stop), refreshed every second;
    when it ends the whole page reruns to show the results. Returns the run as it was.
    `shown`: the page already shows results for `spec`; otherwise a run that ended after the
    page read them (none yet) reruns the page at once to draw them."""
    snap = my_run(spec)
    if not shown and spec is not None and _finished_meanwhile(snap, spec):
        st.rerun()
    st.session_state[FOLLOWED] = True
    if snap is not None and snap.active:
        every = _poll_every(snap)
        st.fragment(_live, run_every=every)(spec, partial, every)
    elif spec is not None and job_manager().busy_with(spec.key()):
        # A run of these settings whose page was reloaded: poll until it can be taken back.
        st.fragment(_reclaim, run_every=POLL_S)(spec)
    return snap


def _poll_every(snap: Snapshot) -> float:
    """Seconds between asks about a run: FAST_POLL_S when it runs and should end within two
    polls, POLL_S otherwise (queued, or with longer to go)."""
    return FAST_POLL_S if snap.state == RUNNING and snap.wait_s <= 2 * POLL_S else POLL_S


def _live(spec: RunSpec | None, partial: Callable[[list[MethodResult]], None] | None,
          every: float) -> None:
    in_session_language()
    snap = job_manager().poll(visitor())
    # A whole rerun when the run ends, or when it needs another pace of asking (a fragment's
    # interval is set when the page draws it).
    if snap is None or not snap.active or _poll_every(snap) != every:
        st.rerun()
    _status(snap)
    if partial is not None and snap.results and spec is not None and snap.key == spec.key():
        partial(snap.results)


def _reclaim(spec: RunSpec) -> None:
    if job_manager().adopt(visitor(), spec.key()) is not None:
        st.rerun()


def _finished_meanwhile(snap: Snapshot | None, spec: RunSpec) -> bool:
    """Whether this visitor's run of these settings is done and its results are at hand."""
    return (snap is not None and snap.state == DONE and snap.key == spec.key()
            and cached_results(spec) is not None)


def ended_note(snap: Snapshot | None, spec: RunSpec) -> list[MethodResult] | None:
    """Say how this visitor's last run of these settings ended early; its finished results."""
    if snap is None or snap.active or snap.key != spec.key() or not snap.message:
        return None
    (st.error if snap.state == "failed" else st.warning)(snap.message)
    return snap.results or None


def train_button(spec: RunSpec | None, error: str | None, where=st,
                 text: str | None = None) -> bool:
    """Train (or Train again after a stopped run): disabled while this visitor's run goes,
    for trained settings, and for runs the server refuses. True when pressed (the run is queued)."""
    snap = job_manager().poll(visitor())
    going = snap is not None and snap.active
    again = snap is not None and spec is not None and snap.key == spec.key() and not going
    results = cached_results(spec)
    refused = spec is not None and not error and plan(spec).refusal is not None
    pressed = where.button(
        t("state.train_again") if again and results is None else text or t("compare.train"),
        type="primary", width="stretch",
        disabled=results is not None or bool(error) or going or refused,
        help=t("state.going") if going else
        t("compare.train.done") if results is not None else t("compare.train.help"))
    if pressed:
        start(spec)
    return pressed


def estimate_note(spec: RunSpec) -> None:
    """Before training: the estimate, or why this server will not run these settings."""
    p = plan(spec)
    if p.refusal:
        st.error(t("state.refused", detail=p.refusal))
    else:
        st.info(t("state.press_train", estimate=p.describe()))


def results_or_prompt(spec: RunSpec | None, error: str | None) -> list[MethodResult] | None:
    """Cached results for the sidebar's settings; otherwise explain and offer to train them."""
    if error:
        st.error(error)
        return None
    results = cached_results(spec)
    if results is not None:
        return results
    st.info(t("state.untrained"))
    notes = st.container()  # above the button, filled after it: a press queues the run first,
    train_button(spec, error, text=t("state.train_here"))  # so that this run follows it live
    with notes:
        snap = follow(spec)
        ended_note(snap, spec)
        if not (snap is not None and snap.active):
            estimate_note(spec)
    return None


def page_start() -> None:
    """Before a page runs: it has not shown the visitor's run yet."""
    st.session_state[FOLLOWED] = False


def run_indicator() -> None:
    """After a page that did not show the visitor's run: a line in the sidebar while it goes,
    which is also its heartbeat (one poll per page, not two)."""
    if st.session_state.get(FOLLOWED):
        return
    snap = job_manager().poll(visitor())
    if snap is not None and snap.active:
        with st.sidebar:
            st.fragment(_indicator, run_every=POLL_S)()


def _indicator() -> None:
    in_session_language()
    snap = job_manager().poll(visitor())
    if snap is None or not snap.active:
        return
    done = sum(b.fraction for b in snap.bars.values()) / max(1, len(snap.bars))
    text = (t("state.indicator.queued", position=snap.position) if snap.state == QUEUED
            else t("state.indicator.done", done=f"{done:.0%}"))
    st.progress(done, text=text)
