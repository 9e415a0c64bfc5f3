"""AppTest: every page loads; settings, presets, training, charts and errors behave."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.families import FAMILIES
from core.scenarios.catalogue import SCENARIOS, SCENARIOS_BY_KEY
from report.theme import label
from tests.support.apptest import (APP, PAGES, TINY, TINY_TEST_TASKS, figures, open_app, tiny,
                                   train, values)

ROOT = Path(__file__).resolve().parents[1]


def test_compare_page_opens_on_the_default_scenario_with_a_train_button():
    """The landing page: the first scenario's settings and a Train button, nothing trained yet."""
    at = open_app()
    default = SCENARIOS[0]
    assert at.title[0].value.startswith("Good now")
    assert any(b.label == "Train it yourself" for b in at.button)  # it has a gallery run
    assert at.selectbox(key="scenario").value == default.key
    assert at.selectbox(key="family").value == default.family
    assert at.pills(key="methods").value == list(default.methods)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_without_exception(page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page).run()  # a fresh session that opens on this page
    assert not at.exception, [e.value for e in at.exception]


def test_every_page_loads_after_the_sidebar_was_drawn():
    """The sidebar's URL names stay bound on every page; no page may trip over them."""
    at = open_app()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_train_draws_the_three_charts_with_one_trace_per_method():
    at = train(tiny(open_app(), "clusters", ("maml", "pretrain", "scratch")))
    assert not at.error
    before_after, curve, gain = figures(at)
    names = [label(m) for m in ("maml", "pretrain", "scratch")]
    assert values(before_after.data[0].x) == names  # step 0 next to step k, per method
    lines = [t for t in curve.data if t.name in names]
    assert [t.name for t in lines] == names
    assert all(values(t.x) == [0, 1, 2, 3] for t in lines)  # steps on the x axis
    assert "accuracy" in curve.layout.yaxis.title.text  # classification: accuracy first
    assert sorted(values(gain.data[0].y)) == sorted(names)
    assert any("**Now**, before adaptation" in m.value and "**Potential**" in m.value
               for m in at.markdown)  # the headline
    assert len(at.get("download_button")) == 2  # results CSV and settings JSON


def test_seeds_pool_into_the_confidence_intervals():
    at = tiny(open_app(), methods=("maml",))
    at.number_input(key="train.seeds").set_value(2).run()
    numbers = train(at).dataframe[0].value
    assert set(numbers.n_tasks) == {2 * TINY_TEST_TASKS}


def test_switching_pages_reuses_the_trained_results():
    at = train(tiny(open_app()))
    at.switch_page("dashboard/pages/training.py").run()
    assert not at.exception and not at.info  # no "not trained yet" prompt
    assert len(figures(at)) == 2
    at.switch_page("dashboard/pages/inspect.py").run()
    assert not at.exception and len(figures(at)) == 2
    at.radio(key="task_source").set_value("a new task from a seed").run()
    at.slider(key="inspect_step").set_value(3).run()
    assert not at.exception and len(figures(at)) == 2
    at.switch_page("dashboard/pages/compare.py").run()
    button = next(b for b in at.button if b.label == "Train")
    assert button.disabled and len(figures(at)) == 3  # cached: shown at once, no retraining


def test_inspect_without_results_offers_training():
    at = open_app()
    at.number_input(key="train.iterations").set_value(13).run()  # settings nobody trained yet
    at.switch_page("dashboard/pages/inspect.py").run()
    assert any("not been trained" in i.value for i in at.info)
    assert any(b.label == "Train these settings" for b in at.button)


def test_preset_fills_the_widgets():
    at = open_app()
    preset = SCENARIOS_BY_KEY["permuted-labels"]
    at.selectbox(key="scenario").set_value(preset.key).run()
    assert not at.exception
    assert at.selectbox(key="family").value == "clusters"
    assert at.toggle(key="clusters.consistent_labels").value is False
    assert at.pills(key="methods").value == list(preset.methods)
    assert at.number_input(key="train.iterations").value == preset.train["iterations"]
    assert at.number_input(key="train.inner_lr").value == 0.5  # the family's suggestion
    assert at.number_input(key="train.test_steps").value == preset.test_steps
    assert any(preset.look_for in i.value for i in at.info)
    at.number_input(key="train.iterations").set_value(401).run()  # any change: no longer the preset
    assert at.selectbox(key="scenario").value == "custom"
    assert not any(preset.look_for in i.value for i in at.info)


OMNIGLOT = next((d / "shared" / "data" / "omniglot" for d in ROOT.parents
                 if (d / "shared" / "data" / "omniglot").is_dir()), None)


@pytest.mark.skipif(OMNIGLOT is None, reason="no shared Omniglot folder beside the checkout")
def test_the_omniglot_scenario_keeps_the_visitors_data_folder():
    """Picking the scenario keeps the folder typed before; typing one after keeps the scenario."""
    at = open_app()
    at.selectbox(key="family").set_value("omniglot").run()
    at.text_input(key="omniglot.data_dir").set_value(str(OMNIGLOT)).run()
    preset = SCENARIOS_BY_KEY["omniglot-5way-1shot"]
    at.selectbox(key="scenario").set_value(preset.key).run()
    assert not at.exception and not at.error
    assert at.text_input(key="omniglot.data_dir").value == str(OMNIGLOT)
    assert at.number_input(key="omniglot.image_size").value == 14
    assert at.selectbox(key="scenario").value == preset.key
    assert any(preset.look_for in i.value for i in at.info)
    at.text_input(key="omniglot.data_dir").set_value(str(OMNIGLOT) + "/").run()
    assert at.selectbox(key="scenario").value == preset.key


def test_url_sets_the_settings():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["family"] = FAMILIES["trend"].title  # select boxes put their labels in URLs
    at.query_params["methods"] = [label("maml"), label("reptile")]
    at.query_params["train.iterations"] = "321"
    at.run()
    assert at.selectbox(key="family").value == "trend"
    assert at.number_input(key="train.iterations").value == 321
    assert at.pills(key="methods").value == ["maml", "reptile"]


def test_link_values_the_widgets_drop_get_one_sentence():
    """Streamlit shows the default for a bound value that does not fit its widget: a link's
    malformed, out-of-range or unknown values are named in one sentence, quoted short; a link
    whose values all fit gets none."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"family": FAMILIES["sinusoid"].title, "train.iterations": "321",
                            "train.meta_batch_size": "abc", "train.test_tasks": "-5",
                            "sinusoid.amplitude.high": "9" * 40, "train.queries": "sideways"})
    at.run()
    assert not at.exception
    notes = [w.value for w in at.warning if "Ignored link settings" in w.value]
    assert len(notes) == 1, notes
    assert "train.meta_batch_size = “abc”" in notes[0] and "train.test_tasks = “-5”" in notes[0]
    assert "and 1 more" in notes[0] and "sideways" not in notes[0]  # three named, one counted
    assert f"“{'9' * 12}…”" in notes[0]  # a long value quoted short
    assert "train.iterations" not in notes[0]
    assert at.number_input(key="train.iterations").value == 321
    assert at.number_input(key="train.test_tasks").value == 300  # the default, as it says
    at.run()  # the sentence stays for the session, once
    assert len([w for w in at.warning if "Ignored link settings" in w.value]) == 1
    assert not [w for w in open_app().warning if "Ignored link settings" in w.value]


def test_invalid_settings_explain_themselves():
    at = open_app()
    at.selectbox(key="family").set_value("clusters").run()
    at.number_input(key="clusters.ways").set_value(5).run()  # more ways than class centres
    assert not at.exception
    assert "ways (5) must be at most classes (3)" in at.error[0].value
    at.number_input(key="clusters.ways").set_value(3).run()
    at.text_input(key="train.hidden").set_value("40,forty").run()
    assert "whole numbers" in at.error[0].value
    at.text_input(key="train.hidden").set_value("40,40").run()
    at.pills(key="methods").set_value([]).run()
    assert "methods must be a non-empty selection" in at.error[0].value
    assert not at.exception


def test_divergence_is_reported_and_the_rest_still_works():
    at = tiny(open_app(), methods=("maml", "scratch"))
    at.number_input(key="train.inner_lr").set_value(500.0).run()
    train(at)
    assert any("diverged" in w.value for w in at.warning)
    assert "lower" in " ".join(w.value for w in at.warning)
    assert len(figures(at)) == 3


def test_image_family_trains_and_inspects():
    """Families added later (here 8×8 digits with a conv net) work through the same pages."""
    at = open_app()
    at.selectbox(key="family").set_value("digits").run()
    at.pills(key="methods").set_value(["maml", "pretrain", "scratch"]).run()
    budget = {**TINY, "iterations": 2, "test_tasks": 4, "val_tasks": 2, "checkpoints": 1,
            "test_steps": 2, "meta_batch_size": 2}
    for key, value in budget.items():
        at.number_input(key=f"train.{key}").set_value(value).run()
    at.number_input(key="digits.channels").set_value(4).run()
    assert len(figures(train(at))) == 3
    for page in ("dashboard/pages/inspect.py", "dashboard/pages/training.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error and len(figures(at)) == 2


def test_landing_shows_the_default_scenarios_gallery_result_with_no_click():
    """Three charts from the gallery (pre-computed, with the command), and Train it yourself."""
    at = open_app()
    assert any("python -m core gallery build --only consistent-labels" in c.value
               for c in at.caption)
    assert len(figures(at)) == 3
    assert any(b.label == "Train it yourself" for b in at.button)
    alphas = next(c.value for c in at.caption if c.value.startswith("Test-time α"))
    assert re.search(r"MAML [\d.]+, Pre-training [\d.]+, Scratch \(random init\) [\d.]+\.$",
                     alphas), alphas  # every method's α, also for runs saved before plans were


def test_a_finished_comparison_is_saved_once_in_the_run_store():
    from core.runs.store import open_store, default_path
    store, _ = open_store(str(default_path()))
    before = set(store.names())
    at = train(tiny(open_app(), methods=("maml", "scratch")))
    saved = set(store.names()) - before
    assert len(saved) == 1 and next(iter(saved)).startswith("sinusoid · "), saved
    at.run()  # shown again: not saved twice
    assert set(store.names()) - before == saved


def _ask_after_the_run_ended(monkeypatch) -> None:
    """Make the page ask for the visitor's run only once it has ended: the order in which a tiny
    run finishes between the page reading the results (none yet) and asking for the run."""
    from dashboard import run_controls, server

    asked = run_controls.my_run

    def after_the_run_ended(spec):
        while (snap := server.job_manager().poll(server.visitor())) is not None and snap.active:
            time.sleep(0.05)
        return asked(spec)

    monkeypatch.setattr(run_controls, "my_run", after_the_run_ended)


def test_a_run_that_ends_while_the_page_is_drawn_shows_its_results(monkeypatch):
    """Compare must still draw the results of a run that ended meanwhile, not the "press
    Train" estimate."""
    at = tiny(open_app(), methods=("maml", "scratch"))
    _ask_after_the_run_ended(monkeypatch)
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(figures(at)) == 3


def test_a_run_that_ends_while_the_training_page_is_drawn_shows_its_curves(monkeypatch):
    """The same order on the Training page, trained from its own button: its curves, not the
    "not trained yet" prompt."""
    at = tiny(open_app(), methods=("maml", "scratch"))
    at.switch_page("dashboard/pages/training.py").run()
    _ask_after_the_run_ended(monkeypatch)
    next(b for b in at.button if b.label == "Train these settings").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [i for i in at.info if "not been trained yet" in i.value]
    assert figures(at)
