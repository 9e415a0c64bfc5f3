"""One task up close: adapt each method's φ to a (user-edited) support set, step by step."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from core.budget.estimator import trace_seconds
from core.engine.algorithms import AdaptPlan
from core.engine.evaluation import FamilyLearner, Probe, plan_trace
from core.engine.families.base import TaskFamily
from core.engine.models import Params
from core.engine.tasks import TaskBatch, generator

GRID_POINTS = 200  # regression curve resolution
REGION_POINTS = 80  # decision-region resolution per axis


def drawable(family: TaskFamily) -> str | None:
    """'curve' for 1-D regression, 'regions' for 2-D classification, None otherwise."""
    if family.kind == "regression" and family.input_shape == (1,):
        return "curve"
    if family.kind == "classification" and family.input_shape == (2,):
        return "regions"
    return None


def held_out_task(family: TaskFamily, seed: int, test_tasks: int, index: int) -> TaskBatch:
    """Test task `index` of `seed`: exactly the task the Compare page scored."""
    return family.sample(test_tasks, generator(seed, "test"), "test").select(index)


def new_task(family: TaskFamily, seed: int) -> TaskBatch:
    """A fresh task from the test distribution, drawn from its own seed."""
    return family.sample(1, generator(seed, "inspect"), "test")


def support_frame(task: TaskBatch, family: TaskFamily) -> pd.DataFrame:
    """The task's support set as an editable table: x, y (regression) or x1, x2, label."""
    x = task.support_x[0].double().numpy()
    if family.kind == "regression":
        return pd.DataFrame({"x": x[:, 0], "y": task.support_y[0, :, 0].double().numpy()})
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": task.support_y[0].numpy()})


def query_frame(task: TaskBatch, family: TaskFamily) -> pd.DataFrame:
    """The task's query set in the same columns as `support_frame`."""
    return support_frame(task.with_support(task.query_x, task.query_y), family)


def with_support(task: TaskBatch, support: pd.DataFrame, family: TaskFamily) -> TaskBatch:
    """The task with its support set replaced by the table's rows."""
    if family.kind == "regression":
        x = torch.tensor(support.x.to_numpy(np.float32)).view(1, -1, 1)
        return task.with_support(x, torch.tensor(support.y.to_numpy(np.float32)).view(1, -1, 1))
    x = torch.tensor(support[["x1", "x2"]].to_numpy(np.float32)).view(1, -1, 2)
    return task.with_support(x, torch.tensor(support.label.to_numpy(np.int64)).view(1, -1))


def clean_support(support: pd.DataFrame, family: TaskFamily) -> pd.DataFrame:
    """Rows with every value filled in and labels among the task's classes (float64/int64)."""
    support = support.dropna()
    if family.kind == "regression":
        return support.astype(float).reset_index(drop=True)
    support = support[support.label.between(0, family.output_dim - 1)]
    return support.astype({"x1": float, "x2": float, "label": "int64"}).reset_index(drop=True)


def same_points(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two support tables hold the same points (up to float rounding)."""
    return a.shape == b.shape and bool(np.allclose(a.to_numpy(float), b.to_numpy(float)))


def shows_images(family: TaskFamily) -> bool:
    """Whether the family's inputs are images (channels, height, width)."""
    return len(family.input_shape) == 3


@dataclass
class Adaptation:
    """Each method's predictions and query scores after 0…S steps on one task."""

    scores: pd.DataFrame  # method, step, metric, value (this task's query set)
    curves: pd.DataFrame | None = None  # regression: method, step, x, y
    regions: dict[str, np.ndarray] | None = None  # classification: method -> (steps, ny, nx)
    axes: tuple[np.ndarray, ...] = ()  # the grid: (x,) or (x1, x2)
    predictions: pd.DataFrame | None = None  # images: method, step, query (index), predicted


class Seen(NamedTuple):
    """What the Inspect page records of one method at one step (one task)."""

    metrics: dict[str, float]  # this task's query metrics
    grid: np.ndarray | None  # predictions on the drawing grid (grid points, outputs)
    labels: np.ndarray | None  # image families: predicted label of every query image


def _grid(family: TaskFamily, task: TaskBatch, kind: str) -> tuple[np.ndarray, ...]:
    points = torch.cat([task.support_x[0], task.query_x[0]]).numpy()
    low, high = points.min(0), points.max(0)
    if kind == "curve":
        low, high = getattr(family, "x_range", (low[0], high[0]))
        return (np.linspace(low, high, GRID_POINTS, dtype=np.float32),)
    pad = 0.15 * (high - low) + 0.5
    return tuple(np.linspace(lo - p, hi + p, REGION_POINTS, dtype=np.float32)
                 for lo, hi, p in zip(low, high, pad))


def _grid_inputs(axes: tuple[np.ndarray, ...]) -> torch.Tensor:
    if len(axes) == 1:
        return torch.tensor(axes[0]).view(1, -1, 1)
    xx, yy = np.meshgrid(*axes)
    return torch.tensor(np.stack([xx.ravel(), yy.ravel()], -1)).unsqueeze(0)


def _probe(learner: FamilyLearner, grid: torch.Tensor | None, images: bool) -> Probe[Seen]:
    """The Inspect page's probe for `adaptation_trace`: query metrics, grid outputs, labels."""
    def probe(params: Params, task: TaskBatch) -> Seen:
        metrics = {k: float(v[0]) for k, v in learner.query_metrics(params, task).items()}
        outputs = learner.predict(params, grid)[0].numpy() if grid is not None else None
        labels = (learner.predict(params, task.query_x, task.support_x)[0].argmax(-1).numpy()
                  if images else None)
        return Seen(metrics, outputs, labels)
    return probe


Traces = dict[str, dict[int, Seen]]  # method -> step -> what was seen


def probed_points(family: TaskFamily, task: TaskBatch) -> int:
    """Points `adapt_all` runs the model on at every step: the query set (with the support set
    where the model normalises by it), the drawing grid, the query images' labels."""
    kind = drawable(family)
    grid = {"curve": GRID_POINTS, "regions": REGION_POINTS ** 2}.get(kind, 0)
    query, support = task.query_x.shape[1], task.support_x.shape[1]
    context = support if getattr(family, "norm", "") == "support" else 0
    return query + context + grid + (query + context if shows_images(family) else 0)


def adapt_seconds(learner: FamilyLearner, trained: dict[str, AdaptPlan], task: TaskBatch,
                  steps: int) -> float:
    """Estimated CPU-seconds of `adapt_all` with these arguments, before running it."""
    return trace_seconds(learner.model, list(trained), task.support_x.shape[1],
                         probed_points(learner.family, task), steps)


def most_steps_within(learner: FamilyLearner, trained: dict[str, AdaptPlan], task: TaskBatch,
                      steps: int, seconds: float) -> int:
    """The most steps (up to `steps`) whose `adapt_all` is estimated within `seconds`."""
    low, high = 0, steps + 1  # the estimate grows with the steps: bisect
    while high - low > 1:
        mid = (low + high) // 2
        fits = adapt_seconds(learner, trained, task, mid) <= seconds
        low, high = (mid, high) if fits else (low, mid)
    return low


def adapt_all(learner: FamilyLearner, trained: dict[str, AdaptPlan], task: TaskBatch,
              steps: int) -> Adaptation:
    """Each method's φ adapted on the task's support set by core's `adaptation_trace`, as the
    method's test-time plan says (its α, the keys it moves)."""
    kind = drawable(learner.family)
    axes = _grid(learner.family, task, kind) if kind else ()
    probe = _probe(learner, _grid_inputs(axes) if kind else None, shows_images(learner.family))
    steps = steps if task.support_x.shape[1] else 0  # nothing to adapt to: show φ itself
    traces = {method: plan_trace(learner, plan, task, range(steps + 1), probe)
              for method, plan in trained.items()}
    scores = pd.DataFrame([{"method": method, "step": step, "metric": metric, "value": value}
                           for method, trace in traces.items() for step, seen in trace.items()
                           for metric, value in seen.metrics.items()])
    return Adaptation(scores, _curves(traces, axes) if kind == "curve" else None,
                      _regions(traces, axes) if kind == "regions" else None, axes,
                      _predictions(traces) if shows_images(learner.family) else None)


def _curves(traces: Traces, axes: tuple[np.ndarray, ...]) -> pd.DataFrame | None:
    frames = [pd.DataFrame({"method": method, "step": step, "x": axes[0], "y": seen.grid[:, 0]})
              for method, trace in traces.items() for step, seen in trace.items()]
    return pd.concat(frames, ignore_index=True) if frames else None


def _regions(traces: Traces, axes: tuple[np.ndarray, ...]) -> dict[str, np.ndarray] | None:
    shape = (len(axes[1]), len(axes[0]))
    regions = {method: np.stack([seen.grid.argmax(-1).reshape(shape) for seen in trace.values()])
               for method, trace in traces.items()}
    return regions or None


def _predictions(traces: Traces) -> pd.DataFrame:
    frames = [pd.DataFrame({"method": method, "step": step, "query": np.arange(len(seen.labels)),
                            "predicted": seen.labels})
              for method, trace in traces.items() for step, seen in trace.items()]
    columns = ["method", "step", "query", "predicted"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def task_images(task: TaskBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A one-task batch as plain arrays: support images (n, H, W) and labels, query likewise."""
    def images(x):
        return x[0, :, 0].double().numpy()
    return (images(task.support_x), task.support_y[0].numpy(), images(task.query_x),
            task.query_y[0].numpy())


def truth_frame(family: TaskFamily, task: TaskBatch, x: np.ndarray) -> pd.DataFrame:
    """The task's true function on the grid (regression families with `truth`)."""
    y = family.truth(task.info, torch.tensor(x).view(1, -1, 1))[0, :, 0].numpy()
    return pd.DataFrame({"x": x, "y": y})
