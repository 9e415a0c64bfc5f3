"""Fair scoring: every method is adapted with the same `adapt` on held-out test tasks."""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Iterable, TypeVar

import torch
from torch import Tensor

from core.algorithms import adapt_path
from core.families.base import TaskFamily
from core.models import MLP, Params, expand
from core.tasks import TaskBatch

Z95 = NormalDist().inv_cdf(0.975)
T = TypeVar("T")

Stop = Callable[[], bool]  # asked between pieces of work: True ends the run early


class Stopped(Exception):
    """Raised when a `stop` callable asked work to end before it finished."""


@dataclass(frozen=True)
class FamilyLearner:
    """A model on a task family: predictions, per-task losses and metrics."""

    family: TaskFamily
    model: MLP

    def predict(self, params: Params, x: Tensor) -> Tensor:
        """Model outputs (tasks, points, outputs) for per-task parameters."""
        return self.model.forward(params, x)

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Per-task mean loss (tasks,)."""
        return self.family.loss(self.predict(params, x), y)

    def metrics(self, params: Params, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Every metric of the family, each per task (tasks,)."""
        pred = self.predict(params, x)
        out = {"loss": self.family.loss(pred, y)}
        if "accuracy" in self.family.metrics:
            out["accuracy"] = self.family.accuracy(pred, y)
        return out

    def query_metrics(self, params: Params, tasks: TaskBatch) -> dict[str, Tensor]:
        """Every metric on the tasks' query sets (the probe that scoring uses)."""
        return self.metrics(params, tasks.query_x, tasks.query_y)


def make_learner(family: TaskFamily, hidden: tuple[int, ...]) -> FamilyLearner:
    """The learner every method shares on `family`."""
    return FamilyLearner(family, family.make_model(hidden))


Probe = Callable[[Params, TaskBatch], T]  # (adapted per-task params, tasks) -> what to record


def adaptation_trace(learner: FamilyLearner, phi: Params, tasks: TaskBatch, inner_lr: float,
                     steps: Iterable[int], probe: Probe[T]) -> dict[int, T]:
    """probe(θ, tasks) at each of `steps` while φ adapts to every task's support set at once.

    The one place that adapts at test time: scoring, the Inspect page and the image predictions
    all read the same `adapt_path`. Keys are the requested steps in increasing order.
    """
    wanted = set(steps)
    path = adapt_path(learner, expand(phi, tasks.num_tasks), tasks.support_x, tasks.support_y,
                      inner_lr, max(wanted))
    trace = {}
    for step, params in enumerate(path):
        if step in wanted:
            with torch.no_grad():
                trace[step] = probe(params, tasks)
    return trace


def score_tasks(learner: FamilyLearner, phi: Params, tasks: TaskBatch, inner_lr: float,
                steps: tuple[int, ...], chunk: int | None = None,
                stop: Stop | None = None) -> dict[str, Tensor]:
    """Query metrics per step and task, each (len(steps), tasks), after adapting φ on the support.

    Tasks are adapted together in chunks of `chunk` (default: the family's eval_chunk); `stop`
    is asked before each chunk and raises Stopped when it says so.
    """
    chunk = chunk or learner.family.eval_chunk
    parts = []
    for start in range(0, tasks.num_tasks, chunk):
        if stop is not None and stop():
            raise Stopped
        trace = adaptation_trace(learner, phi, tasks.select(slice(start, start + chunk)),
                                 inner_lr, steps, learner.query_metrics)
        parts.append(_by_metric(trace))
    return {k: torch.cat([p[k] for p in parts], dim=1) for k in parts[0]}


def _by_metric(trace: dict[int, dict[str, Tensor]]) -> dict[str, Tensor]:
    """{step: {metric: (tasks,)}} -> {metric: (steps, tasks)}."""
    first = next(iter(trace.values()))
    return {k: torch.stack([m[k] for m in trace.values()]) for k in first}


def higher_is_better(metric: str) -> bool:
    """Accuracy goes up, losses go down."""
    return metric == "accuracy"


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
