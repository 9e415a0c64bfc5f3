"""2-D N-way K-shot classification of Gaussian clusters, with permuted or consistent labels."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from core.engine.families.base import TaskFamily, register_family, uniform
from core.engine.tasks import TaskBatch
from core.settings import SettingError, setting


@register_family
@dataclass(frozen=True)
class Clusters(TaskFamily):
    """Class centres on a circle, shifted per task; each task picks N classes and labels them."""

    name = "clusters"
    title = "2-D clusters (N-way K-shot)"
    description = ("Gaussian clusters on a circle, shifted per task. With permuted labels no single "
                   "model can be right before adaptation; with consistent labels pre-training can.")
    kind = "classification"
    input_shape = (2,)
    suggested = {"inner_lr": 0.5}

    ways: int = setting(3, "N: classes per task", 2, 50, kind="int")
    shots: int = setting(5, "K: support examples per class", 1, 1000, kind="int")
    query: int = setting(15, "query examples per class", 1, 10000, kind="int")
    classes: int = setting(3, "class centres on the circle to choose the N from", 2, 50,
                           kind="int")
    radius: float = setting(2.0, "radius of the circle of class centres", 0.0, 100.0,
                            kind="float")
    shift: float = setting(2.0, "each task is translated by U[-shift, shift]²", 0.0, 100.0,
                           kind="float")
    noise: float = setting(0.6, "standard deviation of each cluster", 0.0, 100.0, kind="float")
    consistent_labels: bool = setting(False, "keep a class's label the same in every task "
                                             "(false: labels are permuted per task)", kind="bool")

    def check(self) -> None:
        if self.ways > self.classes:
            raise SettingError(f"ways ({self.ways}) must be at most classes ({self.classes})")

    @property
    def output_dim(self) -> int:
        return self.ways

    def sample(self, num_tasks: int, gen: torch.Generator, split: str = "train") -> TaskBatch:
        chosen = torch.rand(num_tasks, self.classes, generator=gen).argsort(1)[:, :self.ways]
        if self.consistent_labels:
            chosen = chosen.sort(1).values  # label = rank of the class id: the same every task
        angle = 2 * math.pi * chosen.float() / self.classes
        shift = uniform((-self.shift, self.shift), (num_tasks, 1, 2), gen)
        centres = self.radius * torch.stack([angle.cos(), angle.sin()], -1) + shift  # (T, N, 2)
        sx, sy = self._points(centres, self.shots, gen)
        qx, qy = self._points(centres, self.query, gen)
        return TaskBatch(sx, sy, qx, qy, {"centres": centres, "classes": chosen})

    def _points(self, centres: Tensor, per_class: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        tasks = centres.shape[0]
        labels = _labels(self.ways, per_class)
        x = centres.index_select(1, labels) + self.noise * torch.randn(tasks, len(labels), 2,
                                                                      generator=gen)
        return x, labels.expand(tasks, -1).contiguous()


@functools.cache
def _labels(ways: int, per_class: int) -> Tensor:
    """0, 0, …, 1, 1, …: each class's label `per_class` times, made once per shape (sampling runs
    every meta-iteration, and building this took a fifth of it). Read-only: callers copy it."""
    return torch.arange(ways).repeat_interleave(per_class)
