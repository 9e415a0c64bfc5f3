"""Results cached by their settings, and training that streams its progress to the page."""
from __future__ import annotations

import threading
import time
from typing import Callable

import streamlit as st

from core.training import Checkpoint, MethodResult, Progress, compare
from core.runspec import RunSpec
from dashboard.jobs import JobManager, concurrency_from_env
from dashboard.theme import label

REDRAW_S = 0.25  # at most four progress redraws a second: the browser shares the 2 cores
_TRAINING = threading.Lock()  # one training at a time: the CPU has 2 cores


@st.cache_resource
def job_manager() -> JobManager:
    """The job queue and results cache shared by every page and session of this server."""
    return JobManager(concurrency_from_env())


def cached_results(spec: RunSpec | None) -> list[MethodResult] | None:
    """Finished results for these settings, or None."""
    return None if spec is None else job_manager().store.get(spec.key())


class ProgressBars:
    """One progress bar per method with its live meta-loss."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.bars = {m: st.progress(0.0, text=f"{label(m)}: waiting") for m in spec.methods}
        self.done: dict[str, int] = dict.fromkeys(spec.methods, 0)
        self.drawn = 0.0

    def _fraction(self, method: str, part: float) -> float:
        return min(1.0, (self.done[method] + part) / len(self.spec.seeds))

    def update(self, event: Progress | Checkpoint | MethodResult) -> None:
        """Move the method's bar for a progress event or a finished result."""
        name = label(event.method)
        if isinstance(event, Progress) and time.monotonic() - self.drawn >= REDRAW_S:
            self.drawn = time.monotonic()
            self.bars[event.method].progress(
                self._fraction(event.method, event.iteration / max(1, event.iterations)),
                text=f"{name}: seed {event.seed}, iteration {event.iteration}/{event.iterations}"
                     f" · training loss {event.meta_loss:.3g}")
        elif isinstance(event, MethodResult):
            self.done[event.method] += 1
            state = f"diverged ({event.diverged})" if event.diverged else f"{event.seconds:.1f} s"
            finished = self.done[event.method] == len(self.spec.seeds)
            self.bars[event.method].progress(
                self._fraction(event.method, 0.0),
                text=f"{name}: {'done' if finished else 'seed done'} — {state}")


def train(spec: RunSpec, on_result: Callable[[list[MethodResult]], None] | None = None
          ) -> list[MethodResult]:
    """Run the comparison with live progress bars; results are cached under the settings."""
    store = job_manager().store
    bars = ProgressBars(spec)
    results: list[MethodResult] = []
    with _TRAINING:
        if (ready := store.get(spec.key())) is not None:  # another session trained it meanwhile
            return ready
        for event in compare(spec.make_family(), spec.methods, spec.config, spec.seeds):
            bars.update(event)
            if isinstance(event, MethodResult):
                results.append(event)
                if on_result is not None:
                    on_result(results)
        store.put(spec.key(), results)
    return results


def results_or_prompt(spec: RunSpec | None, error: str | None) -> list[MethodResult] | None:
    """Cached results for the sidebar's settings; otherwise explain and offer to train them."""
    if error:
        st.error(error)
        return None
    results = cached_results(spec)
    if results is not None:
        return results
    st.info("These settings have not been trained yet. Train them on the **Compare** page, "
            "or right here:")
    if st.button("Train these settings", type="primary"):
        train(spec)
        st.rerun()
    return None
