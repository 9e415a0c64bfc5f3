"""A comparison fully specified: family and its settings, methods, training config and seeds."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.families import FAMILIES, TaskFamily, make_family
from core.settings import SettingError, location_names, specs

SPEC_KEYS = ("family", "family_settings", "methods", "train", "seeds")  # what as_dict writes


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a comparison's numbers: same spec, same results."""

    family: str
    family_settings: tuple[tuple[str, Any], ...]  # (name, value) pairs, JSON-friendly values
    methods: tuple[str, ...]
    config: TrainConfig
    seeds: tuple[int, ...]

    def make_family(self) -> TaskFamily:
        """The task family with these settings (raises SettingError when invalid)."""
        return make_family(self.family, **dict(self.family_settings))

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-friendly values (downloads, the run store and the cache key)."""
        config = {k: v for k, v in self.config.as_dict().items() if k != "seed"}
        return {"family": self.family, "family_settings": dict(self.family_settings),
                "methods": list(self.methods), "train": config, "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, data: Any) -> "RunSpec":
        """The spec `as_dict` wrote (a sweep cell, a saved run's settings), every value
        validated again: SettingError naming what is wrong. No data is read."""
        if not isinstance(data, dict) or set(data) != set(SPEC_KEYS):
            raise SettingError(f"they must name {', '.join(SPEC_KEYS)} and nothing else")
        if not isinstance(data["family_settings"], dict) or not isinstance(data["train"], dict):
            raise SettingError("family settings and training settings must be tables")
        methods, seeds = data["methods"], data["seeds"]
        if not (isinstance(methods, list) and methods and all(m in METHODS for m in methods)):
            raise SettingError(f"methods must be a selection of {', '.join(METHODS)}")
        if not (isinstance(seeds, list) and seeds and all(_is_int(s) for s in seeds)):
            raise SettingError("seeds must be a list of integers")
        try:
            family = make_family(data["family"], **_tuples(data["family_settings"]))
            config = TrainConfig(**_tuples(data["train"]), seed=seeds[0])
        except TypeError as err:  # a setting this lab does not have
            raise SettingError(str(err)) from None
        for seed in seeds[1:]:
            config.replace(seed=seed)  # validates each seed's range
        return cls(data["family"], plain_settings(family), tuple(methods), config, tuple(seeds))

    def same_numbers(self, other: "RunSpec", seeds: bool = True) -> bool:
        """Whether `other` computes the same numbers: equal but for where the data comes from
        (the location settings) and the seeds, unless `seeds`."""
        return _comparable(self.as_dict(), seeds) == _comparable(other.as_dict(), seeds)

    def key(self) -> str:
        """A stable text key of the settings."""
        return json.dumps(self.as_dict(), sort_keys=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _comparable(settings: dict[str, Any], seeds: bool) -> dict[str, Any]:
    locations = location_names(FAMILIES[settings["family"]])
    family = {k: v for k, v in settings["family_settings"].items() if k not in locations}
    return {**settings, "family_settings": family, "seeds": settings["seeds"] if seeds else None}


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples settings hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def plain_settings(family: TaskFamily) -> tuple[tuple[str, Any], ...]:
    """A family's settings as (name, JSON-friendly value) pairs."""
    return tuple((s.name, list(v) if isinstance(v := getattr(family, s.name), tuple) else v)
                 for s in specs(family))
