"""Readers of the image data sets behind the few-shot classification families (Omniglot, digits)."""
from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable)
_CLEARS: list[Callable[[], None]] = []
_lock = threading.Lock()
_users = 0  # trainings reading the caches now (a server may run several at once)


def cached_data(maxsize: int) -> Callable[[F], F]:
    """functools.lru_cache for decoded images and class pools, which `release_data` can drop."""
    def wrap(function: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(function)
        _CLEARS.append(cached.cache_clear)
        return cached  # type: ignore[return-value]
    return wrap


@contextmanager
def data_in_use(release: bool) -> Iterator[None]:
    """Around one training that reads the cached data. With `release` (a shared server), the
    caches are dropped when the last training using them ends, never while another still reads
    them (it would decode its data again, and hold both copies meanwhile)."""
    global _users
    with _lock:
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
        if release:
            release_data()


def release_data() -> None:
    """Drop every cached image set and class pool, unless a training is using them. A shared
    server drops them after its runs so that it holds one run's data at a time, not that of the
    last few data settings (each a few hundred MB for Omniglot at 28 px): the memory budget
    counts one run's data only."""
    with _lock:
        if _users:
            return
        for clear in _CLEARS:
            clear()
