"""`python -m core families|methods|scenarios`: one line per registered item."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from core.engine.algorithms import METHODS
from core.engine.families import FAMILIES
from core.scenarios.catalogue import SCENARIOS


def _list(items: dict[str, Any], line: Callable[[Any], str]) -> int:
    width = max(map(len, items))
    for name, item in items.items():
        print(f"{name:<{width}}  {line(item)}")
    return 0


LISTS = {
    "families": ("list the task families, one line each",
                 lambda: _list(FAMILIES, lambda cls: f"[{cls.kind}] {cls.description}")),
    "methods": ("list the methods, one line each",
                lambda: _list(METHODS, lambda m: m.description)),
    "scenarios": ("list the scenarios (the dashboard's default first): key, name and the claim "
                  "`compare --preset KEY` checks",
                  lambda: _list({s.key: s for s in SCENARIOS}, lambda s: f"{s.name}. {s.look_for}")),
}


def register(sub: argparse._SubParsersAction) -> None:
    for name, (text, show) in LISTS.items():
        sub.add_parser(name, help=text).set_defaults(func=lambda argv, show=show: show())
