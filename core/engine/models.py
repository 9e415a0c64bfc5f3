"""Models as pure functions of a parameter dict whose tensors carry a leading task axis."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

Params = dict[str, Tensor]


def expand(params: Params, tasks: int) -> Params:
    """Shared parameters φ viewed once per task (no copy); gradients flow back summed into φ."""
    return {k: v.unsqueeze(0).expand(tasks, *v.shape) for k, v in params.items()}


def detached(params: Params) -> Params:
    """Copies cut from the graph that accept gradients: a fresh start for adaptation."""
    return {k: v.detach().requires_grad_(True) for k, v in params.items()}


class Model(Protocol):
    """What every model of a family is (the MLP here, core.engine.convnet.ConvNet on images)."""

    def init(self, gen: torch.Generator) -> Params:
        """Fresh parameters drawn from `gen`."""

    @property
    def head_keys(self) -> tuple[str, ...]:
        """The last layer's parameters (what ANIL adapts)."""

    def forward(self, params: Params, x: Tensor, context: Tensor | None = None) -> Tensor:
        """(tasks, points, ...) -> (tasks, points, outputs) with per-task parameters."""


@dataclass(frozen=True)
class MLP:
    """A ReLU multilayer perceptron, batched over tasks with `baddbmm` (no loop over tasks)."""

    sizes: tuple[int, ...]  # (inputs, hidden..., outputs)

    def init(self, gen: torch.Generator) -> Params:
        """PyTorch's nn.Linear initialisation, U(±1/√fan_in), drawn from `gen`."""
        params = {}
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            bound = 1 / math.sqrt(fan_in)
            # Stored (in, out) so the batched forward needs no transpose (and its backward none).
            params[f"w{i}"] = (torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * bound
            params[f"b{i}"] = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
        return params

    @property
    def head_keys(self) -> tuple[str, ...]:
        """The last layer's parameters (what ANIL adapts)."""
        last = len(self.sizes) - 2
        return (f"w{last}", f"b{last}")

    def forward(self, params: Params, x: Tensor, context: Tensor | None = None) -> Tensor:
        """(tasks, points, inputs) -> (tasks, points, outputs) with per-task weights; every point
        on its own, so a `context` (the support inputs) changes nothing."""
        layers = len(self.sizes) - 1
        h = x
        for i in range(layers):
            w, b = params[f"w{i}"], params[f"b{i}"]  # (tasks, in, out), (tasks, out)
            h = torch.baddbmm(b.unsqueeze(1), h, w)
            if i < layers - 1:
                h = torch.relu(h)
        return h
