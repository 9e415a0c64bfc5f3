"""AppTest of the Sweeps page: the shipped sweeps, their boundary sentence, uploads good and bad."""
from __future__ import annotations

import json
from pathlib import Path

import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "dashboard/pages/sweep.py"
CLUSTERS = ROOT / "gallery/sweeps/clusters-shift-shots.json"


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _figures(at: AppTest) -> list:
    return [plotly.io.from_json(chart.proto.spec) for chart in at.get("plotly_chart")]


def _heatmap_texts(fig) -> list[str]:
    return [t for trace in fig.data if trace.type == "heatmap" for row in trace.text for t in row]


def test_the_shipped_clusters_sweep_shows_the_boundary_and_its_ties():
    at = _page()
    figures = _figures(at)
    assert len(figures) == 2  # scores against shift, per shots; the heatmaps of MAML's lead
    sentences = " ".join(m.value for m in at.markdown)
    assert "MAML beats Pre-training in accuracy after 1 step" in sentences
    texts = _heatmap_texts(figures[1])
    assert any(t.startswith("tie") for t in texts) and any(t.startswith("+0.1") for t in texts)
    assert "--vary shift=0.5,1,2,3" in at.caption[0].value


def test_the_metric_and_step_choices_redraw_the_figures():
    at = _page()
    at.selectbox(key="sweep.metric").set_value("loss").run()
    at.selectbox(key="sweep.after").set_value(5).run()
    assert not at.exception
    fig = _figures(at)[0]
    assert "loss" in fig.layout.yaxis.title.text
    assert any("after 5 steps" in (trace.name or "") for trace in fig.data)


def test_the_shipped_trend_sweep_is_one_dimensional():
    at = _page()
    at.radio(key="sweep.source").set_value("Trend: slope range").run()
    assert not at.exception
    figures = _figures(at)
    assert len(figures) == 1 and figures[0].layout.xaxis.title.text == "slope"


def test_an_uploaded_sweep_file_is_drawn():
    at = _page()
    at.radio(key="sweep.source").set_value("A file of my own").run()
    assert not _figures(at)
    doc = json.loads(CLUSTERS.read_text())
    doc["rows"] = [r for r in doc["rows"] if r["shots"] == 5]  # still a 2-D sweep
    at.file_uploader(key="sweep.upload").set_value(
        ("mine.json", json.dumps(doc).encode(), "application/json")).run()
    assert not at.exception and len(_figures(at)) == 2


@pytest.mark.parametrize("data, words", [(b"not json", "not JSON"),
                                         (b'{"sweep": {}, "rows": []}', "varied settings")])
def test_a_bad_upload_is_answered_in_one_sentence(data, words):
    at = _page()
    at.radio(key="sweep.source").set_value("A file of my own").run()
    at.file_uploader(key="sweep.upload").set_value(("bad.json", data, "application/json")).run()
    assert not at.exception
    assert len(at.error) == 1 and words in at.error[0].value and not _figures(at)
