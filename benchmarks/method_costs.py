"""The cost estimator against measured CPU time, for every registered method at several settings:
what the `Cost` declarations in core/engine/algorithms.py and the factors in core/budget/estimator.py are fitted on.

Each row runs `compare` with one method alone and prints the estimate, this thread's CPU
seconds of the run, and their ratio (tests/test_budget.py holds it to 0.5–2× at smaller
settings). Re-run it after making training or scoring faster, and refit the declarations (or
the budget's factors) until every ratio is near 1.

Run: nice -n 10 python benchmarks/method_costs.py [--methods maml,anil] [--cases sinusoid,...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import torch._dynamo  # noqa: E402,F401  the optimisers import it on first use: not in timings

from core.budget.estimator import estimate  # noqa: E402
from core.engine.algorithms import METHODS  # noqa: E402
from core.engine.config import TrainConfig  # noqa: E402
from core.engine.families import make_family  # noqa: E402
from tests.support.cpu import comparison_cpu, least_estimate_and_cpu  # noqa: E402

# name -> (family, family settings, training settings)
CASES = {
    "sinusoid": ("sinusoid", {}, dict(iterations=150, test_tasks=300, val_tasks=50,
                                      checkpoints=2)),
    "sinusoid-auto": ("sinusoid", {}, dict(iterations=100, test_tasks=300, val_tasks=100,
                                           checkpoints=0, test_lr="auto")),
    "wide": ("sinusoid", {}, dict(iterations=15, hidden=(256, 256), meta_batch_size=64,
                                  test_tasks=100, val_tasks=20, checkpoints=0)),
    "clusters": ("clusters", {}, dict(iterations=100, inner_lr=0.5, test_tasks=300,
                                      val_tasks=50, checkpoints=2)),
    "digits": ("digits", {}, dict(iterations=8, meta_batch_size=8, test_tasks=40, val_tasks=10,
                                  checkpoints=1)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=1,
                        help="the least of this many calibrations and runs (the tests take 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'case':14s} {'method':8s} {'estimate s':>10s} {'measured s':>10s} {'ratio':>6s}")
    for case in args.cases.split(","):
        family_name, settings, train = CASES[case]
        family, cfg = make_family(family_name, **settings), TrainConfig(**train)
        for name in args.methods.split(","):
            predicted, measured = least_estimate_and_cpu(
                lambda: estimate(family, cfg, (name,)).cpu_seconds,
                lambda: comparison_cpu(family, cfg, (name,)), args.rounds)
            print(f"{case:14s} {name:8s} {predicted:10.2f} {measured:10.2f} "
                  f"{predicted / measured:6.2f}", flush=True)


if __name__ == "__main__":
    main()
