"""The compiled path (`--compile`): the same meta-gradients and the same results as eager."""
import pytest
import torch

from core.cli.main import main
from core.engine import compiled
from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.evaluation import make_learner, mean_ci
from core.engine.events import MethodResult
from core.engine.families import make_family
from core.engine.tasks import generator
from core.engine.training import compare

pytestmark = [pytest.mark.slow,  # compiling takes 10-60 s per new shape
              pytest.mark.skipif(compiled.unavailable() is not None,
                                 reason=str(compiled.unavailable()))]

CFG = TrainConfig(iterations=150, meta_batch_size=25, meta_lr=0.01, test_tasks=300,
                  checkpoints=0, eval_steps=(0, 1))


def test_compiled_maml_gradient_matches_eager():
    """Exact second order through the compiled graph: the eager gradient up to float rounding."""
    family = make_family("sinusoid")
    learner = make_learner(family, CFG.hidden)
    phi = {k: v.requires_grad_(True) for k, v in learner.model.init(generator(0, "init")).items()}
    batch = family.sample(CFG.meta_batch_size, generator(0, "train"))
    eager, eager_loss = METHODS["maml"].meta_gradient(learner, phi, batch, CFG)
    fast, fast_loss = compiled.meta_gradient(METHODS["maml"])(learner, phi, batch, CFG)
    assert torch.allclose(fast_loss, eager_loss, rtol=1e-5)
    for k in eager:
        assert torch.allclose(fast[k], eager[k], rtol=1e-4, atol=1e-6), k
    assert any(g.abs().max() > 1e-3 for g in eager.values())  # not vacuously equal zeros


def test_compiled_run_gives_eager_numbers_within_the_cis(tmp_path):
    """A short MAML run, compiled and eager: after one step the means sit in each other's CIs,
    and the CLI's --compile flag runs the same compiled path."""
    family = make_family("sinusoid")
    runs = {}
    for flag in (False, True):
        *_, result = compare(family, ["maml"], CFG, compiled=flag)
        assert isinstance(result, MethodResult) and not result.diverged
        runs[flag] = mean_ci(result.scores["loss"][1])
    (eager, e_low, e_high), (fast, f_low, f_high) = runs[False], runs[True]
    assert e_low <= fast <= e_high and f_low <= eager <= f_high
    assert eager < 0.8 * mean_ci(result.scores["loss"][0])[0]  # training did something
    out = tmp_path / "run.json"
    argv = ["compare", "--methods", "maml", "--compile", "--iterations", "5", "--meta-batch-size",
            "25", "--test-tasks", "20", "--checkpoints", "0", "--eval-steps", "0,1", "--quiet",
            "--json", str(out)]
    assert main(argv) == 0 and '"compiled": true' in out.read_text()
