"""The standard 4-block few-shot conv net (Vinyals et al. 2016; Finn et al. 2017), batched over tasks.

Each block is a 3×3 convolution (padding 1), batch norm, ReLU and 2×2 max-pooling; a linear head
follows. Batch norm uses the statistics of the images it is given and keeps no running averages,
as in MAML: each task is normalised by its own support set while adapting and by its own query
set when scored (transductive), so tasks never share statistics.

Two interchangeable ways to run many tasks (`batching`), both exact to second order:
- "loop": each task's images through its own parameters, one task after another; the fastest
  measured on a 2-core CPU (small per-task tensors stay in cache);
- "grouped": all tasks as one grouped convolution over (points, tasks·channels, H, W) with
  `groups=tasks`, where `F.batch_norm(training=True)` normalises per (task, channel), i.e.
  per-task batch norm; fewer, larger operations (for many threads or an accelerator).
`vmap` is not used: its second-order gradients through `F.batch_norm(training=True)` were wrong.
Measurements are in docs/speed.md; tests/test_convnet.py checks both against a per-task
autograd reference. Max-pooling comes before the ReLU: the same function (both are monotone)
with a quarter of the ReLU work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.models import Params

BN_EPS = 1e-5


def pooled_side(image_size: int, blocks: int) -> int:
    """Side of the last feature map: each block halves the side (floor) while it is at least 2.

    A block whose map is already 1×1 skips its pooling, so 8×8 digits keep four blocks
    (8 → 4 → 2 → 1 → 1) and 28×28 Omniglot gets the usual 28 → 14 → 7 → 3 → 1.
    """
    side = image_size
    for _ in range(blocks):
        side = side // 2 if side >= 2 else side
    return side


@dataclass(frozen=True)
class ConvNet:
    """Conv blocks then a linear head; parameters carry a leading task axis in `forward`."""

    in_channels: int
    image_size: int
    channels: int = 32
    outputs: int = 5
    blocks: int = 4
    batching: str = "loop"  # "loop" or "grouped", see the module docstring

    @property
    def features(self) -> int:
        """Inputs of the head: channels × the last map's area."""
        return self.channels * pooled_side(self.image_size, self.blocks) ** 2

    def init(self, gen: torch.Generator) -> Params:
        """PyTorch's Conv2d/Linear initialisation, U(±1/√fan_in), drawn from `gen`; BN γ=1, β=0."""
        params = {}
        c_in = self.in_channels
        for i in range(self.blocks):
            bound = 1 / math.sqrt(c_in * 9)
            params[f"conv{i}.w"] = _uniform((self.channels, c_in, 3, 3), bound, gen)
            params[f"conv{i}.b"] = _uniform((self.channels,), bound, gen)
            params[f"bn{i}.w"] = torch.ones(self.channels)
            params[f"bn{i}.b"] = torch.zeros(self.channels)
            c_in = self.channels
        bound = 1 / math.sqrt(self.features)
        params["head.w"] = _uniform((self.features, self.outputs), bound, gen)  # (in, out)
        params["head.b"] = _uniform((self.outputs,), bound, gen)
        return params

    def with_head(self, params: Params, outputs: int) -> Params:
        """The same body with a fresh all-zero head of `outputs` classes (no task axis)."""
        zeros = params["head.w"].new_zeros
        return {**{k: v for k, v in params.items() if not k.startswith("head.")},
                "head.w": zeros(self.features, outputs), "head.b": zeros(outputs)}

    def forward(self, params: Params, x: Tensor) -> Tensor:
        """(tasks, points, C, H, W) -> (tasks, points, outputs); the head's width comes from params."""
        if self.batching == "grouped":
            return self._forward_grouped(params, x)
        per_task = (dict(zip(params, values)) for values in zip(*(v.unbind(0) for v in params.values())))
        return torch.stack([self._forward_one(p, xt) for p, xt in zip(per_task, x.unbind(0))])

    def _forward_one(self, params: Params, x: Tensor) -> Tensor:
        """One task: parameters without the task axis, x (points, C, H, W) -> (points, outputs)."""
        h = x
        for i in range(self.blocks):
            h = F.conv2d(h, params[f"conv{i}.w"], params[f"conv{i}.b"], padding=1)
            h = _block_end(h, params[f"bn{i}.w"], params[f"bn{i}.b"])
        return torch.addmm(params["head.b"], h.flatten(1), params["head.w"])

    def _forward_grouped(self, params: Params, x: Tensor) -> Tensor:
        """All tasks as one grouped convolution; batch norm per (task, channel)."""
        tasks, points = x.shape[:2]
        h = x.transpose(0, 1).reshape(points, tasks * x.shape[2], *x.shape[3:])  # (P, T·C, H, W)
        for i in range(self.blocks):
            weight = params[f"conv{i}.w"].flatten(0, 1)  # (T·out, in, 3, 3)
            h = F.conv2d(h, weight, params[f"conv{i}.b"].reshape(-1), padding=1, groups=tasks)
            h = _block_end(h, params[f"bn{i}.w"].reshape(-1), params[f"bn{i}.b"].reshape(-1))
        h = h.reshape(points, tasks, -1).transpose(0, 1)  # (T, P, features), channel-major per task
        return torch.baddbmm(params["head.b"].unsqueeze(1), h, params["head.w"])


def _block_end(h: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Batch norm with the batch's own statistics (no running averages), 2×2 max-pool, ReLU."""
    h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=BN_EPS)
    if h.shape[-1] >= 2:
        h = F.max_pool2d(h, 2)
    return torch.relu(h)


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> Tensor:
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound
