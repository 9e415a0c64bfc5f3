"""AppTest of the Parameter space page: every preset renders its figures, links restore a view."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import core.param_space as ps

PAGE = str(Path(__file__).parents[1] / "dashboard" / "pages" / "parameter_space.py")


def run_page(**query) -> AppTest:
    """The page after its first run, opened with `query` as the link's parameters."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def chart_specs(at: AppTest) -> dict[str, dict]:
    """Plotly figures by chart key (the end of the element id), parsed from the protobufs."""
    return {c.proto.id.split("-", 2)[2]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def trace_names(spec: dict) -> set[str]:
    """Names of a figure's traces."""
    return {t.get("name") for t in spec["data"]}


@pytest.fixture(scope="module")
def page() -> AppTest:
    """One page session, reused while switching presets (faster than a fresh one each)."""
    return run_page()


@pytest.mark.parametrize("name", list(ps.PRESETS))
def test_each_preset_renders_its_figures(page, name):
    page.selectbox(key="ps_preset").set_value(name).run()
    assert not page.exception
    preset = ps.PRESETS[name]
    assert page.session_state["ps_dim"] == preset.landscape.dim
    assert page.slider(key="ps_alpha").value == preset.inner_lr
    specs = chart_specs(page)
    names = trace_names(specs["ps_chart"])
    assert {"Pre-training optimum", "MAML optimum", "Reptile optimum", "your φ"} <= names
    assert {f"Task {n + 1}" for n in range(len(preset.landscape.tasks))} <= names
    if preset.landscape.dim == 2:
        assert any(t["type"] == "contour" for t in specs["ps_chart"]["data"])
    else:
        assert "Sum over tasks" in names
    labels = " ".join(trace_names(specs["ps_directions"]))
    for method in ("Pre-training", "First-order MAML", "MAML", "Reptile"):
        assert method in labels
    assert page.info[0].value == preset.explanation
    assert "MAML" in page.markdown[1].value  # the generated sentences
    table = page.dataframe[0].value
    assert list(table["point"]) == ["Pre-training optimum", "MAML optimum", "Reptile optimum",
                                    "your φ"]


def test_animation_has_frames_and_a_play_button():
    at = run_page(preset="Two wells far apart", animate="1", meta_steps="20")
    assert not at.exception
    spec = chart_specs(at)["ps_meta"]
    assert len(spec["frames"]) > 5
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"


def test_a_link_reproduces_the_view_and_changes_are_flagged():
    at = run_page(preset="Quadratics with different curvatures", alpha="0.6", phi_x="-1.25",
                  t2="quadratic,2,2,1,1,1")
    assert not at.exception
    assert at.slider(key="ps_alpha").value == 0.6
    assert at.slider(key="ps_phi_x").value == -1.25
    assert at.session_state["ps_cx_1"] == 2.0
    assert any("diverges" in w.value for w in at.warning)  # α·h = 2.4 > 2 for the sharp task
    assert any("changed the preset" in c.value for c in at.caption)
    assert at.query_params["alpha"] == "0.6" and at.query_params["t2"] == "quadratic,2,2,1,1,1"


def test_a_malformed_link_is_reported_not_raised():
    at = run_page(alpha="fast", t1="banana", reptile_steps="99", t2="well,1,1,0,1,1")
    assert not at.exception
    assert any("Ignored malformed link settings: alpha, t1" in w.value for w in at.warning)
    assert at.slider(key="ps_reptile_steps").value == 10  # clamped to the slider's range
    assert at.session_state["ps_hx_1"] == 0.1


def test_figures_are_pure_functions_of_frames():
    import numpy as np

    from dashboard.figures import param_space as figs

    xs = np.linspace(-1, 1, 5)[:, None]
    curves = figs.curves_frame(xs, np.stack([xs[:, 0] ** 2, (xs[:, 0] - 1) ** 2], -1))
    assert set(curves["curve"]) == {"Task 1", "Task 2", figs.SUM_NAME}
    d = figs.directions_frame({"pretrain": [0.5], "fomaml": [0.0], "maml": [-0.2],
                               "reptile": [0.1]})
    fig = figs.directions_figure(d, (0.0,))
    assert len(fig.layout.annotations) == 3  # no arrow for a zero direction
    paths = figs.meta_paths_frame({"maml": np.zeros((61, 1))}, {"maml": np.zeros(61)})
    meta = figs.meta_training_figure(curves, paths, frames=26)
    assert len(meta.frames) == 26 and meta.frames[-1].name == "60"
