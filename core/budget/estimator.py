"""What a comparison will cost before it runs: the work model (operations, multiply-adds and
elements each part of a run does, as each method's `Cost` declares), and from it and the CPU
rates a run's CPU-seconds and peak memory."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from core.budget.calibration import Rates, rates
from core.engine.algorithms import METHODS, Adapting, Cost, result_names
from core.engine.config import TrainConfig
from core.engine.evaluation import TEST_LR_FACTORS
from core.engine.families.base import TaskFamily
from core.engine.shapes import FLOAT, ModelShape, model_shape, scoring_chunk
from core.engine.tasks import generator


@dataclass(frozen=True)
class Work:
    """Tensor operations, multiply-adds and elements touched (activations, per-task parameters;
    max-pooled apart)."""

    ops: float = 0.0
    macs: float = 0.0
    elements: float = 0.0
    pooled: float = 0.0

    def __add__(self, other: "Work") -> "Work":
        return Work(self.ops + other.ops, self.macs + other.macs, self.elements + other.elements,
                    self.pooled + other.pooled)

    def __mul__(self, factor: float) -> "Work":
        return Work(self.ops * factor, self.macs * factor, self.elements * factor,
                    self.pooled * factor)


def _passes(shape: ModelShape, tasks: float, points: float, forwards: float,
            params: float | None = None) -> Work:
    """`forwards` forward-pass equivalents (a backward counts 2) over tasks × points, with
    `params` per-task parameters (default: all of them; their gradient and update touch every
    one once per 3 forwards)."""
    params = shape.params if params is None else params
    ops = shape.ops * forwards * (tasks if shape.ops_per_task else 1)
    elements = forwards * tasks * (shape.activations * points + 4 / 3 * params)
    return Work(ops, shape.macs * tasks * points * forwards, elements,
                shape.pooled * tasks * points * forwards)


# Multiplying each gradient by a learned α per parameter (and, in training, differentiating
# that product) adds about half again to the per-task parameter work of a step (Meta-SGD).
LEARNED_LR_FACTOR = 1.5


def _moving(shape: ModelShape, step: Adapting) -> float:
    """Per-task parameters an adaptation step works on, in units of plain parameters."""
    moving = shape.head_params if step.moves == "head" else shape.params
    return moving * (LEARNED_LR_FACTOR if step.learned_lr else 1.0)


def _step_work(cost: Cost, shape: ModelShape, cfg: TrainConfig, support: int, query: int) -> Work:
    """One meta-iteration of a method on a meta-batch, as its cost declaration says."""
    b = cfg.meta_batch_size
    points = {"support": support, "query": query, "all": support + query}
    work = Work(ops=60)  # sampling, loss, the optimiser step over every tensor
    if cost.inner is not None:
        steps = getattr(cfg, cost.steps)
        work = work + _passes(shape, b, points[cost.inner_points], cost.inner.passes * steps,
                              _moving(shape, cost.inner))
    return work + _passes(shape, b, points[cost.outer_points], cost.outer)


def _scoring_work(shape: ModelShape, step: Adapting, tasks: int, support: int, query: int,
                  steps: tuple[int, ...], chunk: int, alone: bool = False,
                  context: bool = False) -> Work:
    """Adapting `tasks` tasks for steps[-1] SGD steps (each costing `step`) and scoring them at
    each of `steps`: the query points in one pass, or each `alone` in its own; with `context`
    (a model that normalises by the support set) every query pass carries the support points."""
    chunks = math.ceil(tasks / chunk)
    moving = _moving(shape, step)
    with_support = support if context else 0
    queries = (_passes(shape, chunk, 1 + with_support, len(steps), moving) * query if alone
               else _passes(shape, chunk, query + with_support, len(steps), moving))
    per_chunk = _passes(shape, chunk, support, step.passes * steps[-1], moving) + queries
    return per_chunk * chunks + Work(ops=20 * chunks)


@dataclass(frozen=True)
class Estimate:
    """A run's predicted cost."""

    cpu_seconds: float
    peak_bytes: float
    step_seconds: float  # the longest single iteration or scoring chunk: how long a stop waits


def _points(family: TaskFamily) -> tuple[int, int, int]:
    """Support points, query points and input floats per point of one task."""
    task = family.sample(1, generator(0, "estimate"), "test")
    return task.support_x.shape[1], task.query_x.shape[1], task.support_x[0, 0].numel()


# The counts above are of forward work; autograd's bookkeeping, backward kernels and batch norm
# cost more than that. Factors fitted once on sinusoid, clusters and digits runs of every method
# (tests/test_budget.py holds the estimate to 0.5–2× of measured CPU time). Max-pooling is
# counted apart: on narrow conv nets (8–16 channels, the interactive image budgets) it costs
# more than the convolutions, which the multiply-adds alone missed by 2–4×; refitted with it
# on 8-, 16- and 32-channel digits runs (docs/budgets.md).
OP_FACTOR, MAC_FACTOR, CONV_FACTOR, ELEMENT_FACTOR, POOL_FACTOR = 4.0, 2.0, 3.0, 4.0, 1.0


def _seconds(work: Work, shape: ModelShape, r: Rates) -> float:
    macs = work.macs * (CONV_FACTOR * r.conv_mac if shape.conv else MAC_FACTOR * r.mac)
    return (OP_FACTOR * work.ops * r.op + macs + ELEMENT_FACTOR * work.elements * r.element
            + POOL_FACTOR * work.pooled * r.pool)


def plain_seconds(work: Work) -> float:
    """CPU-seconds of work that runs no model (tensor operations and elements touched only):
    the Parameter space page's closed-form landscapes."""
    r = rates()
    return OP_FACTOR * work.ops * r.op + ELEMENT_FACTOR * work.elements * r.element


def result_scoring(result: str) -> Adapting:
    """The declared adaptation step of a result name ('anil', 'anil-whole', ...)."""
    for method in METHODS.values():
        for name, step in zip(result_names(method.name), method.cost.scorings):
            if name == result:
                return step
    raise KeyError(f"no registered result {result!r}")


def trace_seconds(model: Any, results: Sequence[str], support: int, probed: int,
                  steps: int) -> float:
    """CPU-seconds of adapting one task for `steps` steps per result, as each declares, and
    probing `probed` points (its query set, a drawing grid) at every step: the Inspect page."""
    shape, work = model_shape(model), Work()
    for result in results:
        step = result_scoring(result)
        moving = _moving(shape, step)
        work = work + _passes(shape, 1, support, step.passes * steps, moving) \
            + _passes(shape, 1, probed, steps + 1, moving) + Work(ops=20 * (steps + 1))
    return _seconds(work, shape, rates())


def estimate(family: TaskFamily, cfg: TrainConfig, methods: Sequence[str],
             seeds: Sequence[int] = (0,)) -> Estimate:
    """CPU-seconds and peak memory of `compare(family, methods, cfg, seeds)`, before running it:
    each method's training and scorings as its `Cost` declares them."""
    model = family.make_model(cfg.hidden)
    shape, r = model_shape(model), rates()
    support, query, inputs = _points(family)
    chunk = scoring_chunk(family, model, support, query, cfg.max_eval_step)
    val_steps = tuple(sorted({0, cfg.inner_steps, cfg.max_eval_step}))
    # Only the test tasks are scored one query at a time (--queries alone); validation never is.
    alone, context = cfg.queries == "alone", getattr(family, "norm", "") == "support"
    test_chunk, val_chunk = min(chunk, cfg.test_tasks), min(chunk, cfg.val_tasks)
    # test_lr auto scores every result's plan at each α factor on the validation tasks first
    tunings = len(TEST_LR_FACTORS) if cfg.test_lr == "auto" else 0
    checkpoints = cfg.checkpoints + 1 if cfg.checkpoints and cfg.iterations else 0
    work, longest = Work(), 0.0
    for name in methods:
        method = METHODS[name]
        trained = method.meta_gradient is not None
        step = _step_work(method.cost, shape, cfg, support, query)
        work = work + step * (cfg.iterations if trained else 0)
        for scoring in method.cost.scorings:
            work = work + _scoring_work(shape, scoring, cfg.test_tasks, support, query,
                                        cfg.eval_steps, test_chunk, alone, context)
            work = work + _scoring_work(shape, scoring, cfg.val_tasks, support, query,
                                        cfg.eval_steps, val_chunk, context=context) * tunings
        own = method.cost.scorings[0]  # validation checkpoints adapt as the method itself does
        work = work + _scoring_work(shape, own, cfg.val_tasks, support, query, val_steps,
                                    val_chunk, context=context) * (checkpoints if trained else 0)
        longest = max(longest, _seconds(step, shape, r) if trained else 0.0,
                      *(_seconds(_scoring_work(shape, scoring, chunk, support, query,
                                               cfg.eval_steps, chunk, alone, context), shape, r)
                        for scoring in method.cost.scorings))
    # Every finished result keeps its per-task scores: (eval steps, test tasks) per metric.
    results = sum(len(METHODS[name].cost.scorings) for name in methods)
    scores = results * len(seeds) * len(cfg.eval_steps) * cfg.test_tasks * 2 * FLOAT
    peak = _peak_bytes(shape, cfg, support, query, inputs, chunk) + scores + data_peak_bytes(family)
    return Estimate(_seconds(work, shape, r) * len(seeds), peak, longest)


# Reading an image family's data costs a fixed ~10 MB (the reader's buffers, first-use
# allocations) and twice what stays held, for the copies made while decoding, resizing,
# splitting and rotating. Fitted on measured peaks of digits at 8–32 px and of Omniglot's small
# zips at 14 and 28 px, with and without rotations (0.94–1.17× of each).
DATA_FIXED, DATA_FACTOR = 10e6, 2.0


def data_peak_bytes(family: TaskFamily) -> float:
    """Peak memory of reading the family's data and holding it (0 when it has none)."""
    held = family.data_bytes()
    return DATA_FIXED + DATA_FACTOR * held if held else 0.0


# Fitted on measured peaks (resident memory) of sinusoid, wide-MLP and digits runs: the allocator
# and autograd's temporaries double the count below; sampling makes a few temporaries the size of
# the tasks it draws; of the conv net's feature maps only a fifth are alive at the peak.
MEMORY_FACTOR, DATA_COPIES, CONV_MAPS_ALIVE = 2.0, 4, 0.2


def _peak_bytes(shape: ModelShape, cfg: TrainConfig, support: int, query: int, inputs: int,
                chunk: int) -> float:
    """Held task data plus the larger of a training step and a scoring chunk."""
    points = support + query
    data = DATA_COPIES * (cfg.test_tasks + cfg.val_tasks + cfg.meta_batch_size) * points \
        * (inputs + 1) * FLOAT
    activations = shape.activations * (CONV_MAPS_ALIVE if shape.conv else 1.0)
    # MAML's graph keeps per-task parameters and activations of every inner step (Reptile's
    # steps are detached: one at a time); backward holds gradients of the same size.
    b, depth = cfg.meta_batch_size, cfg.inner_steps + 1
    train = b * FLOAT * 2 * depth * (shape.params + activations * points)
    score = chunk * FLOAT * (3 * shape.params + activations * (2 * support + query))
    return MEMORY_FACTOR * (data + max(train, score) + shape.params * FLOAT * 8)
