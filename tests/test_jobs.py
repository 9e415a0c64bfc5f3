"""The job queue: order and place, Stop, the deadline, a closed page, and visitors kept apart."""
import threading
import time

import pytest
import torch

from core.data import cached_data
from core.engine.config import TrainConfig
from core.engine.events import MethodResult
from core.runspec import RunSpec
from dashboard import job_queue
from dashboard.results_cache import MAX_BYTES, ResultStore
from report.i18n import using


def spec(iterations: int = 100_000, seed: int = 0, methods=("maml",), **train) -> RunSpec:
    cfg = TrainConfig(iterations=iterations, test_tasks=50, val_tasks=20, checkpoints=0, **train)
    return RunSpec("sinusoid", (), tuple(methods), cfg, (seed,))


def wait_for(manager, owner, ok, timeout=10.0, also=()):
    """Poll like a page does (each poll is a heartbeat) until `ok(snapshot)`; keep `also` alive."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for other in also:
            manager.poll(other)
        snap = manager.poll(owner)
        if ok(snap):
            return snap
        time.sleep(0.05)
    raise AssertionError(f"timed out; last: {snap.state if snap else None}")


@pytest.fixture
def manager():
    m = job_queue.JobManager(concurrency=1, heartbeat_s=2.0)
    yield m
    for owner in list(m._latest):
        m.stop(owner)
    for owner in list(m._latest):  # let every thread end before the next test
        wait_for(m, owner, lambda s: not s.active, timeout=5)


def test_queue_runs_in_order_and_tells_each_visitor_their_place(manager):
    for owner, seed in (("a", 0), ("b", 1), ("c", 2)):
        manager.submit(owner, spec(seed=seed), estimate_s=30.0)
    a = wait_for(manager, "a", lambda s: s.state == job_queue.RUNNING, also="bc")
    b, c = manager.poll("b"), manager.poll("c")
    assert (b.state, b.position, c.state, c.position) == (job_queue.QUEUED, 1, job_queue.QUEUED, 2)
    assert 0 < b.wait_s <= 30 and c.wait_s == pytest.approx(b.wait_s + 30, abs=1)
    assert a.position == 0 and a.bars["maml"].text
    manager.stop("a")
    wait_for(manager, "b", lambda s: s.state == job_queue.RUNNING, timeout=3, also="ac")
    assert manager.poll("c").position == 1 and manager.poll("a").state == job_queue.STOPPED


def test_a_visitor_can_leave_the_queue(manager):
    manager.submit("a", spec(), 30.0)
    manager.submit("b", spec(seed=1), 30.0)
    manager.stop("b")
    assert manager.poll("b").state == job_queue.LEFT and manager.poll("a").active


def test_stop_acts_at_the_next_iteration_and_keeps_finished_methods():
    """Stop is asked at every training iteration, and the first answer after it ends the run:
    it acts within one iteration (a few ms), told by the order of events, not by a clock."""
    log = []  # ("stop", answer) and ("event", kind), in the order the job's thread saw them

    def watched_run(spec, stop):
        def asked() -> bool:
            log.append(("stop", stop()))
            return log[-1][1]
        for event in job_queue._compare_events(spec, asked):
            log.append(("event", type(event).__name__))
            yield event

    manager = job_queue.JobManager(heartbeat_s=2.0, run=watched_run)
    manager.submit("a", spec(iterations=20_000, methods=("scratch", "maml")), 30.0)
    wait_for(manager, "a", lambda s: [r.method for r in s.results] == ["scratch"]
             and s.bars["maml"].fraction > 0)
    manager.stop("a")
    snap = wait_for(manager, "a", lambda s: not s.active, timeout=30)
    assert snap.state == job_queue.STOPPED and [r.method for r in snap.results] == ["scratch"]
    answers = [answer for what, answer in log if what == "stop"]
    assert answers.count(True) == 1 and log[-1] == ("stop", True)  # nothing ran after it
    maml = log[log.index(("event", "MethodResult")) + 1:]  # scratch's result, then MAML's run
    progressed = sum(1 for entry in maml if entry == ("event", "Progress"))
    every = 20_000 // 100  # the training reports progress every 1 % of its iterations
    assert sum(1 for what, _ in maml if what == "stop") >= progressed * every  # once an iteration
    assert "finished result" in snap.message
    with using("zh"):  # the job's thread wrote no words: the page's language puts them
        snap = manager.poll("a")
        assert snap.message == "已停止。已完成的 1 个结果保留了下来。"
        assert snap.bars["scratch"].text.startswith("从头训练") and "秒" in snap.bars["scratch"].text


class FakeClock:
    """The job manager's clock, moved by the test: deadlines and heartbeats without waiting."""

    def __init__(self) -> None:
        self.now = time.monotonic()  # near the real clock: a Job's `seen` starts from that one

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(job_queue, "time", fake)
    return fake


def test_deadline_cuts_a_run_that_the_estimate_let_through(clock):
    manager = job_queue.JobManager(heartbeat_s=1e6)  # only the deadline may end it
    manager.submit("a", spec(), estimate_s=0.1, deadline_s=0.5)
    wait_for(manager, "a", lambda s: s.state == job_queue.RUNNING)  # the clock stands meanwhile
    clock.now += 0.4
    assert manager.poll("a").state == job_queue.RUNNING
    clock.now += 0.2  # 0.6 s in: past the deadline
    snap = wait_for(manager, "a", lambda s: not s.active, timeout=30)
    assert snap.state == job_queue.CUT and "time limit of 0.5 s" in snap.message
    assert snap.elapsed_s == pytest.approx(0.6)


def test_a_run_whose_page_is_gone_is_stopped_after_one_heartbeat(clock):
    checks = []  # the trainings' answers to "stop?", in order

    def counted(spec, stop):
        def asked() -> bool:
            checks.append(stop())
            return checks[-1]
        yield from job_queue._compare_events(spec, asked)

    manager = job_queue.JobManager(concurrency=1, heartbeat_s=2.0, run=counted)
    manager.submit("gone", spec(), 30.0)
    manager.submit("b", spec(iterations=20, seed=1), 1.0)
    # Only "b" keeps polling: "gone" closed its tab right after pressing Train.
    wait_for(manager, "b", lambda s: s.position == 1 and checks)
    clock.now += 1.9  # just under a heartbeat of silence: it trains on
    asked = len(checks)
    wait_for(manager, "b", lambda s: len(checks) > asked + 10)  # ten more iterations of "gone"
    assert manager.poll("b").state == job_queue.QUEUED and not any(checks)
    clock.now += 0.2
    snap = wait_for(manager, "b", lambda s: s.state == job_queue.DONE, timeout=60)
    gone = manager.poll("gone")
    assert gone.state == job_queue.GONE and "closed" in gone.message
    assert [r.method for r in snap.results] == ["maml"]


def test_visitors_never_see_each_others_jobs(manager):
    manager.submit("a", spec(), 30.0)
    assert manager.poll("b") is None
    manager.stop("b")  # b's Stop cannot touch a's run
    b_spec = spec(seed=7)
    manager.submit("b", b_spec, 30.0)
    a, b = manager.poll("a"), manager.poll("b")
    assert a.state == job_queue.RUNNING and b.key == b_spec.key() and a.key != b.key
    assert a.job_id != b.job_id


def test_a_second_train_returns_the_run_under_way(manager):
    first = manager.submit("a", spec(), 30.0)
    assert manager.submit("a", spec(seed=3), 30.0) is first


def test_trained_settings_come_from_the_cache_without_training(manager):
    short = spec(iterations=20)
    manager.submit("a", short, 1.0)
    done = wait_for(manager, "a", lambda s: s.state == job_queue.DONE)
    again = manager.submit("b", short, 1.0)
    assert again.state == job_queue.DONE and again.results[0] is done.results[0]


def test_a_method_with_a_test_time_variant_finishes_with_a_bar_for_each(manager):
    manager.submit("a", spec(iterations=5, methods=("anil",)), 1.0)
    done = wait_for(manager, "a", lambda s: not s.active, timeout=30)
    assert done.state == job_queue.DONE, done.message
    assert [r.method for r in done.results] == ["anil", "anil-whole"]
    assert all(bar.fraction == 1.0 for bar in done.bars.values()) and len(done.bars) == 2


def test_the_results_cache_keeps_recent_runs_within_its_bytes():
    store = ResultStore()

    def run(megabytes: float) -> list[MethodResult]:
        scores = {"loss": torch.zeros(int(megabytes * 1e6 / 4))}
        return [MethodResult("maml", 0, {"w": torch.zeros(1)}, 1.0, scores)]

    for key in "abc":
        store.put(key, run(MAX_BYTES / 1e6 / 2.5))
    assert store.get("a") is None and store.get("b") and store.get("c")
    store.put("huge", run(2 * MAX_BYTES / 1e6))  # kept alone: the newest run always is
    assert [k for k in "bc" if store.get(k)] == [] and store.get("huge")


def test_bad_settings_fail_in_one_short_sentence(manager):
    bad = RunSpec("sinusoid", (("shots", "x" * 100_000),), ("maml",), TrainConfig(), (0,))
    manager.submit("a", bad, 1.0)
    snap = wait_for(manager, "a", lambda s: not s.active)
    assert snap.state == job_queue.FAILED and "shots" in snap.message and len(snap.message) <= 300


def test_a_reloaded_page_takes_back_its_run_but_never_a_live_one(manager):
    running = spec()
    manager.submit("old-tab", running, 30.0)
    assert manager.adopt("other", running.key()) is None  # its page is still asking
    time.sleep(manager.heartbeat_s / 2 + 0.2)  # the old tab stopped asking: it was reloaded
    assert manager.adopt("stranger", spec(seed=5).key()) is None  # other settings: nothing
    snap = manager.adopt("new-tab", running.key())
    assert snap is not None and snap.state == job_queue.RUNNING
    assert manager.poll("old-tab") is None and manager.poll("new-tab").job_id == snap.job_id


def test_the_connection_state_decides_when_the_server_knows_it():
    """A connected visitor whose polls come late keeps the run; a closed connection ends it."""
    m = job_queue.JobManager(heartbeat_s=0.5, connected=lambda owner: owner != "closed")
    m.submit("slow-page", spec(), 30.0)  # never polls again, but its browser is connected
    time.sleep(1.5 * m.heartbeat_s)  # silent for longer than a heartbeat: gone, if not connected
    assert m.poll("slow-page").state == job_queue.RUNNING
    m.stop("slow-page")
    wait_for(m, "slow-page", lambda s: not s.active)
    m.submit("closed", spec(seed=4), 30.0)
    snap = wait_for(m, "closed", lambda s: not s.active, timeout=5)  # polls don't save it
    assert snap.state == job_queue.GONE


@pytest.mark.parametrize("keep_data", [True, False])
def test_a_shared_server_drops_each_runs_image_data(keep_data):
    """Hosted, the data caches hold one run's images at most: the budget counts only those."""
    from core.engine.families import digits as digit_family
    digit_family._digit_pools.cache_clear()
    manager = job_queue.JobManager(keep_data=keep_data)
    cfg = TrainConfig(iterations=2, test_tasks=5, val_tasks=5, checkpoints=0, eval_steps=(0, 1))
    manager.submit("a", RunSpec("digits", (("channels", 2),), ("scratch",), cfg, (0,)), 1.0)
    snap = wait_for(manager, "a", lambda s: not s.active, timeout=60)
    assert snap.state == job_queue.DONE
    assert digit_family._digit_pools.cache_info().currsize == (1 if keep_data else 0)


class Escapes(BaseException):
    """An error no `except Exception` catches (as SystemExit or KeyboardInterrupt)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_job_whose_run_raises_still_frees_its_slot():
    """The queue cannot wedge: the next visitor's run starts after one whose run raised."""
    second_started = threading.Event()

    def run(spec, stop):
        if spec.seeds == (0,):
            raise Escapes("a run that escapes every handler")
        second_started.set()
        return iter(())

    manager = job_queue.JobManager(concurrency=1, run=run)
    raised = manager.submit("a", spec(seed=0), 1.0)
    manager.submit("b", spec(seed=1), 1.0)  # queued behind a's only slot
    assert second_started.wait(timeout=10), "the slot of the run that raised was never freed"
    for thread in threading.enumerate():  # its error reaches the thread's end inside this test
        if thread.name == f"job-{raised.id[:8]}":
            thread.join(timeout=10)
    failed = manager.poll("a")
    assert failed.state == job_queue.FAILED and "Escapes" in failed.message


def test_two_trainings_at_once_keep_their_data_until_the_last_one_ends():
    """META_LAB_TRAININGS=2 on a shared server: the first run to end does not drop the data the
    second still reads; the last one to end does."""
    loads = []

    @cached_data(maxsize=1)
    def pools(name: str) -> list[str]:
        loads.append(name)
        return [name]

    a_loaded, a_go, b_go, c_started = (threading.Event() for _ in range(4))

    def run(spec, stop):
        seed = spec.seeds[0]
        if seed == 2:  # a third visitor's run: it starts when a's slot is free, a's data let go
            c_started.set()
        elif seed == 0:
            pools("digits")
            a_loaded.set()
            assert a_go.wait(timeout=10)
        else:
            assert a_loaded.wait(timeout=10)
            pools("digits")
            assert b_go.wait(timeout=10) and c_started.wait(timeout=10)
            pools("digits")  # b reads its data again after a has ended
        return iter(())

    manager = job_queue.JobManager(concurrency=2, keep_data=False, run=run)
    for owner, seed in (("a", 0), ("b", 1), ("c", 2)):
        manager.submit(owner, spec(seed=seed), 1.0)
    assert a_loaded.wait(timeout=10)
    assert manager.poll("c").state == job_queue.QUEUED  # two trainings at once, the third waits
    a_go.set()
    b_go.set()
    for owner in "abc":
        assert wait_for(manager, owner, lambda s: not s.active, also="abc").state == job_queue.DONE
    assert loads == ["digits"]  # decoded once: a's end left b's data alone
    assert pools.cache_info().currsize == 0  # the last run to end let it go


def test_the_job_thread_reads_what_pages_write_under_the_managers_lock():
    """A running job checks its visitor's heartbeat and connection (which page requests write:
    a poll moves the heartbeat, a reloaded page takes the job over) while holding the lock those
    requests hold."""
    manager = None
    from_job: list[bool] = []
    checked = threading.Event()

    def connected(owner: str) -> bool:
        if threading.current_thread().name.startswith("job-"):
            from_job.append(manager._lock.locked())
            if len(from_job) == 10:
                checked.set()
        return True

    manager = job_queue.JobManager(connected=connected)
    manager.submit("a", spec(), 30.0)
    assert checked.wait(timeout=30)
    manager.stop("a")
    wait_for(manager, "a", lambda s: not s.active)
    assert all(from_job), "the job thread read the visitor's state without the lock"


def test_a_run_due_to_end_soon_is_asked_about_more_often(manager):
    """The live view asks every POLL_S, but every FAST_POLL_S while a running job should end
    within two polls, so a short run's result is not held back by the poll; a queued job and a
    long run keep the slow pace (a class's pages asking cost the server)."""
    from dashboard.run_controls import FAST_POLL_S, POLL_S, _poll_every
    manager.submit("short", spec(), 1.0)  # estimated to end within a second
    manager.submit("queued", spec(seed=1), 1.0)
    short = wait_for(manager, "short", lambda s: s.state == job_queue.RUNNING, also=["queued"])
    assert _poll_every(short) == FAST_POLL_S < POLL_S
    assert manager.poll("queued").state == job_queue.QUEUED
    assert _poll_every(manager.poll("queued")) == POLL_S
    manager.stop("short")
    manager.stop("queued")
    manager.submit("long", spec(seed=2), 600.0)
    long = wait_for(manager, "long", lambda s: s.state == job_queue.RUNNING)
    assert _poll_every(long) == POLL_S
