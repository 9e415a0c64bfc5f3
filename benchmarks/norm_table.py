"""Held-out accuracy per conv-net normalisation: queries scored together, one at a time, and
with the test-time α chosen on the validation tasks (docs/methods.md's Omniglot tables).

Each method is trained once per normalisation with the lab's `train_method`; its test tasks are
then scored three ways with the method's own test-time plan and the one `adapt`.
Run: python benchmarks/norm_table.py --data-dir DIR [--family omniglot] [--shots 1]
     [--iterations 60] [--test-tasks 200] [--methods maml,pretrain]
     [--norms transductive,support,group] [--alone-norms transductive,support,group]
     [--set inner_steps=3 --set reptile_step_size=0.5 ...] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.engine.config import TrainConfig
from core.engine.convnet import NORMS
from core.engine.evaluation import make_learner, mean_ci, score_plan, tune_test_lr
from core.engine.events import MethodResult
from core.engine.families import FAMILIES, make_family
from core.engine.tasks import generator
from core.engine.training import train_method


def _cell(values: torch.Tensor) -> str:
    mean, low, high = mean_ci(values)
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def measure(args: argparse.Namespace, norm: str) -> list[dict]:
    """Rows {norm, method, step, together, alone, auto, auto_lr} for one normalisation."""
    settings = {"shots": args.shots, "norm": norm}
    if args.family == "omniglot":
        settings.update(data_dir=args.data_dir, download=False)
    family = make_family(args.family, **settings)
    cfg = TrainConfig(**{**FAMILIES[args.family].suggested, "iterations": args.iterations,
                         "test_tasks": args.test_tasks, "val_tasks": args.val_tasks,
                         "checkpoints": 0, "eval_steps": (0, 1, 3), "seed": args.seed,
                         **_overrides(args.set)})
    learner = make_learner(family, cfg.hidden)
    test = family.sample(cfg.test_tasks, generator(cfg.seed, "test"), "test")
    val = family.sample(cfg.val_tasks, generator(cfg.seed, "validation"), "validation")
    rows = []
    for name in args.methods.split(","):
        start, cpu = time.perf_counter(), time.process_time()
        results = [e for e in train_method(learner, name, cfg, test, val) if isinstance(e, MethodResult)]
        for result in results:
            alone = (score_plan(learner, result.plan, test, cfg.eval_steps, alone=True)
                     if norm in args.alone_norms.split(",") else None)
            auto_plan, factor = tune_test_lr(learner, result.plan, val, cfg.eval_steps)
            auto = (result.scores if factor == 1.0  # the training α kept: same plan, same scores
                    else score_plan(learner, auto_plan, test, cfg.eval_steps))
            for i, step in enumerate(cfg.eval_steps):
                rows.append({"norm": norm, "method": result.method, "step": step,
                             "together": _cell(result.scores["accuracy"][i]),
                             "alone": _cell(alone["accuracy"][i]) if alone else "not scored",
                             "auto": _cell(auto["accuracy"][i]),
                             "auto_lr": f"{cfg.inner_lr * factor:g}",
                             "train_seconds": round(result.seconds, 1),
                             "diverged": result.diverged or ""})
        print(f"[{norm} {name}] {time.perf_counter() - start:.0f} s wall, "
              f"{time.process_time() - cpu:.0f} CPU-s (training and scoring)", file=sys.stderr, flush=True)
    return rows


def _overrides(pairs: list[str]) -> dict:
    """TrainConfig fields from KEY=VALUE strings, each parsed as its field's type."""
    out = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        kind = type(getattr(TrainConfig(), key))
        if kind is bool:
            out[key] = value.lower() in ("1", "true")
        elif kind is tuple:  # eval_steps, hidden: comma-separated integers
            out[key] = tuple(int(v) for v in value.split(","))
        else:
            out[key] = kind(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="omniglot", choices=["omniglot", "digits"])
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--test-tasks", type=int, default=200)
    parser.add_argument("--val-tasks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="maml,pretrain")
    parser.add_argument("--norms", default=",".join(NORMS))
    parser.add_argument("--alone-norms", default=",".join(NORMS),
                        help="norms whose queries are also scored one image at a time")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a TrainConfig field over the family's suggested settings")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [row for norm in args.norms.split(",") for row in measure(args, norm)]
    print(f"{'norm':<13} {'method':<11} {'step':>4}  {'together':<22}  {'one at a time':<22}  "
          f"{'auto α':<22} α")
    for r in rows:
        print(f"{r['norm']:<13} {r['method']:<11} {r['step']:>4}  {r['together']:<22}  "
              f"{r['alone']:<22}  {r['auto']:<22} {r['auto_lr']}{'  DIVERGED' if r['diverged'] else ''}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
