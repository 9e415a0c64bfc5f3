"""The server's one-time work, off the first visitor's path: a thread started once per process.

Streamlit imports this module on the first script run (app.py imports it) and never again, so
the thread starts once; the first visitor's page goes on while it works, and later visitors find
the budget calibrated and the default scenario's gallery run read.
"""
from __future__ import annotations

import threading

from core import budget
from core.scenarios.catalogue import SCENARIOS
from dashboard.runs_store import gallery_run


def _warm() -> None:
    budget.rates()  # the estimator's calibration on this server's CPU (lru_cache)
    gallery_run(SCENARIOS[0].key)  # the landing page's gallery run (st.cache_resource)


threading.Thread(target=_warm, name="meta-lab-warmup", daemon=True).start()
