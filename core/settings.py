"""Declarative, validated settings: one vocabulary for configs, the CLI and the dashboard."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


class SettingError(ValueError):
    """A setting outside its allowed range; the message names the setting and the range."""


@dataclass(frozen=True)
class Spec:
    """What one setting accepts; built from a dataclass field's metadata."""

    name: str
    kind: str  # "int" | "float" | "bool" | "choice" | "range" | "ints" | "text"
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def describe_range(self) -> str:
        """The allowed values in words, for error messages and --help."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return "any text"
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        return f"[{low}, {high}]"


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting(default: Any, help: str, low: float | None = None, high: float | None = None,
            choices: tuple[str, ...] = ()) -> Any:
    """A dataclass field that carries its help text and allowed range."""
    meta = {"help": help, "low": low, "high": high, "choices": choices}
    return field(default=default, metadata=meta)


def _kind(default: Any, choices: tuple[str, ...]) -> str:
    if choices:
        return "choice"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, str):
        return "text"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, tuple) and all(isinstance(v, int) for v in default):
        return "ints"
    if isinstance(default, tuple) and len(default) == 2:
        return "range"
    raise TypeError(f"unsupported setting default {default!r}")


def specs(config: Any) -> list[Spec]:
    """The settings of a settings dataclass (class or instance), in declaration order."""
    out = []
    for f in dataclasses.fields(config):
        if "help" not in f.metadata:
            continue
        m = f.metadata
        out.append(Spec(f.name, _kind(f.default, m["choices"]), f.default, m["help"],
                        m["low"], m["high"], m["choices"]))
    return out


def _in_range(value: float, spec: Spec) -> bool:
    return ((spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)
            and math.isfinite(value))


def _check_number(spec: Spec, value: Any, integer: bool) -> None:
    wanted = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not _in_range(value, spec):
        raise SettingError(f"{spec.name} must be {wanted} in {spec.describe_range()} (got {value!r})")


def _check(spec: Spec, value: Any) -> None:
    if spec.kind in ("int", "float"):
        _check_number(spec, value, spec.kind == "int")
    elif spec.kind == "bool" and not isinstance(value, bool):
        raise SettingError(f"{spec.name} must be true or false (got {value!r})")
    elif spec.kind == "text" and not isinstance(value, str):
        raise SettingError(f"{spec.name} must be text (got {value!r})")
    elif spec.kind == "choice" and value not in spec.choices:
        raise SettingError(f"{spec.name} must be {spec.describe_range()} (got {value!r})")
    elif spec.kind == "range":
        _check_range(spec, value)
    elif spec.kind == "ints":
        if not isinstance(value, tuple) or not value:
            raise SettingError(f"{spec.name} must be a non-empty list of integers (got {value!r})")
        for v in value:
            _check_number(spec, v, integer=True)


def _check_range(spec: Spec, value: Any) -> None:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise SettingError(f"{spec.name} must be a pair LOW HIGH (got {value!r})")
    low, high = value
    for v in value:
        _check_number(spec, v, integer=False)
    if low > high:
        raise SettingError(f"{spec.name} is an empty range: low {low:g} > high {high:g}")


def validate(config: Any) -> None:
    """Raise SettingError for the first setting of `config` outside its allowed values."""
    for spec in specs(config):
        _check(spec, getattr(config, spec.name))


def normalise(config: Any) -> None:
    """Coerce lists to tuples and ints to floats where the spec wants them (frozen-safe)."""
    for spec in specs(config):
        value = getattr(config, spec.name)
        if isinstance(value, list):
            value = tuple(value)
        if spec.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if spec.kind == "range" and isinstance(value, tuple):
            value = tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                          for v in value)
        object.__setattr__(config, spec.name, value)


@dataclass(frozen=True)
class Validated:
    """Base for settings dataclasses: normalises and validates on construction."""

    def __post_init__(self) -> None:
        normalise(self)
        validate(self)
        self.check()

    def check(self) -> None:
        """Cross-setting checks; subclasses raise SettingError naming the settings."""

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-friendly values."""
        return {s.name: (list(v) if isinstance(v := getattr(self, s.name), tuple) else v)
                for s in specs(self)}
