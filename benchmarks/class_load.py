"""A class on one hosted server: 60 visitors at once, Train presses, hostile links, closed sockets.

    python benchmarks/class_load.py                       # the class: 60 visitors
    python benchmarks/class_load.py --visitors 3 --train 2 --hostile 1 --closers 1   # a smoke run

Starts two Streamlit servers on loopback: the lab (`app.py`, META_LAB_HOSTED=1) and the floor,
`benchmarks/minimal_page.py` (three plotly charts). Visitors speak Streamlit's own protocol, as a
browser does without rendering: a websocket to `/_stcore/stream` (subprotocol `streamlit`,
`Origin` the server's URL), a `BackMsg` with `rerun_script` (the query string and the widget
states), then `ForwardMsg`s until `script_finished`; fragments that ask to rerun
(`auto_rerun`, the page's live progress and the run's heartbeat) are rerun as a browser would.

Phases, one after the other (each server warmed by one visitor first, timed apart):
  landing  the visitors open the landing page at once, half with `?lang=zh`, on the minimal page
           and then on the lab; their sockets stay open (the "60 sessions open" of the memory target)
  train    some of them press Train: half with the default scenario's settings, half after
           setting a distinct first seed; each must get its own result (its settings.json) or a
           queue place, within --timeout
  hostile  the links docs/hosting.md lists (huge values, a server path and a download, the
           slowest methods at the largest values): each must be answered with a sentence and
           Train disabled
  closers  visitors that press Train and close their socket in the middle of the script run

Per phase: p50/p95/max seconds to `script_finished`, the server's CPU-seconds (/proc), its
peak RSS (VmHWM). Exits non-zero when a visitor saw someone else's settings or the wrong language.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.dashboard_timing import cpu_seconds, peak_rss_mb, serve_app  # noqa: E402
from core.scenarios.catalogue import SCENARIOS  # noqa: E402
from report.i18n import catalogue  # noqa: E402

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

MINIMAL = "benchmarks/minimal_page.py"
EN, ZH = catalogue("en"), catalogue("zh")
TRAIN_LABELS = {EN["compare.train"], EN["compare.train_yourself"], EN["state.train_again"]}
SETTINGS_LABEL = EN["compare.download_settings"]
RESULTS_LABEL = EN["compare.download_results"]
SEED_LABEL = EN["sidebar.seed"]
QUEUED = ("Waiting for another visitor", "Training:")  # a queue place, or the run going
# docs/hosting.md's hostile links: values over every limit; a server folder and a download; the
# slowest methods (ANIL and Meta-SGD) at the largest widget values.
HOSTILE = [
    {"train.iterations": "10000000", "train.hidden": "4096,4096,4096",
     "train.meta_batch_size": "100000", "train.test_tasks": "1000000"},
    {"family": "Omniglot characters (N-way K-shot)", "omniglot.data_dir": "/etc", "omniglot.download": "true"},
    {"methods": ["ANIL (head adapted)", "Meta-SGD (learned α)"], "train.iterations": "5000",
     "train.hidden": "256,256,256", "train.meta_batch_size": "64", "train.test_tasks": "2000"},
]
FINISHED = ForwardMsg.ScriptFinishedStatus


@dataclass
class Run:
    """What one full script run drew: texts, buttons and download buttons by label."""

    texts: list[str] = field(default_factory=list)
    buttons: dict[str, tuple[str, bool]] = field(default_factory=dict)  # label: (id, disabled)
    inputs: dict[str, str] = field(default_factory=dict)  # number inputs, label: id
    downloads: dict[str, str] = field(default_factory=dict)  # label: media URL
    charts: int = 0


class Visitor:
    """One browser session spoken to over the protocol."""

    def __init__(self, base: str, query: str, name: str):
        self.base, self.query, self.name = base, query, name
        self.ws = None
        self.widgets: dict[str, WidgetState] = {}  # values the visitor has set, sent every rerun
        self.run = Run()  # the latest full run
        self.fragments: dict[str, asyncio.Task] = {}  # auto-rerunning fragments by id
        self.heard: list[str] = []  # every alert and caption of every run, fragments' too
        self.failed: str | None = None

    async def connect(self) -> None:
        import websockets
        url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], origin=self.base,
                                           max_size=None, open_timeout=60)

    async def send_rerun(self, trigger: str | None = None, fragment: str | None = None) -> None:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query
        rerun.widget_states.widgets.extend(self.widgets.values())
        if trigger is not None:
            rerun.widget_states.widgets.add(id=trigger, trigger_value=True)
        if fragment is not None:
            rerun.fragment_id, rerun.is_auto_rerun = fragment, True
        await self.ws.send(msg.SerializeToString())

    async def rerun(self, trigger: str | None = None, close_after_first: bool = False) -> float:
        """Seconds from asking for a full run until it finished (the script may rerun itself)."""
        start = time.perf_counter()
        await self.send_rerun(trigger)
        await self.until_finished(close_after_first)
        return time.perf_counter() - start

    async def until_finished(self, close_after_first: bool = False) -> None:
        """Read messages until a full run finished successfully (fragment runs are skipped)."""
        run = Run()
        while True:
            msg = ForwardMsg.FromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "new_session" and not msg.metadata.run.fragment_ids:  # a full run
                run = Run()
                self._stop_fragments()
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string  # the browser's URL follows it
            elif kind == "auto_rerun":
                self._start_fragment(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._read_element(msg.delta.new_element, run)
                if close_after_first:
                    await self.ws.close()
                    return
            elif kind == "script_finished":
                if msg.script_finished == FINISHED.Value("FINISHED_SUCCESSFULLY"):
                    self.run = run
                    return
                if msg.script_finished == FINISHED.Value("FINISHED_WITH_COMPILE_ERROR"):
                    raise RuntimeError(f"{self.name}: the script failed to compile")

    def _read_element(self, element, run: Run) -> None:
        kind = element.WhichOneof("type")
        if kind in ("markdown", "heading", "alert"):
            text = getattr(element, kind).body
            run.texts.append(text)
            if kind == "alert" or text.startswith(QUEUED):
                self.heard.append(text)
        elif kind == "button":
            run.buttons[element.button.label] = (element.button.id, element.button.disabled)
        elif kind == "number_input":
            run.inputs[element.number_input.label] = element.number_input.id
        elif kind == "download_button":
            run.downloads[element.download_button.label] = element.download_button.url
        elif kind == "plotly_chart":
            run.charts += 1
        elif kind == "exception":
            self.failed = element.exception.message

    def _start_fragment(self, fragment: str, interval: float) -> None:
        if fragment not in self.fragments:
            self.fragments[fragment] = asyncio.create_task(self._every(fragment, interval))

    async def _every(self, fragment: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.send_rerun(fragment=fragment)

    def _stop_fragments(self) -> None:
        for task in self.fragments.values():
            task.cancel()
        self.fragments.clear()

    def train_button(self) -> tuple[str, bool] | None:
        return next((b for label, b in self.run.buttons.items() if label in TRAIN_LABELS), None)

    def download(self, label: str) -> str | None:
        """A download button's file (the visitor's own result), fetched as the browser would."""
        url = self.run.downloads.get(label)
        if url is None:
            return None
        with urllib.request.urlopen(urllib.parse.urljoin(self.base, url), timeout=30) as answer:
            return answer.read().decode()

    async def close(self) -> None:
        self._stop_fragments()
        if self.ws is not None:
            await self.ws.close()


@dataclass
class Phase:
    """One phase's numbers."""

    name: str
    seconds: list[float]
    cpu_s: float
    rss_mb: float
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        s = sorted(self.seconds) or [float("nan")]
        p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
        return (f"| {self.name} | {len(self.seconds)} | {statistics.median(s):.1f} | {p95:.1f} | "
                f"{s[-1]:.1f} | {self.cpu_s:.1f} | {self.rss_mb:.0f} |")


async def _measured(name: str, pid: int, work) -> Phase:
    before = cpu_seconds(pid)
    seconds, notes = await work
    return Phase(name, seconds, cpu_seconds(pid) - before, peak_rss_mb(pid), notes)


def landing_query(i: int) -> str:
    return "lang=zh" if i % 2 else ""


def language_ok(visitor: Visitor, zh: bool) -> bool:
    """The page is in the language the visitor's link asked for (the lab's title)."""
    title = (ZH if zh else EN)["compare.title"]
    return any(title in text for text in visitor.run.texts)


async def land(visitors: list[Visitor], check_language: bool) -> tuple[list[float], list[str]]:
    """Everyone opens the page at once; sockets stay open."""
    await asyncio.gather(*(v.connect() for v in visitors))
    seconds = await asyncio.gather(*(v.rerun() for v in visitors))
    notes = [f"{v.name}: {v.failed}" for v in visitors if v.failed]
    if check_language:
        notes += [f"{v.name} got the wrong language" for v in visitors
                  if not language_ok(v, "lang=zh" in v.query)]
    return list(seconds), notes


async def set_seed(visitor: Visitor, seed: int) -> None:
    """Type a first seed into the sidebar (one rerun, as a browser sends on commit)."""
    visitor.widgets["seed"] = WidgetState(id=visitor.run.inputs[SEED_LABEL], int_value=seed)
    await visitor.rerun()


async def train(visitor: Visitor, seed: int, deadline: float) -> tuple[float | None, str]:
    """Press Train; seconds until the visitor's result is on its page, or what was wrong."""
    button = visitor.train_button()
    if button is None or button[1]:
        return None, "Train missing or disabled"
    start = time.perf_counter()
    await visitor.rerun(trigger=button[0])
    answered = any(text.startswith(QUEUED) for text in visitor.heard) or SETTINGS_LABEL in visitor.run.downloads
    while SETTINGS_LABEL not in visitor.run.downloads and time.perf_counter() < deadline:
        try:
            await asyncio.wait_for(visitor.until_finished(), deadline - time.perf_counter())
        except asyncio.TimeoutError:
            break
    shown = visitor.download(SETTINGS_LABEL)
    if shown is None:
        return None, "no result in time" + ("" if answered else ", and no queue place")
    shown = json.loads(shown)
    if (shown["family"], shown["seeds"][0]) != (SCENARIOS[0].family, seed):
        return None, f"LEAK: shows {shown['family']} seed {shown['seeds'][0]}, pressed seed {seed}"
    return time.perf_counter() - start, ""


async def train_phase(visitors: list[Visitor], timeout_s: float) -> tuple[list[float], list[str]]:
    """Half press Train with the default scenario's settings, half after setting their own seed."""
    seeds = [0 if i % 2 == 0 else 100 + i for i in range(len(visitors))]
    await asyncio.gather(*(set_seed(v, s) for v, s in zip(visitors, seeds) if s))
    deadline = time.perf_counter() + timeout_s
    answers = await asyncio.gather(*(train(v, s, deadline) for v, s in zip(visitors, seeds)))
    notes = [f"{v.name} (seed {s}): {why}" for v, s, (_, why) in zip(visitors, seeds, answers) if why]
    notes += _same_numbers(visitors, seeds)
    return [s for s, _ in answers if s is not None], notes


def _same_numbers(visitors: list[Visitor], seeds: list[int]) -> list[str]:
    """Visitors of different seeds must not show the same numbers (results.csv): a page's
    settings.json is its own, so numbers served from someone else's run show only here."""
    numbers = [v.download(RESULTS_LABEL) for v in visitors]
    return [f"LEAK: {a.name} (seed {sa}) shows the numbers of {b.name} (seed {sb})"
            for i, (a, sa, na) in enumerate(zip(visitors, seeds, numbers))
            for b, sb, nb in zip(visitors[i + 1:], seeds[i + 1:], numbers[i + 1:])
            if na is not None and na == nb and sa != sb]


async def hostile_phase(base: str, links: list[dict]) -> tuple[list[float], list[str]]:
    """Each hostile link lands and presses Train if it can: it must be refused in a sentence."""
    seconds, notes = [], []
    visitors = [Visitor(base, urllib.parse.urlencode(q, doseq=True), f"hostile {i + 1}")
                for i, q in enumerate(links)]
    landed, _ = await land(visitors, check_language=False)
    for v, s in zip(visitors, landed):
        button = v.train_button()
        if button is not None and not button[1]:
            s += await v.rerun(trigger=button[0])
        seconds.append(s)
        refused = [text for text in v.heard if not text.startswith(QUEUED)]
        if v.fragments or v.failed or len(refused) < len(v.heard):
            notes.append(f"{v.name}: a run started ({v.failed or 'live progress shown'})")
        notes.append(f"{v.name}: told " + " / ".join(" ".join(r.split())[:90] for r in refused[-2:]))
    await asyncio.gather(*(v.close() for v in visitors))
    return seconds, notes


async def closer_phase(base: str, count: int) -> tuple[list[float], list[str]]:
    """Visitors land, press Train with their own seed and close the socket mid-run."""
    visitors = [Visitor(base, "", f"closer {i + 1}") for i in range(count)]
    seconds, _ = await land(visitors, check_language=False)
    for i, v in enumerate(visitors):
        await set_seed(v, 900 + i)
    await asyncio.gather(*(v.rerun(trigger=v.train_button()[0], close_after_first=True)
                           for v in visitors))
    await asyncio.gather(*(v.close() for v in visitors))
    return seconds, []


async def after_closers(base: str) -> tuple[list[float], list[str]]:
    """One more visitor after the closed sockets: the server still answers."""
    v = Visitor(base, "", "after")
    seconds, notes = await land([v], check_language=True)
    await v.close()
    return seconds, notes


async def scenario(args, lab: tuple[str, int], minimal: tuple[str, int]) -> list[Phase]:
    (lab_url, lab_pid), (min_url, min_pid) = lab, minimal
    phases = []
    for url, pid, who, check in ((min_url, min_pid, "minimal", False), (lab_url, lab_pid, "lab", True)):
        first = Visitor(url, "", "first")
        phases.append(await _measured(f"{who}: first visitor", pid, land([first], check)))
        await first.close()
    crowd = {}
    for url, pid, who, check in ((min_url, min_pid, "minimal", False), (lab_url, lab_pid, "lab", True)):
        crowd[who] = [Visitor(url, landing_query(i), f"{who} {i + 1}") for i in range(args.visitors)]
        phases.append(await _measured(f"{who}: {args.visitors} landings", pid,
                                      land(crowd[who], check)))
    await asyncio.gather(*(v.close() for v in crowd.pop("minimal")))
    pressers = [v for v in crowd["lab"] if not landing_query(int(v.name.split()[-1]) - 1)]
    pressers += [v for v in crowd["lab"] if v not in pressers]
    phases.append(await _measured(f"lab: {args.train} press Train", lab_pid,
                                  train_phase(pressers[:args.train], args.timeout)))
    phases.append(await _measured(f"lab: {args.hostile} hostile links", lab_pid,
                                  hostile_phase(lab_url, HOSTILE[:args.hostile])))
    phases.append(await _measured(f"lab: {args.closers} close mid-run", lab_pid,
                                  closer_phase(lab_url, args.closers)))
    phases.append(await _measured("lab: one visitor after", lab_pid, after_closers(lab_url)))
    await asyncio.gather(*(v.close() for v in crowd["lab"]))
    return phases


def run(args) -> list[Phase]:
    """Both servers up, the phases, the servers down; the phases' numbers."""
    os.environ["META_LAB_HOSTED"] = "1"  # both servers inherit it
    with serve_app() as (lab_url, lab), serve_app(script=MINIMAL) as (min_url, minimal):
        return asyncio.run(asyncio.wait_for(
            scenario(args, (lab_url, lab.pid), (min_url, minimal.pid)), args.timeout * 3))


def report(phases: list[Phase]) -> bool:
    """Print the table and the notes; whether no visitor saw another's settings or language."""
    print("| phase | visitors | p50 s | p95 s | max s | server CPU-s | server peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for p in phases:
        print(p.row())
    by_name = {p.name.split(": ")[1]: {} for p in phases}
    for p in phases:
        by_name[p.name.split(": ")[1]][p.name.split(": ")[0]] = p
    for name, pair in by_name.items():
        if set(pair) == {"lab", "minimal"}:
            lab, floor = pair["lab"], pair["minimal"]
            print(f"\n{name}: lab / minimal — max {max(lab.seconds) / max(floor.seconds):.2f}x, "
                  f"CPU-s per visitor {lab.cpu_s / len(lab.seconds):.2f} vs "
                  f"{floor.cpu_s / len(floor.seconds):.2f}")
    notes = [f"{p.name}: {n}" for p in phases for n in p.notes]
    print("\n" + "\n".join(notes) if notes else "\nno notes")
    return not any("LEAK" in n or "wrong language" in n or "failed" in n for n in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--train", type=int, default=20)
    parser.add_argument("--hostile", type=int, default=3, choices=range(len(HOSTILE) + 1))
    parser.add_argument("--closers", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600, help="seconds the Train phase may take")
    args = parser.parse_args()
    sys.exit(0 if report(run(args)) else 1)


if __name__ == "__main__":
    main()
