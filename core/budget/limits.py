"""A shared server's limits on one run, and the refusal of a run over them: one sentence that
names the settings to lower and how far."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from core.budget.estimator import Estimate, data_peak_bytes, estimate
from core.engine.config import TrainConfig
from core.engine.convnet import ConvNet
from core.engine.families.base import TaskFamily
from core.settings import SettingError


@dataclass(frozen=True)
class Limits:
    """What one run may use on a shared server."""

    cpu_seconds: float = 60.0
    memory_bytes: float = 150e6  # the hosted default (docs/hosting.md); META_LAB_MEMORY_MB moves it
    step_seconds: float = 0.5  # so that Stop and the deadline act within about a second


def _fits(e: Estimate, limits: Limits) -> bool:
    return (e.cpu_seconds <= limits.cpu_seconds and e.peak_bytes <= limits.memory_bytes
            and e.step_seconds <= limits.step_seconds)


def _over(e: Estimate, limits: Limits) -> str:
    parts = []
    if e.cpu_seconds > limits.cpu_seconds:
        parts.append(f"about {e.cpu_seconds:,.0f} CPU-seconds (budget {limits.cpu_seconds:g})")
    if e.peak_bytes > limits.memory_bytes:
        parts.append(f"about {e.peak_bytes / 1e6:,.0f} MB of memory (budget "
                     f"{limits.memory_bytes / 1e6:g} MB)")
    if e.step_seconds > limits.step_seconds:
        parts.append(f"single steps of about {e.step_seconds:.1f} s (limit {limits.step_seconds:g} s)")
    return " and ".join(parts)


# Settings that can bring a run within its limits, tried in this order: (where, name).
LEVERS = (("train", "iterations"), ("train", "meta_batch_size"), ("train", "test_tasks"),
          ("train", "hidden"), ("seeds", "seeds"), ("family", "query"), ("family", "shots"),
          ("family", "channels"), ("train", "val_tasks"), ("train", "checkpoints"))


def _with(family: TaskFamily, cfg: TrainConfig, seeds: Sequence[int], where: str, name: str,
          value: int) -> tuple[TaskFamily, TrainConfig, Sequence[int]]:
    if where == "seeds":
        return family, cfg, tuple(seeds)[:value]
    if where == "family":
        return dataclasses.replace(family, **{name: value}), cfg, seeds
    if name == "hidden":  # every width scaled down together
        top = max(cfg.hidden)
        return family, cfg.replace(hidden=tuple(max(1, w * value // top) for w in cfg.hidden)), seeds
    return family, cfg.replace(**{name: value}), seeds


def _current(family: TaskFamily, cfg: TrainConfig, seeds: Sequence[int], where: str,
             name: str) -> int | None:
    if where == "seeds":
        return len(seeds)
    source = family if where == "family" else cfg
    value = getattr(source, name, None)
    if name == "hidden":
        return max(value) if not isinstance(family.make_model(cfg.hidden), ConvNet) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _largest_fitting(family: TaskFamily, cfg: TrainConfig, methods: Sequence[str],
                     seeds: Sequence[int], where: str, name: str, limits: Limits) -> int | None:
    """The largest value below the current one that alone brings the run within limits."""
    current = _current(family, cfg, seeds, where, name)
    if not current or current <= 1:
        return None

    def ok(value: int) -> bool:
        try:
            f, c, s = _with(family, cfg, seeds, where, name, value)
            return _fits(estimate(f, c, methods, s), limits)
        except SettingError:
            return False

    low, high = 0, current  # ok(low) is unknown below 1; ok(high) is False
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low or None


def _shown(name: str, cfg: TrainConfig, value: int) -> str:
    if name == "hidden":
        top = max(cfg.hidden)
        return ",".join(str(max(1, w * value // top)) for w in cfg.hidden)
    return f"{value:,}"


def check_budget(family: TaskFamily, cfg: TrainConfig, methods: Sequence[str],
                 seeds: Sequence[int], limits: Limits) -> str | None:
    """None when the run fits `limits`; otherwise one sentence naming the settings to lower."""
    e = estimate(family, cfg, methods, seeds)
    if _fits(e, limits):
        return None
    fixes = []
    for where, name in LEVERS:
        value = _largest_fitting(family, cfg, methods, seeds, where, name, limits)
        if value is not None:
            was = _current(family, cfg, seeds, where, name)
            now = _shown(name, cfg, value)
            was_text = ",".join(map(str, cfg.hidden)) if name == "hidden" else f"{was:,}"
            fixes.append(f"{name} from {was_text} to at most {now}")
        if len(fixes) == 2:
            break
    data = data_peak_bytes(family)
    if fixes:
        advice = "lower " + " or ".join(fixes)
    elif data > limits.memory_bytes:  # no training setting helps: the images alone are too big
        advice = (f"its images alone take about {data / 1e6:,.0f} MB, so lower image_size or "
                  "turn rotations off")
    else:
        advice = "lower several settings (iterations, meta_batch_size, test_tasks, model size)"
    return f"This run needs {_over(e, limits)}: {advice}."
