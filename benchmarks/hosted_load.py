"""Six visitors on one hosted server: queue, budget, a closed tab, peak memory, no leaks.

    python benchmarks/hosted_load.py

Starts `streamlit run app.py` with META_LAB_HOSTED=1 on 127.0.0.1 and opens six separate
chromium contexts (separate sessions): a hostile link (huge iterations, widths, meta-batch and
test tasks) presses Train first; a visitor presses Train and closes the tab two seconds later;
three seconds after the hostile link, four visitors with ordinary settings press Train. Prints
per visitor the time to a usable page, the time from Train to the full result, and what the
page told them; then the server's peak resident memory and whether any page showed another
visitor's settings or numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.dashboard_timing import BROWSER_ARGS, CHROMIUM, IDLE, TRAIN, peak_rss_mb, serve_app  # noqa: E402
from core.engine.families import FAMILIES  # noqa: E402
from core.scenarios.catalogue import SCENARIOS  # noqa: E402

HOSTILE = {"train.iterations": "10000000", "train.hidden": "4096,4096,4096",
           "train.meta_batch_size": "100000", "train.test_tasks": "1000000"}
ORDINARY = [{}, {"train.seed": "1"}, {"family": FAMILIES["trend"].title},
            {"family": FAMILIES["clusters"].title, "train.seed": "2"}]
CSV, SETTINGS = "Download results (CSV)", "Download settings (JSON)"
# The headline sentences on a page outside expanders (the gallery's result is in one).
HEADLINES = """() => Array.from(document.querySelectorAll(
        '[data-testid="stMain"] [data-testid="stMarkdown"]'))
    .filter(e => !e.closest('[data-testid="stExpander"]')).map(e => e.innerText)
    .filter(text => text.startsWith("Before adaptation"))"""
ALERTS = ('[data-testid="stMain"] [data-testid="stAlert"], '
          '[data-testid="stSidebar"] [data-testid="stAlert"]')


@dataclass
class Visitor:
    """One browser context and what happened to it."""

    name: str
    query: dict[str, str]
    page: object = None
    usable_s: float | None = None
    pressed_at: float | None = None
    result_s: float | None = None
    told: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    closed: bool = False
    settings: dict | None = None  # settings.json downloaded from the visitor's own result
    numbers: str = ""  # results.csv downloaded from it
    headline: str = ""  # the sentence above their own charts (not the gallery's)

    def expected(self) -> tuple[str, int]:
        """The family and first seed this visitor's link asks for (a link without settings opens
        the default scenario, the first; otherwise the family not named is the first one)."""
        if not self.query:
            return SCENARIOS[0].family, 0
        title = self.query.get("family")
        family = next((f.name for f in FAMILIES.values() if f.title == title), next(iter(FAMILIES)))
        return family, int(self.query.get("train.seed", 0))

    def shown(self) -> tuple[str, int] | None:
        """The family and first seed of the result on their page (None without a result)."""
        return None if self.settings is None else (self.settings["family"], self.settings["seeds"][0])

    def hear(self) -> None:
        """Record every new message on the page (alerts, progress lines, captions)."""
        for text in self.page.locator(ALERTS).all_inner_texts():
            line = " ".join(text.split())[:110]
            kind = re.sub(r"\d+", "#", line)  # a live wait or place is one message, not many
            if line and kind not in self.kinds and not line.startswith("What to look for"):
                self.kinds.add(kind)
                self.told.append(line)


def _open(browser, base: str, visitor: Visitor) -> None:
    visitor.page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
    start = time.perf_counter()
    visitor.page.goto(f"{base}/?{urllib.parse.urlencode(visitor.query)}")
    visitor.page.wait_for_selector(IDLE, timeout=120_000)
    visitor.page.get_by_role("button", name=TRAIN).wait_for(timeout=60_000)
    visitor.usable_s = time.perf_counter() - start
    visitor.hear()


def _press(visitor: Visitor) -> None:
    button = visitor.page.get_by_role("button", name=TRAIN)
    visitor.pressed_at = time.perf_counter()
    if button.is_enabled():
        button.click()
    else:
        visitor.told.append("(Train disabled)")


def _done(visitor: Visitor) -> bool:
    if visitor.closed or visitor.result_s is not None:
        return True
    visitor.hear()
    if visitor.page.get_by_text(CSV).count():
        visitor.result_s = time.perf_counter() - visitor.pressed_at
        _read_result(visitor)
        return True
    return "(Train disabled)" in visitor.told


def _download_once(page, label: str) -> str:
    with page.expect_download() as info:
        page.get_by_text(label).click()
    return Path(info.value.path()).read_text()


def _download(page, label: str, tries: int = 3) -> str:
    """The text of a download button's file, tried again once the page is idle: under load, the
    rerun that a click starts can cancel the download."""
    from playwright.sync_api import Error
    for _ in range(tries - 1):
        try:
            return _download_once(page, label)
        except Error:
            page.wait_for_selector(IDLE, timeout=120_000)
    return _download_once(page, label)


def _read_result(visitor: Visitor) -> None:
    """What the visitor's own result holds: its settings and numbers, as they would download them,
    and its headline sentence (outside the gallery's expander)."""
    visitor.page.wait_for_selector(IDLE, timeout=120_000)
    visitor.settings = json.loads(_download(visitor.page, SETTINGS))
    visitor.numbers = _download(visitor.page, CSV)
    lines = visitor.page.evaluate(HEADLINES)
    visitor.headline = lines[-1] if lines else ""


def _leaks(visitors: list[Visitor], texts: dict[str, str], links: dict[str, dict]) -> list[str]:
    """Pages that show another visitor's settings or numbers.

    A result must be of the visitor's own family and seed; its numbers (results.csv) must differ
    from those of every visitor with other settings; no page's text may hold another visitor's
    headline sentence; no page's link may carry another visitor's settings."""
    found = []
    for v in visitors:
        if v.closed:
            continue
        if v.shown() is not None and v.shown() != v.expected():
            whose = [o.name for o in visitors if o is not v and o.expected() == v.shown()]
            found.append(f"{v.name} shows the settings {v.shown()} of {' or '.join(whose) or 'nobody'}")
        for other in visitors:
            if other is v or other.closed or other.expected() == v.expected():
                continue
            if other.numbers and other.numbers == v.numbers:
                found.append(f"{v.name} shows {other.name}'s numbers")
            if other.headline and other.headline != v.headline and other.headline in texts[v.name]:
                found.append(f"{v.name} shows {other.name}'s headline")
            mine = {k: links[v.name].get(k) for k in other.query}
            if other.query and mine == other.query:
                found.append(f"{v.name}'s link carries {other.name}'s settings")
    return found


def run(timeout_s: float) -> None:
    """The scenario of the module docstring; prints a table."""
    from playwright.sync_api import sync_playwright
    os.environ["META_LAB_HOSTED"] = "1"  # the server inherits it
    hostile = Visitor("hostile link", HOSTILE)
    leaver = Visitor("closes tab", {"train.seed": "9"})
    ordinary = [Visitor(f"ordinary {i + 1}", q) for i, q in enumerate(ORDINARY)]
    everyone = [hostile, leaver, *ordinary]
    with serve_app() as (base, server), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for v in everyone:  # every page loaded first, so Train presses fall within seconds
            _open(browser, base, v)
        t0 = time.perf_counter()
        _press(hostile)
        _press(leaver)
        time.sleep(max(0.0, 2 - (time.perf_counter() - t0)))
        leaver.hear()
        leaver.page.context.close()
        leaver.closed = True
        time.sleep(max(0.0, 3 - (time.perf_counter() - t0)))
        for v in ordinary:
            _press(v)
        end = time.monotonic() + timeout_s
        while not all(_done(v) for v in everyone) and time.monotonic() < end:
            time.sleep(0.5)
        present = [v for v in everyone if not v.closed]
        texts = {v.name: v.page.locator("body").inner_text() for v in present}
        links = {v.name: dict(urllib.parse.parse_qsl(urllib.parse.urlparse(v.page.url).query))
                 for v in present}
        leaks = _leaks(everyone, texts, links)
        rss = peak_rss_mb(server.pid)
        browser.close()
    print("| visitor | usable page (s) | Train → result (s) | what the page said |")
    print("|---|---|---|---|")
    for v in everyone:
        result = "closed" if v.closed else "—" if v.result_s is None else f"{v.result_s:.1f}"
        said = " / ".join(v.told).replace("|", "/")
        print(f"| {v.name} | {v.usable_s:.1f} | {result} | {said} |")
    print(f"\nserver peak RSS: {rss:.0f} MB")
    print("cross-visitor leaks:", "; ".join(leaks) if leaks else "none")


def main() -> None:
    """Parse the options and run the scenario once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for results")
    run(parser.parse_args().timeout)


if __name__ == "__main__":
    main()
