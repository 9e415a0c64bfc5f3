"""The gallery: every scenario trained once at full budget, kept as committed .metarun files."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from core.data import omniglot
from core.engine.algorithms import all_result_names, result_names
from core.engine.events import MethodResult
from core.engine.families import FAMILIES
from core.engine.training import compare
from core.results import pooled_rows
from core.runs.runfile import (RunFileError, SavedRun, from_bytes, library_versions, run_spec,
                               to_bytes)
from core.runs.store import RunStore, StoreError, now, save_results
from core.runspec import RunSpec, plain_settings
from core.scenarios.catalogue import SCENARIOS, SCENARIOS_BY_KEY, train_defaults
from core.settings import specs, without_paths

GALLERY_DIR = Path(__file__).resolve().parents[2] / "gallery"
SUFFIX = ".metarun"
# The full budget: the MAML paper's 70 000 iterations of 25 tasks at its β = 0.001 for the
# sinusoid; the clusters tasks are learnt within a few thousand. (The interactive budgets raise β
# to make up for fewer iterations, and the default scenario draws 10 tasks a step:
# docs/budgets.md.) Scored on 1000 test tasks and validated on 100 at 10 checkpoints, more than
# an interactive run needs (core/scenarios/catalogue.py).
_FULL_SCORING = {"test_tasks": 1000, "val_tasks": 100, "checkpoints": 10}
FULL_BUDGET = {"sinusoid": {"iterations": 70_000, "meta_lr": 0.001, **_FULL_SCORING},
               "clusters": {"iterations": 4_000, "meta_lr": 0.001, "meta_batch_size": 25,
                            **_FULL_SCORING}}
OMNIGLOT_KEY = "omniglot-5way-1shot"
# A few held-out drawings for the Draw page's "use Omniglot drawings", so it works on a server
# without the data: characters of the entry's test alphabets (never seen in training), at their
# original 105 px, 1 bit each. Omniglot is MIT-licensed (docs/data.md).
EXAMPLES = "omniglot-examples.npz"
EXAMPLE_CHARACTERS, EXAMPLE_DRAWINGS = 5, 8  # per test alphabet; 5 shots + 3 queries per class


@dataclass(frozen=True)
class Entry:
    """One gallery run: its key (file name), title, and settings."""

    key: str
    name: str
    spec: RunSpec

    def command(self) -> str:
        """The command that (re)builds this entry."""
        return f"python -m core gallery build --only {self.key}"


# Every method, with batch norm by the support set's statistics: a query image's prediction does
# not depend on the other queries, so the scores hold one drawing at a time (the Draw page's use;
# docs/methods.md: support = transductive together, and the same alone; group far behind).
# 200 iterations, not the family's 400: seven methods had to fit one evening's shared CPU
# (the build's times: docs/runs.md).
OMNIGLOT_METHODS = ("maml", "fomaml", "reptile", "anil", "metasgd", "pretrain", "scratch")
OMNIGLOT_TRAIN = {"iterations": 200, "test_tasks": 600, "val_tasks": 50, "checkpoints": 4,
                  "eval_steps": tuple(range(11))}


def _omniglot(data_dir: str) -> Entry:
    """The course homework: Omniglot 5-way 1-shot on the small splits with every method,
    support-normalised (no peeking at the queries), at α = 0.1. The full budget of the Omniglot
    scenario, whose interactive run has a smaller model and data."""
    family = {s.name: s.default for s in specs(FAMILIES["omniglot"])}
    family.update(shots=1, norm="support", data_dir=data_dir, download=False)
    train = {**train_defaults("omniglot"), **OMNIGLOT_TRAIN}
    del train["seed"]
    settings = {"family": "omniglot", "methods": list(OMNIGLOT_METHODS), "seeds": [0],
                "family_settings": {k: list(v) if isinstance(v, tuple) else v for k, v in family.items()},
                "train": {k: list(v) if isinstance(v, tuple) else v for k, v in train.items()}}
    return Entry(OMNIGLOT_KEY, "Omniglot 5-way 1-shot, small splits (every method, no peeking)",
                 run_spec(settings))


def shipped_settings(spec: RunSpec) -> dict:
    """The settings a gallery file records: the build machine's data folders left out (a shipped
    file names no path of the machine that built it; where data lives is not compared)."""
    return {**spec.as_dict(),
            "family_settings": dict(plain_settings(without_paths(spec.make_family())))}


def write_examples(data_dir: str, directory: Path = GALLERY_DIR) -> Path:
    """The Draw page's example drawings, from the Omniglot entry's test alphabets in `data_dir`."""
    alphabets = dict(_omniglot(data_dir).spec.family_settings)["test_alphabets"].split(",")
    grey, names = omniglot.original_drawings(data_dir, alphabets, EXAMPLE_CHARACTERS,
                                             EXAMPLE_DRAWINGS)
    target = directory / EXAMPLES
    with open(target.with_suffix(".tmp"), "wb") as file:
        np.savez_compressed(file, ink=np.packbits(grey < 128, axis=-1), side=grey.shape[-1],
                            names=np.array(names))
    os.replace(target.with_suffix(".tmp"), target)
    return target


def examples(directory: Path = GALLERY_DIR) -> tuple[np.ndarray, tuple[str, ...]]:
    """The example drawings as grey (characters, drawings, side, side) uint8, 0 = ink on 255
    paper, and the characters' names (OSError or ValueError when the file is absent or bad)."""
    with np.load(directory / EXAMPLES, allow_pickle=False) as data:
        side, names = int(data["side"]), tuple(str(n) for n in data["names"])
        ink = np.unpackbits(data["ink"], axis=-1, count=side).astype(bool)
    if ink.ndim != 4 or ink.shape[:2] != (len(names), EXAMPLE_DRAWINGS):
        raise ValueError(f"{EXAMPLES} holds images of shape {ink.shape}")
    return np.where(ink, 0, 255).astype(np.uint8), names


def entries(omniglot_dir: str = "") -> list[Entry]:
    """Every scenario at full budget (Omniglot's data folder is given when building)."""
    out = []
    for scenario in SCENARIOS:
        if scenario.key == OMNIGLOT_KEY:
            out.append(_omniglot(omniglot_dir))
            continue
        spec = scenario.spec(0)
        config = spec.config.replace(**FULL_BUDGET[spec.family])
        out.append(Entry(scenario.key, scenario.name, replace(spec, config=config)))
    return out


def path_of(key: str, directory: Path = GALLERY_DIR) -> Path:
    """Where an entry's file lives."""
    return directory / f"{key}{SUFFIX}"


def load(key: str, directory: Path = GALLERY_DIR) -> SavedRun:
    """A gallery run, read and checked like any run file."""
    return from_bytes(path_of(key, directory).read_bytes())


def problems(entry: Entry, run: SavedRun) -> list[str]:
    """How a gallery file departs from its entry: settings, results, or the versions now in use."""
    found = []
    # Read back through RunSpec, a setting added since the build takes its default, which
    # by the settings' convention reproduces the behaviour from before it existed.
    if not run.spec().same_numbers(entry.spec):
        found.append("its settings differ from the gallery's definition (rebuild it)")
    wanted = {(name, s) for name in all_result_names(entry.spec.methods) for s in entry.spec.seeds}
    if {(r.method, r.seed) for r in run.results} != wanted or len(run.results) != len(wanted):
        found.append("it does not hold exactly one result per method and seed")
    tasks = entry.spec.config.test_tasks
    if any(s.shape[1] != tasks for r in run.results for s in r.scores.values()):
        found.append(f"its scores are not over {tasks} test tasks")
    return found


def notes(entry: Entry, run: SavedRun) -> list[str]:
    """What a reader should know: library versions that differ from this process's, and the
    parts of the scenario's sentence the full-budget numbers do not back."""
    current = library_versions()
    found = [f"{k} {v} when trained, {current[k]} now" for k, v in run.versions.items()
             if k in current and current[k] != v]
    if entry.key in SCENARIOS_BY_KEY:
        rows = pd.DataFrame(pooled_rows(run.results, entry.spec.config.eval_steps))
        found += [f"claim not backed: {c}" for c in SCENARIOS_BY_KEY[entry.key].failures(rows)]
    return found


def _trained_elsewhere(spec: RunSpec, directory: Path) -> tuple[str, list[MethodResult]] | None:
    """A gallery file whose settings equal `spec`'s but for the methods, holding its one method."""
    wanted, method = {**spec.as_dict(), "methods": None}, spec.methods[0]
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            run = from_bytes(path.read_bytes())
        except RunFileError:
            continue
        if {**run.spec().as_dict(), "methods": None} == wanted and method in run.settings["methods"]:
            return path.name, [r for r in run.results if r.method in result_names(method)]
    return None


def _train_method(entry: Entry, method: str, partial: RunStore, log: Callable[[str], None],
                  directory: Path = GALLERY_DIR) -> list[MethodResult]:
    """One method's results: from another gallery file with the same settings, from the partial
    store when an earlier build trained it, or trained now.

    Methods train independently (same seed ⇒ same start, tasks and test tasks), so training
    them one at a time gives exactly the numbers of one `compare` over all of them.
    """
    name, spec = f"{entry.key}/{method}", replace(entry.spec, methods=(method,))
    if (found := _trained_elsewhere(spec, directory)) is not None:
        log(f"{name}: taken from {found[0]} (same settings)")
        return found[1]
    if name in partial.names():
        kept = partial.load(name)
        if kept.settings == spec.as_dict():
            log(f"{name}: already trained")
            return kept.results
        partial.delete(name)  # trained under settings the gallery no longer defines
    start = time.perf_counter()
    results = [e for e in compare(spec.make_family(), spec.methods, spec.config, spec.seeds)
               if isinstance(e, MethodResult)]
    log(f"{name}: trained in {time.perf_counter() - start:.0f} s wall")
    save_results(partial, spec.as_dict(), results, name)
    return results


def build(selected: list[Entry], directory: Path = GALLERY_DIR,
          log: Callable[[str], None] = print) -> None:
    """Train each selected entry whose file is missing or stale; resumable method by method."""
    directory.mkdir(parents=True, exist_ok=True)
    partial = RunStore(directory / ".build.sqlite")  # finished methods of unfinished entries
    for entry in selected:
        target = path_of(entry.key, directory)
        if entry.key == OMNIGLOT_KEY and not (directory / EXAMPLES).exists():
            log(f"wrote {write_examples(dict(entry.spec.family_settings)['data_dir'], directory).name}")
        if target.exists():
            try:
                if not problems(entry, from_bytes(target.read_bytes())):
                    log(f"{entry.key}: up to date")
                    continue
            except RunFileError:
                pass
        start = time.perf_counter()
        results = [r for m in entry.spec.methods
                   for r in _train_method(entry, m, partial, log, directory)]
        order = all_result_names(entry.spec.methods)
        results.sort(key=lambda r: (entry.spec.seeds.index(r.seed), order.index(r.method)))
        run = SavedRun(entry.name, now(), shipped_settings(entry.spec), library_versions(), results)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(to_bytes(run))
        os.replace(tmp, target)  # a crash never leaves a half-written gallery file
        for method in entry.spec.methods:
            if f"{entry.key}/{method}" in partial.names():
                partial.delete(f"{entry.key}/{method}")
        log(f"{entry.key}: wrote {target.name} ({target.stat().st_size / 1e6:.2f} MB) "
            f"in {time.perf_counter() - start:.0f} s wall")


def check(selected: list[Entry], directory: Path = GALLERY_DIR) -> Iterator[tuple[str, list[str], list[str]]]:
    """(key, problems, notes) per entry; a missing or unreadable file is a problem."""
    for entry in selected:
        try:
            run = load(entry.key, directory)
        except FileNotFoundError:
            yield entry.key, [f"{path_of(entry.key, directory).name} is missing ({entry.command()})"], []
            continue
        except (RunFileError, StoreError) as err:
            yield entry.key, [str(err)], []
            continue
        found = problems(entry, run)
        if entry.key == OMNIGLOT_KEY:
            found += _examples_problem(directory)
        yield entry.key, found, [] if found else notes(entry, run)


def _examples_problem(directory: Path) -> list[str]:
    """The Draw page's example drawings, missing or unreadable, as a problem of the Omniglot entry."""
    try:
        examples(directory)
    except (OSError, ValueError, KeyError) as err:
        return [f"{EXAMPLES} cannot be read ({type(err).__name__}; "
                f"python -m core gallery build --only {OMNIGLOT_KEY})"]
    return []
