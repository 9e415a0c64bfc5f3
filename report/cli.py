"""`python -m report sweep FILE --html PAGE`: a sweep file (`python -m core sweep --json`) drawn
as one self-contained HTML page. The drawing lives here, beside the figures it uses, so that the
core, which only computes and writes the file, never imports the report layer."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from core.sweep.summary import SweepFileError, load_sweep
from report.figures.sweep import sweep_html


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m report",
                                     description="Draw what the core computed as HTML.")
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="a sweep's figures, sentences and command as one page",
                           epilog="example: python -m core sweep ... --json sweep.json && "
                                  "python -m report sweep sweep.json --html sweep.html")
    sweep.add_argument("file", type=Path, help="the file `python -m core sweep --json` wrote")
    sweep.add_argument("--html", type=Path, required=True, metavar="PATH", help="page to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m report`: exit status 2 and one sentence when it cannot."""
    args = _parser().parse_args(argv)
    try:
        meta, rows = load_sweep(args.file.read_bytes())
        args.html.write_text(sweep_html(meta, rows), encoding="utf-8")
    except OSError as err:
        print(f"error: {err.filename}: {err.strerror or err}", file=sys.stderr)
        return 2
    except SweepFileError as err:
        print(f"error: {args.file}: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.html}")
    return 0
