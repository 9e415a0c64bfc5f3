"""Readers of the image data sets behind the few-shot classification families (Omniglot, digits)."""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)
_CLEARS: list[Callable[[], None]] = []


def cached_data(maxsize: int) -> Callable[[F], F]:
    """functools.lru_cache for decoded images and class pools, which `release_data` can drop."""
    def wrap(function: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(function)
        _CLEARS.append(cached.cache_clear)
        return cached  # type: ignore[return-value]
    return wrap


def release_data() -> None:
    """Drop every cached image set and class pool. A shared server calls it after each run so
    that it holds one run's data at a time, not that of the last few data settings (each a
    few hundred MB for Omniglot at 28 px): the memory budget counts one run's data only."""
    for clear in _CLEARS:
        clear()
