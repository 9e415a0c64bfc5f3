"""Milliseconds per meta-iteration on the MAML paper's sinusoid setup: ours vs a per-task loop.

Setup: 25 tasks, MLP 1-40-40-1, K=10 support and 10 query points, 1 inner step (α=0.01), Adam.
Run: python benchmarks/meta_step.py [--repeats 200] [--threads 1]
"""
from __future__ import annotations

import argparse
import time

import torch

from core.algorithms import METHODS
from core.config import TrainConfig
from core.evaluation import make_learner
from core.families import make_family
from core.tasks import generator


def loop_maml_gradient(phi, batch, inner_lr):
    """The textbook form: a Python loop over tasks, one autograd graph per task."""
    def forward(params, x):
        h = torch.relu(x @ params["w0"].T + params["b0"])
        h = torch.relu(h @ params["w1"].T + params["b1"])
        return h @ params["w2"].T + params["b2"]

    losses = []
    for t in range(batch.num_tasks):
        support = ((forward(phi, batch.support_x[t]) - batch.support_y[t]) ** 2).mean()
        grads = torch.autograd.grad(support, list(phi.values()), create_graph=True)
        theta = {k: v - inner_lr * g for (k, v), g in zip(phi.items(), grads)}
        losses.append(((forward(theta, batch.query_x[t]) - batch.query_y[t]) ** 2).mean())
    loss = torch.stack(losses).mean()
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values())))), loss


def time_steps(meta_gradient, repeats: int) -> float:
    """Median ms of one meta-iteration (task sampling excluded, optimiser step included)."""
    family = make_family("sinusoid")
    learner = make_learner(family, (40, 40))
    phi = {k: v.requires_grad_(True) for k, v in learner.model.init(generator(0, "init")).items()}
    opt = torch.optim.Adam(list(phi.values()), lr=1e-3)
    gen = generator(0, "train")
    batches = [family.sample(25, gen) for _ in range(repeats + 10)]
    times = []
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        grads, _ = meta_gradient(learner, phi, batch)
        for k, p in phi.items():
            p.grad = grads[k]
        opt.step()
        if i >= 10:  # warm-up iterations excluded
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(inner_lr=0.01, inner_steps=1, reptile_inner_steps=5)
    loop = time_steps(lambda learner, phi, batch: loop_maml_gradient(phi, batch, 0.01), args.repeats)
    print(f"threads={args.threads}, 25 tasks, 1-40-40-1, K=10, median of {args.repeats} iterations")
    print(f"{'per-task loop, second-order MAML':<36} {loop:7.2f} ms")
    for name, label in [("maml", "ours, second-order MAML"), ("fomaml", "ours, first-order MAML"),
                        ("reptile", "ours, Reptile (5 inner steps)")]:
        method = METHODS[name]
        ms = time_steps(lambda learner, phi, batch: method.meta_gradient(learner, phi, batch, cfg),
                        args.repeats)
        print(f"{label:<36} {ms:7.2f} ms   loop/ours = {loop / ms:5.1f}x")


if __name__ == "__main__":
    main()
