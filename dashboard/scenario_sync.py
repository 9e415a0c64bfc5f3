"""Scenarios and the URL: fill every settings widget from a scenario, and find the one in force."""
from __future__ import annotations

from typing import Any

import streamlit as st

from core.engine.config import TrainConfig
from core.engine.families import FAMILIES
from core.runspec import RunSpec
from core.scenarios.catalogue import (SCENARIOS, SCENARIOS_BY_KEY, Scenario, default_methods,
                                      interactive_spec, train_defaults)
from core.settings import location_names, specs
from dashboard.widgets import HIDDEN_TRAIN, train_key, widget_value
from report.i18n import LANG, fixed, t, t_or
from report.theme import family_title, label

CUSTOM = "custom"  # the Scenario box's option for settings that match no scenario
PRESET = "preset"  # the URL parameter that applies a scenario once (the About page's links)


def _train_value(name: str, value: Any) -> dict[str, Any]:
    if name in HIDDEN_TRAIN:
        return {}
    spec = next(s for s in specs(TrainConfig) if s.name == name)
    return {train_key(name): widget_value(spec, value)}


def widget_values(spec: RunSpec) -> dict[str, Any]:
    """Every settings widget's value for a run."""
    values: dict[str, Any] = {"family": spec.family, "methods": list(spec.methods)}
    family_specs = {s.name: s for s in specs(FAMILIES[spec.family])}
    for name, value in spec.family_settings:
        key = f"{spec.family}.{name}"
        if family_specs[name].kind == "range":
            values[f"{key}.low"], values[f"{key}.high"] = map(float, value)
        else:
            values[key] = widget_value(family_specs[name], value)
    for name, value in spec.config.as_dict().items():
        values.update(_train_value(name, value))
    values[train_key("seed")] = spec.seeds[0]
    values[train_key("test_steps")] = spec.config.max_eval_step
    values[train_key("seeds")] = len(spec.seeds)
    return values


def _url_text(key: str, value: Any) -> str | list[str]:
    """A widget value as its URL parameter spells it (select boxes use their labels)."""
    if key == "family":
        return family_title(value)
    if key == "methods":
        return [label(m) for m in value]
    if isinstance(value, bool):
        return str(value).lower()
    return [str(v) for v in value] if isinstance(value, list) else str(value)


def apply_spec(spec: RunSpec) -> None:
    """Fill every settings widget with the run's values, and put them in the URL."""
    defaults = {**widget_values(interactive_spec(spec.family, {}, default_methods(), {})),
                "family": next(iter(FAMILIES))}  # what the widgets show when the URL is silent
    locations = {f"{spec.family}.{name}" for name in location_names(FAMILIES[spec.family])}
    for key, value in widget_values(spec).items():
        if key in locations and key in st.session_state:
            continue  # where the visitor's data lives is not part of the run: keep it
        # A widget drawn before is bound: setting its value updates the URL. One never drawn
        # (another family's settings) is not yet bound, and a value set now would not reach
        # the URL when it is first drawn, so the URL gets it directly (unless it is the default).
        if key not in st.session_state and value != defaults.get(key):
            st.query_params[key] = _url_text(key, value)
        st.session_state[key] = value


def apply_scenario(scenario: Scenario) -> None:
    """Fill every settings widget with the scenario's values, and put them in the URL."""
    apply_spec(scenario.spec())


def _on_scenario() -> None:
    scenario = SCENARIOS_BY_KEY.get(st.session_state["scenario"])
    if scenario:
        apply_scenario(scenario)


def scenario_name(key: str) -> str:
    """A scenario's name in the current language (`scenario.<key>.name`), or 'Custom settings'."""
    if key not in SCENARIOS_BY_KEY:
        return t("scenario.custom")
    return t_or(f"scenario.{key}.name", SCENARIOS_BY_KEY[key].name)


def look_for(scenario: Scenario) -> str:
    """The scenario's sentence in the current language (`scenario.<key>.look_for`)."""
    return t_or(f"scenario.{scenario.key}.look_for", scenario.look_for)


def on_family() -> None:
    """A new family brings its suggested training settings."""
    defaults = train_defaults(st.session_state["family"])
    for name in {k for cls in FAMILIES.values() for k in cls.suggested}:
        st.session_state.update(_train_value(name, defaults[name]))


def scenario_picker(spec: RunSpec | None) -> Scenario | None:
    """A select box that fills every setting for a named scenario; returns the one in force."""
    scenario = active_scenario(spec)
    st.session_state["scenario"] = scenario.key if scenario else CUSTOM
    st.selectbox(t("scenario.label"), [CUSTOM, *(s.key for s in SCENARIOS)], key="scenario",
                 on_change=_on_scenario, format_func=fixed(scenario_name), help=t("scenario.help"))
    return scenario


def scenario_from_url() -> None:
    """Apply `?preset=<key>` once (the About page links to scenarios this way); a session that
    opens on a URL with no settings starts from the default scenario, the first one."""
    if not st.session_state.get("_opened"):
        st.session_state["_opened"] = True
        if not set(st.query_params) - {LANG}:
            apply_scenario(SCENARIOS[0])
    key = st.query_params.get(PRESET)
    if key is not None:
        del st.query_params[PRESET]
        if key in SCENARIOS_BY_KEY:
            apply_scenario(SCENARIOS_BY_KEY[key])


def active_scenario(spec: RunSpec | None) -> Scenario | None:
    """The scenario whose settings the current ones equal (any seeds, any data folder), if any."""
    if spec is None:
        return None
    for scenario in SCENARIOS:
        if scenario.spec(spec.seeds[0]).same_numbers(spec, seeds=False):
            return scenario
    return None
