"""Run store speed: save, load, export and import of the consistent-labels gallery run.

That run has 3 methods, 1000 test tasks, 6 scored steps, 100 history points per method.
Run: python -m benchmarks.run_store (best of 5 each, one thread)
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

from core.runs import gallery
from core.runs.store import RunStore


def best_of(f: Callable[[], Any], repeats: int = 5) -> tuple[float, Any]:
    """The fastest of `repeats` calls in seconds, and the last call's value."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    torch.set_num_threads(1)
    run = gallery.load("consistent-labels")
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs.sqlite")
        save, _ = best_of(lambda: store.save(run))
        load, _ = best_of(lambda: store.load(run.name))
        export, data = best_of(lambda: store.export_bytes(run.name))
        imported, _ = best_of(lambda: store.import_bytes(data))
    print(f"save {save * 1e3:.0f} ms, load {load * 1e3:.0f} ms, export {export * 1e3:.0f} ms, "
          f"import {imported * 1e3:.0f} ms, file {len(data) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
