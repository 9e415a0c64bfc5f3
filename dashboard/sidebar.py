"""The settings sidebar, built from the core's setting specs; every value lives in the URL."""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from core.algorithms import METHODS
from core.config import TrainConfig
from core.data.omniglot import DatasetUnavailable
from core.families import FAMILIES
from core.settings import SettingError, Spec, specs
from core.training import check_methods
from dashboard.presets import (DEFAULT_TEST_STEPS, MAX_SEEDS, MAX_TEST_STEPS, PRESETS,
                               PRESETS_BY_KEY, Preset, RunSpec, default_methods, run_spec,
                               train_defaults)
from dashboard.theme import label

CUSTOM = "Custom settings"
RUN = "_run"  # session key of the (spec, error) pair the sidebar produced this run
# Settings shown up front, in this order; the rest go under "More settings".
MAIN_TRAIN = ("inner_lr", "inner_steps", "meta_lr", "meta_batch_size", "iterations")
HIDDEN_TRAIN = ("eval_steps", "seed")  # set through "test steps" and "seeds"
TRAIN_LABELS = {
    "inner_lr": "inner learning rate α",
    "inner_steps": "inner steps in training",
    "meta_lr": "meta learning rate β",
    "meta_batch_size": "tasks per meta-batch",
    "iterations": "meta-training iterations",
    "reptile_inner_steps": "Reptile: SGD steps per task",
    "reptile_step_size": "Reptile: step size ε",
    "reptile_anneal": "Reptile: decay ε to 0",
    "hidden": "hidden layer widths",
    "test_tasks": "test tasks per seed",
    "val_tasks": "validation tasks per checkpoint",
    "checkpoints": "validation checkpoints",
}
# In the URL for sharing; kept for the session while a page without the sidebar is open.
# Entry-script bindings hold their URL names on every page, so the training settings are
# namespaced ("train.inner_lr") to leave plain names free for pages with their own settings.
BIND: dict[str, Any] = {"bind": "query-params", "persist_state": "session"}


def train_key(name: str) -> str:
    """Session and URL key of a training setting (or test_steps, seed, seeds)."""
    return f"train.{name}"


def _label(spec: Spec) -> str:
    name = spec.name.replace("_", " ")
    symbol = spec.help.split(":")[0]
    return f"{name} ({symbol})" if ":" in spec.help and len(symbol) <= 2 else name


def _step(spec: Spec) -> float | int:
    if spec.kind == "int":
        return 1
    magnitude = abs(spec.default) or 0.1
    return float(10 ** math.floor(math.log10(magnitude)))


def _number(spec: Spec, key: str, value: Any, text: str) -> Any:
    cast = int if spec.kind == "int" else float
    low = None if spec.low is None else cast(spec.low)
    high = None if spec.high is None else cast(spec.high)
    return st.number_input(text, low, high, cast(value), _step(spec), key=key, help=spec.help,
                           format=None if spec.kind == "int" else "%.4g", **BIND)


def _ints(value: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    except ValueError:
        raise SettingError(f"{name} must be whole numbers separated by commas "
                           f"(got {value!r})") from None


def widget(spec: Spec, key: str, value: Any, text: str | None = None) -> Any:
    """One input for one setting, bounded by the spec's range and bound to the URL."""
    text = text or _label(spec)
    if spec.kind in ("int", "float"):
        return _number(spec, key, value, text)
    if spec.kind == "bool":
        return st.toggle(text, bool(value), key=key, help=spec.help, **BIND)
    if spec.kind == "choice":
        return st.selectbox(text, spec.choices, spec.choices.index(value), key=key,
                            help=spec.help, **BIND)
    if spec.kind == "ints":  # parsed (and explained when malformed) by build_spec
        return st.text_input(text, ",".join(map(str, value)), key=key, help=spec.help, **BIND)
    if spec.kind == "text":
        return st.text_input(text, value, key=key, help=spec.help, **BIND)
    st.caption(text)  # a (low, high) range: two bounded numbers side by side
    left, right = st.columns(2)
    span = (spec.default[1] - spec.default[0]) / 10  # sets the +/- step
    number = Spec(spec.name, "float", span, spec.help, spec.low, spec.high)
    with left:
        low = _number(number, f"{key}.low", value[0], "from")
    with right:
        high = _number(number, f"{key}.high", value[1], "to")
    return (low, high)


# --- presets ---------------------------------------------------------------------------------

def _widget_value(spec: Spec, value: Any) -> Any:
    """A setting's value as its widget holds it (lists of ints are typed as '40,40')."""
    return ",".join(map(str, value)) if spec.kind == "ints" else value


def _train_value(name: str, value: Any) -> dict[str, Any]:
    if name in HIDDEN_TRAIN:
        return {}
    spec = next(s for s in specs(TrainConfig) if s.name == name)
    return {train_key(name): _widget_value(spec, value)}


def widget_values(spec: RunSpec) -> dict[str, Any]:
    """Every settings widget's value for a run."""
    values: dict[str, Any] = {"family": spec.family, "methods": list(spec.methods)}
    family_specs = {s.name: s for s in specs(FAMILIES[spec.family])}
    for name, value in spec.family_settings:
        key = f"{spec.family}.{name}"
        if family_specs[name].kind == "range":
            values[f"{key}.low"], values[f"{key}.high"] = map(float, value)
        else:
            values[key] = _widget_value(family_specs[name], value)
    for name, value in spec.config.as_dict().items():
        values.update(_train_value(name, value))
    values[train_key("seed")] = spec.seeds[0]
    values[train_key("test_steps")] = spec.config.max_eval_step
    values[train_key("seeds")] = len(spec.seeds)
    return values


def _url_text(key: str, value: Any) -> str | list[str]:
    """A widget value as its URL parameter spells it (select boxes use their labels)."""
    if key == "family":
        return FAMILIES[value].title
    if key == "methods":
        return [label(m) for m in value]
    if isinstance(value, bool):
        return str(value).lower()
    return [str(v) for v in value] if isinstance(value, list) else str(value)


def apply_preset(preset: Preset) -> None:
    """Fill every settings widget with the preset's values, and put them in the URL."""
    defaults = {**widget_values(run_spec(preset.family, {}, default_methods(), {})),
                "family": next(iter(FAMILIES))}  # what the widgets show when the URL is silent
    for key, value in widget_values(preset.spec()).items():
        # A widget drawn before is bound: setting its value updates the URL. One never drawn
        # (another family's settings) is not yet bound, and a value set now would not reach
        # the URL when it is first drawn, so the URL gets it directly (unless it is the default).
        if key not in st.session_state and value != defaults.get(key):
            st.query_params[key] = _url_text(key, value)
        st.session_state[key] = value


def _on_scenario() -> None:
    preset = next((p for p in PRESETS if p.name == st.session_state["scenario"]), None)
    if preset:
        apply_preset(preset)


def _on_family() -> None:
    defaults = train_defaults(st.session_state["family"])
    for name in {k for cls in FAMILIES.values() for k in cls.suggested}:
        st.session_state.update(_train_value(name, defaults[name]))


def scenario_picker(spec: RunSpec | None) -> Preset | None:
    """A select box that fills every setting for a named scenario; returns the one in force."""
    preset = active_preset(spec)
    st.session_state["scenario"] = preset.name if preset else CUSTOM
    st.selectbox("Scenario", [CUSTOM, *(p.name for p in PRESETS)], key="scenario",
                 on_change=_on_scenario,
                 help="fills in the settings (sidebar) for a named scenario; changing any "
                      "setting afterwards makes them custom")
    return preset


def preset_from_url() -> None:
    """Apply `?preset=<key>` once (the About page links to presets this way)."""
    key = st.query_params.get("preset")
    if key is not None:
        del st.query_params["preset"]
        if key in PRESETS_BY_KEY:
            apply_preset(PRESETS_BY_KEY[key])


def active_preset(spec: RunSpec | None) -> Preset | None:
    """The preset whose settings the current ones equal (any seeds), if any."""
    if spec is None:
        return None
    for preset in PRESETS:
        other = preset.spec(spec.seeds[0])
        if other.as_dict() | {"seeds": None} == spec.as_dict() | {"seeds": None}:
            return preset
    return None


# --- the sidebar -----------------------------------------------------------------------------

def _family_settings(family: str) -> dict[str, Any]:
    values = {}
    with st.expander("Task settings", expanded=True):
        for spec in specs(FAMILIES[family]):
            values[spec.name] = widget(spec, f"{family}.{spec.name}", spec.default)
    return values


def _train_settings(family: str) -> dict[str, Any]:
    defaults = train_defaults(family)
    all_specs = {s.name: s for s in specs(TrainConfig)}
    values = {n: widget(all_specs[n], train_key(n), defaults[n], TRAIN_LABELS.get(n))
              for n in MAIN_TRAIN}
    values["test_steps"] = st.number_input(
        "fine-tuning steps at test time (S)", 1, MAX_TEST_STEPS, DEFAULT_TEST_STEPS,
        key=train_key("test_steps"), help="test tasks are scored after every step 0, 1, …, S",
        **BIND)
    left, right = st.columns(2)
    values["seed"] = left.number_input("first seed", 0, 2**31 - 1, 0, key=train_key("seed"),
                                       help="same seed, same numbers", **BIND)
    values["n_seeds"] = right.number_input(
        "seeds", 1, MAX_SEEDS, 1, key=train_key("seeds"),
        help="several seeds pool their test tasks into the CIs", **BIND)
    with st.expander("More settings"):
        for name, spec in all_specs.items():
            if name not in MAIN_TRAIN and name not in HIDDEN_TRAIN:
                values[name] = widget(spec, train_key(name), defaults[name],
                                      TRAIN_LABELS.get(name))
    return values


def settings_sidebar() -> None:
    """Render the settings (from the entry script, so every page shares the same widgets)."""
    st.session_state[RUN] = _settings_sidebar()


def current_run() -> tuple[RunSpec | None, str | None]:
    """The run the sidebar describes, or None and what is wrong with the settings."""
    return st.session_state.get(RUN, (None, "The settings sidebar has not been drawn."))


def _settings_sidebar() -> tuple[RunSpec | None, str | None]:
    preset_from_url()
    with st.sidebar:
        family = st.selectbox("Task family", list(FAMILIES), key="family", on_change=_on_family,
                              format_func=lambda n: FAMILIES[n].title, **BIND)
        st.caption(FAMILIES[family].description)
        family_values = _family_settings(family)
        methods = st.multiselect("Methods", list(METHODS), list(default_methods()), key="methods",
                                 format_func=label, **BIND)
        st.subheader("Training and testing")
        train = _train_settings(family)
    try:
        return build_spec(family, family_values, methods, train), None
    except (SettingError, DatasetUnavailable) as err:  # bad settings, or data not at hand
        return None, str(err)


def build_spec(family: str, family_values: dict[str, Any], methods: list[str],
               train: dict[str, Any]) -> RunSpec:
    """The validated run; SettingError names the first bad setting."""
    check_methods(methods)
    family_values = {s.name: _ints(family_values[s.name], s.name) if s.kind == "ints"
                     else family_values[s.name] for s in specs(FAMILIES[family])}
    instance = FAMILIES[family](**family_values)
    train = {**train, "hidden": _ints(train["hidden"], "hidden layer widths")}
    test_steps, seed, n_seeds = train.pop("test_steps"), train.pop("seed"), train.pop("n_seeds")
    cfg = TrainConfig(**train, eval_steps=tuple(range(test_steps + 1)), seed=seed)
    settings = tuple((s.name, _plain(getattr(instance, s.name))) for s in specs(instance))
    return RunSpec(family, settings, tuple(methods), cfg, tuple(range(seed, seed + n_seeds)))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
