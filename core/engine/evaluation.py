"""Fair scoring: every method is adapted with the same `adapt` on held-out test tasks."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Iterable, TypeVar

import torch
from torch import Tensor

from core.engine.algorithms import AdaptPlan, adapt_path
from core.engine.families.base import TaskFamily
from core.engine.models import Model, Params, expand
from core.engine.tasks import TaskBatch

Z95 = NormalDist().inv_cdf(0.975)
T = TypeVar("T")

Stop = Callable[[], bool]  # asked between pieces of work: True ends the run early


class Stopped(Exception):
    """Raised when a `stop` callable asked work to end before it finished."""


@dataclass(frozen=True)
class FamilyLearner:
    """A model on a task family: predictions, per-task losses and metrics."""

    family: TaskFamily
    model: Model

    def predict(self, params: Params, x: Tensor, context: Tensor | None = None,
                alone: bool = False) -> Tensor:
        """Model outputs (tasks, points, outputs) for per-task parameters; `context`: the support
        inputs (for models that normalise by them); `alone`: each point in its own forward pass,
        so no other point of x can influence its prediction."""
        if alone:
            return torch.cat([self.model.forward(params, x[:, i:i + 1], context)
                              for i in range(x.shape[1])], dim=1)
        return self.model.forward(params, x, context)

    def loss(self, params: Params, x: Tensor, y: Tensor, context: Tensor | None = None) -> Tensor:
        """Per-task mean loss (tasks,)."""
        return self.family.loss(self.predict(params, x, context), y)

    def metrics(self, params: Params, x: Tensor, y: Tensor, context: Tensor | None = None,
                alone: bool = False) -> dict[str, Tensor]:
        """Every metric of the family, each per task (tasks,)."""
        pred = self.predict(params, x, context, alone)
        out = {"loss": self.family.loss(pred, y)}
        if "accuracy" in self.family.metrics:
            out["accuracy"] = self.family.accuracy(pred, y)
        return out

    def query_metrics(self, params: Params, tasks: TaskBatch, alone: bool = False) -> dict[str, Tensor]:
        """Every metric on the tasks' query sets (the probe that scoring uses), normalised by
        their support sets where the model does that."""
        return self.metrics(params, tasks.query_x, tasks.query_y, tasks.support_x, alone)


def make_learner(family: TaskFamily, hidden: tuple[int, ...]) -> FamilyLearner:
    """The learner every method shares on `family`."""
    return FamilyLearner(family, family.make_model(hidden))


Probe = Callable[[Params, TaskBatch], T]  # (adapted per-task params, tasks) -> what to record


def adaptation_trace(learner: FamilyLearner, phi: Params, tasks: TaskBatch,
                     inner_lr: float | Params, steps: Iterable[int], probe: Probe[T], *,
                     only: tuple[str, ...] | None = None) -> dict[int, T]:
    """probe(θ, tasks) at each of `steps` while φ adapts to every task's support set at once
    (`inner_lr` and `only` as in `adapt_path`).

    The one place that adapts at test time: scoring, the Inspect page and the image predictions
    all read the same `adapt_path`. Keys are the requested steps in increasing order.
    """
    wanted = set(steps)
    path = adapt_path(learner, expand(phi, tasks.num_tasks), tasks.support_x, tasks.support_y,
                      inner_lr, max(wanted), only=only)
    trace = {}
    for step, params in enumerate(path):
        if step in wanted:
            with torch.no_grad():
                trace[step] = probe(params, tasks)
    return trace


def plan_trace(learner: FamilyLearner, plan: AdaptPlan, tasks: TaskBatch, steps: Iterable[int],
               probe: Probe[T]) -> dict[int, T]:
    """`adaptation_trace` as a method's test-time plan says (its φ, its α, the keys it moves)."""
    return adaptation_trace(learner, plan.params, tasks, plan.inner_lr, steps, probe,
                            only=plan.only)


def score_tasks(learner: FamilyLearner, phi: Params, tasks: TaskBatch, inner_lr: float | Params,
                steps: tuple[int, ...], chunk: int | None = None, *,
                only: tuple[str, ...] | None = None, alone: bool = False,
                stop: Stop | None = None) -> dict[str, Tensor]:
    """Query metrics per step and task, each (len(steps), tasks), after adapting φ on the support
    (`inner_lr` and `only` as in `adapt_path`; `alone`: each query point scored on its own).

    Tasks are adapted together in chunks of `chunk` (default: the family's eval_chunk); `stop`
    is asked before each chunk and raises Stopped when it says so.
    """
    chunk = chunk or learner.family.eval_chunk
    parts = []
    probe = functools.partial(learner.query_metrics, alone=alone)
    for start in range(0, tasks.num_tasks, chunk):
        if stop is not None and stop():
            raise Stopped
        trace = adaptation_trace(learner, phi, tasks.select(slice(start, start + chunk)),
                                 inner_lr, steps, probe, only=only)
        parts.append(_by_metric(trace))
    return {k: torch.cat([p[k] for p in parts], dim=1) for k in parts[0]}


def score_plan(learner: FamilyLearner, plan: AdaptPlan, tasks: TaskBatch, steps: tuple[int, ...],
               chunk: int | None = None, *, alone: bool = False,
               stop: Stop | None = None) -> dict[str, Tensor]:
    """`score_tasks` with a method's test-time adaptation plan."""
    return score_tasks(learner, plan.params, tasks, plan.inner_lr, steps, chunk, only=plan.only,
                       alone=alone, stop=stop)


def _by_metric(trace: dict[int, dict[str, Tensor]]) -> dict[str, Tensor]:
    """{step: {metric: (tasks,)}} -> {metric: (steps, tasks)}."""
    first = next(iter(trace.values()))
    return {k: torch.stack([m[k] for m in trace.values()]) for k in first}


def higher_is_better(metric: str) -> bool:
    """Accuracy goes up, losses go down."""
    return metric == "accuracy"


def main_metric(metrics: Iterable[str]) -> str:
    """The metric a result is judged by: accuracy where it is scored, else the loss."""
    return "accuracy" if "accuracy" in set(metrics) else "loss"


TEST_LR_FACTORS = (1.0, 0.1, 0.3, 3.0)  # the training α first: it wins ties


def tune_test_lr(learner: FamilyLearner, plan: AdaptPlan, val_tasks: TaskBatch,
                 steps: tuple[int, ...], chunk: int | None = None,
                 stop: Stop | None = None) -> tuple[AdaptPlan, float]:
    """The plan with its α scaled by the factor of TEST_LR_FACTORS that scores best on the
    validation tasks (mean over the scored steps after 0 of accuracy, or of the loss on
    regression), and that factor. A diverging factor never wins."""
    best, best_value = 1.0, -math.inf
    for factor in TEST_LR_FACTORS:
        scores = score_plan(learner, plan.scaled(factor), val_tasks, steps, chunk, stop=stop)
        value = _criterion(learner, scores, steps)
        if value > best_value:
            best, best_value = factor, value
    return plan.scaled(best), best


def _criterion(learner: FamilyLearner, scores: dict[str, Tensor], steps: tuple[int, ...]) -> float:
    """Higher is better; NaN (divergence) counts as worst."""
    after = [i for i, s in enumerate(steps) if s > 0] or list(range(len(steps)))
    metric = main_metric(scores)
    value = scores[metric][after].double().mean().item()
    value = value if higher_is_better(metric) else -value
    return value if math.isfinite(value) else -math.inf


def mean_ci(values: Tensor) -> tuple[float, float, float]:
    """Mean and normal-approximation 95 % confidence interval of per-task values."""
    n = values.numel()
    mean = values.double().mean().item()
    half = Z95 * values.double().std().item() / math.sqrt(n) if n > 1 else float("nan")
    return mean, mean - half, mean + half


def gain_ci(before: Tensor, after: Tensor, metric: str) -> tuple[float, float, float]:
    """Mean improvement of `metric` per task from `before` to `after`, with its paired 95 % CI."""
    change = after - before
    return mean_ci(change if higher_is_better(metric) else -change)


def summary_rows(method: str, scores: dict[str, Tensor], steps: tuple[int, ...]) -> list[dict]:
    """Tidy rows {method, step, metric, mean, ci_low, ci_high, n_tasks} from per-task scores."""
    rows = []
    for metric, table in scores.items():
        for i, step in enumerate(steps):
            mean, low, high = mean_ci(table[i])
            rows.append({"method": method, "step": step, "metric": metric, "mean": mean,
                         "ci_low": low, "ci_high": high, "n_tasks": table.shape[1]})
    return rows
