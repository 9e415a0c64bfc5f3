"""Declarative, validated settings: one vocabulary for configs, the CLI and the dashboard."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


class SettingError(ValueError):
    """A setting outside its allowed range; the message names the setting and the range."""


# What a setting holds. "range" is a (low, high) pair of floats, "ints" a tuple of integers,
# "path" a folder on this machine: text the CLI accepts, but a hosted app must never take
# from a visitor (see `Spec.server`).
KINDS = ("int", "float", "bool", "choice", "range", "ints", "text", "path")


@dataclass(frozen=True)
class Spec:
    """What one setting accepts; built from a dataclass field's metadata."""

    name: str
    kind: str  # one of KINDS
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    # The one mark of a location setting: one that says where the data comes from (a folder, a
    # download), not what the numbers are. It is the value a shared server holds the setting
    # at, whatever a visitor sends; None for every other setting. Comparing runs ignores
    # location settings, a hosted app never takes them from a visitor, and a file shipped to
    # others leaves their folders out (`without_paths`).
    server: Any = None

    @property
    def location(self) -> bool:
        """Whether this setting says where the data comes from, not what the numbers are."""
        return self.server is not None

    def describe_range(self) -> str:
        """The allowed values in words, for error messages and --help."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return "any text"
        if self.kind == "path":
            return "a folder on this machine"
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        return f"[{low}, {high}]"


def excerpt(value: Any, limit: int = 60) -> str:
    """`value` as repr, cut to `limit` characters: messages never echo a long input whole."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting(default: Any, help: str, low: float | None = None, high: float | None = None,
            choices: tuple[str, ...] = (), *, kind: str, server: Any = None) -> Any:
    """A dataclass field that carries its kind, help text and allowed range. `server` marks a
    location setting (`Spec.server`); a "path" always is one, held at its default (no folder:
    the server's own cache)."""
    if kind not in KINDS:
        raise ValueError(f"setting kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if (kind == "choice") != bool(choices):
        raise ValueError("choices are given exactly for kind 'choice'")
    if kind == "path":
        server = _as_kind(kind, default)
    meta = {"kind": kind, "help": help, "low": low, "high": high, "choices": choices,
            "server": server}
    return field(default=_as_kind(kind, default), metadata=meta)


def _as_kind(kind: str, value: Any) -> Any:
    """Lists as tuples, and ints as floats where the kind holds floats (a range written (0, 5))."""
    if isinstance(value, list):
        value = tuple(value)
    if kind == "float":
        return _float(value)
    if kind == "range" and isinstance(value, tuple):
        return tuple(_float(v) for v in value)
    return value


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def specs(config: Any) -> list[Spec]:
    """The settings of a settings dataclass (class or instance), in declaration order."""
    out = []
    for f in dataclasses.fields(config):
        if "help" not in f.metadata:
            continue
        m = f.metadata
        out.append(Spec(f.name, m["kind"], f.default, m["help"], m["low"], m["high"],
                        m["choices"], m["server"]))
    return out


def _in_range(value: float, spec: Spec) -> bool:
    return ((spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)
            and math.isfinite(value))


def _check_number(spec: Spec, value: Any, integer: bool) -> None:
    wanted = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not _in_range(value, spec):
        raise SettingError(f"{spec.name} must be {wanted} in {spec.describe_range()} "
                           f"(got {excerpt(value)})")


def int_list(text: str, sep: str = ",") -> tuple[int, ...]:
    """'40, 40' → (40, 40): integers between `sep`, spaces and empty items ignored; ValueError
    when an item is no integer (each caller words its own error)."""
    return tuple(int(v) for v in text.replace(" ", "").split(sep) if v)


def _check(spec: Spec, value: Any) -> None:
    if spec.kind in ("int", "float"):
        _check_number(spec, value, spec.kind == "int")
    elif spec.kind == "bool" and not isinstance(value, bool):
        raise SettingError(f"{spec.name} must be true or false (got {excerpt(value)})")
    elif spec.kind in ("text", "path") and not isinstance(value, str):
        raise SettingError(f"{spec.name} must be text (got {excerpt(value)})")
    elif spec.kind == "choice" and value not in spec.choices:
        raise SettingError(f"{spec.name} must be {spec.describe_range()} (got {excerpt(value)})")
    elif spec.kind == "range":
        _check_range(spec, value)
    elif spec.kind == "ints":
        if not isinstance(value, tuple) or not value:
            raise SettingError(f"{spec.name} must be a non-empty list of integers "
                               f"(got {excerpt(value)})")
        for v in value:
            _check_number(spec, v, integer=True)


def _check_range(spec: Spec, value: Any) -> None:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise SettingError(f"{spec.name} must be a pair LOW HIGH (got {excerpt(value)})")
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
        object.__setattr__(config, spec.name, _as_kind(spec.kind, getattr(config, spec.name)))


def location_names(config: Any) -> frozenset[str]:
    """The names of the location settings of a settings dataclass (class or instance)."""
    return frozenset(s.name for s in specs(config) if s.location)


def without_paths(config: Any) -> Any:
    """A copy of `config` with every "path" setting at its server value (its default): what a
    hosted app runs and a shipped file records, so that no value names a folder of a machine."""
    paths = {s.name: s.server for s in specs(config) if s.kind == "path"}
    return dataclasses.replace(config, **paths) if paths else config


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
