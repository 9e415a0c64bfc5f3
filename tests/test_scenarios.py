"""Every scenario's sentence is checked against the engine, seed by seed, before anyone reads it."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from core.engine.events import MethodResult
from core.engine.training import compare
from core.runspec import RunSpec
from core.scenarios.catalogue import SCENARIOS, SCENARIOS_BY_KEY
from core.scenarios.claims import Beats, Close, Near, Overfits
from report.frames import results_frame

SEEDS = (0, 1, 2)
# The shared data folder beside the checkout (a worktree may sit one level deeper).
OMNIGLOT = next((d / "shared" / "data" / "omniglot" for d in Path(__file__).resolve().parents
                 if (d / "shared" / "data" / "omniglot").is_dir()), Path("shared/data/omniglot"))


def _with_data(spec: RunSpec) -> RunSpec:
    """An image scenario reads its data from the shared folder (skipped where it is missing)."""
    if spec.family != "omniglot":
        return spec
    if not list(OMNIGLOT.glob("images_background_small*.zip")):
        pytest.skip(f"shared Omniglot zips not found in {OMNIGLOT}")
    settings = {**dict(spec.family_settings), "data_dir": str(OMNIGLOT), "download": False}
    return dataclasses.replace(spec, family_settings=tuple(settings.items()))


def _methods_in(claims) -> set[str]:
    names = set()
    for claim in claims:
        names |= {getattr(claim, f) for f in ("winner", "loser", "method", "first", "second")
                  if hasattr(claim, f)}
    return names


class Runs:
    """Trained results shared by every preset that needs the same method, settings and seed."""

    def __init__(self) -> None:
        self._done: dict[tuple, list[MethodResult]] = {}

    def get(self, spec: RunSpec, method: str, seed: int) -> list[MethodResult]:
        """The method's results: one, or more for a method with test-time variants (ANIL)."""
        # Checkpoints only add validation scoring; they change no trained or test number.
        cfg = spec.config.replace(checkpoints=0)
        key = (json.dumps([spec.family, spec.family_settings, cfg.replace(seed=0).as_dict()]),
               method, seed)
        if key not in self._done:
            self._done[key] = [e for e in compare(spec.make_family(), [method], cfg, (seed,))
                               if isinstance(e, MethodResult)]
        return self._done[key]


@pytest.fixture(scope="module")
def runs() -> Runs:
    return Runs()


def test_presets_are_complete_and_valid():
    assert len(SCENARIOS_BY_KEY) == len(SCENARIOS) > 0  # every key names one scenario
    for preset in SCENARIOS:
        spec = preset.spec()
        spec.make_family()  # valid family settings
        assert preset.claims, f"{preset.name}: a sentence with nothing to back it"
        assert _methods_in(preset.claims) <= set(spec.methods)
        assert preset.look_for.endswith(".") and len(preset.look_for) < 220


@pytest.mark.slow
@pytest.mark.parametrize("preset", SCENARIOS, ids=[p.key for p in SCENARIOS])
@pytest.mark.parametrize("seed", SEEDS)
def test_preset_sentence_holds(preset, seed, runs):
    spec = _with_data(preset.spec(seed))
    methods = sorted(_methods_in(preset.claims))
    results = [r for m in methods for r in runs.get(spec, m, seed)]
    assert not any(r.diverged for r in results)
    rows = results_frame(results, spec.config.eval_steps)
    assert preset.failures(rows) == [], f"{preset.name}, seed {seed}"


def test_claims_can_fail():
    """The checks are not vacuous: swapped roles are rejected."""
    rows = pd.DataFrame([
        {"method": "maml", "step": 0, "metric": "loss", "mean": 3.0, "ci_low": 2.9, "ci_high": 3.1},
        {"method": "maml", "step": 1, "metric": "loss", "mean": 1.0, "ci_low": 0.9, "ci_high": 1.1},
        {"method": "maml", "step": 2, "metric": "loss", "mean": 1.5, "ci_low": 1.4, "ci_high": 1.6},
        {"method": "pretrain", "step": 0, "metric": "loss", "mean": 2.0, "ci_low": 1.9,
         "ci_high": 2.1},
        {"method": "pretrain", "step": 1, "metric": "loss", "mean": 1.95, "ci_low": 1.85,
         "ci_high": 2.05},
    ])
    assert Beats("loss", "maml", 1, "pretrain", 1).holds(rows)
    assert not Beats("loss", "pretrain", 1, "maml", 1).holds(rows)
    assert not Beats("loss", "maml", 1, "pretrain", 1, margin=0.6).holds(rows)
    assert Close("loss", "maml", "pretrain", 0, 1.0).holds(rows)
    assert not Close("loss", "maml", "pretrain", 0, 0.5).holds(rows)
    assert Near("loss", "pretrain", 0, 2.0, 0.01).holds(rows)
    assert Overfits("maml", 1, 1.4).holds(rows) and not Overfits("maml", 1, 1.6).holds(rows)


def test_a_claims_gap_is_how_far_apart_its_intervals_lie():
    """Positive when the winner's CI clears the loser's (by how much), negative when they overlap
    or the roles are swapped; a separated claim holds only with a positive gap."""
    rows = pd.DataFrame([
        {"method": "maml", "step": 1, "metric": "accuracy", "mean": 0.95, "ci_low": 0.93,
         "ci_high": 0.97},
        {"method": "pretrain", "step": 1, "metric": "accuracy", "mean": 0.88, "ci_low": 0.86,
         "ci_high": 0.90},
        {"method": "pretrain", "step": 0, "metric": "accuracy", "mean": 0.92, "ci_low": 0.90,
         "ci_high": 0.94},
    ])
    assert Beats("accuracy", "maml", 1, "pretrain", 1).gap(rows) == pytest.approx(0.03)
    assert Beats("accuracy", "pretrain", 1, "maml", 1).gap(rows) == pytest.approx(-0.11)
    overlapping = Beats("accuracy", "maml", 1, "pretrain", 0)
    assert overlapping.gap(rows) == pytest.approx(-0.01) and not overlapping.holds(rows)
    assert dataclasses.replace(overlapping, separated=False).holds(rows)


def test_a_data_folder_leaves_the_omniglot_scenario_in_force():
    """Where the data lives changes no number: the page and the CLI still name the scenario."""
    preset = SCENARIOS_BY_KEY["omniglot-5way-1shot"]
    spec = preset.spec()
    moved = dict(spec.family_settings) | {"data_dir": "/elsewhere", "download": False}
    assert spec.same_numbers(dataclasses.replace(spec, family_settings=tuple(moved.items())))
    fewer = dict(spec.family_settings) | {"channels": 8}
    assert not spec.same_numbers(dataclasses.replace(spec, family_settings=tuple(fewer.items())))
    assert not spec.same_numbers(dataclasses.replace(spec, seeds=(1,)))
    assert spec.same_numbers(dataclasses.replace(spec, seeds=(1,)), seeds=False)
