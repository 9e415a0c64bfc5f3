"""The meta-training loop as a generator of progress events (core/engine/events.py), and
side-by-side comparison."""
from __future__ import annotations

import functools
import time
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor

from core.engine import compiled as compiling
from core.engine.algorithms import METHODS, Method, PlanHook, result_plans
from core.engine.config import TrainConfig
from core.engine.evaluation import (FamilyLearner, Stop, Stopped, make_learner, score_plan,
                                    summary_rows, tune_test_lr)
from core.engine.events import Checkpoint, Event, MethodResult, Progress
from core.engine.families.base import TaskFamily
from core.engine.models import Params
from core.engine.shapes import scoring_chunk
from core.engine.tasks import TaskBatch, generator
from core.settings import SettingError


def _finite(loss: Tensor, grads: Params) -> bool:
    # One check over one joined tensor: a check per gradient cost ~21 small ops per iteration.
    joined = torch.cat([loss.reshape(1), *(g.reshape(-1) for g in grads.values())])
    return bool(torch.isfinite(joined).all())


Update = Callable[[int, list[Tensor]], None]  # (iteration, gradients) -> parameters updated


def _optimizer(method: Method, params: list[Tensor], cfg: TrainConfig,
               fused: bool = False) -> Update:
    """The outer optimiser of `method` as one update per iteration: Adam (lr β) or Reptile's
    SGD (lr ε, annealed when asked). `fused`: torch's fused Adam, for the compiled path."""
    if method.optimizer == "sgd":
        return functools.partial(_sgd_update, [p.detach() for p in params], cfg)
    if fused:  # one kernel per tensor; rounds differently from the unfused update
        return functools.partial(_torch_update, torch.optim.Adam(params, lr=cfg.meta_lr,
                                                                 fused=True), params)
    return _Adam([p.detach() for p in params], cfg.meta_lr)


def _sgd_update(params: list[Tensor], cfg: TrainConfig, it: int, grads: list[Tensor]) -> None:
    """torch.optim.SGD's step without momentum (the same float operation), ε decayed linearly
    to 0 over training when cfg.reptile_anneal (Reptile paper)."""
    lr = cfg.reptile_step_size * (1 - it / cfg.iterations if cfg.reptile_anneal else 1)
    torch._foreach_add_(params, grads, alpha=-lr)


def _torch_update(opt: torch.optim.Optimizer, params: list[Tensor], it: int,
                  grads: list[Tensor]) -> None:
    """A torch.optim step with `grads` as the parameters' gradients."""
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()


class _Adam:
    """torch.optim.Adam at its defaults (β₁ 0.9, β₂ 0.999, ε 1e-8), the same float operations in
    the same order and so the same numbers, as a few _foreach calls: torch.optim.Adam.step spent
    ~0.28 ms per iteration on the MLPs' six small tensors, this ~0.11 ms (docs/speed.md)."""

    def __init__(self, params: list[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps, self.steps = params, lr, betas, eps, 0
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    def __call__(self, it: int, grads: list[Tensor]) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        step_size = self.lr / (1 - beta1 ** self.steps)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, (1 - beta2 ** self.steps) ** 0.5)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, -step_size)


def _checkpoint_iterations(cfg: TrainConfig) -> set[int]:
    if cfg.checkpoints == 0 or cfg.iterations == 0:
        return set()
    return {round(cfg.iterations * i / cfg.checkpoints) for i in range(cfg.checkpoints + 1)}


def _validation_steps(cfg: TrainConfig) -> tuple[int, ...]:
    return tuple(sorted({0, cfg.inner_steps, cfg.max_eval_step}))


def _chunk(learner: FamilyLearner, tasks: TaskBatch, steps: tuple[int, ...]) -> int:
    return scoring_chunk(learner.family, learner.model, tasks.support_x.shape[1],
                         tasks.query_x.shape[1], steps[-1])


def train_method(learner: FamilyLearner, method_name: str, cfg: TrainConfig,
                 test_tasks: TaskBatch, val_tasks: TaskBatch,
                 stop: Stop | None = None, compiled: bool = False) -> Iterator[Event]:
    """Meta-train one method from the seed's shared initialisation, then score it on test tasks.

    Yields Progress and Checkpoint events, and finally the MethodResult, then one per test-time
    variant of the method (e.g. ANIL with the whole net adapted). A non-finite loss or gradient
    stops training and marks the result diverged instead of raising. When `stop` (asked every
    iteration and between scoring chunks) says so, it ends without a result. `compiled` runs
    the meta-gradient through torch.compile (core/engine/compiled.py) and Adam fused: same numbers up
    to float rounding.
    """
    try:
        yield from _train_method(learner, method_name, cfg, test_tasks, val_tasks,
                                 stop or (lambda: False), compiled)
    except Stopped:
        return


def _train_method(learner: FamilyLearner, method_name: str, cfg: TrainConfig,
                  test_tasks: TaskBatch, val_tasks: TaskBatch, stop: Stop,
                  compiled: bool) -> Iterator[Event]:
    method = METHODS[method_name]
    initial = method.start(learner, learner.model.init(generator(cfg.seed, "init")), cfg)
    phi = {k: v.requires_grad_(True) for k, v in initial.items()}
    tasks_gen = generator(cfg.seed, "train")  # every method sees the same task sequence
    update = _optimizer(method, list(phi.values()), cfg, fused=compiled)
    meta_gradient = method.meta_gradient
    if compiled and meta_gradient:
        meta_gradient = compiling.meta_gradient(method)
    result = MethodResult(method_name, cfg.seed, phi, 0.0, {})
    iterations = cfg.iterations if method.meta_gradient else 0
    every = max(1, iterations // 100)
    checkpoint_at = _checkpoint_iterations(cfg) if method.meta_gradient else set()
    start = time.perf_counter()
    for it in range(iterations + 1):
        if stop():
            raise Stopped
        if it in checkpoint_at:
            event = _validate(learner, method, method.finish(learner, phi, cfg), cfg, val_tasks, it,
                              stop)
            result.checkpoints.append(event)
            yield event
        if it == iterations:
            break
        batch = learner.family.sample(cfg.meta_batch_size, tasks_gen, "train")
        grads, loss = meta_gradient(learner, phi, batch, cfg)
        if not _finite(loss, grads):
            result.diverged = (f"training diverged at iteration {it + 1} (meta-loss {loss.item():g}); "
                               "lower the learning rates")
            break
        update(it, [grads[k] for k in phi])
        if (it + 1) % every == 0 or it + 1 == iterations:
            event = Progress(method_name, cfg.seed, it + 1, iterations, loss.item(),
                             time.perf_counter() - start)
            result.history.append(event)
            yield event
    result.seconds = time.perf_counter() - start
    result.params = method.finish(learner, {k: v.detach() for k, v in phi.items()}, cfg)
    training_diverged = result.diverged
    for name, hook in result_plans(method_name):
        if name != method_name:
            result = MethodResult(name, cfg.seed, result.params, result.seconds, {},
                                  diverged=training_diverged)
        _score(learner, result, hook, cfg, test_tasks, val_tasks, stop)
        yield result


def _score(learner: FamilyLearner, result: MethodResult, hook: PlanHook, cfg: TrainConfig,
           test_tasks: TaskBatch, val_tasks: TaskBatch, stop: Stop) -> None:
    """Adapt the result's φ on every test task as `hook` says (its α tuned when asked)."""
    result.plan = hook(learner, result.params, cfg)
    if cfg.test_lr == "auto":
        result.plan, result.test_lr_scale = tune_test_lr(
            learner, result.plan, val_tasks, cfg.eval_steps,
            _chunk(learner, val_tasks, cfg.eval_steps), stop)
    result.scores = score_plan(learner, result.plan, test_tasks, cfg.eval_steps,
                               _chunk(learner, test_tasks, cfg.eval_steps),
                               alone=cfg.queries == "alone", stop=stop)
    sound = reportable(result.scores, cfg.eval_steps)
    if result.diverged is None and not sound.all():
        first = int((~sound).nonzero()[0])
        result.diverged = (f"test-time adaptation diverged at step {cfg.eval_steps[first]}; "
                           "lower inner_lr or use test-time α auto")
        result.diverged_from = first


# A step whose mean loss is this many times the loss before adaptation has diverged, even if
# finite: adapting made the model ten times worse than not adapting at all (Meta-SGD's learned
# α, taken for more steps than it was trained for, gives losses like 1e19 before any inf).
BLOWUP = 10.0


def reportable(scores: dict[str, Tensor], steps: tuple[int, ...]) -> Tensor:
    """Per eval step, whether its scores are sound: finite for every test task, and a mean
    loss under BLOWUP × the loss before adaptation (when step 0 is scored). Shape (steps,)."""
    sound = torch.stack([torch.isfinite(s).all(1) for s in scores.values()]).all(0)
    if 0 in steps and "loss" in scores:
        loss = scores["loss"].mean(1)
        sound &= loss <= BLOWUP * loss[steps.index(0)]  # NaN fails the comparison too
    return sound


def _validate(learner: FamilyLearner, method: Method, phi: Params, cfg: TrainConfig,
              val_tasks: TaskBatch, iteration: int, stop: Stop) -> Checkpoint:
    steps = _validation_steps(cfg)
    plan = method.adaptation(learner, {k: v.detach() for k, v in phi.items()}, cfg)
    scores = score_plan(learner, plan, val_tasks, steps, _chunk(learner, val_tasks, steps),
                        stop=stop)
    return Checkpoint(method.name, cfg.seed, iteration, summary_rows(method.name, scores, steps))


def check_methods(methods: Sequence[str]) -> None:
    """Raise SettingError unless `methods` is a non-empty list of registered names."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise SettingError(f"methods must be a non-empty selection of {', '.join(METHODS)} "
                           f"(got {', '.join(methods) or 'nothing'})")


def compare(family: TaskFamily, methods: Sequence[str], cfg: TrainConfig,
            seeds: Sequence[int] | None = None, stop: Stop | None = None,
            compiled: bool = False) -> Iterator[Event]:
    """Train and score every method for every seed (default: cfg.seed); each seed has its own
    test tasks, validation tasks and initialisation, shared by all methods.

    When `stop` says so the run ends: methods already finished keep their results, the one
    under way yields none and the rest do not start. `compiled`: see train_method."""
    check_methods(methods)
    seeds = (cfg.seed,) if seeds is None else seeds
    learner = make_learner(family, cfg.hidden)
    for seed in seeds:
        seeded = cfg.replace(seed=seed)
        test_tasks = family.sample(cfg.test_tasks, generator(seed, "test"), "test")
        val_tasks = family.sample(cfg.val_tasks, generator(seed, "validation"), "validation")
        for name in methods:
            if stop is not None and stop():
                return
            yield from train_method(learner, name, seeded, test_tasks, val_tasks, stop, compiled)
