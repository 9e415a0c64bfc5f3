"""`python -m core gallery build|check`: the gallery of full-budget runs kept in gallery/."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import torch

from core.cli.options import passthrough
from core.runs import gallery


def _gallery_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core gallery",
        description="The gallery: each scenario trained at full budget (the sinusoid at the MAML "
                    "paper's 70 000 iterations), plus Omniglot 5-way 1-shot on the small splits, "
                    "kept as .metarun files in gallery/.")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="train the entries whose file is missing or stale "
                                         "(resumable: finished methods are kept)")
    build.add_argument("--omniglot-dir", default=os.environ.get("META_LAB_OMNIGLOT", ""),
                       metavar="DIR", help="folder with the Omniglot zips (default "
                       "$META_LAB_OMNIGLOT); without it the Omniglot entry is skipped")
    sub.add_parser("check", help="reload every file and check it against the gallery's settings")
    for p in sub.choices.values():
        p.add_argument("--only", metavar="KEY[,KEY...]",
                       help="only these entries: " + ", ".join(e.key for e in gallery.entries()))
        p.add_argument("--dir", type=Path, default=gallery.GALLERY_DIR, help="gallery folder")
    return parser


def run_gallery(argv: Sequence[str]) -> int:
    """`python -m core gallery build|check`: exit status 1 when a check finds a problem."""
    args = _gallery_parser().parse_args(argv)
    torch.set_num_threads(1)  # the MLPs are as fast on one thread; the build runs for an hour
    selected = gallery.entries(getattr(args, "omniglot_dir", ""))
    if args.only:
        keys = args.only.split(",")
        unknown = [k for k in keys if k not in {e.key for e in selected}]
        if unknown:
            print(f"error: no gallery entry {', '.join(unknown)}", file=sys.stderr)
            return 2
        selected = [e for e in selected if e.key in keys]
    if args.action == "build":
        if not args.omniglot_dir and any(e.key == gallery.OMNIGLOT_KEY for e in selected):
            print(f"{gallery.OMNIGLOT_KEY}: skipped (give --omniglot-dir)")
            selected = [e for e in selected if e.key != gallery.OMNIGLOT_KEY]
        gallery.build(selected, args.dir, log=lambda line: print(line, flush=True))
        return 0
    failed = False
    for key, problems, notes in gallery.check(selected, args.dir):
        failed |= bool(problems)
        print(f"{key}: {'; '.join(problems) if problems else 'ok'}"
              + (f" (note: {'; '.join(notes)})" if notes else ""))
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    passthrough(sub, "gallery", "build or check the gallery of full-budget runs "
                "(`python -m core gallery --help`)", run_gallery)
