"""Toy loss landscapes with one or two parameters where pre-training, MAML and Reptile disagree.

A landscape is a Learner: `core.engine.algorithms`' `adapt_path` takes its inner steps and the
registered methods' meta-gradients give its update directions, in float64. Losses are
closed-form; optima come from a dense grid search refined by Newton's method.
MAML: Finn, Abbeel & Levine, ICML 2017. Reptile: Nichol, Achiam & Schulman, arXiv:1803.02999.
Meta-SGD (a learned α per parameter): Li, Zhou, Chen & Li, arXiv:1707.09835.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import Tensor
from torch.autograd.functional import hessian, jacobian

from core.engine.algorithms import LR_PREFIX, METHODS, adapt_path
from core.engine.config import TrainConfig
from core.engine.models import Params
from core.engine.tasks import TaskBatch

DTYPE = torch.float64
SHAPES = ("well", "quadratic")
COMPARED = ("pretrain", "fomaml", "maml", "reptile")  # registered methods drawn as directions
# Meta-SGD's φ-direction at its start (α = inner_lr everywhere) is MAML's, so it is not drawn
# among the directions; its meta-training moves α too, and its optimum has an α of its own.
META_TRAINED = COMPARED + ("metasgd",)
ALPHA = LR_PREFIX + "phi"  # Meta-SGD's α for φ, a step size per parameter
OPTIMA = ("pretrain", "maml", "reptile")
DOMAIN = (-4.0, 4.0)
GRID_POINTS = {1: 2001, 2: 161}  # per axis: spacing 0.004 in 1-D, 0.05 in 2-D
# The searches' sizes (core/param_space/cost.py counts their work from these):
NEWTON_ITERS, FIXED_POINT_ITERS = 40, 30  # most iterations of each refinement
OPTIMUM_CANDIDATES, REPTILE_CANDIDATES, METASGD_CANDIDATES = 5, 8, 6  # grid starts refined
METASGD_GRID = {1: 201, 2: 21}  # φ points per axis of Meta-SGD's coarse search
METASGD_SCALES = 2.0 ** torch.arange(-4, 7, dtype=torch.float64)  # α = inner_lr × these


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
    """A family of 1–5 toy tasks over the same one or two parameters, and the Learner on it.

    As a Learner its parameters are {"phi": (rows, dim)} and a row's data is the index of its
    task, repeated over the points: the losses are closed-form, so the data only say which task.
    """

    tasks: tuple[TaskLoss, ...]
    """The tasks' losses, all over the same parameters."""
    domain: tuple[float, float] = DOMAIN
    """Range of every parameter that is searched and drawn."""

    model: ClassVar[None] = None  # no network: the parameters are the point φ itself
    pretrain_classes: ClassVar[None] = None  # pre-training fits each task's own loss

    def __post_init__(self):
        if not 1 <= len(self.tasks) <= 5 or len({len(t.centre) for t in self.tasks}) != 1:
            raise ValueError("a landscape needs 1–5 tasks over the same parameters")

    @property
    def dim(self) -> int:
        """Number of parameters (1 or 2)."""
        return len(self.tasks[0].centre)

    @property
    def family(self) -> Landscape:
        """The landscape is its own task family (what pre-training asks for its data)."""
        return self

    def pretraining_data(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Every task's own data: pre-training minimises the sum of the tasks' losses at φ."""
        return batch.all_data()

    def loss(self, params: Params, x: Tensor, y: Tensor, context: Tensor | None = None) -> Tensor:
        """l_n(θ) of each row's θ = params['phi'] (rows, dim) on the task x names: (rows,).
        `context` (support inputs, for models that normalise by them) does not apply here."""
        return _loss(self, params["phi"], x[:, 0])

    def batch(self, copies: int = 1) -> TaskBatch:
        """The tasks as data, `copies` times over (task fastest): every point names its task."""
        task = torch.arange(len(self.tasks)).repeat(copies).unsqueeze(1)  # (rows, 1)
        no_labels = torch.zeros(len(task), 1, dtype=DTYPE)
        return TaskBatch(task, no_labels, task, no_labels, {})


def as_tensor(values) -> Tensor:
    """Float64 tensor of `values`."""
    return torch.as_tensor(values, dtype=DTYPE)


def _loss(landscape: Landscape, theta: Tensor, task: Tensor) -> Tensor:
    """l_task(θ), the closed forms: theta (..., dim) and task indices (...) → (...)."""
    tasks = landscape.tasks
    centre, curvature = as_tensor([t.centre for t in tasks])[task], as_tensor(
        [t.curvature for t in tasks])[task]
    depth = as_tensor([t.depth for t in tasks])[task]
    well = torch.tensor([t.shape == "well" for t in tasks])[task]
    q = 0.5 * (curvature * (theta - centre) ** 2).sum(-1)
    return torch.where(well, depth * -torch.expm1(-q / depth), q)


def per_task_loss(landscape: Landscape, theta: Tensor) -> Tensor:
    """l_n(θ_n) for each task at its own parameters: (..., tasks, dim) → (..., tasks)."""
    return _loss(landscape, theta, torch.arange(len(landscape.tasks)))


def task_losses(landscape: Landscape, phi: Tensor) -> Tensor:
    """Every task's loss at the same φ: (..., dim) → (..., tasks)."""
    return per_task_loss(landscape, phi.unsqueeze(-2))


def total_loss(landscape: Landscape, phi: Tensor) -> Tensor:
    """Σ_n l_n(φ), the pre-training objective: (..., dim) → (...)."""
    return task_losses(landscape, phi).sum(-1)


Alpha = float | Tensor
"""The inner step size: one α, or one per parameter (Meta-SGD's: (dim,), or one per φ)."""


def adapted(landscape: Landscape, phi: Tensor, inner_lr: Alpha, steps: int) -> Tensor:
    """Each task's inner iterates from φ by `adapt_path`: (..., dim) → (steps + 1, ..., tasks, dim).

    The steps keep their graph when φ or a per-parameter α requires gradients (Newton's
    derivatives of the MAML and Meta-SGD objectives and of Reptile's update), and are cut from
    it otherwise.
    """
    n, flat = len(landscape.tasks), phi.reshape(-1, phi.shape[-1])
    params = {"phi": flat.repeat_interleave(n, 0)}  # (points * tasks, dim), task fastest
    batch = landscape.batch(len(flat))
    per_parameter = isinstance(inner_lr, Tensor)
    graph = phi.requires_grad or (per_parameter and inner_lr.requires_grad)
    mode = "second_order" if graph else "detached"
    lr = ({"phi": inner_lr.expand(phi.shape).reshape(-1, phi.shape[-1]).repeat_interleave(n, 0)}
          if per_parameter else inner_lr)
    path = adapt_path(landscape, params, batch.support_x, batch.support_y, lr, steps, mode)
    path = torch.stack([p["phi"] for p in path]).reshape(steps + 1, *phi.shape[:-1], n, -1)
    return path if graph else path.detach()


def loss_after(landscape: Landscape, phi: Tensor, inner_lr: Alpha, steps: int) -> Tensor:
    """Σ_n l_n(θ_n) after `steps` inner steps from φ, MAML's objective: (..., dim) → (...)."""
    return per_task_loss(landscape, adapted(landscape, phi, inner_lr, steps)[-1]).sum(-1)


def reptile_update(landscape: Landscape, phi: Tensor, cfg: TrainConfig) -> Tensor:
    """mean_n(θ_n − φ) after Reptile's inner steps, where it moves φ: (..., dim) → (..., dim).

    The same update as `direction('reptile', ...)` (a test ties them), written over many φ at
    once with the graph kept, for the fixed-point search's Jacobians.
    """
    theta = adapted(landscape, phi, cfg.inner_lr, cfg.reptile_inner_steps)[-1]
    return (theta - phi.unsqueeze(-2)).mean(-2)


def initial_state(method: str, landscape: Landscape, phi, cfg: TrainConfig) -> Params:
    """What a registered method meta-trains from φ: {"phi"}, and Meta-SGD's α at inner_lr."""
    return METHODS[method].start(landscape, {"phi": as_tensor(phi)}, cfg)


def meta_update(method: str, landscape: Landscape, state: Params, cfg: TrainConfig) -> Params:
    """Minus a registered method's meta-gradient at `state`, for every parameter it trains."""
    start = {k: v.detach().requires_grad_(True) for k, v in state.items()}
    grads, _ = METHODS[method].meta_gradient(landscape, start, landscape.batch(), cfg)
    return {k: -g.detach() for k, g in grads.items()}


def direction(method: str, landscape: Landscape, phi: Tensor, cfg: TrainConfig) -> Tensor:
    """A registered method's update direction from φ: minus its meta-gradient, (dim,)."""
    return meta_update(method, landscape, initial_state(method, landscape, phi, cfg), cfg)["phi"]


def directions(landscape: Landscape, phi: Tensor, cfg: TrainConfig) -> dict[str, Tensor]:
    """Every compared method's update direction from the same φ: {method: (dim,)}."""
    return {m: direction(m, landscape, phi, cfg) for m in COMPARED}


def objective(method: str, landscape: Landscape, cfg: TrainConfig) -> Callable[[Tensor], Tensor]:
    """The function of φ (..., dim) → (...) that pre-training or MAML minimises."""
    if method == "pretrain":
        return lambda phi: total_loss(landscape, phi)
    return lambda phi: loss_after(landscape, phi, cfg.inner_lr, cfg.inner_steps)


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


def _minimise(f: Callable[[Tensor], Tensor], start: Tensor, iters: int = NEWTON_ITERS) -> Tensor:
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


def _jacobians(r: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """r and its Jacobian at each row of x (points, dim), for an r that maps rows independently."""
    x = x.detach().requires_grad_(True)
    out = r(x)
    # row i of out depends on row i of x only, so the gradient of a column's sum is per row
    rows = [torch.autograd.grad(out[:, j].sum(), x, retain_graph=True)[0]
            for j in range(x.shape[1])]
    return out.detach(), torch.stack(rows, 1)


def _fixed_points(r: Callable[[Tensor], Tensor], starts: Tensor, iters: int = FIXED_POINT_ITERS,
                  max_step: float = 0.25) -> Tensor:
    """Newton's method on r(φ) = 0 from each start at once, steps clipped to `max_step`."""
    x = starts
    for _ in range(iters):
        value, jac = _jacobians(r, x)
        step = -(torch.linalg.pinv(jac) @ value.unsqueeze(-1)).squeeze(-1)
        step = step * (max_step / step.norm(dim=-1, keepdim=True)).clamp(max=1.0)
        x = x + step
        if step.norm(dim=-1).max() < 1e-13:
            break
    return x


def _best_minimum(f: Callable[[Tensor], Tensor], landscape: Landscape,
                  candidates: int = OPTIMUM_CANDIDATES) -> Tensor:
    """Global minimum of f over the domain: refine the lowest grid minima, keep the lowest."""
    points = grid(landscape)
    starts = points[_local_minima(f(points), landscape.dim)[:candidates]]
    refined = [_minimise(f, s) for s in starts]
    return min(refined, key=lambda x: f(x).item())


def _attracting(r: Callable[[Tensor], Tensor], x: Tensor) -> bool:
    """Whether following r pulls nearby points back to x (eigenvalues of ∂r/∂φ below zero)."""
    return bool(torch.linalg.eigvals(jacobian(r, x)).real.max() < -1e-6)


def reptile_fixed_point(landscape: Landscape, cfg: TrainConfig,
                        candidates: int = REPTILE_CANDIDATES) -> Tensor:
    """A stable zero of Reptile's update; of several, the one with the lowest adapted loss.

    Far from every well the update vanishes too, so a zero only counts if Reptile is pulled
    back to it (the Jacobian of the update has eigenvalues with negative real parts).
    NaN if there is none.
    """
    def r(phi: Tensor) -> Tensor:
        return reptile_update(landscape, phi, cfg)

    points = grid(landscape)
    norms = r(points).norm(dim=-1)
    around = _neighbourhood_max(norms, landscape.dim)
    idx = _local_minima(norms / around, landscape.dim)  # deepest relative dips first
    idx = idx[around[idx] > 1e-8][:candidates]  # a plateau, where r vanishes everywhere, is no zero
    found = [x for x in _fixed_points(r, points[idx])
             if _inside(x, landscape) and r(x).norm() < 1e-9 and _attracting(r, x)]
    if not found:
        return torch.full((landscape.dim,), torch.nan, dtype=DTYPE)
    steps = cfg.reptile_inner_steps
    return min(found, key=lambda x: loss_after(landscape, x, cfg.inner_lr, steps).item())


def optima(landscape: Landscape, cfg: TrainConfig) -> dict[str, Tensor]:
    """The pre-training optimum, the MAML optimum and Reptile's fixed point: {method: (dim,)}."""
    best = {m: _best_minimum(objective(m, landscape, cfg), landscape) for m in ("pretrain", "maml")}
    return best | {"reptile": reptile_fixed_point(landscape, cfg)}


def meta_train_path(method: str, landscape: Landscape, start, cfg: TrainConfig) -> Params:
    """Every trained parameter over `cfg.iterations` plain steps x ← x + step · update:
    {"phi": (iterations + 1, dim)}, and Meta-SGD's α under ALPHA.

    The step is ε (`reptile_step_size`) for Reptile, whose update is a move toward θ, and
    β (`meta_lr`) for the gradient methods; no Adam and no annealing, so the path is the
    direction field's.
    """
    step = cfg.reptile_step_size if METHODS[method].optimizer == "sgd" else cfg.meta_lr
    path = [initial_state(method, landscape, start, cfg)]
    for _ in range(cfg.iterations):
        update = meta_update(method, landscape, path[-1], cfg)
        path.append({k: v + step * update[k] for k, v in path[-1].items()})
    return {k: torch.stack([state[k] for state in path]) for k in path[0]}


def metasgd_optimum(landscape: Landscape, cfg: TrainConfig,
                    candidates: int = METASGD_CANDIDATES) -> tuple[Tensor, Tensor]:
    """Meta-SGD's optimum: the φ and the α per parameter that minimise Σ_n l_n(θ_n) after
    `inner_steps` steps θ ← θ − α ⊙ ∇l_n(θ), with φ and α searched together.

    The objective has several local minima (from a task's centre, α = 1/h solves that task
    in one step wherever the others are), so a coarse grid over φ and α (inner_lr × 2^-4 …
    2^6 per parameter) picks the starts and Newton's method over (φ, α) refines the lowest.
    Returns (φ, α), each (dim,).
    """
    dim = landscape.dim

    def f(z: Tensor) -> Tensor:
        return loss_after(landscape, z[..., :dim], z[..., dim:], cfg.inner_steps)

    points = grid(landscape, METASGD_GRID[dim])
    scales = cfg.inner_lr * METASGD_SCALES
    alphas = torch.cartesian_prod(*[scales] * dim).reshape(-1, dim)
    pairs = torch.cat([points.repeat_interleave(len(alphas), 0), alphas.repeat(len(points), 1)], -1)
    starts = pairs[f(pairs).nan_to_num(nan=torch.inf).argsort()[:candidates]]
    best = min((_minimise(f, z) for z in starts), key=lambda z: f(z).item())
    return best[:dim], best[dim:]


def summary_table(landscape: Landscape, points: dict[str, Tensor], inner_lr: float,
                  test_steps: int, alphas: dict[str, Tensor] | None = None) -> list[dict]:
    """Total loss at each point before adaptation, after 1 step and after `test_steps` steps,
    each point adapting with its own α where `alphas` gives one (Meta-SGD) and inner_lr else."""
    alphas = alphas or {}
    rows = []
    for m, p in points.items():
        lr = alphas.get(m, inner_lr)
        after_1, after_k = (loss_after(landscape, p, lr, k).item() for k in (1, test_steps))
        rows.append({"method": m, "phi": tuple(p.tolist()), "alpha": _alpha_tuple(lr, p),
                     "before": total_loss(landscape, p).item(), "after_1": after_1,
                     "after_k": after_k})
    return rows


def _alpha_tuple(lr: Alpha, phi: Tensor) -> tuple[float, ...]:
    """α per parameter as a tuple (one α repeated for every parameter)."""
    return tuple(lr.tolist()) if isinstance(lr, Tensor) else (float(lr),) * len(phi)


def on_edge(phi: Tensor, landscape: Landscape) -> bool:
    """Whether φ lies on the border of the searched square (the true optimum may lie beyond)."""
    lo, hi = landscape.domain
    return bool(((phi - lo).abs().min() < 1e-6) | ((phi - hi).abs().min() < 1e-6))
