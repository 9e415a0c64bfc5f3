"""The Inspect page adapts with the scoring code: per task it shows exactly the scored numbers."""
from dataclasses import replace

import pytest
import torch

from core.engine.algorithms import adapt
from core.engine.config import TrainConfig
from core.engine.evaluation import adaptation_trace, make_learner
from core.engine.events import MethodResult
from core.engine.families import make_family
from core.engine.models import expand
from core.engine.tasks import generator
from core.engine.training import compare
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


def test_a_result_saved_without_its_plan_gets_the_plan_it_was_scored_with():
    """Runs saved before plans were kept (the older gallery files): the method's hook rebuilds
    the plan from φ, ANIL's whole-net variant and Meta-SGD's learned α included."""
    family = make_family("clusters")
    cfg = TrainConfig(iterations=2, meta_batch_size=2, hidden=(8,), test_tasks=3, val_tasks=2,
                      checkpoints=0, eval_steps=(0, 1), inner_lr=0.3, seed=1)
    learner = make_learner(family, cfg.hidden)
    results = [e for e in compare(family, ["maml", "anil", "metasgd", "pretrain"], cfg)
               if isinstance(e, MethodResult)]
    assert {r.method for r in results} >= {"anil-whole", "metasgd"}
    for r in results:
        rebuilt = replace(r, plan=None).test_plan(learner, cfg)
        assert rebuilt.only == r.plan.only, r.method
        lr, kept = rebuilt.inner_lr, r.plan.inner_lr
        assert (lr.keys() == kept.keys() and all(torch.equal(lr[k], kept[k]) for k in lr)
                if isinstance(kept, dict) else lr == kept), r.method
        assert all(torch.equal(rebuilt.params[k], r.plan.params[k]) for k in r.plan.params)


@pytest.mark.parametrize("key", ["consistent-labels", "anil-metasgd"])
def test_inspect_on_a_gallery_run_shows_its_stored_scores_of_the_typical_task(key):
    """What Inspect shows before anyone trains: the gallery run's own per-task numbers (its
    plans rebuilt for consistent-labels, kept for anil-metasgd)."""
    from core.runs import gallery
    from report.frames import typical_task
    run = gallery.load(key)
    spec = run.spec()
    family, cfg = spec.make_family(), spec.config
    index = typical_task(run.results, spec.seeds[0], cfg.eval_steps, cfg.inner_steps)
    learner = make_learner(family, cfg.hidden)
    task = adaptation.held_out_task(family, spec.seeds[0], cfg.test_tasks, index)
    shown = adaptation.adapt_all(learner, {r.method: r.test_plan(learner, cfg) for r in run.results},
                                 task, cfg.max_eval_step).scores
    for r in run.results:
        for metric, table in r.scores.items():
            mine = shown[(shown.method == r.method) & (shown.metric == metric)].set_index("step")
            values = torch.tensor(mine.value[list(cfg.eval_steps)].to_numpy(), dtype=table.dtype)
            torch.testing.assert_close(values, table[:, index], rtol=1e-5, atol=1e-5)
