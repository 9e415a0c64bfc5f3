"""The budget's CPU rates: what a tensor operation, a multiply-add and an element touched cost on
this CPU, timed once per process on small kernels (the estimator multiplies its counts by them)."""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from core.engine.tasks import generator


@dataclass(frozen=True)
class Rates:
    """CPU-seconds per tensor operation, per multiply-add and per element touched, from timed passes."""

    op: float
    mac: float
    element: float
    conv_mac: float
    pool: float  # per element entering a 2×2 max-pool


def _cpu_seconds(work: Callable[[], Any], repeats: int) -> float:
    """The least CPU time of `repeats` calls: this thread's time, not the wall clock, so other
    processes sharing the cores do not inflate it."""
    work()  # warm-up: first calls allocate
    best = math.inf
    for _ in range(repeats):
        start = time.thread_time()
        work()
        best = min(best, time.thread_time() - start)
    return best


@functools.lru_cache(maxsize=1)
def rates() -> Rates:
    """Calibrate once per process (a fraction of a second) on five small timed kernels: a tiny op,
    a batched matmul, an elementwise op, a convolution and a max-pool."""
    gen = generator(0, "calibration")
    tiny = torch.rand(4, generator=gen)
    op = _cpu_seconds(lambda: [tiny + 1 for _ in range(200)], 5) / 200
    left, right = torch.rand(8, 256, 256, generator=gen), torch.rand(8, 256, 256, generator=gen)
    mac = _cpu_seconds(lambda: torch.bmm(left, right), 5) / (8 * 256 ** 3)
    vector = torch.rand(100_000, generator=gen)
    element = _cpu_seconds(lambda: torch.relu(vector * 0.5), 10) / 2e5
    images, kernel = torch.rand(20, 32, 16, 16, generator=gen), torch.rand(32, 32, 3, 3, generator=gen)
    conv_mac = _cpu_seconds(lambda: torch.nn.functional.conv2d(images, kernel, padding=1), 5) \
        / (20 * 16 * 16 * 32 * 32 * 9)
    pool = _cpu_seconds(lambda: torch.nn.functional.max_pool2d(images, 2), 10) / images.numel()
    return Rates(op, mac, element, conv_mac, pool)
