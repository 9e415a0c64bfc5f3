"""The server's results cache: finished comparisons by settings key, which any visitor of these
very settings may be shown (same settings, same numbers; only what the server computed itself)."""
from __future__ import annotations

import threading
from collections import OrderedDict

from core.engine.events import MethodResult

# Finished comparisons kept in memory: at most 12, and at most 48 MB of them (the largest
# hosted run, 3 seeds × 2,000 test tasks × 51 steps, keeps about 20 MB of scores).
MAX_RUNS, MAX_BYTES = 12, 48e6


class ResultStore:
    """Finished comparisons by settings key, least recently used dropped first."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, list[MethodResult]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[MethodResult] | None:
        """The results for these settings, if trained."""
        with self._lock:
            if key in self._runs:
                self._runs.move_to_end(key)
            return self._runs.get(key)

    def put(self, key: str, results: list[MethodResult]) -> None:
        """Keep finished results (same settings, same numbers, so any visitor may reuse them)."""
        with self._lock:
            self._runs[key] = results
            self._runs.move_to_end(key)
            while len(self._runs) > 1 and (len(self._runs) > MAX_RUNS
                                           or self._held_bytes() > MAX_BYTES):
                self._runs.popitem(last=False)  # the newest is kept, however big

    def _held_bytes(self) -> int:
        """Memory the kept results hold: their scores and parameters."""
        return sum(tensor.nbytes for results in self._runs.values() for r in results
                   for tensor in (*r.scores.values(), *r.params.values()))
