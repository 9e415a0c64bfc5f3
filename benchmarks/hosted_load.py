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
import os
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.dashboard_timing import BROWSER_ARGS, CHROMIUM, IDLE, TRAIN, peak_rss_mb, serve_app  # noqa: E402
from core.families import FAMILIES  # noqa: E402

HOSTILE = {"train.iterations": "10000000", "train.hidden": "4096,4096,4096",
           "train.meta_batch_size": "100000", "train.test_tasks": "1000000"}
ORDINARY = [{}, {"train.seed": "1"}, {"family": FAMILIES["trend"].title},
            {"family": FAMILIES["clusters"].title, "train.seed": "2"}]
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
    headline: str = ""
    closed: bool = False

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
    if visitor.page.get_by_text("Download results (CSV)").count():
        visitor.result_s = time.perf_counter() - visitor.pressed_at
        visitor.headline = visitor.page.locator('[data-testid="stMarkdown"]').nth(1).inner_text()
        return True
    return "(Train disabled)" in visitor.told


def _leaks(visitors: list[Visitor]) -> list[str]:
    """Pages that show another visitor's headline numbers or carry another visitor's settings."""
    found = []
    for v in visitors:
        if v.closed:
            continue
        text = v.page.locator("body").inner_text()
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(v.page.url).query))
        for other in visitors:
            if other is v or other.closed:
                continue
            if other.headline and other.headline != v.headline and other.headline in text:
                found.append(f"{v.name} shows {other.name}'s numbers")
            mine = {k: query.get(k) for k in other.query}
            if other.query and other.query != v.query and mine == other.query:
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
        leaks = _leaks(everyone)
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
