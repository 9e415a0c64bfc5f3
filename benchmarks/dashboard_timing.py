"""Time the dashboard in a real browser: Train → first chart, Train → full result, peak RSS.

    python benchmarks/dashboard_timing.py --runs 3

Starts `streamlit run app.py` on 127.0.0.1, drives Debian's chromium with playwright, presses
Train with the default settings in a fresh server each run, and reads the server's CPU seconds
during the run and its peak resident memory (VmHWM in /proc) after it. The test suite reuses
`serve_app` and `open_page`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TRAIN = re.compile(r"^Train( it yourself)?$")  # the label when a scenario has a gallery run


def require_browser() -> None:
    """For browser test modules: skip them where chromium is missing, unless CI requires it."""
    import os

    import pytest
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            raise RuntimeError(f"REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)",
                    allow_module_level=True)
    pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(theme: str | None = None, script: str = "app.py"
              ) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Streamlit server for `script` (the lab's app.py) on a free local port: yields (url,
    process)."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]  # edits to the tree during a run change nothing
    if theme:
        cmd.append(f"--theme.base={theme}")
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the Streamlit server did not come up") from None
                time.sleep(0.2)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def open_page(url: str, width: int = 1280, height: int = 800):
    """A chromium page on `url`, loaded and idle."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            wait_idle(page)
            yield page
        finally:
            browser.close()


def wait_idle(page, timeout_s: float = 60) -> None:
    """Wait until the script has finished its run and the page has settled."""
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000)
    page.wait_for_timeout(300)


def press_train(page, timeout_s: float = 180) -> tuple[float, float]:
    """Click Train; seconds until the first chart is drawn and until the full result is shown."""
    charts = page.locator(".main-svg").count()  # a scenario's gallery charts are there already
    start = time.perf_counter()
    page.get_by_role("button", name=TRAIN).click()
    page.wait_for_function(f"document.querySelectorAll('.main-svg').length > {charts}",
                           timeout=timeout_s * 1000)
    first = time.perf_counter() - start
    page.get_by_text("Download results (CSV)").wait_for(timeout=timeout_s * 1000)
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000)
    return first, time.perf_counter() - start


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure() -> dict[str, float]:
    """One default comparison in a fresh server. The server's CPU seconds from Train to the
    full result tell the computation and Streamlit apart from waiting for a shared core."""
    with serve_app() as (url, server), open_page(url) as page:
        before = cpu_seconds(server.pid)
        first, full = press_train(page)
        server_cpu = cpu_seconds(server.pid) - before
        page.wait_for_selector(".main-svg >> visible=true")
        return {"first_chart_s": first, "full_result_s": full, "server_cpu_s": server_cpu,
                "peak_rss_mb": peak_rss_mb(server.pid)}


def main() -> None:
    """Measure a few runs and print each and the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [measure() for _ in range(args.runs)]
    for run in runs:
        print(json.dumps({k: round(v, 2) for k, v in run.items()}))
    median = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
    print("median", json.dumps(median))


if __name__ == "__main__":
    main()
