"""`python -m core compare`: meta-train methods side by side, print the table, write files."""
from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
from typing import Any, Sequence

import pandas as pd
import torch

from core.cli import runs as cli_runs
from core.cli.options import (add_run_options, configs_from_args, format_table, int_list_arg,
                              one_sentence_errors, passthrough)
from core.engine import compiled as compiling
from core.engine.config import TrainConfig
from core.engine.events import MethodResult, Progress
from core.engine.families import FAMILIES
from core.engine.training import compare
from core.results import ROW_COLUMNS, pooled_rows
from core.runspec import RunSpec, plain_settings
from core.scenarios.catalogue import SCENARIOS_BY_KEY, Scenario
from core.settings import SettingError


def _compare_parser(family_name: str, scenario: Scenario | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core compare",
        description="Meta-train the chosen methods side by side and score them on held-out test "
                    "tasks before and after fine-tuning, with 95 % confidence intervals.",
        epilog="Family settings depend on --family: try `python -m core compare --family clusters "
               "--help`. Families: " + ", ".join(FAMILIES) + ".")
    add_run_options(parser, family_name)
    parser.add_argument("--seed", type=int_list_arg, default=(0,), metavar="N[,N...]",
                        help="random seed(s); several seeds: the mean of their means, Student-t CI over "
                             "them (default 0)")
    parser.add_argument("--json", metavar="PATH", help="write the config and result rows as JSON")
    parser.add_argument("--csv", metavar="PATH", help="write the result rows as CSV")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: as fast as 2 for the MLPs)")
    parser.add_argument("--quiet", action="store_true", help="print only the results table")
    parser.add_argument("--preset", choices=list(SCENARIOS_BY_KEY), metavar="KEY",
                        help="run a scenario exactly as the dashboard's Train does, then say "
                             "whether its claim held; other flags override its settings "
                             "(`python -m core scenarios` lists them)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile each method's meta-step, for long runs: compiling "
                             "takes seconds to minutes per method (cached under "
                             "~/.cache/meta-lab/inductor); same numbers up to float rounding")
    cli_runs.add_save_arguments(parser)
    if scenario is not None:
        parser.set_defaults(**_scenario_defaults(scenario))
    return parser


def _scenario_defaults(scenario: Scenario) -> dict[str, Any]:
    """The scenario's settings as parser defaults, so that explicit flags still win."""
    spec = scenario.spec()
    values = {**dict(spec.family_settings), **spec.config.as_dict()}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return {**values, "methods": ",".join(spec.methods), "seed": spec.seeds}


def _print_download(done: int, total: int) -> None:
    """Download progress on stderr (stdout keeps the results table)."""
    of = f" of {total / 1e6:.1f}" if total else ""
    end = "\n" if total and done >= total else ""
    print(f"\rdownloading data: {done / 1e6:.1f}{of} MB", end=end, file=sys.stderr, flush=True)


def _print_event(event: object, every: int) -> None:
    if isinstance(event, Progress) and (event.iteration % every == 0 or event.iteration == event.iterations):
        print(f"[{event.method} seed {event.seed}] iteration {event.iteration}/{event.iterations} "
              f"meta-loss {event.meta_loss:.4f} ({event.seconds:.1f} s)", flush=True)
    elif isinstance(event, MethodResult):
        status = f"DIVERGED: {event.diverged}" if event.diverged else "done"
        print(f"[{event.method} seed {event.seed}] {status} in {event.seconds:.1f} s", flush=True)


def _write_outputs(args: argparse.Namespace, family, cfg: TrainConfig, methods, rows) -> None:
    if args.json:
        config = {"family": family.name, "family_settings": family.as_dict(),
                  "training": cfg.as_dict(), "methods": methods, "seeds": list(args.seed),
                  "threads": args.threads, "compiled": args.compile,
                  "versions": {"python": platform.python_version(), "torch": torch.__version__}}
        with open(args.json, "w") as f:
            json.dump({"config": config, "rows": rows}, f, indent=1)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=ROW_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)


def _scenario_check(scenario: Scenario, family, cfg: TrainConfig, methods, seeds,
                    rows: list[dict]) -> str:
    """Whether the scenario's sentence held, and whether these were its exact settings."""
    ran = RunSpec(family.name, plain_settings(family), tuple(methods), cfg, tuple(seeds))
    same = ran.same_numbers(scenario.spec(seeds[0]), seeds=False)  # any data folder, any seeds
    note = "" if same else " (settings differ from the scenario's)"
    failures = scenario.failures(pd.DataFrame(rows))
    if not failures:
        return f"claim ✓{note}: {scenario.look_for}"
    return f"claim ✗{note}: {scenario.look_for}\nnot backed: " + "; ".join(failures)


def run_compare(argv: Sequence[str]) -> int:
    """Parse `compare` arguments (family first, then its settings), train, print, write files."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--family")
    pre.add_argument("--preset")
    known, _ = pre.parse_known_args(argv)
    if known.preset is not None and known.preset not in SCENARIOS_BY_KEY:
        raise SettingError(f"preset must be one of {', '.join(SCENARIOS_BY_KEY)} "
                           f"(got {known.preset[:40]!r})")
    scenario = SCENARIOS_BY_KEY.get(known.preset)
    family_name = known.family or (scenario.family if scenario else "sinusoid")
    if family_name not in FAMILIES:
        raise SettingError(f"family must be one of {', '.join(FAMILIES)} (got {family_name[:40]!r})")
    if scenario and family_name != scenario.family:
        raise SettingError(f"preset {scenario.key} uses family {scenario.family}, not {family_name}")
    args = _compare_parser(family_name, scenario).parse_args(argv)
    torch.set_num_threads(args.threads)
    family, cfg, methods = configs_from_args(args, args.seed[0])
    store = cli_runs.store_for_save(args)
    family.load(progress=None if args.quiet else _print_download)
    if args.compile and (reason := compiling.unavailable()):
        raise SettingError(f"--compile is not available here: {reason}")
    every = max(1, cfg.iterations // 10)
    results = []
    for event in compare(family, methods, cfg, args.seed, compiled=args.compile):
        if not args.quiet:
            _print_event(event, every)
        if isinstance(event, MethodResult):
            results.append(event)
    rows = pooled_rows(results, cfg.eval_steps)
    print(format_table(rows))
    if scenario is not None:
        print(_scenario_check(scenario, family, cfg, methods, args.seed, rows))
    _write_outputs(args, family, cfg, methods, rows)
    ran = RunSpec(family.name, plain_settings(family), tuple(methods), cfg, tuple(args.seed))
    cli_runs.save_compare(store, args, ran.as_dict(), results)
    return 0




def register(sub: argparse._SubParsersAction) -> None:
    passthrough(sub, "compare", "train and compare methods (`python -m core compare --help` for "
                "options)", one_sentence_errors(run_compare))
