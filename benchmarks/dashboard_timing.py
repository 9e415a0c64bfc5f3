"""Time the dashboard in a real browser: Train → first chart, Train → full result, peak RSS.

    python benchmarks/dashboard_timing.py --runs 3

Starts `streamlit run app.py` on 127.0.0.1, drives Debian's chromium with playwright, presses
Train with the default settings in a fresh server each run, and reads the server's CPU seconds
during the run and its peak resident memory (VmHWM in /proc) after it. The browser helpers
live in tests/support/browser.py.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

# The server and browser helpers live with the tests; hosted_load takes them from here too.
from tests.support.browser import (  # noqa: E402, F401
    BROWSER_ARGS, CHROMIUM, IDLE, TRAIN, open_page, press_train, serve_app)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds a process (or "PID/task/TID": a thread) has used so far."""
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


def print_runs(runs: list[dict[str, float]], note: str = "") -> None:
    """Each run's measurements, then their medians (and `note`)."""
    for run in runs:
        print(json.dumps({k: round(v, 2) for k, v in run.items()}))
    median = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
    print("median", json.dumps(median), note)


def main() -> None:
    """Measure a few runs and print each and the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_runs([measure() for _ in range(args.runs)])


if __name__ == "__main__":
    main()
