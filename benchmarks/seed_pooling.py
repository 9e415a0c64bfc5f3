"""Which interval to put around a method's score over several seeds: measured on real runs.

Trains a scenario's methods with many seeds (each seed: its own initialisation, training tasks
and test tasks), then, for every way of picking `--pick` of them, puts two 95 % intervals
around the picked seeds' score and counts how often each covers the score of all the seeds
together (the best estimate of the method's true expected score):

- pooled tasks: the normal interval over the picked seeds' test tasks side by side (what
  Compare did before issue 21), which counts only the test tasks' spread;
- seed means: Student's t over the picked seeds' means (what Sweeps did, and core/results.py's
  rule now), which also counts that every seed trains anew.

It prints, per method and step, the spread of the seed means beside the test-task standard error
of one seed (their ratio says how much training noise the first interval leaves out) and both
coverages. The printed numbers are what docs/results.md cites.

Run: nice -n 5 python benchmarks/seed_pooling.py [--scenario paper-sinusoid] [--seeds 12]
     [--pick 3] [--iterations 450] [--test-tasks 200]
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.engine.evaluation import main_metric, mean_ci  # noqa: E402
from core.engine.events import MethodResult  # noqa: E402
from core.engine.training import compare  # noqa: E402
from core.results import over_seeds  # noqa: E402
from core.scenarios.catalogue import SCENARIOS_BY_KEY  # noqa: E402


def _per_seed(scenario: str, seeds: int, iterations: int, test_tasks: int,
              methods: list[str]) -> dict[str, list[MethodResult]]:
    spec = SCENARIOS_BY_KEY[scenario].spec()
    cfg = spec.config.replace(iterations=iterations, test_tasks=test_tasks, checkpoints=0)
    results: dict[str, list[MethodResult]] = {m: [] for m in methods}
    for event in compare(spec.make_family(), methods, cfg, list(range(seeds))):
        if isinstance(event, MethodResult) and event.method in results:
            results[event.method].append(event)
    return results


def _covers(interval: tuple[float, float, float], truth: float) -> bool:
    return interval[1] <= truth <= interval[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="paper-sinusoid")
    parser.add_argument("--methods", default="maml,pretrain")
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--pick", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=450)
    parser.add_argument("--test-tasks", type=int, default=200)
    parser.add_argument("--steps", default="0,1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    by_method = _per_seed(args.scenario, args.seeds, args.iterations, args.test_tasks, methods)
    steps = [int(s) for s in args.steps.split(",")]
    eval_steps = SCENARIOS_BY_KEY[args.scenario].spec().config.eval_steps
    print(f"{args.scenario}: {args.seeds} seeds × {args.test_tasks} test tasks, "
          f"{args.iterations} iterations; every {args.pick} of the seeds "
          f"({math.comb(args.seeds, args.pick)} picks)")
    print(f"{'method':<10} {'step':>4}  {'sd of seed means':>16}  {'task SE, one seed':>17}  "
          f"{'ratio':>5}  {'covered: pooled tasks':>21}  {'seed means':>10}")
    for method, results in by_method.items():
        metric = main_metric(results[0].scores)
        for step in steps:
            row = eval_steps.index(step)
            values = [r.scores[metric][row].double() for r in results]
            means = torch.stack([v.mean() for v in values])
            truth = means.mean().item()
            task_se = sum(v.std().item() / math.sqrt(v.numel()) for v in values) / len(values)
            pooled = seed = 0
            picks = list(itertools.combinations(range(args.seeds), args.pick))
            for pick in picks:
                pooled += _covers(mean_ci(torch.cat([values[i] for i in pick])), truth)
                seed += _covers(over_seeds([means[i].item() for i in pick]), truth)
            spread = means.std().item()
            print(f"{method:<10} {step:>4}  {spread:16.4f}  {task_se:17.4f}  "
                  f"{spread / task_se:5.1f}  {pooled / len(picks):21.0%}  {seed / len(picks):10.0%}")


if __name__ == "__main__":
    main()
