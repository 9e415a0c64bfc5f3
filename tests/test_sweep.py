"""Sweeps: the grid, resuming, failed and diverged cells, seeds pooled, the lead and its sentence,
the file check, the CLI's files, and identical rows on local processes and on Ray."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import types

import pandas as pd
import pytest

from core.cli.main import main
from core.results import pooled_rows
from core.runs.store import RunStore, load_run
from core.runspec import RunSpec
from core.scenarios.catalogue import interactive_spec
from core.settings import SettingError
from core.sweep.grid import (expand_grid, local_outcomes, parse_axis, ray_outcomes, read_records,
                             failed, run_cell, run_cell_for_store, run_cells, store_name,
                             sweep_rows)
from core.sweep.summary import (SweepFileError, advantage, boundary_sentence, load_sweep,
                                summarise_seeds)
from report.cli import main as report_main

TINY = {"iterations": 3, "test_tasks": 12, "val_tasks": 4, "checkpoints": 0}
TIMING = ("train_seconds",)  # the only columns allowed to differ between two runs


@pytest.fixture(autouse=True)
def plain_main(monkeypatch):
    """An AppTest earlier in the session leaves app.py as __main__, and spawned workers re-run
    __main__: give them a plain one, as `python -m core` has."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def _base(family="clusters", methods=("maml", "pretrain"), **train) -> RunSpec:
    return interactive_spec(family, {"consistent_labels": True} if family == "clusters" else {},
                    methods, {**TINY, **train}, test_steps=2)


def _in_process(specs_data):
    """Cells one after another in this process: the executor that lets a test count them."""
    for i, data in enumerate(specs_data):
        yield i, run_cell(data)


def _numbers(rows) -> pd.DataFrame:
    return pd.DataFrame(rows).drop(columns=list(TIMING))


def test_axes_parse_each_kind_of_setting():
    assert parse_axis("shift=0.5,2", "clusters").values == (0.5, 2.0)
    assert parse_axis("shots=1,5", "clusters").values == (1, 5)
    assert parse_axis("consistent-labels=true,false", "clusters").values == (True, False)
    slope = parse_axis("slope=-1:1,0:0", "trend")
    assert slope.values == ((-1.0, 1.0), (0.0, 0.0)) and slope.scope == "family_settings"
    assert [slope.shown(v) for v in slope.values] == ["-1:1", "0:0"]
    hidden = parse_axis("hidden=40:40,80", "sinusoid")
    assert hidden.values == ((40, 40), (80,)) and hidden.scope == "train"


@pytest.mark.parametrize("text, words", [("shift", "NAME=V1"), ("radius=1,x", "not a number"),
                                         ("seed=0,1", "not a setting"),
                                         ("eval_steps=1,2", "not a setting"),
                                         ("wobble=1", "choose from"), ("shots=1,1", "repeats")])
def test_bad_axes_are_refused_in_one_sentence(text, words):
    with pytest.raises(SettingError, match=words):
        parse_axis(text, "clusters")


def test_grid_is_every_combination_times_every_seed_each_a_valid_one_seed_spec():
    axes = [parse_axis("shift=0.5,2", "clusters"), parse_axis("shots=1,5", "clusters")]
    cells = expand_grid(_base(), axes, [3, 4])
    assert [(dict(c.settings)["shift"], dict(c.settings)["shots"], c.seed) for c in cells] == [
        (s, k, seed) for s in (0.5, 2.0) for k in (1, 5) for seed in (3, 4)]
    assert len({c.key() for c in cells}) == 8
    for cell in cells:
        family = cell.spec.make_family()
        settings = dict(cell.settings)
        assert (family.shift, family.shots) == (settings["shift"], settings["shots"])
        assert cell.spec.seeds == (cell.seed,) and cell.spec.config.seed == cell.seed
        assert family.consistent_labels  # the settings not varied come from the base


def test_an_invalid_combination_or_a_third_axis_is_refused_before_anything_runs():
    with pytest.raises(SettingError, match="ways=5 is invalid"):
        expand_grid(_base(), [parse_axis("ways=2,5", "clusters")], [0])
    three = [parse_axis(t, "clusters") for t in ("shift=1,2", "shots=1,2", "noise=0.1,0.2")]
    with pytest.raises(SettingError, match="at most 2"):
        expand_grid(_base(), three, [0])


def test_an_interrupted_sweep_resumes_with_only_the_missing_cells(tmp_path):
    results = tmp_path / "r.jsonl"
    cells = expand_grid(_base(), [parse_axis("shift=0.5,1,2", "clusters")], [0, 1])
    first = run_cells(cells, results, _in_process)
    done = [next(first).cell for _ in range(2)]  # then the sweep is interrupted
    first.close()
    with results.open("a") as f:
        f.write('{"key": "cut short')  # a line an interruption left half-written
    ran = [p.cell for p in run_cells(cells, results, _in_process)]
    assert [c.key() for c in ran] == [c.key() for c in cells if c not in done]
    assert [p.done for p in run_cells(cells, results, _in_process)] == []  # all done now
    records = read_records(results)
    assert set(records) == {c.key() for c in cells}
    assert all(r["status"] == "ok" for r in records.values())


def fails_with_ten_shots(spec_data: dict) -> dict:
    """run_cell, except that the cells with 10 shots raise (they run in another process)."""
    if spec_data["family_settings"]["shots"] == 10:
        raise RuntimeError("this cell is made to fail")
    return run_cell(spec_data)


@pytest.mark.slow  # two worker processes, each importing torch
def test_failed_and_diverged_cells_are_recorded_and_the_others_finish(tmp_path):
    results = tmp_path / "r.jsonl"
    axes = [parse_axis("shots=5,10", "sinusoid"), parse_axis("inner_lr=0.01,1000", "sinusoid")]
    cells = expand_grid(_base("sinusoid", methods=("maml", "scratch")), axes, [0])

    def pool(specs_data):
        return local_outcomes(specs_data, workers=2, run=fails_with_ten_shots)

    progress = list(run_cells(cells, results, pool))
    status = {tuple(p.cell.settings): p.record["status"] for p in progress}
    assert status == {(("shots", 5), ("inner_lr", 0.01)): "ok",
                      (("shots", 5), ("inner_lr", 1000.0)): "diverged",
                      (("shots", 10), ("inner_lr", 0.01)): "failed",
                      (("shots", 10), ("inner_lr", 1000.0)): "failed"}, [
        p.record["error"] for p in progress]
    failed = [p.record for p in progress if p.record["status"] == "failed"]
    assert all("RuntimeError: this cell is made to fail" in r["error"] for r in failed)
    rows = pd.DataFrame(sweep_rows(cells, read_records(results)))
    assert rows[rows.status == "failed"]["mean"].isna().all()  # a failed cell keeps its place
    assert len(rows) == 4 * 2 * 3  # cells × methods × steps (one metric: the loss)
    cell = rows[rows.status == "diverged"]
    bad = cell[cell.diverged != ""]  # its steps that diverged, NaN; the sound ones are kept
    assert len(bad) and bad["mean"].isna().all() and cell[cell.diverged == ""]["mean"].notna().all()
    again = [p.cell for p in run_cells(cells, results, _in_process)]
    assert sorted(dict(c.settings)["shots"] for c in again) == [10, 10]  # failed ones retried


def test_a_failed_cell_has_the_rows_and_columns_of_a_finished_one_anil_whole_included():
    cells = expand_grid(_base("clusters", methods=("anil", "pretrain")),
                        [parse_axis("shots=1", "clusters")], [0])
    finished = {cells[0].key(): {**run_cell(cells[0].spec.as_dict()), "seconds": 0.0}}
    broken = {cells[0].key(): failed(RuntimeError("made to fail"))}
    ok, bad = (pd.DataFrame(sweep_rows(cells, records)) for records in (finished, broken))
    assert list(bad.columns) == list(ok.columns)
    keys = ["method", "step", "metric"]
    assert bad[keys].values.tolist() == ok[keys].values.tolist()
    assert "anil-whole" in set(bad.method) and bad["mean"].isna().all()


def _seed_row(x, seed, mean, **changes) -> dict:
    return {"x": x, "seed": seed, "status": "ok", "method": "maml", "step": 0, "metric": "loss",
            "mean": mean, "ci_low": mean - 0.01, "ci_high": mean + 0.01, "n_tasks": 10,
            "diverged": "", **changes}


def test_seeds_pool_into_a_student_t_interval_over_their_means():
    rows = pd.DataFrame([_seed_row(1, 0, 1.0), _seed_row(1, 1, 2.0),  # two seeds
                         _seed_row(2, 0, 3.0),  # one seed: its own CI over test tasks
                         _seed_row(3, 0, 1.0), _seed_row(3, 1, 1.0, diverged="NaN"),
                         _seed_row(4, 0, 1.0, status="failed")])
    pooled = summarise_seeds(rows, ["x"]).set_index("x")
    t_1 = 12.706204736  # Student's t, 97.5 % quantile, 1 degree of freedom
    half = t_1 * (2 ** 0.5 / 2) / 2 ** 0.5  # t · sd(1, 2) / √2
    assert pooled.loc[1, ["mean", "ci_low", "ci_high"]].tolist() == pytest.approx(
        [1.5, 1.5 - half, 1.5 + half])
    assert pooled.loc[1, "n_tasks"] == 20 and pooled.loc[1, "seeds"] == 2
    assert pooled.loc[2, ["mean", "ci_low", "ci_high"]].tolist() == pytest.approx([3, 2.99, 3.01])
    assert pooled.loc[3, "problem"] == "diverged" and math.isnan(pooled.loc[3, "mean"])
    assert pooled.loc[4, "problem"] == "failed"


def _pooled(cells: dict[tuple, tuple[float, float]]) -> pd.DataFrame:
    """A pooled table from {(shift, shots, method): (mean, half-width)} at step 1."""
    return pd.DataFrame([{"shift": s, "shots": k, "method": m, "step": 1, "metric": "accuracy",
                          "mean": mean, "ci_low": mean - h, "ci_high": mean + h}
                         for (s, k, m), (mean, h) in cells.items()])


def test_the_lead_marks_overlapping_cis_as_ties_and_the_sentence_finds_the_boundary():
    means = {(0.5, 1): (0.90, 0.91), (1, 1): (0.95, 0.90), (2, 1): (0.97, 0.80),
             (0.5, 5): (0.90, 0.95), (1, 5): (0.94, 0.93), (2, 5): (0.99, 0.85)}
    table = {}
    for (s, k), (maml, pre) in means.items():
        table[(s, k, "maml")], table[(s, k, "pretrain")] = (maml, 0.02), (pre, 0.02)
    adv = advantage(_pooled(table), ["shift", "shots"], "accuracy", 1)
    winners = dict(zip(zip(adv["shift"], adv["shots"]), adv.winner))
    assert winners == {(0.5, 1): "tie", (1, 1): "maml", (2, 1): "maml",
                       (0.5, 5): "pretrain", (1, 5): "tie", (2, 5): "maml"}
    assert adv.set_index(["shift", "shots"]).lead[(2, 5)] == pytest.approx(0.14)
    sentence = boundary_sentence(adv, ["shift", "shots"], 1)
    assert sentence == ("MAML beats Pre-training in accuracy after 1 step (95 % CIs apart) "
                        "for shift ≥ 1 with shots = 1, for shift ≥ 2 with shots = 5; elsewhere "
                        "they tie or Pre-training is ahead (1 of 6 cells).")


def test_for_a_loss_lower_is_the_lead():
    table = {(1, 1, "maml"): (0.2, 0.01), (1, 1, "pretrain"): (0.5, 0.01)}
    pooled = _pooled(table).assign(metric="loss")
    adv = advantage(pooled, ["shift"], "loss", 1)
    assert adv.lead.iloc[0] == pytest.approx(0.3) and adv.winner.iloc[0] == "maml"
    assert "in every cell" in boundary_sentence(adv, ["shift"], 1)


def _document(rows, axes=("shift",)) -> bytes:
    return json.dumps({"sweep": {"family": "clusters", "axes": [{"name": a} for a in axes]},
                       "rows": rows}).encode()


def _row(**changes) -> dict:
    return {"shift": 1, "seed": 0, "status": "ok", "method": "maml", "step": 0,
            "metric": "accuracy", "mean": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n_tasks": 10,
            "diverged": "", **changes}


@pytest.mark.parametrize("data, words", [
    (b"\xff\x00", "not JSON"), (b"[1, 2]", "no sweep and rows"),
    (_document([_row()], axes=("a", "b", "c")), "one or two varied settings"),
    (_document([]), "between 1 and"), (_document([{"shift": 1}]), "lack the column"),
    (_document([_row(mean="high")]), "must be numbers"),
    (_document([_row(), _row()]), "must appear once"),
    (_document([_row(shift=[1, 2])]), "values of shift"),
])
def test_a_bad_sweep_file_is_refused_in_one_sentence(data, words):
    with pytest.raises(SweepFileError, match=words) as err:
        load_sweep(data)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


def test_an_oversized_file_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr("core.sweep.summary.MAX_FILE_BYTES", 100)
    with pytest.raises(SweepFileError, match="larger than"):
        load_sweep(b" " * 101)


@pytest.mark.slow  # two worker processes, each importing torch
def test_cli_sweep_writes_one_row_per_cell_method_step_metric_and_the_figures(tmp_path, capsys):
    out_json, out_html, results = tmp_path / "s.json", tmp_path / "s.html", tmp_path / "r.jsonl"
    argv = ["sweep", "--family", "clusters", "--consistent-labels", "--methods", "maml,pretrain",
            "--vary", "shift=0.5,2", "--vary", "shots=1,2", "--seeds", "0,1", "--iterations", "3",
            "--test-tasks", "12", "--val-tasks", "4", "--checkpoints", "0", "--eval-steps", "0,1",
            "--workers", "2", "--results", str(results), "--json", str(out_json)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[8/8]" in out and "ETA" in out and "8 cells: 0 failed" in out
    assert "MAML" in out and "before adaptation" in out  # the boundary sentences
    meta, rows = load_sweep(out_json.read_bytes())
    assert [a["name"] for a in meta["axes"]] == ["shift", "shots"] and meta["seeds"] == [0, 1]
    assert "shift" not in meta["fixed"]["family_settings"] and "--vary" in meta["command"]
    assert len(rows) == 8 * 2 * 2 * 2  # cells × methods × steps × metrics
    assert set(zip(rows["shift"], rows["shots"], rows["seed"])) == {
        (s, k, seed) for s in (0.5, 2.0) for k in (1, 2) for seed in (0, 1)}
    assert report_main(["sweep", str(out_json), "--html", str(out_html)]) == 0
    page = out_html.read_text()
    assert page.count('class="plotly-graph-div"') == 2 and "Where MAML beats" in page
    assert main([*argv, "--quiet"]) == 0  # everything done: nothing runs again
    assert "[" not in capsys.readouterr().out.split("\n", 1)[1]


@pytest.mark.parametrize("argv, words", [
    (["--vary", "shift=1,2", "--address", "auto"], "use it with --engine ray"),
    ([], "at least one --vary"), (["--vary", "shift=1", "--methods", "magic"], "methods must"),
    (["--vary", "shift=1", "--eval-steps", "0,1", "--after-steps", "3"], "after-steps must"),
])
def test_cli_sweep_refuses_bad_options_in_one_line(argv, words, capsys):
    assert main(["sweep", "--family", "clusters", *argv]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None and not os.environ.get("REQUIRE_RAY"),
                    reason="ray is not installed (pip install -r requirements-ray.txt; CI does)")
def test_local_processes_and_ray_give_identical_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # Ray writes under $HOME
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    axes = [parse_axis("shift=0.5,2", "clusters")]
    cells = expand_grid(_base(), axes, [0, 1])

    def rows(outcomes, name):
        run = list(run_cells(cells, tmp_path / f"{name}.jsonl", outcomes))
        assert len(run) == 4 and all(p.record["status"] == "ok" for p in run)
        return _numbers(sweep_rows(cells, read_records(tmp_path / f"{name}.jsonl")))

    local = rows(lambda data: local_outcomes(data, workers=2), "local")
    on_ray = rows(lambda data: ray_outcomes(data, num_cpus=2), "ray")
    pd.testing.assert_frame_equal(local, on_ray)
    assert local["mean"].notna().all()


def test_an_integer_axis_from_a_frame_reads_as_ordered():
    """numpy integers (what a DataFrame column holds) count as numbers: '≥', not 'from … on'."""
    table = {}
    for shots, (maml, pre) in {1: (0.9, 0.9), 5: (0.99, 0.8), 10: (0.99, 0.8)}.items():
        table[(1, shots, "maml")], table[(1, shots, "pretrain")] = (maml, 0.01), (pre, 0.01)
    adv = advantage(_pooled(table), ["shots"], "accuracy", 1)
    assert "for shots ≥ 5; elsewhere they tie." in boundary_sentence(adv, ["shots"], 1)


def _keeping(specs_data):
    """Cells one after another in this process, keeping their results for the run store."""
    for i, data in enumerate(specs_data):
        yield i, run_cell_for_store(data)


def test_with_a_run_store_each_cell_is_saved_once_and_loads_back(tmp_path):
    store, results = RunStore(tmp_path / "runs.sqlite"), tmp_path / "r.jsonl"
    cells = expand_grid(_base(), [parse_axis("shift=0.5,2", "clusters")], [0])
    assert len(list(run_cells(cells, results, _keeping, store))) == 2
    assert sorted(store.names()) == sorted(store_name(c) for c in cells)
    spec, trained = load_run(store, store_name(cells[0]))
    assert spec.key() == cells[0].key()
    record = read_records(results)[cells[0].key()]
    assert "results" not in record  # tensors go to the store, not the results file
    assert pooled_rows(trained, spec.config.eval_steps) == record["rows"]
    store.delete(store_name(cells[1]))  # a cell the store lacks runs again
    assert [p.cell for p in run_cells(cells, results, _keeping, store)] == [cells[1]]
    assert list(run_cells(cells, results, _keeping, store)) == []
