"""AppTest: before anyone trains, Inspect, Training and Runs show the scenario's gallery run,
say so in one line and offer Train for the visitor's own (in English and in Chinese)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from core.scenarios.catalogue import SCENARIOS
from dashboard.runs_store import gallery_run
from report.frames import typical_task
from report.i18n import t, using
from tests.support.apptest import APP, figures, open_page, values

DEFAULT = SCENARIOS[0].key  # the landing's scenario




def _note_and_train(at: AppTest, lang: str) -> None:
    run = gallery_run(DEFAULT)
    with using(lang):
        note = t("gallery.shown.one", iterations=f"{run.settings['train']['iterations']:,}",
                 seeds=1)
        train = t("compare.train_yourself")
    assert [i.value for i in at.info] == [note]  # one line, nothing else to read
    assert [b.label for b in at.button if b.label == train and not b.disabled] == [train]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_inspect_opens_on_the_gallery_runs_typical_task(lang):
    at = open_page("dashboard/pages/inspect.py", lang)
    _note_and_train(at, lang)
    run = gallery_run(DEFAULT)
    cfg = run.spec().config
    assert at.number_input(key="task_index").value == typical_task(
        run.results, 0, cfg.eval_steps, cfg.inner_steps)
    regions, curve = figures(at)
    methods = {r.method for r in run.results}
    assert len(curve.data) == len(methods)  # every method's adaptation on the task
    assert len(regions.layout.annotations) >= len(methods)  # one panel per method
    assert at.slider(key="inspect_step").max == cfg.max_eval_step  # the gallery's own steps


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_training_shows_the_gallery_runs_curves(lang):
    at = open_page("dashboard/pages/training.py", lang)
    _note_and_train(at, lang)
    meta_loss, checkpoints = figures(at)
    run = gallery_run(DEFAULT)
    trained = [r for r in run.results if r.history]
    smooth = [d for d in meta_loss.data if d.showlegend is not False]
    assert len(smooth) == len(trained)
    assert max(max(values(d.x)) for d in smooth) == run.settings["train"]["iterations"]
    assert len(checkpoints.layout.annotations) == len({r.method for r in run.results
                                                       if r.checkpoints})


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_runs_lists_the_gallery_read_only_and_charts_the_scenarios_run(lang, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path))  # a visitor with no runs of their own
    at = open_page("dashboard/pages/runs.py", lang)
    with using(lang):
        assert [i.value for i in at.info] == [t("runs.gallery_note")]
        kinds = set(at.dataframe[0].value[t("runs.column.kind")])
        assert kinds == {t("runs.kind.gallery")}
        assert at.get("page_link")[-1].proto.label == t("compare.train_yourself")
    assert at.multiselect(key="runs.overlay").value == [f"gallery/{DEFAULT}"]
    assert len(figures(at)) == 2  # bars and curves of the scenario's gallery run
    at.selectbox(key="runs.manage").set_value(f"gallery/{DEFAULT}").run()
    buttons = {b.label: b.disabled for b in at.button}
    with using(lang):
        assert buttons[t("runs.rename")] and buttons[t("runs.delete")]  # read-only
        assert not buttons[t("runs.open")]


def test_a_visitor_who_trained_the_scenario_sees_their_own_run():
    """The gallery only stands in: once these settings are trained (here: their results put in
    the server's cache, seed 7 so that no other test meets them), the page shows those."""
    from dashboard.server import job_manager
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.number_input(key="train.seed").set_value(7).run()
    assert at.selectbox(key="scenario").value == DEFAULT  # still the scenario, another seed
    own = [replace(r, seed=7, history=r.history[:5]) for r in gallery_run(DEFAULT).results]
    job_manager().store.put(SCENARIOS[0].spec(7).key(), own)
    at.switch_page("dashboard/pages/training.py").run()
    assert not at.exception and not at.info  # no gallery note
    meta_loss, _ = figures(at)
    assert max(max(values(d.x)) for d in meta_loss.data) == own[0].history[-1].iteration
