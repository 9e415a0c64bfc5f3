"""AppTest of the Parameter space page: every preset renders its figures, links restore a view."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.param_space_presets import LANDSCAPES

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


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_each_preset_renders_its_figures(page, name):
    page.selectbox(key="landscape").set_value(name).run()
    assert not page.exception
    preset = LANDSCAPES[name]
    assert page.session_state["dim"] == preset.landscape.dim
    assert page.slider(key="inner_lr").value == preset.inner_lr
    assert page.slider(key="reptile_inner_steps").value == preset.reptile_inner_steps
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
                                    "Meta-SGD (learned α) optimum", "your φ"]
    shared = f"{preset.inner_lr:.2f}"
    assert set(table["α"].drop(index=3)) == {shared if preset.landscape.dim == 1
                                             else f"({shared}, {shared})"}
    learned = table["α"][3]  # Meta-SGD's own α, also in its figure's title and its sentence
    assert learned in specs["ps_steps_metasgd"]["layout"]["title"]["text"].replace("<br>", " ")
    assert any(f"Meta-SGD learns α = {learned}" in m.value for m in page.markdown)
    assert "MAML optimum" in trace_names(specs["ps_steps_maml"])


def test_animation_has_frames_and_a_play_button():
    at = run_page(landscape="Two wells far apart", animate="true", iterations="20")
    assert not at.exception
    assert at.slider(key="iterations").value == 20
    spec = chart_specs(at)["ps_meta"]
    assert len(spec["frames"]) > 5
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"


def test_a_method_whose_meta_training_blows_up_is_named_and_the_others_still_move():
    at = run_page(landscape="Steep across, flat along: a step size per parameter (2-D)",
                  animate="true", meta_lr="0.3", iterations="40")
    assert not at.exception
    assert any("blows up with these step sizes for Meta-SGD" in w.value for w in at.warning)
    names = trace_names(chart_specs(at)["ps_meta"])
    assert {"Pre-training", "MAML", "Reptile"} <= names and "Meta-SGD (learned α)" not in names
    calm = run_page(landscape="Two wells far apart", animate="true", iterations="20")
    assert "Meta-SGD (learned α)" in trace_names(chart_specs(calm)["ps_meta"])
    assert any("Meta-SGD's α after 20 meta-iterations" in c.value for c in calm.caption)


def test_a_link_reproduces_the_view_and_changes_are_flagged():
    at = run_page(landscape="Quadratics with different curvatures", inner_lr="0.6",
                  phi1="-1.25", **{"task2.shape": "quadratic", "task2.c1": "2"})
    assert not at.exception
    assert at.selectbox(key="landscape").value == "Quadratics with different curvatures"
    assert at.slider(key="inner_lr").value == 0.6
    assert at.slider(key="phi1").value == -1.25
    assert at.slider(key="task2.c1").value == 2.0
    assert at.slider(key="task1.h1").value == 4.0  # the rest comes from the preset
    assert any("diverges" in w.value for w in at.warning)  # α·h = 2.4 > 2 for the sharp task
    assert any("changed the preset" in c.value for c in at.caption)
    assert at.query_params["inner_lr"] == "0.6" and at.query_params["task2.c1"] == "2"
    assert "task2.shape" not in at.query_params  # equal to the preset's: the link sheds it


def test_a_link_with_the_preset_alone_shows_its_note():
    name = "Four wells, three answers (2-D)"
    at = run_page(landscape=name)
    assert not at.exception
    assert at.session_state["dim"] == 2 and at.session_state["tasks"] == 4
    assert at.info[0].value == LANDSCAPES[name].explanation


HOSTILE = {"landscape": "x" * 100_000, "dim": "inf", "inner_lr": "nan", "tasks": "1e400",
           "task1.h1": "-3", "phi1": "99", "iterations": "inf", "animate": "true"}


def test_hostile_link_values_are_ignored_in_one_short_sentence():
    at = run_page(**HOSTILE, reptile_inner_steps="7")
    assert not at.exception
    first = next(iter(LANDSCAPES))
    assert at.selectbox(key="landscape").value == first
    assert at.session_state["dim"] == 1 and at.session_state["tasks"] == 2
    assert at.slider(key="inner_lr").value == LANDSCAPES[first].inner_lr
    assert at.slider(key="iterations").value == 80
    assert at.slider(key="reptile_inner_steps").value == 7  # a valid value beside them is kept
    notes = [w.value for w in at.warning if "Ignored link settings" in w.value]
    assert len(notes) == 1 and len(notes[0]) < 300 and notes[0].count(".") <= 2
    assert f"landscape = “{'x' * 12}…”" in notes[0] and "x" * 13 not in notes[0]
    assert "dim = “inf”" in notes[0] and "and 4 more" in notes[0]
    assert "landscape" not in at.query_params and "inner_lr" not in at.query_params


@pytest.mark.parametrize("query", [{"dim": "3"}, {"inner_lr": "-inf"}, {"task3.shape": "banana"},
                                   {"tasks": "2.5"}, {"task1.depth": "1e9"}, {"inner_steps": ""},
                                   {"animate": "TRUE"}, {"animate": "1"}])
def test_each_hostile_value_is_reported_or_harmless(query):
    at = run_page(**query, tasks="3") if "tasks" not in query else run_page(**query)
    assert not at.exception
    key, value = next(iter(query.items()))
    reported = any(f"{key} = “{value}”" in w.value for w in at.warning)
    assert reported != (value in ("2.5", "TRUE"))  # in range, or a toggle's spelling: taken
    assert at.session_state["tasks"] in (2, 3)


def test_figures_are_pure_functions_of_frames():
    import numpy as np

    from report.figures import param_space as figs

    xs = np.linspace(-1, 1, 5)[:, None]
    curves = figs.curves_frame(xs, np.stack([xs[:, 0] ** 2, (xs[:, 0] - 1) ** 2], -1))
    assert set(curves["curve"]) == {"Task 1", "Task 2", figs.SUM_NAME}
    d = figs.directions_frame({"pretrain": [0.5], "fomaml": [0.0], "maml": [-0.2],
                               "reptile": [0.1]})
    fig = figs.directions_figure(d, (0.0,))
    assert len(fig.layout.annotations) == 3  # no arrow for a zero direction
    ticks = fig.layout.yaxis.ticktext  # names and sizes beside the arrows, not on them
    assert len(ticks) == 4 and "MAML  |d| = 0.2" in ticks[2]
    paths = figs.meta_paths_frame({"maml": np.zeros((61, 1))}, {"maml": np.zeros(61)})
    meta = figs.meta_training_figure(curves, paths, frames=26)
    assert len(meta.frames) == 26 and meta.frames[-1].name == "60"


def test_close_optima_stay_visible_as_outlines_with_names_at_different_heights():
    import numpy as np

    from report.figures import param_space as figs

    xs = np.linspace(-1, 1, 5)[:, None]
    curves = figs.curves_frame(xs, np.stack([xs[:, 0] ** 2, (xs[:, 0] - 1) ** 2], -1))
    optima = figs.points_frame({"maml": [0.1], "reptile": [0.12], "pretrain": [0.5]},
                               {"maml": 1.0, "reptile": 1.0, "pretrain": 0.9})
    paths = figs.adaptation_frame(np.zeros((2, 2, 1)), np.zeros((2, 2)))
    fig = figs.landscape_figure(curves, optima, paths, (0.0,))
    markers = [t for t in fig.data if t.name and t.name.endswith("optimum")]
    assert all(t.marker.symbol.endswith("-open") for t in markers)
    names = {t.text[0].strip(): t.y[0] for t in fig.data if t.mode == "text"}
    assert names.keys() == {"MAML", "Reptile", "Pre-training"}
    assert len(set(names.values())) == 3
