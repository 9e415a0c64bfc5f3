"""Shared-trend regression: a curve all tasks share plus a task-specific line."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from core.engine.families.base import FunctionRegression, register_family, uniform
from core.settings import setting


@register_family
@dataclass(frozen=True)
class SharedTrend(FunctionRegression):
    """y = shared · sin(x) + slope · x + offset: the sine is common, the line differs per task."""

    name = "trend"
    title = "Shared trend + task line"
    description = ("Tasks share a curve and differ by a line: pre-training learns the shared part "
                   "and is already good; widen slope/offset to watch MAML's advantage appear.")
    suggested = {"inner_lr": 0.01}

    shared: float = setting(2.0, "amplitude of the sine every task shares", 0.0, 100.0,
                            kind="float")
    slope: tuple = setting((-0.5, 0.5), "task-specific slope range", -100.0, 100.0, kind="range")
    offset: tuple = setting((-2.0, 2.0), "task-specific offset range", -100.0, 100.0,
                            kind="range")

    def task_info(self, num_tasks: int, gen: torch.Generator) -> dict[str, Tensor]:
        return {"slope": uniform(self.slope, (num_tasks,), gen),
                "offset": uniform(self.offset, (num_tasks,), gen)}

    def truth(self, info: dict[str, Tensor], x: Tensor) -> Tensor:
        slope, offset = info["slope"].view(-1, 1, 1), info["offset"].view(-1, 1, 1)
        return self.shared * torch.sin(x) + slope * x + offset
