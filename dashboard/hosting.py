"""Hosted mode (META_LAB_HOSTED=1): a shared server's budgets and the bounds on what visitors set."""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from core.budget.limits import Limits
from core.settings import Spec
from report.i18n import t

# The most a visitor of a hosted app may ask for, by setting name (any family, the training
# settings, and the sidebar's own test_steps and seeds). The CPU and memory budgets decide
# the rest; these keep each widget's range to what a budget can hold at all.
HOSTED_MAX: dict[str, int] = {
    "iterations": 5000, "meta_batch_size": 64, "inner_steps": 5, "reptile_inner_steps": 20,
    "test_tasks": 2000, "val_tasks": 300, "checkpoints": 20, "hidden": 256,
    "shots": 50, "query": 100, "ways": 20, "classes": 20, "channels": 64, "image_size": 28,
    "test_steps": 50, "seeds": 3,
}


def server_held(spec: Spec) -> tuple[bool, Any]:
    """Whether a hosted server holds this setting itself, and at which value: every location
    setting (`Spec.server`), so that a visitor never names a server folder and never starts a
    download, which would fill the server's disk and block the page that asked for it while the
    archives arrive (the data a hosted server offers is what its operator put in its cache)."""
    if not hosted() or not spec.location:
        return False, None
    return True, spec.server


def hosted() -> bool:
    """Whether this server is shared (the environment variable META_LAB_HOSTED=1)."""
    return os.environ.get("META_LAB_HOSTED", "") == "1"


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


# CPU-seconds a page may compute for one request outside the training queue (the Inspect
# page's live adaptation; the Parameter space page counts its own work, core/param_space/cost.py).
PAGE_CPU_SECONDS = 2.0


def limits() -> Limits:
    """One run's budget: META_LAB_BUDGET_S CPU-seconds and META_LAB_MEMORY_MB, by default Limits'."""
    return Limits(cpu_seconds=_env_number("META_LAB_BUDGET_S", Limits.cpu_seconds),
                  memory_bytes=_env_number("META_LAB_MEMORY_MB", Limits.memory_bytes / 1e6) * 1e6)


def tab_store_bytes() -> float:
    """What one visitor's runs may hold in the server's memory: META_LAB_TAB_STORE_MB (60)."""
    return _env_number("META_LAB_TAB_STORE_MB", 60.0) * 1e6


def deadline_s() -> float | None:
    """Wall-clock seconds a hosted run may take whatever its estimate said: twice its budget."""
    return 2 * limits().cpu_seconds if hosted() else None


def setting_name(key: str) -> str:
    """'train.iterations' → 'iterations', 'sinusoid.shots' → 'shots'."""
    return key.rsplit(".", 1)[-1]


def bounded(spec: Spec) -> Spec:
    """The spec with its upper bound lowered to the hosted limit (unchanged when not hosted)."""
    cap = HOSTED_MAX.get(spec.name)
    if not hosted() or cap is None or spec.kind not in ("int", "float", "ints"):
        return spec
    return dataclasses.replace(spec, high=cap if spec.high is None else min(spec.high, cap))


def cap(name: str, high: int) -> int:
    """A widget's upper bound: `high`, or the hosted limit of `name` when lower."""
    return min(high, HOSTED_MAX.get(name, high)) if hosted() else high


def _clamped_number(text: str, cap: int) -> str | None:
    """The URL text clamped to `cap`, or None when it is within it (or not a number)."""
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or value <= cap:
        return None
    return str(cap)


def _clamped_widths(text: str, cap: int) -> str | None:
    try:
        widths = [int(w) for w in text.replace(" ", "").split(",") if w]
    except ValueError:
        return None
    if all(w <= cap for w in widths):
        return None
    return ",".join(str(min(w, cap)) for w in widths)


def clamp_url(params: dict[str, Any], server_keys: set[str]) -> tuple[dict[str, str | None], list[str]]:
    """URL values a hosted server must change, and one sentence per change for the visitor.

    Returns {key: new text, or None to drop the parameter} and the messages. Values over a hosted
    limit become the limit; `server_keys` (paths, downloads) are dropped: data comes only from
    the server's cache.
    """
    if not hosted():
        return {}, []
    changes: dict[str, str | None] = {}
    notes = []
    for key, value in params.items():
        name = setting_name(key)
        if key in server_keys:
            changes[key] = None
            notes.append(t("hosting.held", name=name))
            continue
        limit = HOSTED_MAX.get(name)
        if limit is None or not isinstance(value, str):
            continue
        new = _clamped_widths(value, limit) if name == "hidden" else _clamped_number(value, limit)
        if new is not None:
            changes[key] = new
            asked = value if len(value) <= 24 else value[:23] + "…"  # never echo a long input
            notes.append(t("hosting.clamped", name=name, asked=asked, limit=limit, new=new))
    return changes, notes
