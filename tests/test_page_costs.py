"""What a link can make a page compute outside the training queue: the Parameter space page's
searches and animation and the Inspect page's live adaptation, each counted before it runs and
refused on a shared server above about 2 CPU-seconds (AppTest), the presets always allowed."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import core.param_space.cost as cost
import core.param_space.landscape as ps
from core.engine.algorithms import METHODS, result_names
from core.engine.config import TrainConfig
from core.engine.evaluation import make_learner
from core.engine.families import FAMILIES, make_family
from core.engine.tasks import generator
from dashboard import adaptation
from dashboard.param_space_presets import LANDSCAPES
from tests.support.apptest import train
from tests.support.cpu import least_estimate_and_cpu, process_cpu

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "dashboard" / "pages" / "parameter_space.py")
APP = str(ROOT / "app.py")
# The last closing note's worst link: 5 wells in 2-D, 5 inner steps, α = 3, the 200-iteration
# animation at β = 1 (16 CPU-seconds per page load before this bound).
HOSTILE = {"dim": "2", "tasks": "5", "inner_steps": "5", "inner_lr": "3",
           "reptile_inner_steps": "10", "animate": "true", "iterations": "200", "meta_lr": "1"}


def _wells(tasks: int, dim: int) -> ps.Landscape:
    return ps.Landscape(tuple(ps.TaskLoss(tuple([i - 2.0] + [0.5] * (dim - 1)), (1.0,) * dim)
                              for i in range(tasks)))


def _with_five_tasks(landscape: ps.Landscape) -> ps.Landscape:
    """The preset with plain wells added up to five tasks, as the page's task slider adds them."""
    dim, extra = landscape.dim, 5 - len(landscape.tasks)
    added = tuple(ps.TaskLoss((i - 3.0,) + (0.0,) * (dim - 1), (1.0,) * dim)
                  for i in range(len(landscape.tasks) + 1, len(landscape.tasks) + 1 + extra))
    return ps.Landscape(landscape.tasks + added)


@pytest.mark.parametrize("name", LANDSCAPES)
def test_every_preset_fits_the_limit_with_its_animation_and_with_five_tasks(name):
    preset = LANDSCAPES[name]
    for land in (preset.landscape, _with_five_tasks(preset.landscape)):
        work = cost.page_work(land, preset.config(), test_steps=20, iterations=80)
        assert work.search + work.drawn <= cost.LIMIT_UNITS
    work = cost.page_work(preset.landscape, preset.config(), test_steps=20, iterations=80)
    assert work.search + work.drawn + work.animation <= cost.LIMIT_UNITS


def test_the_hostile_link_is_over_the_limit_and_one_inner_step_brings_it_within():
    land, cfg = _wells(5, 2), TrainConfig(inner_steps=5, reptile_inner_steps=10)

    def units(values: dict) -> float:
        work = cost.page_work(land, cfg.replace(**values), 20, 0)
        return work.search + work.drawn

    settings = {"inner_steps": 5, "reptile_inner_steps": 10}
    assert units(settings) > 2 * cost.LIMIT_UNITS
    assert cost.largest_fitting(units, settings, "inner_steps", 1) == 1
    assert cost.largest_fitting(units, settings, "reptile_inner_steps", 1) is None


@pytest.mark.slow  # measures CPU seconds of real work, as test_budget.py's estimate tests
@pytest.mark.parametrize("dim, tasks, steps, reptile, high", [
    (2, 5, 1, 5, 2.5),  # where the limit binds: quiet runs measured 1.2-1.5x
    # 1-D refinements stop after 3-18 of their 40 iterations: 3-4x, more when loaded
    (1, 5, 2, 10, 8.0),
])
def test_the_search_estimate_bounds_its_measured_cpu_time(dim, tasks, steps, reptile, high):
    """An upper bound: Newton's refinements are counted at their most iterations, and most
    stop earlier."""
    land, cfg = _wells(tasks, dim), TrainConfig(inner_lr=3.0, inner_steps=steps,
                                                reptile_inner_steps=reptile)
    predicted, measured = least_estimate_and_cpu(
        lambda: cost.seconds(cost.page_work(land, cfg, 5, 0).search),
        lambda: process_cpu(lambda: (ps.optima(land, cfg), ps.metasgd_optimum(land, cfg))))
    assert 0.5 <= predicted / measured <= high, (predicted, measured)


@pytest.mark.slow  # measures CPU seconds of real work, as test_budget.py's estimate tests
def test_the_animation_estimate_tracks_its_measured_cpu_time():
    land, cfg = _wells(3, 2), TrainConfig(inner_lr=0.5, inner_steps=2, reptile_inner_steps=5,
                                          meta_lr=0.1)
    predicted, measured = least_estimate_and_cpu(
        lambda: cost.seconds(cost.page_work(land, cfg, 5, 60).animation),
        lambda: process_cpu(lambda: [ps.meta_train_path(m, land, (0.5, 0.5),
                                                        cfg.replace(iterations=60))
                                     for m in ps.META_TRAINED]))
    assert 0.5 <= predicted / measured <= 2.0, (predicted, measured)


def _plans(learner, cfg: TrainConfig) -> dict:
    """Every registered result's test-time plan (untrained φ: the cost does not depend on it)."""
    plans = {}
    for name, method in METHODS.items():
        phi = method.start(learner, learner.model.init(generator(0, "init")), cfg)
        hooks = (method.adaptation, *(hook for _, hook in method.variants))
        plans |= {r: hook(learner, method.finish(learner, phi, cfg), cfg)
                  for r, hook in zip(result_names(name), hooks)}
    return plans


@pytest.mark.slow  # measures CPU seconds of real work, as test_budget.py's estimate tests
@pytest.mark.parametrize("family, hidden, steps, band", [
    ("sinusoid", (256, 256), 30, (0.5, 2.0)),  # the curve's 200 points at every step
    ("clusters", (64, 64), 10, (0.5, 2.0)),  # the decision regions' 6400 points
    # narrow conv nets on one task: per-operation overhead the estimate undercounts (0.3x)
    ("digits", (40, 40), 5, (0.2, 2.0)),
])
def test_the_inspect_estimate_tracks_its_measured_cpu_time(family, hidden, steps, band):
    fam = make_family(family)
    learner = make_learner(fam, hidden)
    trained, task = _plans(learner, TrainConfig(hidden=hidden)), adaptation.new_task(fam, 0)
    predicted, measured = least_estimate_and_cpu(
        lambda: adaptation.adapt_seconds(learner, trained, task, steps),
        lambda: process_cpu(lambda: adaptation.adapt_all(learner, trained, task, steps)))
    assert band[0] <= predicted / measured <= band[1], (predicted, measured)


def test_most_steps_within_is_the_largest_that_fits():
    fam = make_family("clusters")
    learner = make_learner(fam, (64, 64))
    trained, task = _plans(learner, TrainConfig()), adaptation.new_task(fam, 0)
    limit = adaptation.adapt_seconds(learner, trained, task, 7)
    assert adaptation.most_steps_within(learner, trained, task, 50, limit) == 7


@pytest.fixture
def hosted(monkeypatch):
    monkeypatch.setenv("META_LAB_HOSTED", "1")


def _no_search(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("computed although refused")
    for name in ("optima", "metasgd_optimum", "meta_train_path"):
        monkeypatch.setattr(ps, name, refuse)


def _page(query: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_a_hostile_link_gets_one_sentence_and_no_computation(hosted, monkeypatch):
    _no_search(monkeypatch)
    at = _page(HOSTILE)
    assert not at.exception, [e.value for e in at.exception]
    notes = [w.value for w in at.warning if "CPU-seconds" in w.value]
    assert len(notes) == 1 and notes[0].count(". ") == 0 and notes[0].endswith(".")
    assert "lower “inner steps in MAML's objective” to at most 1." in notes[0]
    assert not at.get("plotly_chart") and not at.dataframe


def test_the_refusal_is_in_the_visitors_language(hosted, monkeypatch):
    _no_search(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (HOSTILE | {"lang": "zh"}).items():
        at.query_params[key] = value
    at.run().switch_page("dashboard/pages/parameter_space.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("CPU 秒" in w.value and "降到不超过 1" in w.value for w in at.warning)


def test_a_long_animation_is_refused_naming_iterations_and_the_page_still_draws(hosted):
    at = _page({"dim": "2", "tasks": "5", "reptile_inner_steps": "10", "animate": "true",
                "iterations": "200"})
    assert not at.exception
    note = next(w.value for w in at.warning if "CPU-seconds" in w.value)
    assert note.startswith("Animating meta-training") and "meta-iterations (iterations)" in note
    charts = {c.proto.id.split("-", 2)[2] for c in at.get("plotly_chart")}
    assert "ps_chart" in charts and "ps_meta" not in charts


def test_the_costliest_preset_animates_on_a_shared_server(hosted):
    at = _page({"landscape": "Four wells, three answers (2-D)", "animate": "true"})
    assert not at.exception
    assert not [w.value for w in at.warning if "CPU-seconds" in w.value]
    assert "ps_meta" in {c.proto.id.split("-", 2)[2] for c in at.get("plotly_chart")}


def test_inspect_refuses_a_costly_adaptation_on_a_shared_server(hosted, monkeypatch):
    """Wide nets on the decision regions (6400 points probed at each of 50 steps): the run
    itself is cheap, its live adaptation is not."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"family": FAMILIES["clusters"].title, "train.hidden": "256,256",
                       "train.test_tasks": "1", "train.val_tasks": "1", "train.checkpoints": "0",
                       "train.test_steps": "50", "train.iterations": "1"}.items():
        at.query_params[key] = value
    at.run()
    at.pills(key="methods").set_value(["scratch", "anil"]).run()  # anil: two results
    train(at)
    def refuse(*args, **kwargs):
        raise AssertionError("adapted although refused")
    monkeypatch.setattr(adaptation, "adapt_all", refuse)
    at.switch_page("dashboard/pages/inspect.py").run()
    assert not at.exception, [e.value for e in at.exception]
    note = next(w.value for w in at.warning if "CPU-seconds" in w.value)
    assert "for 50 steps" in note and "largest eval step to at most" in note
    assert not at.get("plotly_chart")
