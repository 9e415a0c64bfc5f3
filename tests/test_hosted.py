"""Hosted mode (AppTest): link values clamped with a message, no path settings, budgets, Stop."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.families import FAMILIES

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _open(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> list[str]:
    return [e.value for kind in ("warning", "error", "info", "caption") for e in at.get(kind)]


@pytest.fixture
def hosted(monkeypatch):
    monkeypatch.setenv("META_LAB_HOSTED", "1")


def test_a_link_over_the_hosted_limits_is_clamped_and_says_so(hosted):
    at = _open({"train.iterations": "10000000", "train.hidden": "4096,4096,4096"})
    assert at.number_input(key="train.iterations").value == 5000
    assert at.text_input(key="train.hidden").value == "256,256,256"
    notes = " ".join(w.value for w in at.sidebar.warning)
    assert "this server allows at most 5000, so iterations = 5000 is used" in notes
    assert "so hidden = 256,256,256 is used" in notes


def test_a_chinese_link_is_told_in_chinese(hosted):
    at = _open({"lang": "zh", "train.iterations": "10000000"})
    notes = " ".join(w.value for w in at.sidebar.warning)
    assert "链接要求 iterations = 10000000；本服务器最多允许 5000，因此使用 iterations = 5000。" in notes


def test_hosted_widgets_stop_at_the_limits(hosted):
    at = _open({})
    assert at.number_input(key="train.iterations").max == 5000
    assert at.number_input(key="train.seeds").max == 3


def test_hosted_server_takes_no_path_from_a_link(hosted):
    at = _open({"family": FAMILIES["omniglot"].title, "omniglot.data_dir": "/proc"})
    assert "omniglot.data_dir" not in [t.key for t in at.text_input]
    assert "omniglot.data_dir" not in at.query_params
    texts = _texts(at)
    assert any("reads data only from its own cache" in t for t in texts)
    assert not any("/proc" in t for t in texts)


def test_hosted_server_never_downloads_for_a_visitor(hosted, monkeypatch, tmp_path):
    """An empty data cache: choosing Omniglot (even with a link's download=true) starts no
    download while the page renders, and says in the visitor's terms where results are."""
    import core.data.omniglot as omniglot

    monkeypatch.setenv("META_LAB_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(omniglot, "download_omniglot", lambda *args, **kw: calls.append(args))
    at = _open({"family": FAMILIES["omniglot"].title, "omniglot.download": "true"})
    assert calls == [] and not list(tmp_path.iterdir())
    assert "omniglot.download" not in [c.key for c in [*at.checkbox, *at.toggle]]
    assert "omniglot.download" not in at.query_params
    texts = _texts(at)
    assert any("the link's download is ignored" in t for t in texts)
    refusal = next(t for t in texts if "no copy of the" in t)
    assert "gallery" in refusal and "META_LAB_CACHE" not in refusal and str(tmp_path) not in refusal


def test_locally_the_path_setting_stays_a_widget(monkeypatch):
    monkeypatch.delenv("META_LAB_HOSTED", raising=False)
    at = _open({"family": FAMILIES["omniglot"].title})
    assert "omniglot.data_dir" in [t.key for t in at.text_input]


def test_a_run_over_budget_is_refused_before_it_starts(hosted):
    at = _open({"train.iterations": "5000", "train.hidden": "256,256", "train.test_tasks": "2000"})
    refusal = next(e.value for e in at.error if "CPU-seconds" in e.value)
    # Which settings alone can bring it within budget depends on this CPU's calibration.
    assert "lower" in refusal and refusal.count(". ") == 0
    assert next(b for b in at.button if b.label == "Train").disabled


def test_the_estimate_is_shown_before_train(hosted):
    at = _open({})
    assert any("on this server's CPU" in i.value for i in at.info)


def test_stop_ends_the_run_and_keeps_the_finished_method(monkeypatch):
    monkeypatch.delenv("META_LAB_HOSTED", raising=False)
    # Long enough that MAML is still training when Stop is pressed (about a minute), short
    # enough that its first progress report (every 1 % of the iterations) comes within a second.
    at = _open({"train.iterations": "20000", "train.test_tasks": "50", "train.checkpoints": "0"})
    at.pills(key="methods").set_value(["scratch", "maml"]).run()
    next(b for b in at.button if b.label == "Train").click().run()
    end = time.monotonic() + 60
    while not any("MAML: seed" in p.proto.text for p in at.get("progress")):
        assert time.monotonic() < end
        time.sleep(0.3)
        at.run()
    assert next(b for b in at.button if b.label == "Train").disabled  # while the run goes
    next(b for b in at.button if b.label == "Stop").click().run()
    end = time.monotonic() + 5
    while any(b.label == "Stop" for b in at.button):
        assert time.monotonic() < end
        time.sleep(0.2)
        at.run()
    assert any(w.value.startswith("Stopped.") for w in at.warning)
    assert any(b.label == "Train again" for b in at.button)
    assert at.get("plotly_chart")  # scratch's finished result is drawn
