"""Milliseconds per meta-iteration on the MAML paper's sinusoid setup: ours vs a per-task loop.

Setup: 25 tasks, MLP 1-40-40-1, K=10 support and 10 query points, 1 inner step (α=0.01), Adam.
Run: python benchmarks/meta_step.py [--repeats 200] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.algorithms import METHODS
from core.config import TrainConfig
from core.evaluation import make_learner
from core.families import make_family
from core.tasks import generator


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


class Timer:
    """Times one meta-gradient function on its own parameters, optimiser and task batches."""

    def __init__(self, meta_gradient):
        family = make_family("sinusoid")
        self.learner = make_learner(family, (40, 40))
        self.phi = {k: v.requires_grad_(True)
                    for k, v in self.learner.model.init(generator(0, "init")).items()}
        self.opt = torch.optim.Adam(list(self.phi.values()), lr=1e-3)
        self.meta_gradient = meta_gradient
        gen = generator(0, "train")
        self.batches = [family.sample(25, gen) for _ in range(20)]
        self.times: list[float] = []

    def run(self, iterations: int) -> None:
        """Time `iterations` meta-iterations (task sampling excluded, optimiser step included)."""
        for i in range(iterations):
            batch = self.batches[i % len(self.batches)]
            start = time.perf_counter()
            grads, _ = self.meta_gradient(self.learner, self.phi, batch)
            for k, p in self.phi.items():
                p.grad = grads[k]
            self.opt.step()
            self.times.append(time.perf_counter() - start)

    def median_ms(self) -> float:
        """Median milliseconds per meta-iteration."""
        return 1000 * sorted(self.times)[len(self.times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300, help="timed iterations per method")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(inner_lr=0.01, inner_steps=1, reptile_inner_steps=5)
    timers = {"per-task loop, second-order MAML":
              Timer(lambda learner, phi, batch: loop_maml_gradient(phi, batch, 0.01))}
    for name, label in [("maml", "ours, second-order MAML"), ("fomaml", "ours, first-order MAML"),
                        ("reptile", "ours, Reptile (5 inner steps)")]:
        method = METHODS[name]
        timers[label] = Timer(lambda learner, phi, batch, m=method: m.meta_gradient(learner, phi, batch, cfg))
    for timer in timers.values():
        timer.run(10)  # warm-up
        timer.times.clear()
    rounds = 10  # interleave the methods so background load hits them all alike
    for _ in range(rounds):
        for timer in timers.values():
            timer.run(max(1, args.repeats // rounds))
    loop = timers["per-task loop, second-order MAML"].median_ms()
    print(f"threads={args.threads}, 25 tasks, 1-40-40-1, K=10, median of {args.repeats} iterations")
    for label, timer in timers.items():
        ms = timer.median_ms()
        ratio = "" if timer is timers["per-task loop, second-order MAML"] else f"   loop/ours = {loop / ms:5.1f}x"
        print(f"{label:<36} {ms:7.2f} ms{ratio}")


if __name__ == "__main__":
    main()
