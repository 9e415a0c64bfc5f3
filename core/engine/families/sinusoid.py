"""Sinusoid regression, the MAML paper's toy problem (Finn et al. 2017, section 5.1)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from core.engine.families.base import FunctionRegression, register_family, uniform
from core.settings import setting


@register_family
@dataclass(frozen=True)
class Sinusoid(FunctionRegression):
    """y = amplitude · sin(frequency · x + phase), one amplitude and phase per task."""

    name = "sinusoid"
    title = "Sinusoid regression"
    description = ("The MAML paper's sinusoids: tasks disagree so much that their average is ~0, "
                   "so pre-training learns almost nothing useful while MAML learns to adapt fast.")
    suggested = {"inner_lr": 0.01}

    amplitude: tuple = setting((0.1, 5.0), "amplitude range", 0.0, 100.0, kind="range")
    phase: tuple = setting((0.0, math.pi), "phase range in radians", -100.0, 100.0, kind="range")
    frequency: tuple = setting((1.0, 1.0), "frequency range", 0.0, 20.0, kind="range")

    def task_info(self, num_tasks: int, gen: torch.Generator) -> dict[str, Tensor]:
        return {"amplitude": uniform(self.amplitude, (num_tasks,), gen),
                "phase": uniform(self.phase, (num_tasks,), gen),
                "frequency": uniform(self.frequency, (num_tasks,), gen)}

    def truth(self, info: dict[str, Tensor], x: Tensor) -> Tensor:
        amp, phase, freq = (info[k].view(-1, 1, 1) for k in ("amplitude", "phase", "frequency"))
        return amp * torch.sin(freq * x + phase)
