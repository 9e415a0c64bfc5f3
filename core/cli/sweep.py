"""`python -m core sweep`: compare over a grid of settings × seeds, with progress and resume."""
from __future__ import annotations

import argparse
import functools
import json
import shlex
from pathlib import Path
from typing import Sequence

import pandas as pd

from core.cli.options import (add_run_options, configs_from_args, int_list_arg,
                              one_sentence_errors, passthrough)
from core.engine.families import FAMILIES
from core.engine.training import check_methods
from core.runs.store import RunStore, StoreError
from core.runspec import RunSpec, plain_settings
from core.settings import SettingError
from core.sweep.grid import (Axis, Cell, SweepProgress, expand_grid, local_outcomes, parse_axis,
                             ray_outcomes, read_records, run_cell, run_cell_for_store, run_cells,
                             sweep_rows)
from core.sweep.summary import summarise_seeds, summary_sentences, sweep_document

EXAMPLE = ("example: python -m core sweep --family clusters --consistent-labels "
           "--methods maml,pretrain --vary shift=0.5,1,2,3 --vary shots=1,5 --seeds 0,1,2 "
           "--iterations 400 --json sweep.json; its figures as a page: "
           "python -m report sweep sweep.json --html sweep.html")


def _parser(family_name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core sweep",
        description="Run one comparison per cell of a grid (every combination of the --vary "
                    "values × every seed). Each finished cell is appended to the results file "
                    "and skipped when the sweep runs again, so an interrupted sweep resumes.",
        epilog=EXAMPLE)
    add_run_options(parser, family_name)
    parser.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="a family or training setting and its values (at most twice: a line "
                             "or a grid); ranges and width lists are written LOW:HIGH and 40:40")
    parser.add_argument("--seeds", type=int_list_arg, default=(0, 1, 2), metavar="N[,N...]",
                        help="seeds per combination; each is a cell (default 0,1,2)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: a pool of processes on this machine (default); ray: Ray tasks")
    parser.add_argument("--workers", type=int, default=None,
                        help="local processes (default: one per CPU core)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join: auto or ray://HOST:10001 (default: start a "
                             "local Ray on this machine's cores)")
    parser.add_argument("--results", default="sweep-results.jsonl", metavar="PATH",
                        help="the resumable results file, one JSON line per finished cell "
                             "(default sweep-results.jsonl)")
    parser.add_argument("--store", metavar="PATH",
                        help="also save each cell as a run in this run store (a runs.sqlite "
                             "file); cells already saved there are skipped")
    parser.add_argument("--json", metavar="PATH",
                        help="write one row per cell × method × step × metric, the varied "
                             "settings as columns (the Sweep page reads this file; `python -m "
                             "report sweep FILE --html PAGE` draws it)")
    parser.add_argument("--after-steps", type=int, default=None, metavar="K",
                        help="fine-tuning steps at which the summary compares MAML with "
                             "pre-training (default: the first scored step after 0)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _print_progress(p: SweepProgress) -> None:
    where = " ".join(f"{k}={v}" for k, v in p.cell.settings)
    status = p.record["status"] + (f" ({p.record['error']})" if p.record["error"] else "")
    eta = f" · ETA {_duration(p.eta_seconds)}" if p.done < p.total else ""
    print(f"[{p.done}/{p.total}] {where} seed {p.cell.seed}: {status} in "
          f"{p.record['seconds']:.1f} s{eta}", flush=True)


def _outcomes(args: argparse.Namespace):
    run = run_cell_for_store if args.store else run_cell
    if args.engine == "ray":
        return functools.partial(ray_outcomes, address=args.address, run=run)
    if args.address:
        raise SettingError("--address names a Ray cluster: use it with --engine ray")
    if args.workers is not None and args.workers < 1:
        raise SettingError(f"workers must be at least 1 (got {args.workers})")
    return functools.partial(local_outcomes, workers=args.workers, run=run)


def _store(path: str | None) -> RunStore | None:
    if path is None:
        return None
    try:
        return RunStore(path)
    except StoreError as err:
        raise SettingError(f"--store {path[:80]}: {err}") from None


def _after_steps(args: argparse.Namespace, steps: tuple[int, ...]) -> int:
    if args.after_steps is None:
        return next((s for s in steps if s > 0), steps[0])
    if args.after_steps not in steps:
        raise SettingError(f"after-steps must be one of the scored eval_steps "
                           f"{','.join(map(str, steps))} (got {args.after_steps})")
    return args.after_steps


def sweep_meta(base: RunSpec, axes: Sequence[Axis], seeds: Sequence[int], after: int,
               argv: Sequence[str], records: dict[str, dict], cells: Sequence[Cell]) -> dict:
    """The sweep's description, stored with its rows: what was varied and how to run it again."""
    mine = [records[c.key()] for c in cells if c.key() in records]
    fixed = base.as_dict()  # the settings every cell shares
    for axis in axes:
        del fixed[axis.scope][axis.name]
    del fixed["seeds"]
    axes_data = [{"name": a.name, "values": [a.shown(v) for v in a.values]} for a in axes]
    return {"family": base.family, "axes": axes_data,
            "seeds": list(seeds), "methods": list(base.methods), "after_steps": after,
            "fixed": fixed, "command": shlex.join(["python", "-m", "core", "sweep", *argv]),
            "cells": len(cells), "failed": sum(r["status"] == "failed" for r in mine),
            "diverged": sum(r["status"] == "diverged" for r in mine),
            "cell_seconds": round(sum(r["seconds"] for r in mine), 1)}


def run_sweep(argv: Sequence[str]) -> int:
    """Parse, run the cells not yet in the results file, summarise, write the files.

    Returns 1 when a cell failed (it is tried again next time), else 0."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--family", default="sinusoid")
    family_name = pre.parse_known_args(argv)[0].family
    if family_name not in FAMILIES:
        raise SettingError(f"family must be one of {', '.join(FAMILIES)} "
                           f"(got {family_name[:40]!r})")
    args = _parser(family_name).parse_args(argv)
    if not args.vary:
        raise SettingError("give at least one --vary NAME=V1,V2,... (see --help)")
    family, cfg, methods = configs_from_args(args, args.seeds[0])
    check_methods(methods)
    family.load()  # a missing data set is reported here, before any cell runs
    base = RunSpec(family.name, plain_settings(family), tuple(methods), cfg, (args.seeds[0],))
    axes = [parse_axis(text, family.name) for text in args.vary]
    cells = expand_grid(base, axes, args.seeds)
    after, outcomes = _after_steps(args, cfg.eval_steps), _outcomes(args)
    results = Path(args.results)
    print(f"sweep: {len(cells)} cells ({' × '.join(str(len(a.values)) for a in axes)} settings × "
          f"{len(args.seeds)} seeds) on {args.engine}; results in {results}", flush=True)
    store = _store(args.store)
    for progress in run_cells(cells, results, outcomes, store):
        if not args.quiet:
            _print_progress(progress)
    records = read_records(results)
    meta = sweep_meta(base, axes, args.seeds, after, argv, records, cells)
    rows = pd.DataFrame(sweep_rows(cells, records))
    for line in summary_sentences(summarise_seeds(rows, [a.name for a in axes]),
                                  [a.name for a in axes], after):
        print(line)
    print(f"{len(cells)} cells: {meta['failed']} failed, {meta['diverged']} with a diverged method")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(sweep_document(meta, rows.to_dict("records")), f, indent=0)
    return 1 if meta["failed"] else 0


def register(sub: argparse._SubParsersAction) -> None:
    passthrough(sub, "sweep", "compare over a grid of settings × seeds, resumable, on local "
                "processes or Ray (`python -m core sweep --help` for options)",
                one_sentence_errors(run_sweep))
