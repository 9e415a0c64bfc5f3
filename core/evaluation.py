"""Fair scoring: every method is adapted with the same `adapt` on held-out test tasks."""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import torch
from torch import Tensor

from core.algorithms import adapt_path
from core.families.base import TaskFamily
from core.models import MLP, Params, expand
from core.tasks import TaskBatch

Z95 = NormalDist().inv_cdf(0.975)


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


def make_learner(family: TaskFamily, hidden: tuple[int, ...]) -> FamilyLearner:
    """The learner every method shares on `family`."""
    return FamilyLearner(family, family.make_model(hidden))


def score_tasks(learner: FamilyLearner, phi: Params, tasks: TaskBatch, inner_lr: float,
                steps: tuple[int, ...], chunk: int | None = None) -> dict[str, Tensor]:
    """Query metrics per step and task, each (len(steps), tasks), after adapting φ on the support.

    Tasks are adapted together in chunks of `chunk` (default: the family's eval_chunk).
    """
    chunk = chunk or learner.family.eval_chunk
    parts = [_score_chunk(learner, phi, tasks.select(slice(i, i + chunk)), inner_lr, steps)
             for i in range(0, tasks.num_tasks, chunk)]
    return {k: torch.cat([p[k] for p in parts], dim=1) for k in parts[0]}


def _score_chunk(learner: FamilyLearner, phi: Params, tasks: TaskBatch, inner_lr: float,
                 steps: tuple[int, ...]) -> dict[str, Tensor]:
    scores: dict[str, list[Tensor]] = {}
    start = expand(phi, tasks.num_tasks)
    path = adapt_path(learner, start, tasks.support_x, tasks.support_y, inner_lr, steps[-1])
    for step, params in enumerate(path):
        if step in steps:
            with torch.no_grad():
                for name, value in learner.metrics(params, tasks.query_x, tasks.query_y).items():
                    scores.setdefault(name, []).append(value)
    return {k: torch.stack(v) for k, v in scores.items()}


def higher_is_better(metric: str) -> bool:
    """Accuracy goes up, losses go down."""
    return metric == "accuracy"


def mean_ci(values: Tensor) -> tuple[float, float, float]:
    """Mean and normal-approximation 95 % confidence interval of per-task values."""
    n = values.numel()
    mean = values.double().mean().item()
    half = Z95 * values.double().std().item() / math.sqrt(n) if n > 1 else float("nan")
    return mean, mean - half, mean + half


def summary_rows(method: str, scores: dict[str, Tensor], steps: tuple[int, ...]) -> list[dict]:
    """Tidy rows {method, step, metric, mean, ci_low, ci_high, n_tasks} from per-task scores."""
    rows = []
    for metric, table in scores.items():
        for i, step in enumerate(steps):
            mean, low, high = mean_ci(table[i])
            rows.append({"method": method, "step": step, "metric": metric, "mean": mean,
                         "ci_low": low, "ci_high": high, "n_tasks": table.shape[1]})
    return rows
