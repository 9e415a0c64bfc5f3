"""Training runs as server jobs: a FIFO queue, one thread per training, Stop, a deadline and a
heartbeat (what a job says is in progress_words.py, the results it keeps in results_cache.py)."""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import torch

from core.data import data_in_use
from core.engine.config import TrainConfig
from core.engine.events import MethodResult
from core.engine.families import TaskFamily
from core.engine.training import compare
from core.settings import SettingError
from dashboard.progress_words import Bar, Bars, Words, done_bars
from dashboard.results_cache import ResultStore

HEARTBEAT_S = 8.0  # a job whose page has not asked for it this long is stopped: its visitor left
FORGET_S = 600.0  # finished jobs of visitors who stopped asking are dropped after this long

QUEUED, RUNNING, DONE, STOPPED, LEFT, CUT, GONE, FAILED = (
    "queued", "running", "done", "stopped", "left the queue", "cut at the deadline",
    "stopped: page closed", "failed")
ACTIVE = (QUEUED, RUNNING)


class Spec(Protocol):
    """What a job needs of a run's settings (core.runspec.RunSpec)."""

    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    config: TrainConfig

    def key(self) -> str:
        """A stable text key of the settings."""

    def make_family(self) -> TaskFamily:
        """The task family with these settings."""


@dataclass(frozen=True)
class Snapshot:
    """What a visitor's page shows of their job at one moment (nothing of anyone else's)."""

    job_id: str
    key: str
    state: str
    message: str
    position: int  # 1 = next to start; 0 when not queued
    wait_s: float  # estimated seconds until it starts (queued) or finishes (running)
    elapsed_s: float
    estimate_s: float
    bars: dict[str, Bar]
    results: list[MethodResult]

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE


@dataclass
class Job:
    """One comparison for one visitor."""

    owner: str
    spec: Any  # a Spec
    estimate_s: float
    deadline_s: float | None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = QUEUED
    message: Words | None = None
    results: list[MethodResult] = field(default_factory=list)
    bars: Bars | None = None
    seen: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    stop_asked: threading.Event = field(default_factory=threading.Event)
    lost: float | None = None  # when its visitor's connection was first seen closed

    def elapsed(self) -> float:
        """Seconds since it started (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def why_stop(self, silent: Callable[["Job"], float]) -> str | None:
        """The state a running job must end in now, or None to go on."""
        if self.stop_asked.is_set():
            return STOPPED
        if self.deadline_s is not None and self.elapsed() > self.deadline_s:
            return CUT
        if silent(self) > 1:
            return GONE
        return None


ENDED_EARLY = {STOPPED: "job.stopped", CUT: "job.cut", GONE: "job.gone"}


def _sentence(job: Job) -> Words | None:
    """What the visitor is told about a job that ended early."""
    if job.state not in ENDED_EARLY:
        return None
    return Words(ENDED_EARLY[job.state] + (".kept" if job.results else ""),
                 {"count": len(job.results), "limit": f"{job.deadline_s or 0:g}"})


class JobManager:
    """Jobs of every visitor of one server: at most `concurrency` train at once, the rest wait."""

    def __init__(self, concurrency: int = 1, heartbeat_s: float = HEARTBEAT_S,
                 store: ResultStore | None = None,
                 run: Callable[[Any, Callable[[], bool]], Any] | None = None,
                 connected: Callable[[str], bool | None] | None = None,
                 keep_data: bool = True) -> None:
        self.concurrency = concurrency
        self.keep_data = keep_data  # False on a shared server: each run's image data is dropped
        self.heartbeat_s = heartbeat_s
        # Whether an owner's browser is still connected (None: unknown); without it, only
        # the page's polls tell, and a busy server's late polls can look like a closed tab.
        self._connected = connected or (lambda owner: None)
        self.store = store or ResultStore()
        self._run_events = run or _compare_events
        self._lock = threading.Lock()
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._latest: dict[str, Job] = {}  # owner -> their most recent job

    # --- what a visitor's page calls ------------------------------------------------------

    def submit(self, owner: str, spec: Any, estimate_s: float,
               deadline_s: float | None = None) -> Job:
        """Queue a run for `owner` (their job under way is returned instead of a second one);
        settings already trained are done at once from the results cache."""
        with self._lock:
            self._forget_idle()
            mine = self._latest.get(owner)
            if mine is not None and mine.state in ACTIVE:
                mine.seen = time.monotonic()
                return mine
            job = Job(owner, spec, estimate_s, deadline_s)
            self._latest[owner] = job
            cached = self.store.get(spec.key())
            if cached is not None:
                job.state, job.results = DONE, list(cached)
                job.bars = done_bars(spec, cached)
                return job
            self._queue.append(job)
            self._dispatch()
            return job

    def poll(self, owner: str) -> Snapshot | None:
        """The owner's latest job as it is now; asking is the heartbeat that keeps it alive."""
        with self._lock:
            job = self._latest.get(owner)
            if job is None:
                return None
            job.seen = time.monotonic()
            self._dispatch()
            return self._snapshot(job)

    def stop(self, owner: str) -> None:
        """Stop the owner's running job within about a second, or take it out of the queue."""
        with self._lock:
            job = self._latest.get(owner)
            if job is None or job.state not in ACTIVE:
                return
            if job.state == QUEUED:
                self._queue.remove(job)
                job.state, job.message = LEFT, Words("job.left")
                self._dispatch()
            else:
                job.stop_asked.set()

    def adopt(self, owner: str, key: str) -> Snapshot | None:
        """A reloaded page (a new session) takes over a run of its very settings whose page has
        stopped asking for it; someone else's live run is never handed over."""
        with self._lock:
            mine = self._latest.get(owner)
            if mine is not None and mine.state in ACTIVE:
                return None
            now = time.monotonic()
            for job in self._queue + self._running:
                if job.spec.key() == key and self._silence(job) > 0.5:
                    if self._latest.get(job.owner) is job:
                        del self._latest[job.owner]
                    job.owner, job.seen = owner, now
                    self._latest[owner] = job
                    return self._snapshot(job)
            return None

    def busy_with(self, key: str) -> bool:
        """Whether some run of these settings is queued or running (whose, it does not say)."""
        with self._lock:
            return any(j.spec.key() == key for j in self._queue + self._running)

    def forget(self, owner: str) -> None:
        """Drop the owner's finished job (e.g. before training other settings)."""
        with self._lock:
            job = self._latest.get(owner)
            if job is not None and job.state not in ACTIVE:
                del self._latest[owner]

    # --- the queue -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start queued jobs while there is room; a waiting job whose page is gone is dropped."""
        for job in [j for j in self._queue if self._silence(j) > 1]:
            self._queue.remove(job)
            job.state, job.message = GONE, Words("job.dropped")
        while self._queue and len(self._running) < self.concurrency:
            job = self._queue.pop(0)
            job.state, job.started = RUNNING, time.monotonic()
            job.bars = Bars(job.spec.methods, len(job.spec.seeds))
            self._running.append(job)
            threading.Thread(target=self._work, args=(job,), daemon=True,
                             name=f"job-{job.id[:8]}").start()

    def _work(self, job: Job) -> None:
        """A job's thread: train, then make room for the next. The slot is freed in `finally`:
        a job whose run raises (whatever it raises) still ends, and the queue moves on."""
        # OpenMP's thread count is per thread: a new thread would use every core, and its
        # threads spin against the server's on a shared CPU. One core per training.
        torch.set_num_threads(1)
        state, message = FAILED, None
        try:
            with data_in_use(release=not self.keep_data):
                state = self._train(job)
        except SettingError as err:
            message = Words("job.failed.settings", {"detail": short(str(err), 300)})
        except BaseException as err:  # noqa: BLE001  a visitor sees one sentence, never a traceback
            message = Words("job.failed", {"error": type(err).__name__})
            if not isinstance(err, Exception):
                raise  # e.g. SystemExit: the job still ends (finally), the error goes on
        finally:
            with self._lock:
                job.state, job.ended = state, time.monotonic()
                job.message = message or _sentence(job)
                self._running.remove(job)
                self._dispatch()
            _return_freed_memory()

    def _train(self, job: Job) -> str:
        """Run the comparison, recording progress and results; the state it ended in."""
        reason: list[str] = []

        def stop() -> bool:
            with self._lock:  # the page's requests write what it reads (heartbeat, owner)
                why = job.why_stop(self._silence)
            if why is not None and not reason:
                reason.append(why)
            return why is not None

        cached = self.store.get(job.spec.key())  # another visitor may have trained it meanwhile
        if cached is not None:
            with self._lock:
                job.results, job.bars = list(cached), done_bars(job.spec, cached)
            return DONE
        for event in self._run_events(job.spec, stop):
            with self._lock:
                job.bars.update(event)
                if isinstance(event, MethodResult):
                    job.results.append(event)
        state = reason[0] if reason else DONE
        if state == DONE:
            self.store.put(job.spec.key(), job.results)
        return state

    def _silence(self, job: Job) -> float:
        """How long its visitor has been gone, in heartbeats: since the browser's connection
        closed when that is known, otherwise since the page last asked."""
        now = time.monotonic()
        connected = self._connected(job.owner)
        if connected is None:
            return (now - job.seen) / self.heartbeat_s
        if connected:
            job.lost = None
            return 0.0
        job.lost = job.lost or now
        return (now - job.lost) / self.heartbeat_s

    def _snapshot(self, job: Job) -> Snapshot:
        position = self._queue.index(job) + 1 if job.state == QUEUED else 0
        return Snapshot(job.id, job.spec.key(), job.state, str(job.message or ""), position,
                        self._wait(job), job.elapsed(), job.estimate_s,
                        job.bars.shown() if job.bars else {}, list(job.results))

    def _wait(self, job: Job) -> float:
        """Seconds until a queued job starts, or a running one ends, by the estimates."""
        if job.state == RUNNING:
            return max(0.0, job.estimate_s - job.elapsed())
        if job.state != QUEUED:
            return 0.0
        ahead = [max(0.0, j.estimate_s - j.elapsed()) for j in self._running]
        ahead += [j.estimate_s for j in self._queue[:self._queue.index(job)]]
        return sum(ahead) / self.concurrency

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for owner, job in list(self._latest.items()):
            if job.state not in ACTIVE and now - job.seen > FORGET_S:
                del self._latest[owner]


def _return_freed_memory() -> None:
    """Hand the heap pages that a finished run freed back to the system (glibc's malloc_trim):
    otherwise its temporaries stay resident, and the next run's peak comes on top of them."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def _compare_events(spec: Any, stop: Callable[[], bool]):
    return compare(spec.make_family(), spec.methods, spec.config, spec.seeds, stop=stop)


def short(text: str, limit: int = 80) -> str:
    """At most `limit` characters of a text, shortened in the middle."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[-half:]


def concurrency_from_env() -> int:
    """Trainings at once: META_LAB_TRAININGS (default 1; each uses one core)."""
    try:
        return max(1, int(os.environ.get("META_LAB_TRAININGS", "1")))
    except ValueError:
        return 1
