"""AppTest of the Runs page: the table, overlaying runs, rename and delete, hosted and broken stores;
an opened run stays with the visitor who opened it, and Compare says whose result it shows."""
from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pandas as pd

import pytest
from streamlit.testing.v1 import AppTest

from core.runs.store import RunStore, save_run
from core.scenarios.catalogue import SCENARIOS, interactive_spec
from dashboard import server
from dashboard.runs_store import import_file, save_finished
from tests.support.apptest import APP, TINY_RUN, figures, tiny_run, train, values
from tests.support.runfiles import forged_run_file

PAGE = "dashboard/pages/runs.py"


@pytest.fixture(scope="module")
def runs():
    return {"one step": tiny_run(1), "two steps": tiny_run(2)}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path))
    monkeypatch.delenv("META_LAB_HOSTED", raising=False)
    return tmp_path


def filled(home, runs) -> RunStore:
    store = RunStore(home / "runs.sqlite")
    for name, (spec, results) in runs.items():
        save_run(store, spec, results, name)
    return store


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_two_saved_runs_are_listed_and_overlaid(home, runs):
    filled(home, runs)
    at = open_page()
    table = at.dataframe[0].value
    mine = table[table.whose == "yours"]
    assert list(mine.name) == ["one step", "two steps"] and set(mine.iterations) == {5}
    assert list(table.name[2:]) == [f"Gallery: {s.key}" for s in SCENARIOS]  # beside them
    at.multiselect(key="runs.overlay").set_value(["one step", "two steps"]).run()
    assert not at.exception
    differences = at.dataframe[1].value
    assert list(differences.setting) == ["inner_steps"]
    assert list(differences["one step"]) == ["1"] and list(differences["two steps"]) == ["2"]
    bars, curves = figures(at)
    assert [list(x) for x in bars.data[1].x] == [["MAML", "MAML", "Pre-training", "Pre-training"],
                                                ["one step", "two steps", "one step", "two steps"]]
    names = [t.name for t in curves.data if t.showlegend is not False]
    assert names == ["MAML · one step", "Pre-training · one step", "MAML · two steps",
                     "Pre-training · two steps"]
    dashes = {t.name: t.line.dash for t in curves.data if t.name}
    assert dashes["MAML · one step"] != dashes["MAML · two steps"]
    one_step_maml = runs["one step"][1][0].scores["loss"]
    assert values(bars.data[0].y)[0] == pytest.approx(one_step_maml[0].double().mean().item())
    at.select_slider(key="runs.k").set_value(3).run()
    assert values(figures(at)[0].data[1].y)[0] == pytest.approx(one_step_maml[3].double().mean().item())


def test_rename_and_delete(home, runs):
    store = filled(home, runs)
    at = open_page()
    at.selectbox(key="runs.manage").set_value("two steps").run()
    at.text_input(key="runs.new_name").set_value("one step").run()
    next(b for b in at.button if b.label == "Rename").click().run()
    assert "already exists" in at.error[0].value
    at.text_input(key="runs.new_name").set_value("MAML, 2 inner steps").run()
    next(b for b in at.button if b.label == "Rename").click().run()
    assert store.names() == ["one step", "MAML, 2 inner steps"]
    assert list(at.dataframe[0].value.name[:2]) == ["one step", "MAML, 2 inner steps"]
    at.selectbox(key="runs.manage").set_value("one step").run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert store.names() == ["MAML, 2 inner steps"]
    save_run(store, *runs["one step"], "extra")
    at.run()
    at.selectbox(key="runs.manage").set_value("MAML, 2 inner steps").run()
    store.delete("MAML, 2 inner steps")  # another tab deletes the run this one shows
    next(b for b in at.button if b.label == "Delete").click().run()
    assert not at.exception and at.error[0].value.startswith("No run named 'MAML, 2 inner steps'")
    assert store.names() == ["extra"]  # not the run the list now shows first


def test_hosted_visitors_get_their_own_memory_store(home, runs, monkeypatch):
    filled(home, runs)
    monkeypatch.setenv("META_LAB_HOSTED", "1")
    at = open_page()
    assert set(at.dataframe[0].value.whose) == {"gallery (pre-computed, read-only)"}  # the
    # server's file store is not shown, the server's own gallery is
    assert "as long as this browser tab" in at.caption[0].value


def test_a_damaged_store_warns_and_the_page_keeps_working(home):
    (home / "runs.sqlite").write_bytes(b"not a database" * 300)
    at = open_page()
    assert "damaged or not a run store" in at.warning[0].value
    assert "kept in memory" in at.warning[0].value
    assert len(at.dataframe[0].value) == len(SCENARIOS)  # the gallery's runs


def test_uploads_import_good_files_and_refuse_bad_ones_in_one_sentence(runs):
    source, target = RunStore(), RunStore()
    save_run(source, *runs["one step"], "one step")
    data = source.export_bytes("one step")
    assert import_file(target, data) == (True, "one step")
    ok, text = import_file(target, data[:-100])
    assert not ok and text == "The run file is truncated or damaged (not a readable zip archive)."
    ok, text = import_file(target, b"x" * (50 * 2**20 + 1))
    assert not ok and "larger than the 50 MB" in text
    assert target.names() == ["one step"]


def test_a_hosted_visitors_runs_stay_within_their_memory_bound(runs, monkeypatch):
    """On a shared server a tab's runs live in its memory: uploads and saves stop at a bound."""
    source = RunStore()
    save_run(source, *runs["one step"], "one step")
    data, one_copy = source.export_bytes("one step"), source.size_bytes()  # the bound counts the latter
    monkeypatch.setenv("META_LAB_HOSTED", "1")
    monkeypatch.setenv("META_LAB_TAB_STORE_MB", str(2.5 * one_copy / 1e6))
    tab = RunStore()
    assert import_file(tab, data)[0] and import_file(tab, data)[0]  # two copies fit
    assert tab.size_bytes() == 2 * one_copy
    ok, text = import_file(tab, data)
    assert not ok and "download and delete some first" in text and len(tab.names()) == 2
    monkeypatch.setenv("META_LAB_TAB_STORE_MB", str(0.5 * one_copy / 1e6))
    assert save_finished(tab, *runs["two steps"]) is None and len(tab.names()) == 2
    monkeypatch.delenv("META_LAB_HOSTED")  # locally, the file store has no such bound
    assert import_file(tab, data)[0]


def test_streamlit_refuses_uploads_above_the_run_file_cap():
    import tomllib

    from core.runs.runfile import MAX_FILE_BYTES
    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_FILE_BYTES


def test_open_in_compare_shows_the_saved_results_without_training(home, runs):
    filled(home, runs)
    store = RunStore(home / "runs.sqlite")
    cli_shaped = interactive_spec("sinusoid", {}, ("maml",), TINY_RUN, 3)
    cli_shaped = replace(cli_shaped, config=cli_shaped.config.replace(eval_steps=(0, 1, 3)))
    save_run(store, cli_shaped, [replace(r, scores={k: v[[0, 1, 3]] for k, v in r.scores.items()})
                                 for r in runs["one step"][1] if r.method == "maml"], "cli run")
    at = open_page()
    at.selectbox(key="runs.manage").set_value("cli run").run()
    next(b for b in at.button if b.label == "Open in Compare").click().run()
    assert "cannot all be set in the sidebar" in at.error[0].value
    at.selectbox(key="runs.manage").set_value("two steps").run()
    next(b for b in at.button if b.label == "Open in Compare").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="train.inner_steps").value == 2
    assert at.number_input(key="train.iterations").value == 5
    assert len(figures(at)) == 3  # before/after, curve and gain: no Train needed
    train = next(b for b in at.button if b.label == "Train")
    assert train.disabled


def _subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.main.subheader]  # the sidebar has its own


def _train_button(at: AppTest):
    return next(b for b in at.button if b.label in ("Train", "Train it yourself"))


def test_an_opened_run_stays_in_the_session_of_the_visitor_who_opened_it(monkeypatch):
    """Visitor A opens an edited run file of the landing page's settings (checksums recomputed,
    so it imports cleanly). Visitor B, a session of the same server (one process, one results
    cache), lands on Compare afterwards and sees only the gallery, with Train enabled."""
    monkeypatch.setenv("META_LAB_HOSTED", "1")
    tab = RunStore()
    assert import_file(tab, forged_run_file("edited")) == (True, "edited")
    a = AppTest.from_file(APP, default_timeout=60)
    a.session_state["runs.store"] = tab  # A's hosted store, as if uploaded
    a.run()
    a.switch_page(PAGE).run()
    next(b for b in a.button if b.label == "Open in Compare").click().run()
    assert not a.exception, [e.value for e in a.exception]
    assert "The run you opened" in _subheaders(a)
    assert any(c.value.startswith("“edited”, from your saved runs") for c in a.caption)
    assert len(figures(a)) == 6 and len(a.get("download_button")) == 2  # gallery's 3, A's 3
    assert _train_button(a).disabled
    assert server.job_manager().store.get(SCENARIOS[0].spec().key()) is None
    b = AppTest.from_file(APP, default_timeout=60)
    b.run()
    assert not b.exception and not _train_button(b).disabled
    assert len(figures(b)) == 3 and not b.get("download_button")  # the gallery's charts only
    assert _subheaders(b) == ["Your run, at the interactive budget"]  # the place for B's own


HONEST_LINK = {"train.iterations": "5", "train.test_steps": "3", "train.test_tasks": "12",
               "train.val_tasks": "4", "train.checkpoints": "1",
               "train.seed": "41"}  # a seed no other test trains


def _visit(link: dict, lang: str = "en") -> AppTest:
    """A new visitor opening the link with MAML and pre-training (AppTest gives every session
    the same id; a server does not, and the job queue tells visitors apart by it)."""
    from report.i18n import using
    from report.theme import label
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["_visitor"] = uuid.uuid4().hex
    with using(lang):  # a link names methods in its language
        methods = [label("maml"), label("pretrain")]
    at.query_params.update({**link, "methods": methods, "lang": lang})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_result_someone_else_trained_here_says_so_and_the_trainers_does_not():
    """The server shares what it trained itself (same settings, same numbers); whose Train it
    was is said in words: another visitor reads "trained on this server", in either language."""
    a = train(_visit(HONEST_LINK))
    assert len(figures(a)) == 3 and not _subheaders(a)  # A's own run: no provenance to explain
    b = _visit(HONEST_LINK)
    assert _subheaders(b) == ["Trained on this server with these settings"]
    assert any(c.value.startswith("A Train on this server computed") for c in b.caption)
    assert len(figures(b)) == 3 and _train_button(b).disabled  # nothing new to compute
    zh = _visit(HONEST_LINK, "zh")
    assert _subheaders(zh) == ["本服务器用这些设置训练的结果"]
    a.run()  # A's page, rerun after the others visited, is still A's own
    assert not _subheaders(a) and len(figures(a)) == 3


def test_gallery_caption_names_budget_seeds_and_command():
    from dashboard.runs_store import gallery_caption
    assert gallery_caption("consistent-labels") == (
        "Pre-computed: 4,000 iterations, 1 seed "
        "(`python -m core gallery build --only consistent-labels`)")
    assert gallery_caption("no-such-scenario") is None
    assert gallery_caption("../gallery/consistent-labels") is None


def test_overlay_figures_leave_out_diverged_curves_and_keep_method_order():
    from report.figures.runs import runs_before_after_figure, runs_curve_figure
    rows = [{"run": run, "method": m, "label": m.upper(), "step": step, "metric": "loss",
             "mean": 1.0 + step, "ci_low": 0.5, "ci_high": 2.5 + step,
             "diverged": "blew up" if (run, m) == ("b", "pretrain") else ""}
            for run in ("a", "b") for m in ("pretrain", "maml") for step in (0, 1)]
    df = pd.DataFrame(rows)
    curves = runs_curve_figure(df, "loss")
    assert [t.name for t in curves.data if t.name] == ["PRETRAIN · a", "MAML · a", "MAML · b"]
    bars = runs_before_after_figure(df, "loss", 1)
    assert [list(x) for x in bars.data[0].x] == [["PRETRAIN", "PRETRAIN", "MAML", "MAML"],
                                                ["a", "b", "a", "b"]]


def test_the_shipped_config_turns_the_file_watcher_off():
    """Streamlit's watcher walks every imported module under the checkout (a .venv there is all of
    torch): it tripled a Train's wait, so the config every user and the hosted app read keeps it off."""
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
