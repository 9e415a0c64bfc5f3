"""Toy loss landscapes with one or two parameters where pre-training, MAML and Reptile disagree.

Everything is exact: losses are closed-form, derivatives come from autograd in float64
(torch.func, torch.autograd.functional), optima from a dense grid search refined by Newton's method.
MAML: Finn, Abbeel & Levine, ICML 2017. Reptile: Nichol, Achiam & Schulman, arXiv:1803.02999.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import Tensor
from torch.autograd.functional import hessian, jacobian
from torch.func import grad, jacrev, vmap

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
    """The tasks."""
    explanation: str
    """One or two sentences on what the preset shows; tests/test_param_space.py checks them."""
    inner_lr: float = 0.1
    """α, the inner step size the explanation is about."""
    inner_steps: int = 1
    """Inner steps in MAML's objective."""
    reptile_steps: int = 5
    """Inner steps before each Reptile update."""


def as_tensor(values) -> Tensor:
    """Float64 tensor of `values`."""
    return torch.as_tensor(values, dtype=DTYPE)


def _task_tensors(landscape: Landscape) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Centres and curvatures (tasks, dim), depths and 'is a well' flags (tasks,)."""
    tasks = landscape.tasks
    return (as_tensor([t.centre for t in tasks]), as_tensor([t.curvature for t in tasks]),
            as_tensor([t.depth for t in tasks]), torch.tensor([t.shape == "well" for t in tasks]))


def per_task_loss(landscape: Landscape, theta: Tensor) -> Tensor:
    """l_n(θ_n) for each task at its own parameters: (..., tasks, dim) → (..., tasks)."""
    centre, curvature, depth, well = _task_tensors(landscape)
    q = 0.5 * (curvature * (theta - centre) ** 2).sum(-1)
    return torch.where(well, depth * -torch.expm1(-q / depth), q)


def task_losses(landscape: Landscape, phi: Tensor) -> Tensor:
    """Every task's loss at the same φ: (..., dim) → (..., tasks)."""
    return per_task_loss(landscape, phi.unsqueeze(-2))


def total_loss(landscape: Landscape, phi: Tensor) -> Tensor:
    """Σ_n l_n(φ), the pre-training objective: (..., dim) → (...)."""
    return task_losses(landscape, phi).sum(-1)


def task_gradients(landscape: Landscape, theta: Tensor) -> Tensor:
    """∇l_n(θ_n) for each task: (tasks, dim) → (tasks, dim)."""
    # the tasks are independent, so row n of the gradient of the sum is ∇l_n(θ_n)
    return grad(lambda th: per_task_loss(landscape, th).sum())(theta)


def adapted(phi: Tensor, landscape: Landscape, inner_lr: float, steps: int) -> Tensor:
    """Gradient descent on each task from φ, θ ← θ − α ∇l_n(θ): (steps + 1, tasks, dim)."""
    path = [phi.unsqueeze(0).expand(len(landscape.tasks), -1)]
    for _ in range(steps):
        path.append(path[-1] - inner_lr * task_gradients(landscape, path[-1]))
    return torch.stack(path)


def maml_objective(phi: Tensor, landscape: Landscape, inner_lr: float, inner_steps: int) -> Tensor:
    """Σ_n l_n(θ_n): the total loss after `inner_steps` adaptation steps, which MAML minimises."""
    return per_task_loss(landscape, adapted(phi, landscape, inner_lr, inner_steps)[-1]).sum()


def reptile_update(phi: Tensor, landscape: Landscape, inner_lr: float,
                   reptile_steps: int) -> Tensor:
    """Mean over tasks of θ_n − φ after `reptile_steps` inner steps: where Reptile moves φ."""
    return (adapted(phi, landscape, inner_lr, reptile_steps)[-1] - phi).mean(0)


def direction(method: str, phi: Tensor, landscape: Landscape, inner_lr: float, inner_steps: int,
              reptile_steps: int) -> Tensor:
    """One method's update direction from φ: a descent direction averaged over tasks, (dim,)."""
    n = len(landscape.tasks)
    if method == "pretrain":
        return -grad(total_loss, argnums=1)(landscape, phi) / n
    if method == "fomaml":  # the gradient at θ_n, as if dθ_n/dφ were I
        theta = adapted(phi, landscape, inner_lr, inner_steps)[-1]
        return -task_gradients(landscape, theta).mean(0)
    if method == "maml":
        return -grad(maml_objective)(phi, landscape, inner_lr, inner_steps) / n
    if method == "reptile":
        return reptile_update(phi, landscape, inner_lr, reptile_steps)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def directions(phi: Tensor, landscape: Landscape, inner_lr: float, inner_steps: int,
               reptile_steps: int) -> dict[str, Tensor]:
    """Every method's update direction from the same φ: {method: (dim,)}."""
    return {m: direction(m, phi, landscape, inner_lr, inner_steps, reptile_steps) for m in METHODS}


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


def _neighbourhood_max(values: Tensor, dim: int) -> Tensor:
    """Largest value among each grid point and its neighbours (grid flattened row-major)."""
    side = round(values.numel() ** (1 / dim))
    v = torch.nan_to_num(values, nan=torch.inf).reshape([1, 1] + [side] * dim)
    pool = torch.nn.functional.max_pool1d if dim == 1 else torch.nn.functional.max_pool2d
    return pool(v, 3, stride=1, padding=1).reshape(-1)


def _local_minima(values: Tensor, dim: int) -> Tensor:
    """Indices of grid points no higher than any neighbour, lowest first."""
    is_min = (-_neighbourhood_max(-values, dim) == values) & values.isfinite()
    idx = is_min.nonzero().squeeze(-1)
    return idx[values[idx].argsort()]


def _inside(x: Tensor, landscape: Landscape) -> bool:
    """Whether x lies in the drawn square."""
    return bool(((x >= landscape.domain[0]) & (x <= landscape.domain[1])).all())


def _minimise(f: Callable[[Tensor], Tensor], start: Tensor, iters: int = 40) -> Tensor:
    """Newton's method with a gradient-descent fallback and backtracking, from a grid point."""
    x = start
    for _ in range(iters):
        g, h = jacobian(f, x), hessian(f, x)
        step = -torch.linalg.solve(h, g) if torch.linalg.eigvalsh(h).min() > 0 else -g
        t, fx = 1.0, f(x)
        while t > 1e-12 and not f(x + t * step) <= fx:
            t /= 2
        if t <= 1e-12 or (t * step).norm() < 1e-14:
            break
        x = x + t * step
    return x


def _fixed_points(r: Callable[[Tensor], Tensor], starts: Tensor, iters: int = 30,
                  max_step: float = 0.25) -> Tensor:
    """Newton's method on r(φ) = 0 from each start at once, steps clipped to `max_step`."""
    x, jac = starts, vmap(jacrev(r))
    for _ in range(iters):
        step = -(torch.linalg.pinv(jac(x)) @ vmap(r)(x).unsqueeze(-1)).squeeze(-1)
        step = step * (max_step / step.norm(dim=-1, keepdim=True)).clamp(max=1.0)
        x = x + step
        if step.norm(dim=-1).max() < 1e-13:
            break
    return x


def _best_minimum(f: Callable[[Tensor], Tensor], landscape: Landscape,
                  candidates: int = 5) -> Tensor:
    """Global minimum of f over the domain: refine the lowest grid minima, keep the lowest."""
    points = grid(landscape)
    starts = points[_local_minima(vmap(f)(points), landscape.dim)[:candidates]]
    refined = [_minimise(f, s) for s in starts]
    return min(refined, key=lambda x: f(x).item())


def _attracting(r: Callable[[Tensor], Tensor], x: Tensor) -> bool:
    """Whether following r pulls nearby points back to x (eigenvalues of ∂r/∂φ below zero)."""
    return bool(torch.linalg.eigvals(jacobian(r, x)).real.max() < -1e-6)


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
    around = _neighbourhood_max(norms, landscape.dim)
    idx = _local_minima(norms / around, landscape.dim)  # deepest relative dips first
    idx = idx[around[idx] > 1e-8][:candidates]  # a plateau, where r vanishes everywhere, is no zero
    found = [x for x in _fixed_points(r, points[idx])
             if _inside(x, landscape) and r(x).norm() < 1e-9 and _attracting(r, x)]
    if not found:
        return torch.full((landscape.dim,), torch.nan, dtype=DTYPE)
    return min(found, key=lambda x: maml_objective(x, landscape, inner_lr, reptile_steps).item())


def optima(landscape: Landscape, inner_lr: float, inner_steps: int, reptile_steps: int
           ) -> dict[str, Tensor]:
    """The pre-training optimum, the MAML optimum and Reptile's fixed point: {method: (dim,)}."""
    best = {m: _best_minimum(objective(m, landscape, inner_lr, inner_steps), landscape)
            for m in ("pretrain", "maml")}
    return best | {"reptile": reptile_fixed_point(landscape, inner_lr, reptile_steps)}


def meta_train_path(method: str, start: Tensor, landscape: Landscape, inner_lr: float,
                    inner_steps: int, reptile_steps: int, meta_lr: float,
                    meta_steps: int) -> Tensor:
    """φ over meta-iterations, φ ← φ + meta_lr · direction: (meta_steps + 1, dim).

    meta_lr is β of a gradient step for pre-training and (first-order) MAML, ε for Reptile.
    """
    path = [as_tensor(start)]
    for _ in range(meta_steps):
        d = direction(method, path[-1], landscape, inner_lr, inner_steps, reptile_steps)
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
    values = phi.tolist() if isinstance(phi, Tensor) else phi
    values = [f"{v:.2f}".replace("-", "−") for v in values]
    return "φ = " + (values[0] if len(values) == 1 else f"({', '.join(values)})")


def describe(points: dict[str, Tensor], landscape: Landscape, inner_lr: float,
             inner_steps: int) -> str:
    """Two sentences, generated from the numbers, on what separates the three optima."""
    pre, maml, rep = points["pretrain"], points["maml"], points["reptile"]
    scale = landscape.domain[1] - landscape.domain[0]
    steps = f"{inner_steps} step{'s' if inner_steps > 1 else ''} of size α = {inner_lr:.3g}"
    if (pre - maml).norm() < 1e-3 * scale:
        first = (f"Pre-training and MAML agree ({format_phi(maml)}): the point that is best now "
                 f"is also the best start for {steps}.")
    else:
        now = [total_loss(landscape, p).item() for p in (pre, maml)]
        later = [maml_objective(p, landscape, inner_lr, inner_steps).item() for p in (pre, maml)]
        first = (f"Pre-training's {format_phi(pre)} has the lower loss now ({now[0]:.3f} vs "
                 f"{now[1]:.3f} for MAML's {format_phi(maml)}), but after {steps} MAML's is lower "
                 f"({later[1]:.3f} vs {later[0]:.3f}): MAML buys potential with current "
                 "performance.")
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


def settings_warnings(landscape: Landscape, inner_lr: float) -> list[tuple[str, str]]:
    """(level, message) for step sizes that make adaptation misbehave; level 'warning' or 'info'."""
    notes = []
    for n, task in enumerate(landscape.tasks, 1):
        ah = inner_lr * max(task.curvature)
        if ah > 2 and task.shape == "quadratic":
            notes.append(("warning", f"Task {n}: α·h = {ah:.2f} > 2, so gradient descent on it "
                          "diverges: every step lands further from the minimum than it started."))
        elif ah > 1:
            notes.append(("info", f"Task {n}: α·h = {ah:.2f} > 1 at its minimum, so steps near it "
                          "jump past the minimum and adaptation zig-zags."))
    if all(t.shape == "quadratic" for t in landscape.tasks) and all(
            abs(inner_lr * h - 1) < 1e-9 for t in landscape.tasks for h in t.curvature):
        notes.append(("warning", "α·h = 1 for every task: one step lands exactly on each minimum "
                      "from anywhere, so every φ is a MAML optimum and the marker is arbitrary."))
    return notes


def on_edge(phi: Tensor, landscape: Landscape) -> bool:
    """Whether φ lies on the border of the searched square (the true optimum may lie beyond)."""
    lo, hi = landscape.domain
    return bool(((phi - lo).abs().min() < 1e-6) | ((phi - hi).abs().min() < 1e-6))


def _wells(*specs: tuple) -> Landscape:
    """Landscape of wells from (centre, curvature, depth) triples."""
    return Landscape(tuple(TaskLoss(c, h, "well", d) for c, h, d in specs))


def _quadratics(*specs: tuple) -> Landscape:
    """Landscape of quadratic bowls from (centre, curvature) pairs."""
    return Landscape(tuple(TaskLoss(c, h, "quadratic") for c, h in specs))


PRESETS: dict[str, Preset] = {
    "Two wells far apart": Preset(
        _wells(((-2.0,), (0.5,), 1.0), ((2.0,), (0.5,), 1.2)),
        "Pre-training sits in the deeper well (task 2) and gives up task 1; MAML sits between "
        "the wells, from where one step of α = 2 heads into both, so its loss after adaptation "
        "is far lower.", inner_lr=2.0),
    "Two tasks, one sharp and one wide minimum": Preset(
        _wells(((-1.0,), (8.0,), 3.0), ((1.5,), (1.0,), 3.0)),
        "Pre-training stays near the sharp minimum (φ = −1), which is costly to miss; MAML moves "
        "toward the wide one, because one step of α = 1/8 (one over the sharp task's curvature) "
        "nearly solves the sharp task from close by.", inner_lr=0.125),
    "Equal-curvature quadratics: the optima coincide": Preset(
        _quadratics(((-1.5,), (2.0,)), ((1.0,), (2.0,))),
        "Each step shrinks every task's distance to its minimum by the same factor 1 − αh, so "
        "pre-training, MAML and Reptile all choose the mean of the centres, φ = −0.25.",
        inner_lr=0.2),
    "Quadratics with different curvatures": Preset(
        _quadratics(((-1.0,), (4.0,)), ((1.5,), (1.0,))),
        "For quadratics each optimum is a weighted mean of the centres: pre-training weights a "
        "task by h, MAML by h(1 − αh)², so the sharp task, which one step nearly solves, counts "
        "4 times more than the wide one for pre-training but 4 times less for MAML.",
        inner_lr=0.2),
    "Two crossing valleys (2-D)": Preset(
        _wells(((-1.5, 0.5), (6.0, 0.5), 6.0), ((1.5, -0.5), (0.5, 6.0), 6.0)),
        "Each task is sharp along one axis and flat along the other. Pre-training takes each "
        "coordinate from the task that is sharp along it, near (−1.5, −0.5); MAML moves toward "
        "the flat directions' minima (1.5, 0.5), because one step fixes a sharp direction but "
        "barely moves a flat one.", inner_lr=0.16),
    "Four wells, three answers (2-D)": Preset(
        _wells(((-1.5, -1.5), (1.0, 1.0), 1.0), ((-1.5, 1.5), (1.0, 1.0), 1.1),
               ((1.5, -1.5), (1.0, 1.0), 1.0), ((1.5, 1.5), (1.0, 1.0), 1.3)),
        "Pre-training sits in the deepest well (task 4); MAML, with one inner step, sits midway "
        "between the two deepest wells (tasks 2 and 4), which one step reaches from there; "
        "Reptile, with five steps, sits near the centre, from which five steps reach all four.",
        inner_lr=1.0),
}
