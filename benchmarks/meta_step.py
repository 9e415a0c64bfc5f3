"""Milliseconds per meta-iteration on the MAML paper's sinusoid setup: ours vs a per-task loop,
and the compiled path (`--compile`: torch.compile, fused Adam) vs eager, side by side.

Setup: 25 tasks, MLP 1-40-40-1, K=10 support and 10 query points, 1 inner step (α=0.01), Adam.
Compile time (the first iteration, wall clock; shorter once Inductor's cache holds it) is
printed apart from the per-iteration medians.
Run: python benchmarks/meta_step.py [--repeats 300] [--threads 1] [--no-compiled]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.engine import compiled
from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.evaluation import make_learner
from core.engine.families import make_family
from core.engine.tasks import generator
from benchmarks.timing import StepTimer, print_ratios, time_interleaved

LOOP = "per-task loop, second-order MAML"


def loop_maml_gradient(phi, batch, inner_lr):
    """The textbook form: a Python loop over tasks, one autograd graph per task."""
    def forward(params, x):
        h = torch.relu(x @ params["w0"] + params["b0"])
        h = torch.relu(h @ params["w1"] + params["b1"])
        return h @ params["w2"] + params["b2"]

    losses = []
    for t in range(batch.num_tasks):
        support = ((forward(phi, batch.support_x[t]) - batch.support_y[t]) ** 2).mean()
        grads = torch.autograd.grad(support, list(phi.values()), create_graph=True)
        theta = {k: v - inner_lr * g for (k, v), g in zip(phi.items(), grads)}
        losses.append(((forward(theta, batch.query_x[t]) - batch.query_y[t]) ** 2).mean())
    loss = torch.stack(losses).mean()
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values())))), loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300, help="timed iterations per method")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compiled", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the compiled path of each method (default on)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(inner_lr=0.01, inner_steps=1, reptile_inner_steps=5)
    family = make_family("sinusoid")
    learner = make_learner(family, (40, 40))
    gen = generator(0, "train")
    batches = [family.sample(25, gen) for _ in range(20)]
    timers = {LOOP: StepTimer(lambda lr, phi, batch: loop_maml_gradient(phi, batch, 0.01), learner,
                              batches)}
    def timer(meta_gradient, fused: bool = False) -> StepTimer:
        return StepTimer(lambda lr, phi, batch: meta_gradient(lr, phi, batch, cfg), learner,
                         batches, fused)

    eager = {}
    for name, label in [("maml", "ours, second-order MAML"), ("fomaml", "ours, first-order MAML"),
                        ("reptile", "ours, Reptile (5 inner steps)")]:
        timers[label] = eager[name] = timer(METHODS[name].meta_gradient)
    reason = compiled.unavailable() if args.compiled else "not asked for (--no-compiled)"
    fast = {} if reason else {name: timer(compiled.meta_gradient(METHODS[name]), fused=True)
                              for name in eager}
    timers.update({f"compiled {name}": t for name, t in fast.items()})
    rounds = 10
    time_interleaved(timers, warmup=10, rounds=rounds, per_round=max(1, args.repeats // rounds))
    print(f"threads={args.threads}, 25 tasks, 1-40-40-1, K=10, median of {args.repeats} iterations "
          "(CPU time of this process)")
    print_ratios({k: t for k, t in timers.items() if not k.startswith("compiled")}, LOOP, digits=2)
    if reason:
        print(f"compiled path skipped: {reason}")
    for name, timer in fast.items():
        print(f"\n{name}: compile (first iteration, wall clock) {timer.first_seconds:.1f} s")
        print_ratios({"eager": eager[name], "compiled + fused Adam": timer}, "eager", digits=2,
                     ratio="eager/compiled")


if __name__ == "__main__":
    main()
