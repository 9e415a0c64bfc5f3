"""One pooling rule (core/results.py) for Compare, Training and Sweeps."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from core.engine.evaluation import summary_rows
from core.engine.events import MethodResult
from core.results import pooled_rows
from core.sweep.summary import summarise_seeds

STEPS = (0, 1)


def _seed(seed: int, shift: float) -> MethodResult:
    gen = torch.Generator().manual_seed(seed)
    loss = torch.rand(2, 50, generator=gen, dtype=torch.float64) + shift
    return MethodResult("maml", seed, {}, 1.0, {"loss": loss.float()})


def test_compare_and_a_sweep_cell_give_the_same_interval_for_the_same_seeds():
    seeds = [_seed(0, 0.0), _seed(1, 0.4), _seed(2, 0.1)]  # seeds that train apart
    compare = pd.DataFrame(pooled_rows(seeds, STEPS))
    per_seed = pd.DataFrame([{**row, "x": 1, "seed": r.seed, "status": "ok"}
                             for r in seeds for row in pooled_rows([r], STEPS)])
    sweep = summarise_seeds(per_seed, ["x"])
    for column in ("mean", "ci_low", "ci_high", "n_tasks"):
        assert compare[column].tolist() == pytest.approx(sweep[column].tolist(), rel=1e-9)
    assert (compare.ci_high - compare.ci_low > 0.3).all()  # the seeds' spread, not the tasks'


def test_one_seed_keeps_its_interval_over_its_test_tasks():
    one = _seed(0, 0.0)
    expected = summary_rows("maml", one.scores, STEPS)
    got = pooled_rows([one], STEPS)
    assert [{k: r[k] for k in e} for r, e in zip(got, expected)] == expected
