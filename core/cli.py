"""Command line: arguments → configs → one core call; progress and a results table on stdout."""
from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
from typing import Any, Sequence

import pandas as pd
import torch

from core import cli_runs
from core import compiled as compiling
from core.algorithms import METHODS
from core.config import TrainConfig
from core.data.omniglot import DatasetUnavailable
from core.families import FAMILIES, make_family
from core.runspec import RunSpec, plain_settings
from core.scenarios import SCENARIOS, SCENARIOS_BY_KEY, Scenario
from core.settings import SettingError, Spec, specs
from core.store import StoreError
from core.training import MethodResult, Progress, compare, pooled_rows

ROW_FIELDS = ["method", "step", "metric", "mean", "ci_low", "ci_high", "n_tasks", "diverged",
              "train_seconds", "test_lr"]


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_setting(group: argparse._ArgumentGroup, spec: Spec, default: Any) -> None:
    """One flag per setting, named like the setting, with its default and range in the help."""
    flag = "--" + spec.name.replace("_", "-")
    shown = {"ints": lambda: ",".join(map(str, default)),
             "range": lambda: " ".join(f"{v:g}" for v in default)}.get(spec.kind, lambda: default)()
    text = f"{spec.help} (default {shown}; {spec.describe_range()})"
    kwargs: dict[str, Any] = {"dest": spec.name, "default": default, "help": text.replace("%", "%%")}
    if spec.kind == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction
    elif spec.kind == "range":
        kwargs.update(nargs=2, type=float, metavar=("LOW", "HIGH"))
    elif spec.kind == "ints":
        kwargs.update(type=_int_list, metavar="N[,N...]")
    elif spec.kind == "choice":
        kwargs["choices"] = spec.choices
    else:
        kwargs["type"] = {"int": int, "float": float, "text": str, "path": str}[spec.kind]
    group.add_argument(flag, **kwargs)


def add_run_options(parser: argparse.ArgumentParser, family_name: str) -> None:
    """--family, --methods and one flag per family and training setting (compare and sweep)."""
    family_cls = FAMILIES[family_name]
    parser.add_argument("--family", choices=list(FAMILIES), default=family_name,
                        help="task family (default sinusoid; see `python -m core families`)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods (default {','.join(METHODS)})")
    group = parser.add_argument_group(f"{family_name} settings", family_cls.description)
    for spec in specs(family_cls):
        _add_setting(group, spec, spec.default)
    train = parser.add_argument_group("training and evaluation settings (shared by every method)")
    defaults = {**TrainConfig().as_dict(), **family_cls.suggested}
    for spec in specs(TrainConfig):
        if spec.name != "seed":
            _add_setting(train, spec, defaults[spec.name])


def _compare_parser(family_name: str, scenario: Scenario | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core compare",
        description="Meta-train the chosen methods side by side and score them on held-out test "
                    "tasks before and after fine-tuning, with 95 % confidence intervals.",
        epilog="Family settings depend on --family: try `python -m core compare --family clusters "
               "--help`. Families: " + ", ".join(FAMILIES) + ".")
    add_run_options(parser, family_name)
    parser.add_argument("--seed", type=_int_list, default=(0,), metavar="N[,N...]",
                        help="random seed(s); several seeds pool their test tasks (default 0)")
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


def configs_from_args(args: argparse.Namespace, seed: int = 0):
    """The family, training config (with `seed`) and method names the run options set."""
    def pick(cls):
        return {s.name: getattr(args, s.name) for s in specs(cls) if s.name != "seed"}
    family = make_family(args.family, **{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in pick(FAMILIES[args.family]).items()})
    cfg = TrainConfig(**pick(TrainConfig), seed=seed)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    return family, cfg, methods


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


def format_table(rows: list[dict]) -> str:
    """Rows as a fixed-width table: one line per method and step, one column per metric."""
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    header = f"{'method':<12} {'step':>4}  " + "  ".join(f"{m + ' (95% CI)':<26}" for m in metrics)
    lines = [header + "  train s  test α", "-" * (len(header) + 17)]
    by_key = {(r["method"], r["step"], r["metric"]): r for r in rows}
    for method, step in dict.fromkeys((r["method"], r["step"]) for r in rows):
        cells = []
        for m in metrics:
            r = by_key[(method, step, m)]
            cells.append(f"{'diverged':<26}" if r["diverged"] else
                         f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]".ljust(26))
        first = by_key[(method, step, metrics[0])]
        lines.append(f"{method:<12} {step:>4}  " + "  ".join(cells)
                     + f"  {first['train_seconds']:7.1f}  {first.get('test_lr', '')}")
    return "\n".join(lines)


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
            writer = csv.DictWriter(f, fieldnames=ROW_FIELDS)
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


def _list(items: dict[str, Any], line) -> int:
    width = max(map(len, items))
    for name, item in items.items():
        print(f"{name:<{width}}  {line(item)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m core`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="The meta-learning comparison lab: MAML, first-order MAML, Reptile, ANIL, "
                    "Meta-SGD, pre-training and a random start side by side on task families.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("families", help="list the task families, one line each")
    sub.add_parser("methods", help="list the methods, one line each")
    sub.add_parser("scenarios", help="list the scenarios (the dashboard's default first): "
                                     "key, name and the claim `compare --preset KEY` checks")
    sub.add_parser("compare", add_help=False,
                   help="train and compare methods (`python -m core compare --help` for options)")
    sub.add_parser("runs", add_help=False,
                   help="saved runs: list, show, export, import, rename, delete "
                        "(`python -m core runs --help`)")
    sub.add_parser("gallery", add_help=False,
                   help="build or check the gallery of full-budget runs "
                        "(`python -m core gallery --help`)")
    sub.add_parser("sweep", add_help=False,
                   help="compare over a grid of settings × seeds, resumable, on local processes "
                        "or Ray (`python -m core sweep --help` for options)")
    if argv[:1] in (["compare"], ["sweep"]):
        from core.cli_sweep import run_sweep  # imports this module's option builders
        try:
            return {"compare": run_compare, "sweep": run_sweep}[argv[0]](argv[1:])
        except (SettingError, DatasetUnavailable, StoreError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if argv[:1] == ["runs"]:
        return cli_runs.run_runs(argv[1:])
    if argv[:1] == ["gallery"]:
        return cli_runs.run_gallery(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "families":
        return _list(FAMILIES, lambda cls: f"[{cls.kind}] {cls.description}")
    if args.command == "scenarios":
        return _list({s.key: s for s in SCENARIOS}, lambda s: f"{s.name}. {s.look_for}")
    return _list(METHODS, lambda m: m.description)
