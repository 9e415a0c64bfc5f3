"""Command line for saved runs: `compare --save` and `runs list|show|export|import|rename|delete`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from core.cli.options import format_table, passthrough
from core.engine.events import MethodResult
from core.results import pooled_rows
from core.runs.runfile import MAX_FILE_BYTES, RunFileError, SavedRun
from core.runs.store import RunStore, StoreError, check_name, default_path, save_results


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """--store PATH, defaulting to $META_LAB_HOME/runs.sqlite or the user data folder."""
    parser.add_argument("--store", metavar="PATH", default=None,
                        help=f"run store file (default {default_path()}; set META_LAB_HOME to move it)")


def add_save_arguments(parser: argparse.ArgumentParser) -> None:
    """compare's --save, --name and --store."""
    group = parser.add_argument_group("saving the run (see `python -m core runs --help`)")
    group.add_argument("--save", action="store_true", help="save the finished run in the run store")
    group.add_argument("--name", help="name of the saved run (default: family and time); "
                                      "a taken name gets ' (2)'")
    add_store_argument(group)


def store_for_save(args: argparse.Namespace) -> RunStore | None:
    """The store `compare --save` writes to, opened before training so a bad one fails first."""
    if args.name is not None:
        check_name(args.name)
    return RunStore(args.store or default_path()) if args.save else None


def save_compare(store: RunStore | None, args: argparse.Namespace, settings: dict,
                 results: Sequence[MethodResult]) -> None:
    """Save a finished `compare` run when --save was given, and say where."""
    if store is not None:
        name = save_results(store, settings, results, args.name)
        print(f"saved as {name!r} in {store.path}")


def _runs_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core runs",
        description="Saved runs: list, show, move between machines as one file, rename, delete.")
    sub = parser.add_subparsers(dest="action", required=True)
    commands = {
        "list": "one line per run: name, family, methods, budget, date",
        "show": "a run's settings, versions and results table",
        "export": "write a run as one .metarun file",
        "import": "add a .metarun file's run to the store (checked in full first)",
        "rename": "give a run another name",
        "delete": "remove a run",
    }
    for action, text in commands.items():
        p = sub.add_parser(action, help=text, description=text)
        if action == "import":
            p.add_argument("file", type=Path, help="the run file")
        elif action != "list":
            p.add_argument("name", help="the run's name (see `runs list`)")
        if action == "export":
            p.add_argument("--out", type=Path, required=True, metavar="FILE", help="file to write")
        if action == "rename":
            p.add_argument("new_name", help="the new name")
        add_store_argument(p)
    return parser


def describe(run: SavedRun) -> str:
    """A saved run in words: settings, versions, then the pooled results table."""
    s = run.settings
    train = ", ".join(f"{k}={v}" for k, v in s["train"].items())
    family = ", ".join(f"{k}={v}" for k, v in s["family_settings"].items())
    diverged = [f"{r.method} seed {r.seed}: {r.diverged}" for r in run.results if r.diverged]
    lines = [f"run      {run.name}  (saved {run.created})",
             f"family   {s['family']}  {family}",
             f"methods  {', '.join(s['methods'])}   seeds {', '.join(map(str, s['seeds']))}",
             f"training {train}",
             f"versions {', '.join(f'{k} {v}' for k, v in run.versions.items())}",
             *(f"diverged {d}" for d in diverged), "",
             format_table(pooled_rows(run.results, tuple(s["train"]["eval_steps"])))]
    return "\n".join(lines)


def read_run_file(path: Path) -> bytes:
    """A run file's bytes, refusing one over the size cap before reading it."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RunFileError(f"the run file is larger than the {MAX_FILE_BYTES // 2**20} MB the lab "
                               "accepts")
        return path.read_bytes()
    except OSError as err:
        raise RunFileError(f"cannot read {path}: {err.strerror or err}") from None


def _act(args: argparse.Namespace) -> None:
    store = RunStore(args.store or default_path())
    if args.action == "list":
        summaries = store.runs()
        for summary in summaries:
            print(summary.line())
        if not summaries:
            print(f"no saved runs in {store.path}")
    elif args.action == "show":
        print(describe(store.load(args.name)))
    elif args.action == "export":
        data = store.export_bytes(args.name)
        try:
            args.out.write_bytes(data)
        except OSError as err:
            raise RunFileError(f"cannot write {args.out}: {err.strerror or err}") from None
        print(f"wrote {args.name!r} to {args.out} ({len(data) / 1e6:.2f} MB)")
    elif args.action == "import":
        print(f"imported as {store.import_bytes(read_run_file(args.file))!r} into {store.path}")
    elif args.action == "rename":
        print(f"renamed to {store.rename(args.name, args.new_name)!r}")
    else:
        store.delete(args.name)
        print(f"deleted {args.name!r}")


def run_runs(argv: Sequence[str]) -> int:
    """`python -m core runs ...`: one sentence on stderr and exit status 2 when it cannot."""
    args = _runs_parser().parse_args(argv)
    try:
        _act(args)
    except (StoreError, RunFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    passthrough(sub, "runs", "saved runs: list, show, export, import, rename, delete "
                "(`python -m core runs --help`)", run_runs)
