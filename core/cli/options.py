"""What several subcommands share: the run options (one flag per setting), integer lists, the
results table, and one-sentence errors."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from core.data.omniglot import DatasetUnavailable
from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.families import FAMILIES, make_family
from core.runs.store import StoreError
from core.settings import SettingError, Spec, int_list, specs


def int_list_arg(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated integers, at least one."""
    try:
        values = int_list(text)
    except ValueError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    return values


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
        kwargs.update(type=int_list_arg, metavar="N[,N...]")
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


def configs_from_args(args: argparse.Namespace, seed: int = 0):
    """The family, training config (with `seed`) and method names the run options set."""
    def pick(cls):
        return {s.name: getattr(args, s.name) for s in specs(cls) if s.name != "seed"}
    family = make_family(args.family, **{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in pick(FAMILIES[args.family]).items()})
    cfg = TrainConfig(**pick(TrainConfig), seed=seed)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    return family, cfg, methods


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


def one_sentence_errors(run: Callable[[Sequence[str]], int]) -> Callable[[Sequence[str]], int]:
    """`run`, with a bad setting, a missing data set or a bad store said in one sentence on
    stderr (exit status 2) instead of a traceback."""
    def guarded(argv: Sequence[str]) -> int:
        try:
            return run(argv)
        except (SettingError, DatasetUnavailable, StoreError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return guarded


def passthrough(sub: argparse._SubParsersAction, name: str, help: str,
                run: Callable[[Sequence[str]], int]) -> None:
    """A subcommand that parses its own arguments (its options depend on them, e.g. --family):
    the top-level parser only names it and hands it the rest of the command line."""
    sub.add_parser(name, add_help=False, help=help).set_defaults(func=run, own_arguments=True)
