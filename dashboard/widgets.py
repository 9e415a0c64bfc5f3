"""The setting → widget factory: one bounded input per core setting, bound to the URL."""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from core.settings import SettingError, Spec, int_list
from dashboard import hosting
from dashboard.link_check import Rule
from report.i18n import t, t_or

# In the URL for sharing; kept for the session while a page without the sidebar is open.
# Entry-script bindings hold their URL names on every page, so the training settings are
# namespaced ("train.inner_lr") to leave plain names free for pages with their own settings.
BIND: dict[str, Any] = {"bind": "query-params", "persist_state": "session"}
# Training settings set through other widgets: "fine-tuning steps" and "first seed"/"seeds".
HIDDEN_TRAIN = ("eval_steps", "seed")


def train_key(name: str) -> str:
    """Session and URL key of a training setting (or test_steps, seed, seeds)."""
    return f"train.{name}"


def widget_value(spec: Spec, value: Any) -> Any:
    """A setting's value as its widget holds it (lists of ints are typed as '40,40')."""
    return ",".join(map(str, value)) if spec.kind == "ints" else value


def parse_ints(value: str, name: str) -> tuple[int, ...]:
    """'40, 40' → (40, 40); SettingError naming the setting otherwise."""
    try:
        return int_list(value)
    except ValueError:
        raise SettingError(t("error.ints", name=name, value=repr(value[:40]))) from None


def _label(spec: Spec) -> str:
    name = spec.name.replace("_", " ")
    symbol = spec.help.split(":")[0]
    return f"{name} ({symbol})" if ":" in spec.help and len(symbol) <= 2 else name


def setting_text(spec: Spec, key: str, part: str, english: str) -> str:
    """A setting's 'label' or 'help' in the current language: `setting.<key>.<part>` (e.g. a
    family's own wording, `setting.clusters.shots.help`), else `setting.<name>.<part>`, else
    `english` (the core's words)."""
    return t_or(f"setting.{key}.{part}", t_or(f"setting.{spec.name}.{part}", english))


def _step(spec: Spec) -> float | int:
    if spec.kind == "int":
        return 1
    magnitude = abs(spec.default) or 0.1
    return float(10 ** math.floor(math.log10(magnitude)))


def _number(spec: Spec, key: str, value: Any, text: str, help: str) -> Any:
    cast = int if spec.kind == "int" else float
    low = None if spec.low is None else cast(spec.low)
    high = None if spec.high is None else cast(spec.high)
    return st.number_input(text, low, high, cast(value), _step(spec), key=key, help=help,
                           format=None if spec.kind == "int" else "%.4g", **BIND)


def link_rules(spec: Spec, key: str) -> dict[str, Rule]:
    """What the URL-bound widget(s) of `widget(spec, key, …)` accept (dashboard.link_check):
    its options or its bounded range, per widget key. Text inputs keep any text (a bad list of
    ints is explained when it is parsed), so they have none."""
    spec = hosting.bounded(spec)
    low = -math.inf if spec.low is None else spec.low
    high = math.inf if spec.high is None else spec.high
    if spec.kind in ("int", "float"):
        return {key: (low, high)}
    if spec.kind == "bool":
        return {key: (False, True)}
    if spec.kind == "choice":
        return {key: tuple(spec.choices)}
    if spec.kind == "range":
        return {f"{key}.low": (low, high), f"{key}.high": (low, high)}
    return {}


def widget(spec: Spec, key: str, value: Any) -> Any:
    """One input for one setting, bounded by the spec's range (and a hosted server's limits) and
    bound to the URL; its label and help in the current language (the choices of a choice
    setting stay as the core names them: they are its values, in the URL too)."""
    spec = hosting.bounded(spec)
    text = setting_text(spec, key, "label", _label(spec))
    help = setting_text(spec, key, "help", spec.help)
    if spec.kind in ("int", "float"):
        return _number(spec, key, value, text, help)
    if spec.kind == "bool":
        return st.toggle(text, bool(value), key=key, help=help, **BIND)
    if spec.kind == "choice":
        return st.selectbox(text, spec.choices, spec.choices.index(value), key=key,
                            help=help, **BIND)
    if spec.kind in ("ints", "text", "path"):  # ints are parsed (and explained when bad) later
        return st.text_input(text, widget_value(spec, value), key=key, help=help, **BIND)
    st.caption(text)  # a (low, high) range: two bounded numbers side by side
    left, right = st.columns(2)
    span = (spec.default[1] - spec.default[0]) / 10  # sets the +/- step
    number = Spec(spec.name, "float", span, spec.help, spec.low, spec.high)
    with left:
        low = _number(number, f"{key}.low", value[0], t("widget.from"), help)
    with right:
        high = _number(number, f"{key}.high", value[1], t("widget.to"), help)
    return (low, high)
