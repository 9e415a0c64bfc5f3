"""CPU-seconds of one Parameter space page run opened by a link, on an own server and on a shared
one (META_LAB_HOSTED=1, which refuses work over its bound), side by side in one process.

Each row is a fresh page session (AppTest) with the page's caches emptied, after one warm-up run that pays the imports and the budget's calibration. The
hostile link is the worst the page's widgets allow: 5 wells in 2-D, 5 inner steps, α = 3,
10 Reptile steps, the 200-iteration animation at β = 1.

Run: nice -n 10 python benchmarks/page_bounds.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

PAGE = str(ROOT / "dashboard" / "pages" / "parameter_space.py")
LINKS = {
    "default preset": {},
    "costliest preset, animated": {"landscape": "Four wells, three answers (2-D)",
                                   "animate": "true"},
    "hostile link": {"dim": "2", "tasks": "5", "inner_steps": "5", "inner_lr": "3",
                     "reptile_inner_steps": "10", "animate": "true", "iterations": "200",
                     "meta_lr": "1"},
}


def page_cpu(query: dict, hosted: bool) -> tuple[float, str]:
    """CPU-seconds of one fresh page run with `query`, and its refusal sentence if any."""
    os.environ["META_LAB_HOSTED"] = "1" if hosted else ""
    at = AppTest.from_file(PAGE, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    st.cache_data.clear()  # the page's caches are the process's: each row computes afresh
    start = time.process_time()
    at.run()
    seconds = time.process_time() - start
    refusal = next((w.value for w in at.warning if "CPU-seconds" in w.value), "")
    return seconds, refusal


def main() -> None:
    import torch
    torch.set_num_threads(1)
    page_cpu({}, hosted=False)  # warm-up: imports and the calibration
    print(f"{'link':28s} {'own server s':>12s} {'shared server s':>15s}  refusal")
    for name, query in LINKS.items():
        own, _ = page_cpu(query, hosted=False)
        shared, refusal = page_cpu(query, hosted=True)
        print(f"{name:28s} {own:12.2f} {shared:15.2f}  {refusal}", flush=True)


if __name__ == "__main__":
    main()
