"""Command line: arguments → configs → one core call; progress and a results table on stdout.

Each subcommand's module registers its own parser (`register`), and `main` runs the function
the chosen one set; compare, sweep, runs and gallery parse their own arguments, since their
options depend on them (`compare --family clusters --help`)."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from core.cli import compare, gallery, listing, runs, sweep
from core.engine.algorithms import METHODS

COMMANDS = (listing, compare, runs, gallery, sweep)  # in the order of the help


def _parser() -> argparse.ArgumentParser:
    titles = [m.title for m in METHODS.values()]
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="The meta-learning comparison lab: " + ", ".join(titles[:-1])
                    + f" and {titles[-1]} side by side on task families.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m core`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "own_arguments", False):
        return args.func(argv[argv.index(args.command) + 1:])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args.func(rest)
