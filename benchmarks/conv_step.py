"""Milliseconds per meta-iteration of the 4-block conv net: ours vs a per-task loop.

Setup (issue 5's): 32 tasks, 5-way 1-shot, 15 query images per class, 28×28 images, 32 channels,
1 inner step (α = 0.4), Adam. Random images: the timing does not depend on their content.
Run: python benchmarks/conv_step.py [--repeats 6] [--threads 1] [--channels 32] [--tasks 32]
     [--image-size 28]   (16: the digits family's images)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.convnet import ConvNet
from core.engine.tasks import TaskBatch, generator
from benchmarks.timing import StepTimer, print_ratios, time_interleaved

WAYS, SHOTS, QUERY = 5, 1, 15
LOOP = "per-task loop, second-order MAML"


def loop_forward(params, x):
    """One task in the textbook block order: conv, batch norm (batch statistics), ReLU, pool."""
    h = x
    for i in range(4):
        h = F.conv2d(h, params[f"conv{i}.w"], params[f"conv{i}.b"], padding=1)
        h = F.batch_norm(h, None, None, params[f"bn{i}.w"], params[f"bn{i}.b"], training=True)
        h = torch.relu(h)
        h = F.max_pool2d(h, 2) if h.shape[-1] >= 2 else h
    return h.flatten(1) @ params["head.w"] + params["head.b"]


def loop_maml_gradient(learner, phi, batch, inner_lr):
    """The textbook form: a Python loop over tasks, one autograd graph per task."""
    losses = []
    for t in range(batch.num_tasks):
        support = F.cross_entropy(loop_forward(phi, batch.support_x[t]), batch.support_y[t])
        grads = torch.autograd.grad(support, list(phi.values()), create_graph=True)
        theta = {k: v - inner_lr * g for (k, v), g in zip(phi.items(), grads)}
        losses.append(F.cross_entropy(loop_forward(theta, batch.query_x[t]), batch.query_y[t]))
    loss = torch.stack(losses).mean()
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values())))), loss


class Learner:
    """Per-task cross-entropy of a conv net: what the algorithms need."""

    def __init__(self, model: ConvNet):
        self.model = model
        # Pre-training on task labels costs the same as transfer learning's wide head.
        self.family = SimpleNamespace(pretraining_data=TaskBatch.all_data)

    def loss(self, params, x, y, context=None):
        pred = self.model.forward(params, x, context)
        return F.cross_entropy(pred.flatten(0, 1), y.reshape(-1), reduction="none").view(y.shape).mean(1)


def random_tasks(tasks: int, size: int, gen: torch.Generator) -> TaskBatch:
    """Random images with class-major labels."""
    def part(per_class):
        x = torch.rand(tasks, WAYS * per_class, 1, size, size, generator=gen)
        return x, torch.arange(WAYS).repeat_interleave(per_class).expand(tasks, -1)
    return TaskBatch(*part(SHOTS), *part(QUERY), {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="timed iterations per row")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=28)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(inner_lr=0.4, inner_steps=1, reptile_inner_steps=5)

    def learner(batching: str = "loop") -> Learner:
        return Learner(ConvNet(1, args.image_size, args.channels, WAYS, batching=batching))

    gen = generator(0, "train")
    batches = [random_tasks(args.tasks, args.image_size, gen) for _ in range(2)]
    timers = {LOOP: StepTimer(lambda lr, phi, b: loop_maml_gradient(lr, phi, b, cfg.inner_lr),
                              learner(), batches)}
    for name, batching, label in [("maml", "loop", "ours (loop), second-order MAML"),
                                  ("maml", "grouped", "ours (grouped), second-order MAML"),
                                  ("fomaml", "loop", "ours (loop), first-order MAML"),
                                  ("reptile", "loop", "ours (loop), Reptile, 5 inner steps"),
                                  ("pretrain", "loop", "ours (loop), pre-training")]:
        method = METHODS[name].meta_gradient
        timers[label] = StepTimer(lambda lr, phi, b, m=method: m(lr, phi, b, cfg),
                                  learner(batching), batches)
    time_interleaved(timers, warmup=1, rounds=args.repeats, per_round=1)
    print(f"threads={args.threads}, {args.tasks} tasks, 5-way 1-shot, 15 query/class, "
          f"{args.image_size}x{args.image_size}, {args.channels} channels, "
          f"median of {args.repeats} iterations")
    print_ratios(timers, LOOP, digits=0)


if __name__ == "__main__":
    main()
