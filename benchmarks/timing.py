"""Shared timing for the meta-step benchmarks: interleaved rounds, medians, ratio rows."""
from __future__ import annotations

import time

import torch

from core.engine.tasks import generator


class StepTimer:
    """Times one meta-gradient function on its own parameters, Adam optimiser and task batches.

    Iterations are timed in CPU seconds of this process (one thread), so other jobs sharing the
    machine slow them only through the caches, not by taking turns on the cores; the first
    iteration (which compiles, on a compiled path) is kept apart in wall-clock seconds.
    """

    def __init__(self, meta_gradient, learner, batches: list, fused: bool = False):
        self.learner, self.meta_gradient, self.batches = learner, meta_gradient, batches
        self.phi = {k: v.requires_grad_(True)
                    for k, v in learner.model.init(generator(0, "init")).items()}
        self.opt = torch.optim.Adam(list(self.phi.values()), lr=1e-3, fused=fused)
        self.times: list[float] = []
        self.first_seconds: float | None = None

    def run(self, iterations: int) -> None:
        """Time `iterations` meta-iterations (task sampling excluded, optimiser step included)."""
        for i in range(iterations):
            batch = self.batches[i % len(self.batches)]
            wall, start = time.perf_counter(), time.process_time()
            grads, _ = self.meta_gradient(self.learner, self.phi, batch)
            for k, p in self.phi.items():
                p.grad = grads[k]
            self.opt.step()
            self.times.append(time.process_time() - start)
            if self.first_seconds is None:
                self.first_seconds = time.perf_counter() - wall

    def median_ms(self) -> float:
        """Median milliseconds per meta-iteration."""
        return 1000 * sorted(self.times)[len(self.times) // 2]


def time_interleaved(timers: dict[str, StepTimer], warmup: int, rounds: int,
                     per_round: int) -> None:
    """Warm every timer up, then time them in turns so background load hits them all alike."""
    for timer in timers.values():
        timer.run(warmup)
        timer.times.clear()
    for _ in range(rounds):
        for timer in timers.values():
            timer.run(per_round)


def print_ratios(timers: dict[str, StepTimer], reference: str, digits: int,
                 ratio: str = "loop/ours") -> None:
    """One line per timer: median ms and reference/timer."""
    loop = timers[reference].median_ms()
    for label, timer in timers.items():
        ms = timer.median_ms()
        shown = "" if label == reference else f"   {ratio} = {loop / ms:5.2f}x"
        print(f"{label:<40} {ms:8.{digits}f} ms{shown}")
