"""The standard 4-block few-shot conv net (Vinyals et al. 2016; Finn et al. 2017), batched over tasks.

Each block is a 3×3 convolution (padding 1), normalisation, ReLU and 2×2 max-pooling; a linear
head follows. Normalisation keeps no running averages and never mixes tasks; `norm` says whose
statistics it uses:
- "transductive" (MAML): batch norm over the images given, so a task is normalised by its own
  support set while adapting and by its own query set when scored; a query image's prediction
  then depends on the other query images scored with it;
- "support": batch norm with the statistics of the task's support set (through the current,
  adapted parameters) for the support and the query images alike; needs the support inputs as
  `context` when scoring queries;
- "group": layer norm over each image's channels and pixels (GroupNorm with one group), with a
  per-channel scale and shift; no batch statistics at all.

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

from core.engine.models import Params

BN_EPS = 1e-5
NORMS = ("transductive", "support", "group")


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
    norm: str = "transductive"  # one of NORMS, see the module docstring

    @property
    def head_keys(self) -> tuple[str, ...]:
        """The linear head's parameters (what ANIL adapts)."""
        return ("head.w", "head.b")

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

    def forward(self, params: Params, x: Tensor, context: Tensor | None = None) -> Tensor:
        """(tasks, points, C, H, W) -> (tasks, points, outputs); the head's width comes from params.

        With norm "support", `context` (tasks, support points, C, H, W) supplies the statistics.
        """
        reference = 0
        if self.norm == "support" and context is not None:
            x, reference = torch.cat([context, x], dim=1), context.shape[1]
        if self.batching == "grouped":
            out = self._forward_grouped(params, x, reference)
        else:
            per_task = (dict(zip(params, values)) for values in zip(*(v.unbind(0) for v in params.values())))
            out = torch.stack([self._forward_one(p, xt, reference)
                               for p, xt in zip(per_task, x.unbind(0))])
        return out[:, reference:]

    def _forward_one(self, params: Params, x: Tensor, reference: int) -> Tensor:
        """One task: parameters without the task axis, x (points, C, H, W) -> (points, outputs)."""
        h = x
        for i in range(self.blocks):
            h = F.conv2d(h, params[f"conv{i}.w"], params[f"conv{i}.b"], padding=1)
            h = self._block_end(h, params[f"bn{i}.w"], params[f"bn{i}.b"], reference, 1)
        return torch.addmm(params["head.b"], h.flatten(1), params["head.w"])

    def _forward_grouped(self, params: Params, x: Tensor, reference: int) -> Tensor:
        """All tasks as one grouped convolution; normalisation per (task, channel) or per task."""
        tasks, points = x.shape[:2]
        h = x.transpose(0, 1).reshape(points, tasks * x.shape[2], *x.shape[3:])  # (P, T·C, H, W)
        for i in range(self.blocks):
            weight = params[f"conv{i}.w"].flatten(0, 1)  # (T·out, in, 3, 3)
            h = F.conv2d(h, weight, params[f"conv{i}.b"].reshape(-1), padding=1, groups=tasks)
            h = self._block_end(h, params[f"bn{i}.w"].reshape(-1), params[f"bn{i}.b"].reshape(-1),
                                reference, tasks)
        h = h.reshape(points, tasks, -1).transpose(0, 1)  # (T, P, features), channel-major per task
        return torch.baddbmm(params["head.b"].unsqueeze(1), h, params["head.w"])

    def _block_end(self, h: Tensor, gamma: Tensor, beta: Tensor, reference: int,
                   tasks: int) -> Tensor:
        """Normalisation (see the module docstring), 2×2 max-pool, ReLU. `reference` > 0: the
        first `reference` images supply the batch statistics; `tasks`: task groups of channels."""
        if self.norm == "group":
            h = F.group_norm(h, tasks, gamma, beta, eps=BN_EPS)
        elif reference or h[:, 0].numel() == 1:  # one value per channel: F.batch_norm refuses it
            h = _normalise_by(h, h[:reference or None], gamma, beta)
        else:
            h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=BN_EPS)
        if h.shape[-1] >= 2:
            h = F.max_pool2d(h, 2)
        return torch.relu(h)


def _normalise_by(h: Tensor, reference: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Batch norm of h (points, channels, H, W) with the per-channel statistics of `reference`."""
    mean = reference.mean((0, 2, 3), keepdim=True)
    var = reference.var((0, 2, 3), unbiased=False, keepdim=True)
    return (h - mean) * torch.rsqrt(var + BN_EPS) * gamma.view(-1, 1, 1) + beta.view(-1, 1, 1)


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> Tensor:
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound
