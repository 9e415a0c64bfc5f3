"""What running a model costs depends on (its shape, computed without allocating), and how many
tasks scoring adapts at once: the engine's chunk policy, which core/budget/estimator.py reuses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.engine.convnet import ConvNet, pooled_side
from core.engine.families.base import TaskFamily
from core.engine.models import MLP

FLOAT = 4  # bytes
# Scoring adapts at most this many multiply-adds' worth of tasks at once, so a stop request is
# seen between chunks within a fraction of a second. A constant, not a timing: same chunks,
# same numbers on every machine.
CHUNK_UNITS = 2e9
CHUNK_BYTES = 64e6


@dataclass(frozen=True)
class ModelShape:
    """What the cost of running a model depends on, per data point unless named otherwise."""

    macs: int         # multiply-adds of one forward pass
    activations: int  # floats a forward pass keeps for its backward
    params: int       # parameters of the model (not per point)
    head_params: int  # parameters of its last layer (what ANIL adapts)
    ops: int          # tensor operations of one forward pass
    ops_per_task: bool  # the conv net's per-task loop repeats its operations for every task
    conv: bool        # the multiply-adds are convolutions (their own calibrated rate)
    pooled: int = 0   # floats entering the conv net's max-pools (a few times a ReLU's cost each)


def model_shape(model: Any) -> ModelShape:
    """The shape of an MLP or the 4-block conv net (computed, nothing allocated)."""
    if isinstance(model, MLP):
        pairs = list(zip(model.sizes[:-1], model.sizes[1:]))
        return ModelShape(macs=sum(a * b for a, b in pairs),
                          activations=2 * sum(model.sizes[1:]), params=sum(a * b + b for a, b in pairs),
                          head_params=(pairs[-1][0] + 1) * pairs[-1][1],
                          ops=2 * len(pairs), ops_per_task=False, conv=False)
    if isinstance(model, ConvNet):
        macs = activations = params = pooled = 0
        side, c_in = model.image_size, model.in_channels
        for _ in range(model.blocks):
            macs += side * side * c_in * model.channels * 9
            activations += 3 * side * side * model.channels  # conv, batch norm, pool + relu
            pooled += side * side * model.channels if side >= 2 else 0
            params += model.channels * (c_in * 9 + 3)
            side, c_in = pooled_side(side, 1), model.channels
        macs += model.features * model.outputs
        head = (model.features + 1) * model.outputs
        params += head
        return ModelShape(macs, activations, params, head, ops=4 * model.blocks + 1,
                          ops_per_task=model.batching == "loop", conv=True, pooled=pooled)
    raise TypeError(f"no cost model for {type(model).__name__}")


def scoring_chunk(family: TaskFamily, model: Any, support: int, query: int, max_step: int) -> int:
    """Tasks adapted at once when scoring: the family's chunk, smaller for big models so that each
    chunk stays short (a stop request waits for at most one) and fits in memory."""
    shape = model_shape(model)
    units = shape.macs * (support * 3 * max_step + query * (max_step + 1))
    bytes_ = FLOAT * (3 * shape.params + shape.activations * (support * 2 + query))
    fit = min(CHUNK_UNITS / max(units, 1), CHUNK_BYTES / max(bytes_, 1))
    return max(1, min(family.eval_chunk, int(fit)))
