"""A comparison fully specified: family and its settings, methods, training config and seeds."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.config import TrainConfig
from core.families import TaskFamily, make_family
from core.settings import SettingError, specs


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
    def from_dict(cls, data: dict[str, Any]) -> "RunSpec":
        """The spec `as_dict` wrote; every value is validated again (SettingError if not)."""
        try:
            seeds = tuple(int(s) for s in data["seeds"])
            family = make_family(data["family"], **_tuples(data["family_settings"]))
            config = TrainConfig(**_tuples(data["train"]), seed=seeds[0])
            methods = tuple(data["methods"])
        except (KeyError, TypeError, IndexError, ValueError) as err:
            raise SettingError(f"not a valid run specification ({type(err).__name__})") from None
        return cls(data["family"], plain_settings(family), methods, config, seeds)

    def key(self) -> str:
        """A stable text key of the settings."""
        return json.dumps(self.as_dict(), sort_keys=True)


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples settings hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def plain_settings(family: TaskFamily) -> tuple[tuple[str, Any], ...]:
    """A family's settings as (name, JSON-friendly value) pairs."""
    return tuple((s.name, list(v) if isinstance(v := getattr(family, s.name), tuple) else v)
                 for s in specs(family))
