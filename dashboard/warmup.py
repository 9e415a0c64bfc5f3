"""The server's one-time work, off the first visitor's path: a thread started once per process.

app.py imports this module once per process: as the server starts (`streamlit run app.py` serves
it through st.App, which imports app.py first), or else on the first script run, whose page then
goes on while the thread works. Visitors find the budget calibrated, the default scenario's
gallery run read and its charts built in both languages (the same for every visitor: the
server's own file).

Then the warm-up freezes the garbage collector's view of what is there: Streamlit runs a full
collection after every script run (runner.postScriptGC), and with torch, pandas and plotly
loaded that walked ~370,000 long-lived objects each time, two thirds of a landing's server CPU
(benchmarks/class_load.py, py-spy). Frozen objects are still freed by reference counting; only
cycles among them are left to live as long as the server, as modules and caches do anyway.
"""
from __future__ import annotations

import gc
import threading

from core.budget.calibration import rates
from core.scenarios.catalogue import SCENARIOS
from dashboard.compare_charts import default_view, gallery_parts
from dashboard.runs_store import gallery_run
from report.i18n import LANGUAGES


def _warm() -> None:
    rates()  # the estimator's calibration on this server's CPU (lru_cache)
    landing = SCENARIOS[0]
    if gallery_run(landing.key) is not None:  # the landing page's gallery run and charts
        metric, k = default_view(landing.spec())
        for lang in LANGUAGES:
            gallery_parts(landing.key, metric, k, lang)
    gc.collect()
    gc.freeze()


_THREAD = threading.Thread(target=_warm, name="meta-lab-warmup", daemon=True)
_THREAD.start()


def wait() -> None:
    """Until the one-time work is done (the server at start-up: its health check answers then)."""
    _THREAD.join()
