"""The settings sidebar: family, methods and training settings, turned into one validated run."""
from __future__ import annotations

from typing import Any

import streamlit as st

from core.data.omniglot import DatasetUnavailable
from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.families import FAMILIES
from core.engine.training import check_methods
from core.runspec import RunSpec
from core.scenarios.catalogue import (DEFAULT_TEST_STEPS, default_methods, interactive_spec,
                                      train_defaults)
from core.settings import SettingError, specs
from dashboard import hosting
from dashboard.link_check import link_problems
from dashboard.scenario_sync import on_family, scenario_from_url
from dashboard.widgets import BIND, HIDDEN_TRAIN, link_rules, parse_ints, train_key, widget
from report.i18n import fixed, t, t_or
from report.theme import family_title, label

RUN = "_run"  # session key of the (spec, error) pair the sidebar produced this run
NOTES = "_url_notes"  # session key: what a hosted server changed in the link, what the widgets drop
MAX_TEST_STEPS = 100
MAX_SEEDS = 5
# Settings shown up front, in this order; the rest go under "More settings". Their labels are
# the catalogue's `setting.<name>.label`.
MAIN_TRAIN = ("inner_lr", "inner_steps", "meta_lr", "meta_batch_size", "iterations")


def _family_settings(family: str) -> dict[str, Any]:
    values = {}
    with st.expander(t("sidebar.task_settings"), expanded=True):
        for spec in specs(FAMILIES[family]):
            held, value = hosting.server_held(spec)
            if held:  # a server folder or a download: the server's, not the visitor's
                values[spec.name] = value
                continue
            values[spec.name] = widget(spec, f"{family}.{spec.name}", spec.default)
    return values


def _own_ranges() -> dict[str, tuple[int, int]]:
    """The bounds of the training widgets that are not one core setting each."""
    return {train_key("test_steps"): (1, hosting.cap("test_steps", MAX_TEST_STEPS)),
            train_key("seed"): (0, 2**31 - 1), train_key("seeds"): (1, hosting.cap("seeds", MAX_SEEDS))}


def _link_note(family: str) -> None:
    """Keep, for the session, one sentence on the link's values the sidebar's widgets will drop."""
    rules = {k: r for s in specs(FAMILIES[family]) if not hosting.server_held(s)[0]
             for k, r in link_rules(s, f"{family}.{s.name}").items()}
    rules |= {k: r for s in specs(TrainConfig) if s.name not in HIDDEN_TRAIN
              for k, r in link_rules(s, train_key(s.name)).items()}
    problem = link_problems(rules | _own_ranges())
    notes = st.session_state.setdefault(NOTES, [])
    if problem is not None and problem not in notes:
        notes.append(problem)


def _train_settings(family: str) -> dict[str, Any]:
    defaults = train_defaults(family)
    all_specs = {s.name: s for s in specs(TrainConfig)}
    values = {n: widget(all_specs[n], train_key(n), defaults[n]) for n in MAIN_TRAIN}
    (steps_low, steps_high), (seed_low, seed_high), (seeds_low, seeds_high) = _own_ranges().values()
    values["test_steps"] = st.number_input(
        t("sidebar.test_steps"), steps_low, steps_high, DEFAULT_TEST_STEPS,
        key=train_key("test_steps"), help=t("sidebar.test_steps.help"), **BIND)
    left, right = st.columns(2)
    values["seed"] = left.number_input(t("sidebar.seed"), seed_low, seed_high, 0,
                                       key=train_key("seed"), help=t("sidebar.seed.help"), **BIND)
    values["n_seeds"] = right.number_input(
        t("sidebar.seeds"), seeds_low, seeds_high, 1, key=train_key("seeds"),
        help=t("sidebar.seeds.help"), **BIND)
    with st.expander(t("sidebar.more_settings")):
        for name, spec in all_specs.items():
            if name not in MAIN_TRAIN and name not in HIDDEN_TRAIN:
                values[name] = widget(spec, train_key(name), defaults[name])
    return values


def settings_sidebar() -> None:
    """Render the settings (from the entry script, so every page shares the same widgets)."""
    st.session_state[RUN] = _settings_sidebar()


def current_run() -> tuple[RunSpec | None, str | None]:
    """The run the sidebar describes, or None and what is wrong with the settings."""
    return st.session_state.get(RUN, (None, t("error.no_sidebar")))


def _clamp_url() -> None:
    """On a hosted server: URL values over its limits become the limits, the settings it holds
    itself (paths, downloads) are dropped, and the visitor is told each change (kept for the
    session)."""
    held = {f"{f}.{s.name}" for f, cls in FAMILIES.items() for s in specs(cls)
            if hosting.server_held(s)[0]}
    params = {key: st.query_params.get(key) for key in st.query_params}
    changes, notes = hosting.clamp_url(params, held)
    for key, new in changes.items():
        if new is None:
            del st.query_params[key]
            st.session_state.pop(key, None)
        else:  # the widget takes the session's value: a bound widget drops a URL value over its max
            st.query_params[key] = new
            st.session_state[key] = new if hosting.setting_name(key) == "hidden" else int(new)
    if notes:
        st.session_state[NOTES] = notes
        st.rerun()  # widgets are drawn from the changed link


def _settings_sidebar() -> tuple[RunSpec | None, str | None]:
    scenario_from_url()
    _clamp_url()
    with st.sidebar:
        notes = st.container()  # above the settings; filled once the family's are known
        family = st.selectbox(t("sidebar.family"), list(FAMILIES), key="family",
                              on_change=on_family, format_func=fixed(family_title), **BIND)
        _link_note(family)  # before the widgets that drop what does not fit them
        for note in st.session_state[NOTES]:
            notes.warning(note)
        st.caption(t_or(f"family.{family}.description", FAMILIES[family].description))
        family_values = _family_settings(family)
        # Pills show every method at once (a multiselect clipped the last chip in the sidebar).
        methods = st.pills(t("sidebar.methods"), list(METHODS), selection_mode="multi",
                           default=list(default_methods()), key="methods", format_func=fixed(label),
                           **BIND)
        st.subheader(t("sidebar.training"))
        train = _train_settings(family)
    try:
        return build_spec(family, family_values, methods, train), None
    except SettingError as err:  # the core's detail stays English; the lead is translated
        return None, t("error.settings", detail=str(err))
    except DatasetUnavailable as err:  # data not at hand
        if hosting.hosted():  # the core's advice (turn download on, a folder) is not the visitor's
            return None, t("error.hosted_data", family=family_title(family))
        return None, t("error.data", detail=str(err))


def build_spec(family: str, family_values: dict[str, Any], methods: list[str],
               train: dict[str, Any]) -> RunSpec:
    """The validated run the widgets describe; SettingError names the first bad setting."""
    check_methods(methods)
    family_values = {s.name: parse_ints(family_values[s.name], s.name) if s.kind == "ints"
                     else family_values[s.name] for s in specs(FAMILIES[family])}
    train = {**train, "hidden": parse_ints(train["hidden"], t("setting.hidden.label"))}
    test_steps, seed, n_seeds = train.pop("test_steps"), train.pop("seed"), train.pop("n_seeds")
    spec = interactive_spec(family, family_values, tuple(methods), train, test_steps, n_seeds, seed)
    spec.make_family().load()  # a missing data set, or a setting the data cannot meet: say so here
    return spec
