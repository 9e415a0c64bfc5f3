"""Sweeps: a grid of comparisons over settings × seeds, resumable per cell, on processes or Ray."""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from core.engine.config import TrainConfig
from core.engine.events import MethodResult
from core.engine.families import FAMILIES
from core.engine.training import compare
from core.results import pooled_rows, unscored_rows
from core.runs.store import RunStore, save_run
from core.runspec import RunSpec
from core.settings import SettingError, Spec, int_list, specs

MAX_AXES = 2  # a line or a grid: every sweep has a figure
NOT_VARIED = ("seed", "eval_steps")  # seeds have their own flag; steps are the rows' own axis
DONE = ("ok", "diverged")  # statuses a resumed sweep skips; failed cells are tried again
ROOT = Path(__file__).resolve().parents[2]
SHIP_NOT = [".git", ".venv", "artifacts", "docs", "gallery", "sweep-results", "tests"]

RunCell = Callable[[dict], dict]


@dataclass(frozen=True)
class Axis:
    """One varied setting: its name, where it lives (family or training) and its values."""

    name: str
    scope: str  # "family_settings" or "train", the RunSpec.as_dict section it changes
    values: tuple  # as the setting holds them: numbers, booleans, text, or tuples

    def shown(self, value: Any) -> Any:
        """The value as a table column holds it: tuples as 'a:b' text, the rest unchanged."""
        return ":".join(f"{v:g}" for v in value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Cell:
    """One combination of the varied settings with one seed: one comparison."""

    settings: tuple[tuple[str, Any], ...]  # (axis name, shown value), in axis order
    seed: int
    spec: RunSpec

    def key(self) -> str:
        """The results-file key: the cell's complete settings."""
        return self.spec.key()


def _setting_specs(family: str) -> dict[str, tuple[str, Spec]]:
    found = {s.name: ("family_settings", s) for s in specs(FAMILIES[family])
             if not s.location}  # where data comes from is no experimental setting
    found.update({s.name: ("train", s) for s in specs(TrainConfig) if s.name not in NOT_VARIED})
    return found


def _parse_value(spec: Spec, text: str) -> Any:
    """One value of `spec` from the command line; tuples are written with ':' ('-1:1')."""
    text = text.strip()
    try:
        if spec.kind == "int":
            return int(text)
        if spec.kind == "float":
            return float(text)
        if spec.kind == "range":
            return tuple(float(v) for v in text.split(":"))
        if spec.kind == "ints":
            return int_list(text, ":")
    except ValueError:
        raise SettingError(f"--vary {spec.name}: {text[:40]!r} is not {_wanted(spec)}") from None
    if spec.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise SettingError(f"--vary {spec.name}: {text[:40]!r} is not true or false")
        return text.lower() == "true"
    return text


def _wanted(spec: Spec) -> str:
    return {"int": "an integer", "float": "a number", "range": "a range LOW:HIGH",
            "ints": "integers joined by ':'"}[spec.kind]


def parse_axis(text: str, family: str) -> Axis:
    """`NAME=V1,V2,...` as an Axis of a family or training setting (SettingError if not)."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    known = _setting_specs(family)
    if not sep or not values.strip():
        raise SettingError(f"--vary expects NAME=V1,V2,... (got {text[:60]!r})")
    if name not in known:
        raise SettingError(f"--vary {name[:40]!r} is not a setting of {family} or of training; "
                           f"choose from {', '.join(known)}")
    scope, spec = known[name]
    parsed = tuple(_parse_value(spec, v) for v in values.split(","))
    if len(set(parsed)) != len(parsed):
        raise SettingError(f"--vary {name} repeats a value")
    return Axis(name, scope, parsed)


def expand_grid(base: RunSpec, axes: Sequence[Axis], seeds: Sequence[int]) -> list[Cell]:
    """Every combination of the axes' values × every seed, each validated as a RunSpec."""
    if len(axes) > MAX_AXES:
        raise SettingError(f"a sweep varies at most {MAX_AXES} settings (got {len(axes)})")
    if len({a.name for a in axes}) != len(axes):
        raise SettingError("each setting may be varied only once")
    if not seeds or len(set(seeds)) != len(seeds):
        raise SettingError("seeds must be a non-empty list without repeats")
    cells = []
    for combo in itertools.product(*(a.values for a in axes)):
        for seed in seeds:
            data = base.as_dict()
            for axis, value in zip(axes, combo):
                data[axis.scope][axis.name] = list(value) if isinstance(value, tuple) else value
            data["seeds"] = [seed]
            shown = tuple((a.name, a.shown(v)) for a, v in zip(axes, combo))
            cells.append(Cell(shown, seed, _spec(data, shown)))
    return cells


def _spec(data: dict, shown: tuple) -> RunSpec:
    try:
        return RunSpec.from_dict(data)
    except SettingError as err:
        where = ", ".join(f"{k}={v}" for k, v in shown)
        raise SettingError(f"the cell {where} is invalid: {err}") from None


# --- one cell --------------------------------------------------------------------------------

def run_cell(spec_data: dict, keep_results: bool = False) -> dict:
    """Run one cell's comparison (in a worker process): its pooled rows, status and time, and
    with `keep_results` the MethodResults themselves (for the run store)."""
    torch.set_num_threads(1)  # one core per cell: the pool or Ray spreads cells over cores
    start = time.perf_counter()
    try:
        spec = RunSpec.from_dict(spec_data)
        family = spec.make_family()
        family.load()  # image families read their data here, in the worker
        results = [e for e in compare(family, spec.methods, spec.config, spec.seeds)
                   if isinstance(e, MethodResult)]
        rows = pooled_rows(results, spec.config.eval_steps)
    except Exception as err:  # recorded in the results file; the other cells go on
        return failed(err, time.perf_counter() - start)
    diverged = sorted({f"{r['method']}: {r['diverged']}" for r in rows if r["diverged"]})
    outcome = {"status": "diverged" if diverged else "ok", "error": "; ".join(diverged),
               "rows": rows, "seconds": time.perf_counter() - start}
    return {**outcome, "results": results} if keep_results else outcome


def run_cell_for_store(spec_data: dict) -> dict:
    """run_cell that also returns the trained results, to be saved in the run store."""
    return run_cell(spec_data, keep_results=True)


def store_name(cell: Cell) -> str:
    """The cell's run name in the store: settings, seed and a digest of its complete key."""
    where = " ".join(f"{k}={v}" for k, v in cell.settings)[:80]
    digest = hashlib.sha1(cell.key().encode()).hexdigest()[:8]
    return f"sweep {cell.spec.family} {where} seed {cell.seed} {digest}"


def failed(err: BaseException, seconds: float = 0.0) -> dict:
    """The record of a cell that raised instead of finishing."""
    return {"status": "failed", "error": f"{type(err).__name__}: {err}"[:500], "rows": [],
            "seconds": seconds}


# --- executors: each yields (cell index, outcome) as cells finish ------------------------------

def local_outcomes(specs_data: list[dict], workers: int | None = None,
                   run: RunCell = run_cell) -> Iterator[tuple[int, dict]]:
    """Cells on a pool of local processes (spawned: torch's thread pools do not survive fork)."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(specs_data)))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run, data): i for i, data in enumerate(specs_data)}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as err:  # a worker that died (e.g. out of memory) fails its cell
                outcome = failed(err)
            yield futures[future], outcome


def ray_outcomes(specs_data: list[dict], address: str | None = None, num_cpus: int | None = None,
                 run: RunCell = run_cell) -> Iterator[tuple[int, dict]]:
    """Cells as Ray tasks, one CPU each: on the cluster at `address`, else on a new local Ray
    with `num_cpus` (default: every core), even when a cluster already runs on this machine."""
    try:
        import ray
    except ImportError:
        raise SettingError("--engine ray needs Ray: pip install -r requirements-ray.txt") from None
    if address:  # a cluster gets this checkout as its working directory: its workers import core
        try:
            ray.init(address=address, runtime_env={"working_dir": str(ROOT), "excludes": SHIP_NOT})
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise SettingError(f"cannot join the Ray cluster at {address[:80]}: "
                               f"{str(err).splitlines()[0][:200]}") from None
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run)
        refs = {task.remote(data): i for i, data in enumerate(specs_data)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                outcome = ray.get(ready[0])
            except Exception as err:  # a task whose worker died fails its cell
                outcome = failed(err)
            yield refs[ready[0]], outcome
    finally:
        ray.shutdown()


# --- the results file: one JSON line per finished cell ----------------------------------------

def read_records(path: Path) -> dict[str, dict]:
    """The latest record per cell key; a line cut short by an interruption is ignored."""
    records: dict[str, dict] = {}
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            records[record["key"]] = record
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return records


def append_record(path: Path, cell: Cell, outcome: dict) -> dict:
    """Write one finished cell as a line of the results file (flushed: an interruption keeps it)."""
    record = {"key": cell.key(), "settings": dict(cell.settings), "seed": cell.seed,
              "spec": cell.spec.as_dict(), **outcome}
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
    return record


def _end_cut_line(path: Path) -> None:
    """Close a line an interruption left half-written, so the next record starts a line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":
            f.write(b"\n")


@dataclass(frozen=True)
class SweepProgress:
    """One more cell finished: how many of the sweep are done and the time still needed."""

    cell: Cell
    record: dict
    done: int
    total: int
    eta_seconds: float


def run_cells(cells: Sequence[Cell], results: Path,
              outcomes: Callable[[list[dict]], Iterator[tuple[int, dict]]],
              store: RunStore | None = None) -> Iterator[SweepProgress]:
    """Run the cells not yet done in `results` (and, given a run store, saved there), appending
    each to `results` and saving it in the store as it finishes. With a store, `outcomes` must
    run `run_cell_for_store`."""
    results.parent.mkdir(parents=True, exist_ok=True)
    _end_cut_line(results)
    done_keys = {k for k, r in read_records(results).items() if r.get("status") in DONE}
    saved = set(store.names()) if store is not None else None
    todo = [c for c in cells
            if c.key() not in done_keys or (saved is not None and store_name(c) not in saved)]
    if not todo:  # nothing to start an executor (or a Ray cluster) for
        return
    done, start = len(cells) - len(todo), time.perf_counter()
    for finished, (index, outcome) in enumerate(outcomes([c.spec.as_dict() for c in todo]), 1):
        trained = outcome.pop("results", None)
        if store is not None and trained:
            save_run(store, todo[index].spec, trained, store_name(todo[index]))
        record = append_record(results, todo[index], outcome)
        rate = (time.perf_counter() - start) / finished
        yield SweepProgress(todo[index], record, done + finished, len(cells),
                            rate * (len(todo) - finished))


# --- tidy rows: one per cell × method × step × metric -----------------------------------------

def sweep_rows(cells: Sequence[Cell], records: dict[str, dict]) -> list[dict]:
    """The cells' result rows with the varied settings and the seed as columns, in grid order.

    A failed cell keeps its place with NaN rows for each method, step and metric."""
    rows = []
    for cell in cells:
        record = records.get(cell.key())
        if record is None:
            continue
        head = {**dict(cell.settings), "seed": cell.seed, "status": record["status"]}
        cell_rows = record["rows"] or unscored_rows(cell.spec.methods, cell.spec.config.eval_steps,
                                                    cell.spec.make_family().metrics)
        rows += [{**head, **row, "error": record["error"]} for row in cell_rows]
    return rows
