"""Estimates against measured CPU time, for the tests and benchmarks that hold the budget's
estimates to what the work really costs."""
from __future__ import annotations

import time
from typing import Any, Callable

from core.budget.calibration import rates
from core.engine.training import compare


def comparison_cpu(family, cfg, methods) -> float:
    """This thread's CPU seconds of a whole comparison (other processes on the cores don't count)."""
    start = time.thread_time()
    for _ in compare(family, methods, cfg):
        pass
    return time.thread_time() - start


def least_estimate_and_cpu(estimate: Callable[[], float], measure: Callable[[], float],
                           rounds: int = 2) -> tuple[float, float]:
    """The least of `rounds` estimates (each on a fresh calibration) and the least of as many
    measured CPU times: a shared core runs tiny ops at 2.8 or 4.7 µs for seconds at a time, so
    one calibration and one run could land in different stretches and a sound estimate read
    2.01× of its run."""
    predicted, measured = [], []
    for _ in range(rounds):
        rates.cache_clear()
        predicted.append(estimate())
        measured.append(measure())
    return min(predicted), min(measured)


def process_cpu(work: Callable[[], Any]) -> float:
    """Every thread's CPU seconds of `work` in this process."""
    start = time.process_time()
    work()
    return time.process_time() - start
