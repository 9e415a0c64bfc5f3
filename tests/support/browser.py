"""A real Streamlit server for app.py and Debian's Chromium driven by playwright: for the
browser tests and the benchmarks that time or load the dashboard."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"  # screenshots of the browser tests
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TRAIN = re.compile(r"^Train( it yourself)?$")  # the label when a scenario has a gallery run


def require_browser() -> None:
    """For browser test modules: skip them where chromium is missing, unless CI requires it."""
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
def serve_app(theme: str | None = None, shipped_config: bool = False,
              script: str = "app.py") -> Iterator[tuple[str, subprocess.Popen]]:
    """A Streamlit server for `script` (the lab's app.py) on a free local port: yields (url,
    process). `shipped_config`: only the port and address on the command line, as a user runs
    it, so .streamlit/config.toml alone decides the rest."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script,
           "--server.address", "127.0.0.1", "--server.port", str(port)]
    if not shipped_config:
        cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false",
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


def no_exception(page, where: str) -> None:
    """Assert the page shows no Streamlit exception."""
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception on {where}"
