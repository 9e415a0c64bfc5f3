"""A batch of tasks as tensors with a leading task axis, and deterministic random streams."""
from __future__ import annotations

import zlib
from typing import NamedTuple

import torch
from torch import Tensor


class TaskBatch(NamedTuple):
    """Support and query sets of several tasks; `info` holds per-task metadata for drawing."""

    support_x: Tensor  # (tasks, support points, *features)
    support_y: Tensor  # (tasks, support points, outputs) float, or (tasks, support points) long
    query_x: Tensor    # (tasks, query points, *features)
    query_y: Tensor    # like support_y, for the query points
    info: dict[str, Tensor]  # each (tasks, ...): e.g. amplitude and phase of a sinusoid

    @property
    def num_tasks(self) -> int:
        """How many tasks the batch holds."""
        return self.support_x.shape[0]

    def select(self, index: slice | Tensor | int) -> "TaskBatch":
        """The tasks at `index` (a slice or index tensor), keeping the task axis."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return TaskBatch(self.support_x[index], self.support_y[index], self.query_x[index],
                         self.query_y[index], {k: v[index] for k, v in self.info.items()})

    def all_data(self) -> tuple[Tensor, Tensor]:
        """Support and query points together: what a method that needs no split trains on."""
        return (torch.cat([self.support_x, self.query_x], dim=1),
                torch.cat([self.support_y, self.query_y], dim=1))

    def with_support(self, support_x: Tensor, support_y: Tensor) -> "TaskBatch":
        """The same tasks with another support set (e.g. points a user placed)."""
        return self._replace(support_x=support_x, support_y=support_y)


def concat(batches: list[TaskBatch]) -> TaskBatch:
    """Join task batches along the task axis."""
    first = batches[0]
    return TaskBatch(*(torch.cat([getattr(b, f) for b in batches]) for f in TaskBatch._fields[:4]),
                     {k: torch.cat([b.info[k] for b in batches]) for k in first.info})


def generator(seed: int, stream: str) -> torch.Generator:
    """An independent, reproducible random stream per (seed, purpose): 'train', 'test', 'init'..."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(stream.encode()))
