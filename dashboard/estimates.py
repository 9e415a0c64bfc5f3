"""A run's estimate before it starts, and why this server refuses it: once per settings and
session, from the core's budget."""
from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from core.budget.estimator import estimate
from core.budget.limits import check_budget
from core.data.omniglot import DatasetUnavailable
from core.runspec import RunSpec
from core.settings import SettingError
from dashboard import hosting
from report.i18n import t

# A Train costs the server more CPU than the same compare() alone (the page's script runs while
# it goes and the charts after it share the process and its GIL; not yet split further).
# Measured on the default scenario, a fresh server's first Train: 8.1-8.3 server CPU-s against
# 4.4-5.0 for compare() alone (benchmarks/train_wait.py, compare_speed.py; docs/speed.md). The
# page's promise and the queue's waits are the estimate's compute seconds times this.
SERVER_FACTOR = 1.7
PLANS = "_plans"  # session key: estimates by settings key


@dataclass(frozen=True)
class Plan:
    """A run's estimated cost, and why this server refuses it (None: it may start)."""

    seconds: float
    megabytes: float
    refusal: str | None

    def describe(self) -> str:
        """The estimate in words."""
        return t("state.estimate", seconds=max(1, round(self.seconds)))


def plan(spec: RunSpec) -> Plan:
    """Estimate the run (once per settings and session); hosted servers check their budget."""
    plans = st.session_state.setdefault(PLANS, {})
    if spec.key() not in plans:
        try:
            plans[spec.key()] = _estimated(spec)
        except (SettingError, DatasetUnavailable) as err:  # e.g. data that is not at hand
            plans[spec.key()] = Plan(math.nan, math.nan, t("error.settings", detail=str(err)))
    return plans[spec.key()]


def _estimated(spec: RunSpec) -> Plan:
    family = spec.make_family()
    est = estimate(family, spec.config, spec.methods, spec.seeds)
    refusal = (check_budget(family, spec.config, spec.methods, spec.seeds, hosting.limits())
               if hosting.hosted() else None)
    return Plan(est.cpu_seconds * SERVER_FACTOR, est.peak_bytes / 1e6, refusal)
