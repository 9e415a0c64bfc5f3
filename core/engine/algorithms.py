"""Meta-learning algorithms as pure functions over a parameter dict with a leading task axis.

MAML: Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
Networks", ICML 2017. Reptile: Nichol, Achiam & Schulman, "On First-Order Meta-Learning
Algorithms", arXiv:1803.02999, 2018. ANIL: Raghu, Raghu, Bengio & Vinyals, "Rapid Learning or
Feature Reuse? Towards Understanding the Effectiveness of MAML", ICLR 2020. Meta-SGD: Li, Zhou,
Chen & Li, "Meta-SGD: Learning to Learn Quickly for Few-Shot Learning", arXiv:1707.09835, 2017.
Every method is scored with the same `adapt`; a method's `adaptation` hook says how.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple, Protocol, Sequence

import torch
from torch import Tensor

from core.engine.config import TrainConfig
from core.engine.models import Params, detached, expand
from core.engine.tasks import TaskBatch


class Learner(Protocol):
    """What the algorithms need of a model on a family: per-task losses (pre-training also asks
    the family for its data and the model for a new head, ANIL the model for its head's keys)."""

    family: Any
    model: Any

    def loss(self, params: Params, x: Tensor, y: Tensor, context: Tensor | None = None) -> Tensor:
        """Per-task mean loss (tasks,) of per-task `params` on (tasks, points, ...) data;
        `context` (the support inputs) normalises x on models that normalise by the support set."""


def adapt_path(learner: Learner, params: Params, x: Tensor, y: Tensor, inner_lr: float | Params,
               steps: int, mode: str = "detached", *,
               only: tuple[str, ...] | None = None) -> Iterator[Params]:
    """Per-task parameters after 0, 1, ..., `steps` plain SGD steps on (x, y).

    mode 'second_order' keeps the graph of each gradient (exact MAML); 'first_order' treats
    the gradients as constants, so dθ/dφ = I (first-order MAML); 'detached' cuts every step
    from the graph (evaluation, Reptile). `inner_lr` is one α or one per parameter (Meta-SGD,
    shaped like the parameter without the task axis); `only` names the parameters that move
    (ANIL: the head), the others stay as given.
    """
    moving = list(params) if only is None else [k for k in params if k in only]
    if mode == "detached":
        params = {**{k: v.detach() for k, v in params.items()}, **detached(_pick(params, moving))}
    yield params
    for _ in range(steps):
        total = learner.loss(params, x, y).sum()  # tasks are independent: d total/dθ_t = dl_t/dθ_t
        grads = torch.autograd.grad(total, [params[k] for k in moving],
                                    create_graph=mode == "second_order")
        step = {k: params[k] - _lr(inner_lr, k) * g for k, g in zip(moving, grads)}
        params = {**params, **(detached(step) if mode == "detached" else step)}
        yield params


def adapt(learner: Learner, params: Params, x: Tensor, y: Tensor, inner_lr: float | Params,
          steps: int, mode: str = "detached", *, only: tuple[str, ...] | None = None) -> Params:
    """Per-task parameters after `steps` SGD steps on (x, y): the one inner loop of the lab."""
    for params in adapt_path(learner, params, x, y, inner_lr, steps, mode, only=only):
        pass
    return params


def _pick(params: Params, keys: list[str]) -> Params:
    return {k: params[k] for k in keys}


def _lr(inner_lr: float | Params, key: str) -> float | Tensor:
    return inner_lr[key] if isinstance(inner_lr, dict) else inner_lr


class AdaptPlan(NamedTuple):
    """How test time adapts a trained method: from which φ, with which α, moving which keys."""

    params: Params  # the model's φ (no task axis)
    inner_lr: float | Params  # one α, or a learned α per parameter (Meta-SGD)
    only: tuple[str, ...] | None = None  # the keys that move; None: all of them

    def scaled(self, factor: float) -> "AdaptPlan":
        """The same plan with every α multiplied by `factor`."""
        lr = ({k: factor * v for k, v in self.inner_lr.items()} if isinstance(self.inner_lr, dict)
              else factor * self.inner_lr)
        return self._replace(inner_lr=lr)


def _grad(loss: Tensor, phi: Params) -> Params:
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values()))))


def maml_gradient(learner: Learner, phi: Params, batch: TaskBatch, cfg: TrainConfig,
                  first_order: bool = False, only: tuple[str, ...] | None = None
                  ) -> tuple[Params, Tensor]:
    """∇φ of the mean query loss after `inner_steps` adaptation steps on each support set
    (of the parameters in `only`, or all of them)."""
    mode = "first_order" if first_order else "second_order"
    meta_loss = _query_loss_after(learner, phi, batch, cfg.inner_lr, cfg.inner_steps, mode, only)
    return _grad(meta_loss, phi), meta_loss.detach()


def _query_loss_after(learner: Learner, phi: Params, batch: TaskBatch, inner_lr: float | Params,
                      steps: int, mode: str, only: tuple[str, ...] | None = None) -> Tensor:
    """Mean query loss of φ adapted on each support set (queries normalised by the support
    where the model does that)."""
    theta = adapt(learner, expand(phi, batch.num_tasks), batch.support_x, batch.support_y,
                  inner_lr, steps, mode, only=only)
    return learner.loss(theta, batch.query_x, batch.query_y, context=batch.support_x).mean()


def anil_gradient(learner: Learner, phi: Params, batch: TaskBatch,
                  cfg: TrainConfig) -> tuple[Params, Tensor]:
    """ANIL: exact MAML whose inner loop adapts only the head; the body still learns through
    the query loss's dependence on its features (and on the head's adapted values)."""
    return maml_gradient(learner, phi, batch, cfg, only=learner.model.head_keys)


LR_PREFIX = "lr."  # Meta-SGD's α for parameter k is stored as φ["lr." + k]


def metasgd_gradient(learner: Learner, phi: Params, batch: TaskBatch,
                     cfg: TrainConfig) -> tuple[Params, Tensor]:
    """Meta-SGD: exact MAML whose inner steps use the learned per-parameter α, so the query
    loss is differentiated with respect to φ and α together."""
    weights, alpha = _split_alpha(phi)
    meta_loss = _query_loss_after(learner, weights, batch, alpha, cfg.inner_steps, "second_order")
    return _grad(meta_loss, phi), meta_loss.detach()


def _split_alpha(phi: Params) -> tuple[Params, Params]:
    """Model parameters, and the learned α keyed like them (Meta-SGD)."""
    weights = {k: v for k, v in phi.items() if not k.startswith(LR_PREFIX)}
    return weights, {k: phi[LR_PREFIX + k] for k in weights if LR_PREFIX + k in phi}


def fomaml_gradient(learner: Learner, phi: Params, batch: TaskBatch,
                    cfg: TrainConfig) -> tuple[Params, Tensor]:
    """First-order MAML: the query gradient at the adapted parameters, Hessian term dropped."""
    return maml_gradient(learner, phi, batch, cfg, first_order=True)


def reptile_gradient(learner: Learner, phi: Params, batch: TaskBatch,
                     cfg: TrainConfig) -> tuple[Params, Tensor]:
    """−mean(θ − φ) after SGD on each task's data, so an SGD step of size ε is Reptile's update.

    Reptile has no support/query split: its inner loop uses all of a task's points, the same
    points MAML and pre-training see.
    """
    x, y = batch.all_data()
    theta = adapt(learner, expand(phi, batch.num_tasks), x, y, cfg.inner_lr,
                  cfg.reptile_inner_steps)
    with torch.no_grad():
        grads = {k: (phi[k] - theta[k]).mean(0) for k in phi}
        loss_after = learner.loss(theta, x, y).mean()
    return grads, loss_after


def pretrain_gradient(learner: Learner, phi: Params, batch: TaskBatch,
                      cfg: TrainConfig) -> tuple[Params, Tensor]:
    """∇φ of the loss of φ itself on every task's data, no adaptation.

    The family says which labels: each task's own (joint training) or, on the image families,
    the global meta-train class, with φ's head over all of them (transfer learning).
    """
    x, y = learner.family.pretraining_data(batch)
    loss = learner.loss(expand(phi, batch.num_tasks), x, y).mean()
    return _grad(loss, phi), loss.detach()


def pretrain_start(learner: Learner, phi: Params, cfg: TrainConfig) -> Params:
    """φ with a zero head over every pre-training class on transfer families; φ otherwise."""
    classes = learner.family.pretrain_classes
    return phi if classes is None else learner.model.with_head(phi, classes)


def pretrain_finish(learner: Learner, phi: Params, cfg: TrainConfig) -> Params:
    """The pre-trained body with a fresh zero N-way head on transfer families; φ otherwise.

    A zero head makes the first adaptation step train the head alone (the body's gradient
    passes through the head's zero weights), so step 1 is the fine-tuned-head baseline.
    """
    if learner.family.pretrain_classes is None:
        return phi
    return learner.model.with_head(phi, learner.family.output_dim)


def same_params(learner: Learner, phi: Params, cfg: TrainConfig) -> Params:
    """No change: most methods train and score the model as it is."""
    return phi


def metasgd_start(learner: Learner, phi: Params, cfg: TrainConfig) -> Params:
    """φ and a learned α per parameter, shaped like it and starting at inner_lr."""
    return {**phi, **{LR_PREFIX + k: torch.full_like(v, cfg.inner_lr) for k, v in phi.items()}}


def whole_net(learner: Learner, phi: Params, cfg: TrainConfig) -> AdaptPlan:
    """Test time adapts every parameter with the configured α: the lecture's setting."""
    return AdaptPlan(phi, cfg.inner_lr)


def head_only(learner: Learner, phi: Params, cfg: TrainConfig) -> AdaptPlan:
    """Test time adapts only the head, as ANIL was trained."""
    return AdaptPlan(phi, cfg.inner_lr, learner.model.head_keys)


def learned_lr(learner: Learner, phi: Params, cfg: TrainConfig) -> AdaptPlan:
    """Test time adapts every parameter with Meta-SGD's learned α."""
    weights, alpha = _split_alpha(phi)
    return AdaptPlan(weights, alpha)


MetaGradient = Callable[[Learner, Params, TaskBatch, TrainConfig], tuple[Params, Tensor]]
ParamsHook = Callable[[Learner, Params, TrainConfig], Params]
PlanHook = Callable[[Learner, Params, TrainConfig], AdaptPlan]


@dataclass(frozen=True)
class Adapting:
    """What one SGD step of adaptation costs per task: forward-pass equivalents over the points
    it adapts on (a backward counts 2), and what it moves; core/budget/estimator.py prices it."""

    passes: float
    moves: str = "all"  # the per-task parameters it moves: "all", or "head" (ANIL)
    learned_lr: bool = False  # each gradient is multiplied by a learned α per parameter (Meta-SGD)

    def __post_init__(self) -> None:
        if self.passes <= 0 or self.moves not in ("all", "head"):
            raise ValueError(f"an adaptation step costs passes > 0 and moves 'all' or 'head' "
                             f"(got {self.passes}, {self.moves!r})")


# Test time: a forward and a backward per step, every parameter moving; ANIL's head-only step
# is one forward (the head's gradient needs only the features, no backward through the body).
WHOLE, HEAD = Adapting(3), Adapting(1, moves="head")


@dataclass(frozen=True)
class Cost:
    """What one meta-iteration and each test-time scoring of a method cost (its own scoring, then
    one per variant), declared beside the method so that the budget counts every method."""

    scorings: tuple[Adapting, ...]  # one test-time adaptation step of each result
    inner: Adapting | None = None  # one inner step of meta-training; None: no inner loop
    outer: float = 0.0  # passes over the points the meta-update reads, once per iteration
    steps: str = "inner_steps"  # the TrainConfig setting that counts the inner steps
    inner_points: str = "support"  # the points the inner loop adapts on: "support" or "all"
    outer_points: str = "query"  # the points of the meta-update: "query" or "all"

    def per_iteration(self) -> float:
        """Passes of one iteration with one inner step: zero means the iteration is not counted."""
        return (self.inner.passes if self.inner else 0.0) + self.outer


@dataclass(frozen=True)
class Method:
    """A registered approach: how it computes its update and which outer optimiser applies it,
    and what that costs (required: a method the budget cannot count cannot be registered)."""

    name: str
    title: str
    description: str
    meta_gradient: MetaGradient | None  # None: no meta-training (the random initialisation)
    cost: Cost = dataclasses.field(kw_only=True)
    optimizer: str = "adam"  # "adam" (lr β) or "sgd" (lr ε, Reptile)
    loss_label: str = "query loss after adaptation"
    start: ParamsHook = same_params  # the shared initialisation -> what training starts from
    finish: ParamsHook = same_params  # trained parameters -> the φ that adaptation starts from
    adaptation: PlanHook = whole_net  # finished parameters -> how test time adapts them
    # Further test-time adaptations of the same training, scored as "<name>-<suffix>".
    variants: tuple[tuple[str, PlanHook], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.cost, Cost):
            raise TypeError(f"method {self.name!r} declares no Cost: the budget could not count it")
        if len(self.cost.scorings) != 1 + len(self.variants):
            raise ValueError(f"method {self.name!r} declares {len(self.cost.scorings)} scorings "
                             f"for {1 + len(self.variants)} results")
        if self.meta_gradient is not None and self.cost.per_iteration() <= 0:
            raise ValueError(f"method {self.name!r} declares a meta-iteration that costs nothing")


# Costs: MAML's inner steps are differentiated again (about 9 passes each, first order 3);
# ANIL's inner steps move only the head, though the meta-gradient still runs through the body.
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("maml", "MAML", "exact second-order MAML: query loss after adapting φ, "
           "differentiated through the inner steps", maml_gradient,
           cost=Cost((WHOLE,), inner=Adapting(9), outer=3)),
    Method("fomaml", "First-order MAML", "MAML without second derivatives: the query gradient "
           "at the adapted parameters updates φ", fomaml_gradient,
           cost=Cost((WHOLE,), inner=Adapting(3), outer=3)),
    Method("reptile", "Reptile", "SGD on each task, then move φ toward the adapted parameters "
           "by ε·mean(θ − φ)", reptile_gradient, optimizer="sgd",
           loss_label="task loss after its inner steps",
           cost=Cost((WHOLE,), inner=Adapting(3), outer=1, steps="reptile_inner_steps",
                     inner_points="all", outer_points="all")),
    Method("pretrain", "Pre-training", "joint training: minimise the loss of φ itself on all "
           "tasks' data (current, not potential, performance); on image families, supervised "
           "training on all meta-train classes, then a fresh head (transfer learning)",
           pretrain_gradient, loss_label="joint loss of φ before adaptation",
           start=pretrain_start, finish=pretrain_finish,
           cost=Cost((WHOLE,), outer=3, outer_points="all")),
    Method("anil", "ANIL", "MAML whose inner loop adapts only the head (the last layer), in "
           "training and at test time; also scored with the whole net adapted (anil-whole)",
           anil_gradient, adaptation=head_only, variants=(("whole", whole_net),),
           cost=Cost((HEAD, WHOLE), inner=Adapting(4, moves="head"), outer=3)),
    Method("metasgd", "Meta-SGD", "MAML with a learned inner learning rate per parameter "
           "(α shaped like φ, starting at inner_lr), meta-trained with φ; adaptation uses it",
           metasgd_gradient, start=metasgd_start, adaptation=learned_lr,
           cost=Cost((Adapting(3, learned_lr=True),), inner=Adapting(9, learned_lr=True),
                     outer=3)),
    Method("scratch", "Scratch", "no meta-training: the random initialisation, the floor every "
           "method must beat", None, loss_label="(not trained)", cost=Cost((WHOLE,))),
)}


def result_plans(method: str) -> tuple[tuple[str, PlanHook], ...]:
    """The results each seed of `method` yields (its own, then one per test-time variant), each
    with the hook that plans its test-time adaptation."""
    m = METHODS[method]
    return ((method, m.adaptation), *((f"{method}-{suffix}", hook) for suffix, hook in m.variants))


def result_names(method: str) -> tuple[str, ...]:
    """The results each seed of `method` yields: its own, then one per test-time variant."""
    return tuple(name for name, _ in result_plans(method))


def plan_hook(result_name: str) -> PlanHook:
    """The test-time plan hook of a result ('anil-whole': ANIL's whole-net variant)."""
    hooks = dict(pair for method in METHODS for pair in result_plans(method))
    if result_name not in hooks:
        raise KeyError(f"no method yields a result named {result_name!r}")
    return hooks[result_name]


def all_result_names(methods: Sequence[str]) -> tuple[str, ...]:
    """The results each seed of a run of `methods` yields, in order (ANIL's variant after it)."""
    return tuple(name for m in methods for name in result_names(m))


def method_title(name: str) -> str:
    """A method's title in English (the CLI, claims, sweep sentences); other names as given."""
    return METHODS[name].title if name in METHODS else name
