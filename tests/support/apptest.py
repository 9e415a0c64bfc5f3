"""Driving the app with Streamlit's AppTest: open it, set a tiny budget, train, read its charts."""
from __future__ import annotations

import base64
import time
from pathlib import Path

import numpy as np
import plotly.io
from streamlit.testing.v1 import AppTest

from core.engine.events import MethodResult
from core.engine.training import compare
from core.scenarios.catalogue import interactive_spec

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ["dashboard/pages/inspect.py", "dashboard/pages/training.py",
         "dashboard/pages/about.py", "dashboard/pages/parameter_space.py"]
# A budget small enough for a test: the numbers are meaningless, the plumbing is not.
TINY_TEST_TASKS = 30
TINY = {"iterations": 10, "test_tasks": TINY_TEST_TASKS, "val_tasks": 10, "checkpoints": 2,
        "test_steps": 3}
TINY_RUN = {"iterations": 5, "test_tasks": 12, "val_tasks": 4, "checkpoints": 1}


def open_app() -> AppTest:
    """The landing page, run once, without an exception."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def open_page(page: str, lang: str = "en") -> AppTest:
    """`page` of the app in language `lang`, reached from the landing page, without an exception."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tiny(at: AppTest, family: str = "sinusoid", methods=("maml", "pretrain")) -> AppTest:
    """Pick a family and methods and set the sidebar to the TINY budget."""
    at.selectbox(key="family").set_value(family).run()
    at.pills(key="methods").set_value(list(methods)).run()
    for key, value in TINY.items():
        at.number_input(key=f"train.{key}").set_value(value).run()
    return at


def train(at: AppTest, timeout: float = 120) -> AppTest:
    """Press Train, then rerun like the page's poll does until the server's job has ended."""
    next(b for b in at.button if b.label == "Train").click().run()
    end = time.monotonic() + timeout
    while any(b.label in ("Stop", "Leave the queue") for b in at.button):
        assert time.monotonic() < end, "the run did not end"
        time.sleep(0.3)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def values(data) -> list:
    """Plotly's JSON stores numeric arrays as base64 typed arrays; decode them."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def figures(at: AppTest) -> list:
    """The page's plotly figures, in page order."""
    return [plotly.io.from_json(chart.proto.spec) for chart in at.get("plotly_chart")]


def tiny_run(inner_steps: int, family: str = "sinusoid"):
    """A finished 3-seed MAML vs pre-training comparison at a tiny budget: (spec, results)."""
    spec = interactive_spec(family, {}, ("maml", "pretrain"), {**TINY_RUN, "inner_steps": inner_steps}, 3)
    results = [e for e in compare(spec.make_family(), spec.methods, spec.config, spec.seeds)
               if isinstance(e, MethodResult)]
    return spec, results
