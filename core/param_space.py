"""Toy loss landscapes with one or two parameters where pre-training, MAML and Reptile disagree.

Everything is exact: losses are closed-form, derivatives come from torch.func (autograd, float64),
optima come from a dense grid search refined by Newton's method.
MAML: Finn, Abbeel & Levine, ICML 2017. Reptile: Nichol, Achiam & Schulman, arXiv:1803.02999.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import Tensor
from torch.func import grad, hessian, jacfwd, vmap

DTYPE = torch.float64
SHAPES = ("well", "quadratic")
METHODS = ("pretrain", "fomaml", "maml", "reptile")
OPTIMA = ("pretrain", "maml", "reptile")
DOMAIN = (-4.0, 4.0)
GRID_POINTS = {1: 2001, 2: 161}  # per axis: spacing 0.004 in 1-D, 0.05 in 2-D


@dataclass(frozen=True)
class TaskLoss:
    """One task's loss l(φ): a quadratic bowl, or a well that flattens out far from its centre."""

    centre: tuple[float, ...]
    """Where the loss is zero, its minimum (one entry per parameter)."""
    curvature: tuple[float, ...]
    """Second derivative h_i > 0 at the centre along each axis: large h = sharp minimum."""
    shape: str = "well"
    """'quadratic': q = ½ Σ h_i (φ_i − c_i)²;  'well': depth · (1 − exp(−q / depth))."""
    depth: float = 1.0
    """Height the well flattens out at, far from its centre (ignored for quadratics)."""

    def __post_init__(self):
        if len(self.centre) != len(self.curvature) or len(self.centre) not in (1, 2):
            raise ValueError("centre and curvature need one entry per parameter (1 or 2)")
        if min(self.curvature) <= 0 or self.depth <= 0:
            raise ValueError("curvatures and depth must be positive")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}")


@dataclass(frozen=True)
class Landscape:
    """A family of 1–5 toy tasks over the same one or two parameters."""

    tasks: tuple[TaskLoss, ...]
    """The tasks' losses, all over the same parameters."""
    domain: tuple[float, float] = DOMAIN
    """Range of every parameter that is searched and drawn."""

    def __post_init__(self):
        if not 1 <= len(self.tasks) <= 5 or len({len(t.centre) for t in self.tasks}) != 1:
            raise ValueError("a landscape needs 1–5 tasks over the same parameters")

    @property
    def dim(self) -> int:
        """Number of parameters (1 or 2)."""
        return len(self.tasks[0].centre)


@dataclass(frozen=True)
class Preset:
    """A named landscape with the settings that show its point, and what it shows."""

    landscape: Landscape
    explanation: str
    inner_lr: float = 0.1
    inner_steps: int = 1
    reptile_steps: int = 5


def as_tensor(values) -> Tensor:
    """Float64 tensor of `values`."""
    return torch.as_tensor(values, dtype=DTYPE)


def task_loss(task: TaskLoss, phi: Tensor) -> Tensor:
    """l(φ) for φ of shape (..., dim) → (...)."""
    q = 0.5 * (as_tensor(task.curvature) * (phi - as_tensor(task.centre)) ** 2).sum(-1)
    if task.shape == "quadratic":
        return q
    return task.depth * -torch.expm1(-q / task.depth)


def task_losses(landscape: Landscape, phi: Tensor) -> Tensor:
    """Every task's loss: (..., dim) → (..., tasks)."""
    return torch.stack([task_loss(t, phi) for t in landscape.tasks], -1)


def total_loss(landscape: Landscape, phi: Tensor) -> Tensor:
    """Σ_n l_n(φ), the pre-training objective: (..., dim) → (...)."""
    return task_losses(landscape, phi).sum(-1)


def adapted(phi: Tensor, task: TaskLoss, inner_lr: float, steps: int) -> Tensor:
    """Path of plain gradient descent θ_0 = φ, θ_{i+1} = θ_i − α ∇l(θ_i): (steps + 1, dim)."""
    step_grad = grad(partial(task_loss, task))
    path = [phi]
    for _ in range(steps):
        path.append(path[-1] - inner_lr * step_grad(path[-1]))
    return torch.stack(path)


def maml_objective(phi: Tensor, landscape: Landscape, inner_lr: float, inner_steps: int) -> Tensor:
    """Σ_n l_n(θ_n): the total loss after `inner_steps` steps of adaptation, which MAML minimises."""
    return sum(task_loss(t, adapted(phi, t, inner_lr, inner_steps)[-1]) for t in landscape.tasks)


def reptile_update(phi: Tensor, landscape: Landscape, inner_lr: float, reptile_steps: int) -> Tensor:
    """Mean over tasks of θ_n − φ after `reptile_steps` inner steps: where Reptile moves φ."""
    ends = torch.stack([adapted(phi, t, inner_lr, reptile_steps)[-1] for t in landscape.tasks])
    return (ends - phi).mean(0)


def directions(phi: Tensor, landscape: Landscape, inner_lr: float, inner_steps: int,
               reptile_steps: int) -> dict[str, Tensor]:
    """Each method's update direction from φ (descent directions, averaged over tasks): (dim,)."""
    n = len(landscape.tasks)
    fo = [grad(partial(task_loss, t))(adapted(phi, t, inner_lr, inner_steps)[-1])
          for t in landscape.tasks]
    return {
        "pretrain": -grad(partial(total_loss, landscape))(phi) / n,
        "fomaml": -torch.stack(fo).mean(0),  # ∇l at θ_n, treating dθ_n/dφ as I
        "maml": -grad(maml_objective)(phi, landscape, inner_lr, inner_steps) / n,
        "reptile": reptile_update(phi, landscape, inner_lr, reptile_steps),
    }


def objective(method: str, landscape: Landscape, inner_lr: float, inner_steps: int
              ) -> Callable[[Tensor], Tensor]:
    """The scalar function of φ that pre-training or MAML minimises."""
    if method == "pretrain":
        return partial(total_loss, landscape)
    return partial(maml_objective, landscape=landscape, inner_lr=inner_lr, inner_steps=inner_steps)


def grid(landscape: Landscape, points: int | None = None) -> Tensor:
    """Dense grid over the domain, row-major with the last axis fastest: (points**dim, dim)."""
    axis = torch.linspace(*landscape.domain, points or GRID_POINTS[landscape.dim], dtype=DTYPE)
    mesh = torch.meshgrid(*[axis] * landscape.dim, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], -1)


def _local_minima(values: Tensor, dim: int, count: int) -> Tensor:
    """Indices of the `count` lowest grid points that are no higher than their neighbours."""
    side = round(values.numel() ** (1 / dim))
    v = torch.nan_to_num(values, nan=torch.inf).reshape([1, 1] + [side] * dim)
    pool = torch.nn.functional.max_pool1d if dim == 1 else torch.nn.functional.max_pool2d
    is_min = (pool(-v, 3, stride=1, padding=1) == -v).reshape(-1) & values.isfinite()
    idx = is_min.nonzero().squeeze(-1)
    return idx[values[idx].argsort()[:count]]


def _minimise(f: Callable[[Tensor], Tensor], start: Tensor, iters: int = 60) -> Tensor:
    """Newton's method with a gradient-descent fallback and backtracking, from a grid point."""
    x = start
    for _ in range(iters):
        g, h = grad(f)(x), hessian(f)(x)
        step = -torch.linalg.solve(h, g) if torch.linalg.eigvalsh(h).min() > 0 else -g
        t, fx = 1.0, f(x)
        while t > 1e-12 and not f(x + t * step) <= fx:
            t /= 2
        if t <= 1e-12 or (t * step).norm() < 1e-14:
            break
        x = x + t * step
    return x


def _fixed_point(r: Callable[[Tensor], Tensor], start: Tensor, iters: int = 60) -> Tensor:
    """Newton's method on r(φ) = 0 with backtracking on |r|."""
    x = start
    for _ in range(iters):
        rx = r(x)
        step = -torch.linalg.lstsq(jacfwd(r)(x), rx.unsqueeze(-1)).solution.squeeze(-1)
        t = 1.0
        while t > 1e-12 and not r(x + t * step).norm() <= rx.norm():
            t /= 2
        if t <= 1e-12 or (t * step).norm() < 1e-14:
            break
        x = x + t * step
    return x


def _best_minimum(f: Callable[[Tensor], Tensor], landscape: Landscape, candidates: int = 5) -> Tensor:
    """Global minimum of f over the domain: refine the lowest grid minima, keep the lowest."""
    points = grid(landscape)
    starts = points[_local_minima(vmap(f)(points), landscape.dim, candidates)]
    refined = [_minimise(f, s) for s in starts]
    return min(refined, key=lambda x: f(x).item())


def reptile_fixed_point(landscape: Landscape, inner_lr: float, reptile_steps: int,
                        candidates: int = 8) -> Tensor:
    """A stable zero of Reptile's update; of several, the one with the lowest adapted loss.

    Far from every well the update vanishes too, so a zero only counts if Reptile is pulled
    back to it (the Jacobian of the update has eigenvalues with negative real parts).
    NaN if there is none.
    """
    r = partial(reptile_update, landscape=landscape, inner_lr=inner_lr, reptile_steps=reptile_steps)
    points = grid(landscape)
    norms = vmap(r)(points).norm(dim=-1)
    found = []
    for start in points[_local_minima(norms, landscape.dim, candidates)]:
        x = _fixed_point(r, start)
        stable = torch.linalg.eigvals(jacfwd(r)(x)).real.max() < -1e-6
        if r(x).norm() < 1e-9 and stable:
            found.append(x)
    if not found:
        return torch.full((landscape.dim,), torch.nan, dtype=DTYPE)
    return min(found, key=lambda x: maml_objective(x, landscape, inner_lr, reptile_steps).item())


def optima(landscape: Landscape, inner_lr: float, inner_steps: int, reptile_steps: int
           ) -> dict[str, Tensor]:
    """The pre-training optimum, the MAML optimum and Reptile's fixed point: {method: (dim,)}."""
    return {
        "pretrain": _best_minimum(objective("pretrain", landscape, inner_lr, inner_steps), landscape),
        "maml": _best_minimum(objective("maml", landscape, inner_lr, inner_steps), landscape),
        "reptile": reptile_fixed_point(landscape, inner_lr, reptile_steps),
    }


def meta_train_path(method: str, start: Tensor, landscape: Landscape, inner_lr: float,
                    inner_steps: int, reptile_steps: int, meta_lr: float, meta_steps: int) -> Tensor:
    """φ over meta-iterations, φ ← φ + meta_lr · direction (ε for Reptile): (meta_steps + 1, dim)."""
    path = [as_tensor(start)]
    for _ in range(meta_steps):
        d = directions(path[-1], landscape, inner_lr, inner_steps, reptile_steps)[method]
        path.append(path[-1] + meta_lr * d)
    return torch.stack(path)


def summary_table(points: dict[str, Tensor], landscape: Landscape, inner_lr: float,
                  test_steps: int) -> list[dict]:
    """Total loss at each point before adaptation, after 1 step and after `test_steps` steps."""
    rows = []
    for method, phi in points.items():
        rows.append({
            "method": method,
            "phi": tuple(phi.tolist()),
            "before": total_loss(landscape, phi).item(),
            "after_1": maml_objective(phi, landscape, inner_lr, 1).item(),
            "after_k": maml_objective(phi, landscape, inner_lr, test_steps).item(),
        })
    return rows


def format_phi(phi) -> str:
    """'φ = 0.42' or 'φ = (0.42, −1.10)'."""
    values = [f"{v:.2f}".replace("-", "−") for v in (phi.tolist() if isinstance(phi, Tensor) else phi)]
    return "φ = " + (values[0] if len(values) == 1 else f"({', '.join(values)})")


def describe(points: dict[str, Tensor], landscape: Landscape, inner_lr: float,
             inner_steps: int) -> str:
    """Two sentences, generated from the numbers, on what separates the three optima."""
    pre, maml, rep = points["pretrain"], points["maml"], points["reptile"]
    scale = landscape.domain[1] - landscape.domain[0]
    steps = f"{inner_steps} step{'s' if inner_steps > 1 else ''} of size α = {inner_lr:g}"
    if (pre - maml).norm() < 1e-3 * scale:
        first = (f"Pre-training and MAML agree ({format_phi(maml)}): the point that is best now "
                 f"is also the best start for {steps}.")
    else:
        now = [total_loss(landscape, p).item() for p in (pre, maml)]
        later = [maml_objective(p, landscape, inner_lr, inner_steps).item() for p in (pre, maml)]
        first = (f"Pre-training's {format_phi(pre)} has the lower loss now ({now[0]:.3f} vs "
                 f"{now[1]:.3f} for MAML's {format_phi(maml)}), but after {steps} MAML's is lower "
                 f"({later[1]:.3f} vs {later[0]:.3f}): MAML buys potential with current performance.")
    if rep.isnan().any():
        return first + " Reptile has no stable fixed point in the drawn range with these settings."
    d_pre, d_maml = (rep - pre).norm().item(), (rep - maml).norm().item()
    if max(d_pre, d_maml) < 1e-3 * scale:
        second = "Reptile's fixed point is the same point."
    else:
        closer = "MAML's" if d_maml < d_pre else "pre-training's"
        second = (f"Reptile's fixed point ({format_phi(rep)}) is closer to {closer} "
                  f"(distance {min(d_pre, d_maml):.2f} vs {max(d_pre, d_maml):.2f}).")
    return f"{first} {second}"


def settings_warnings(landscape: Landscape, inner_lr: float) -> list[str]:
    """Plain-language warnings for step sizes that make a task's gradient descent misbehave."""
    notes = []
    for n, task in enumerate(landscape.tasks, 1):
        ah = inner_lr * max(task.curvature)
        if ah > 2 and task.shape == "quadratic":
            notes.append(f"Task {n}: α·h = {ah:.2f} > 2, so gradient descent on it diverges: every "
                         "step overshoots the minimum by more than the distance it started from.")
        elif ah > 1:
            notes.append(f"Task {n}: α·h = {ah:.2f} > 1, so each step jumps past its minimum and "
                         "adaptation zig-zags around it.")
    return notes
