"""The MAML paper's sinusoid at results.md's settings: CPU per iteration of MAML's training,
eager and `--compile`, and the 70 000-iteration run extrapolated from a few thousand.

    nice -n 10 python benchmarks/long_run.py --iterations 3000

Both paths run `train_method` exactly as `python -m core compare [--compile]` does (5 shots,
10 query points, 25 tasks, 1 thread), in this one process, eager first. CPU seconds of this
process are read at each progress event: the first 10 % of the iterations hold the compile
(with Inductor's cache warm or cold, as it is), the rest give the per-iteration cost. The
extrapolation is compile + 70 000 × per-iteration; scoring the 600 test tasks comes on top
(under a second).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.engine.config import TrainConfig  # noqa: E402
from core.engine.evaluation import make_learner  # noqa: E402
from core.engine.events import Progress  # noqa: E402
from core.engine.families import make_family  # noqa: E402
from core.engine.tasks import generator  # noqa: E402
from core.engine.training import train_method  # noqa: E402

FULL = 70_000


def timed(iterations: int, compiled: bool) -> tuple[float, float]:
    """(CPU s up to 10 % of the iterations, CPU s per iteration after that)."""
    family = make_family("sinusoid", shots=5, query=10)
    cfg = TrainConfig(iterations=iterations, checkpoints=0, test_tasks=1, eval_steps=(0,))
    learner = make_learner(family, cfg.hidden)
    tasks = family.sample(1, generator(0, "test"), "test")
    marks: list[tuple[int, float]] = []
    start = time.process_time()
    for event in train_method(learner, "maml", cfg, tasks, tasks, compiled=compiled):
        if isinstance(event, Progress):
            marks.append((event.iteration, time.process_time() - start))
    warm = next(m for m in marks if m[0] >= iterations // 10)
    last = marks[-1]
    return warm[1], (last[1] - warm[1]) / (last[0] - warm[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo, not timed
    print(f"{'path':9s} {'first 10 % (CPU s)':>19s} {'ms / iteration':>15s} "
          f"{'70 000 iterations, extrapolated (CPU s)':>40s}")
    for compiled in (False, True):
        head, per = timed(args.iterations, compiled)
        head_iters = args.iterations // 10
        total = head + (FULL - head_iters) * per
        print(f"{'compiled' if compiled else 'eager':9s} {head:19.1f} {per * 1e3:15.3f} "
              f"{total:40.0f}", flush=True)


if __name__ == "__main__":
    main()
