"""Time to the first chart in a real browser: the lab's landing page beside a minimal page.

    python benchmarks/first_chart.py --visitors 4

For each page (the lab's `app.py`, hosted, and `benchmarks/minimal_page.py`, three plotly
charts) a fresh server is started, and `--visitors` fresh chromium contexts open it one after
the other: the first is the first visitor after the server started, the rest are warm. Each
visitor's time runs from `goto` to the first plotly chart drawn (`.main-svg` visible). The
browser's own timeline says where it went: the HTML's response, DOMContentLoaded, the
websocket's first message from the server (the script's first delta), and the chart.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.class_load import MINIMAL  # noqa: E402
from benchmarks.dashboard_timing import BROWSER_ARGS, CHROMIUM, serve_app  # noqa: E402

# Milliseconds since navigation start, from the browser's performance entries.
TIMELINE = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const js = performance.getEntriesByType("resource").filter(e => e.name.endsWith(".js"));
    return {html: nav.responseEnd, dom: nav.domContentLoadedEventEnd,
            scripts: Math.max(0, ...js.map(e => e.responseEnd)), first_msg: window.__firstMsg || null,
            chart: window.__chart || null};
}"""
# Noted in the page before its own scripts run: the first websocket message, the first chart.
PROBE = """(() => {
    const Native = window.WebSocket;
    window.WebSocket = function (...args) {
        const ws = new Native(...args);
        ws.addEventListener("message", () => { window.__firstMsg ??= performance.now(); });
        return ws;
    };
    window.WebSocket.prototype = Native.prototype;
    Object.assign(window.WebSocket, Native);
    new MutationObserver(() => {
        if (!window.__chart && document.querySelector(".main-svg")) window.__chart = performance.now();
    }).observe(document, {childList: true, subtree: true});
})();"""


def visit(browser, url: str) -> dict[str, float]:
    """One fresh visitor: seconds to the first chart, and the browser's timeline (ms)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    context.add_init_script(PROBE)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".main-svg >> visible=true", timeout=180_000)
    seconds = time.perf_counter() - start
    timeline = page.evaluate(TIMELINE)
    context.close()
    return {"first_chart_s": seconds, **{k: v for k, v in timeline.items() if v is not None}}


def measure(script: str, visitors: int, browser) -> list[dict[str, float]]:
    """A fresh server for `script`, then `visitors` fresh visitors one after the other."""
    with serve_app(script=script) as (url, _):
        return [visit(browser, url) for _ in range(visitors)]


def main() -> None:
    """Both pages, in the same run; a table and the ratios."""
    import os

    from playwright.sync_api import sync_playwright
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=4)
    visitors = parser.parse_args().visitors
    os.environ["META_LAB_HOSTED"] = "1"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        pages = {"minimal": measure(MINIMAL, visitors, browser), "lab": measure("app.py", visitors, browser)}
        browser.close()
    print("| page | visitor | first chart (s) | HTML (ms) | DOMContentLoaded | JS loaded | "
          "first server message | chart drawn |")
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in pages.items():
        for i, r in enumerate(runs):
            cells = [f"{r.get(k, float('nan')):.0f}" for k in ("html", "dom", "scripts", "first_msg", "chart")]
            print(f"| {name} | {'first' if i == 0 else i + 1} | {r['first_chart_s']:.2f} | "
                  + " | ".join(cells) + " |")
    lab, floor = pages["lab"], pages["minimal"]
    print(f"\nfirst visitor after start: lab / minimal {lab[0]['first_chart_s'] / floor[0]['first_chart_s']:.2f}x")
    if visitors > 1:
        warm = [statistics.median(r["first_chart_s"] for r in p[1:]) for p in (lab, floor)]
        print(f"warm visitors (median): lab {warm[0]:.2f} s, minimal {warm[1]:.2f} s, "
              f"{warm[0] / warm[1]:.2f}x")


if __name__ == "__main__":
    main()
