"""The Inspect page adapts with the scoring code: per task it shows exactly the scored numbers."""
import pytest
import torch

from core.algorithms import adapt
from core.config import TrainConfig
from core.evaluation import adaptation_trace, make_learner
from core.families import make_family
from core.models import expand
from core.tasks import generator
from core.training import MethodResult, compare
from dashboard import adaptation

IMAGES = {"ways": 3, "shots": 2, "query": 4, "channels": 4, "image_size": 8}


def test_trace_probes_the_adapted_parameters_at_the_requested_steps():
    family = make_family("sinusoid")
    learner = make_learner(family, (8,))
    phi = learner.model.init(generator(0, "init"))
    tasks = family.sample(3, generator(0, "test"))
    trace = adaptation_trace(learner, phi, tasks, 0.1, (0, 2, 3), lambda params, _: params)
    assert list(trace) == [0, 2, 3]
    for step, params in trace.items():
        expected = adapt(learner, expand(phi, 3), tasks.support_x, tasks.support_y, 0.1, step)
        for k in phi:
            assert torch.equal(params[k], expected[k])


@pytest.mark.parametrize("name, settings", [("sinusoid", {}), ("clusters", {}), ("digits", IMAGES)])
def test_inspect_shows_the_scores_of_the_held_out_task(name, settings):
    family = make_family(name, **settings)
    cfg = TrainConfig(iterations=3, meta_batch_size=4, hidden=(8,), test_tasks=5, val_tasks=2,
                      checkpoints=0, eval_steps=(0, 1, 3), inner_lr=0.1, seed=2)
    results = [e for e in compare(family, ["maml", "pretrain", "anil", "metasgd"], cfg)
               if isinstance(e, MethodResult)]
    index = 3
    task = adaptation.held_out_task(family, cfg.seed, cfg.test_tasks, index)
    shown = adaptation.adapt_all(make_learner(family, cfg.hidden),
                                 {r.method: r.plan for r in results}, task,
                                 cfg.max_eval_step).scores
    for r in results:
        for metric, table in r.scores.items():  # (eval steps, test tasks)
            mine = shown[(shown.method == r.method) & (shown.metric == metric)].set_index("step")
            values = torch.tensor(mine.value[list(cfg.eval_steps)].to_numpy(), dtype=table.dtype)
            torch.testing.assert_close(values, table[:, index], rtol=1e-5, atol=1e-6)
