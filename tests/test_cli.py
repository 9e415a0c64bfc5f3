"""The CLI's success paths: listings, a tiny comparison with its files, and a scenario's check."""
from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from core.cli.main import main
from core.engine.algorithms import METHODS
from core.engine.families import FAMILIES
from core.scenarios.catalogue import SCENARIOS, SCENARIOS_BY_KEY

TINY = ["--iterations", "5", "--test-tasks", "20", "--val-tasks", "5", "--checkpoints", "0",
        "--quiet"]


@pytest.mark.parametrize("command, names", [("families", list(FAMILIES)),
                                            ("methods", list(METHODS)),
                                            ("scenarios", [s.key for s in SCENARIOS])])
def test_listings_print_one_line_per_entry_in_registry_order(command, names, capsys):
    assert main([command]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == names


def test_tiny_comparison_writes_its_table_json_and_csv(tmp_path, capsys):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code = main(["compare", "--family", "clusters", "--methods", "maml,scratch", "--eval-steps",
                 "0,1", *TINY, "--json", str(out_json), "--csv", str(out_csv)])
    assert code == 0
    table = capsys.readouterr().out
    assert "accuracy (95% CI)" in table and "maml" in table and "scratch" in table
    saved = json.loads(out_json.read_text())
    assert saved["config"]["family"] == "clusters" and saved["config"]["methods"] == ["maml", "scratch"]
    assert {(r["method"], r["step"], r["metric"]) for r in saved["rows"]} == {
        (m, s, k) for m in ("maml", "scratch") for s in (0, 1) for k in ("loss", "accuracy")}
    with open(out_csv) as f:
        assert len(list(csv.DictReader(f))) == len(saved["rows"])


def test_preset_sets_the_scenario_and_says_whether_its_claim_held(tmp_path, capsys):
    # Explicit flags override the scenario's settings, and the check says so.
    out_json = tmp_path / "r.json"
    code = main(["compare", "--preset", "consistent-labels", *TINY, "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0
    assert "pretrain" in out and "maml" in out and "fomaml" not in out  # the scenario's methods
    assert "(settings differ from the scenario's)" in out
    # The verdict printed is the scenario's own check of the numbers written.
    scenario = SCENARIOS_BY_KEY["consistent-labels"]
    failures = scenario.failures(pd.DataFrame(json.loads(out_json.read_text())["rows"]))
    verdict = "claim ✗" if failures else "claim ✓"
    assert f"{verdict} (settings differ from the scenario's): {scenario.look_for}" in out
    assert ("not backed: " + "; ".join(failures) in out) if failures else "not backed" not in out


def test_preset_with_another_family_is_refused(capsys):
    assert main(["compare", "--preset", "consistent-labels", "--family", "sinusoid"]) == 2
    assert "uses family clusters" in capsys.readouterr().err
