"""Meta-learning algorithms as pure functions over a parameter dict with a leading task axis.

MAML: Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
Networks", ICML 2017. Reptile: Nichol, Achiam & Schulman, "On First-Order Meta-Learning
Algorithms", arXiv:1803.02999, 2018. Every method is scored with the same `adapt`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import Tensor

from core.config import TrainConfig
from core.models import Params, detached, expand
from core.tasks import TaskBatch


class Learner(Protocol):
    """What the algorithms need of a model on a family: per-task losses (pre-training also asks
    the family for its data and the model for a new head)."""

    family: Any
    model: Any

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Per-task mean loss (tasks,) of per-task `params` on (tasks, points, ...) data."""


def adapt_path(learner: Learner, params: Params, x: Tensor, y: Tensor, inner_lr: float,
               steps: int, mode: str = "detached") -> Iterator[Params]:
    """Per-task parameters after 0, 1, ..., `steps` plain SGD steps on (x, y).

    mode 'second_order' keeps the graph of each gradient (exact MAML); 'first_order' treats
    the gradients as constants, so dθ/dφ = I (first-order MAML); 'detached' cuts every step
    from the graph (evaluation, Reptile).
    """
    if mode == "detached":
        params = detached(params)
    yield params
    for _ in range(steps):
        total = learner.loss(params, x, y).sum()  # tasks are independent: d total/dθ_t = dl_t/dθ_t
        grads = torch.autograd.grad(total, list(params.values()), create_graph=mode == "second_order")
        params = {k: p - inner_lr * g for (k, p), g in zip(params.items(), grads)}
        if mode == "detached":
            params = detached(params)
        yield params


def adapt(learner: Learner, params: Params, x: Tensor, y: Tensor, inner_lr: float, steps: int,
          mode: str = "detached") -> Params:
    """Per-task parameters after `steps` SGD steps on (x, y): the one inner loop of the lab."""
    for params in adapt_path(learner, params, x, y, inner_lr, steps, mode):
        pass
    return params


def _grad(loss: Tensor, phi: Params) -> Params:
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values()))))


def maml_gradient(learner: Learner, phi: Params, batch: TaskBatch, cfg: TrainConfig,
                  first_order: bool = False) -> tuple[Params, Tensor]:
    """∇φ of the mean query loss after `inner_steps` adaptation steps on each support set."""
    mode = "first_order" if first_order else "second_order"
    theta = adapt(learner, expand(phi, batch.num_tasks), batch.support_x, batch.support_y,
                  cfg.inner_lr, cfg.inner_steps, mode)
    meta_loss = learner.loss(theta, batch.query_x, batch.query_y).mean()
    return _grad(meta_loss, phi), meta_loss.detach()


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


def pretrain_start(learner: Learner, phi: Params) -> Params:
    """φ with a zero head over every pre-training class on transfer families; φ otherwise."""
    classes = learner.family.pretrain_classes
    return phi if classes is None else learner.model.with_head(phi, classes)


def pretrain_finish(learner: Learner, phi: Params) -> Params:
    """The pre-trained body with a fresh zero N-way head on transfer families; φ otherwise.

    A zero head makes the first adaptation step train the head alone (the body's gradient
    passes through the head's zero weights), so step 1 is the fine-tuned-head baseline.
    """
    if learner.family.pretrain_classes is None:
        return phi
    return learner.model.with_head(phi, learner.family.output_dim)


def same_params(learner: Learner, phi: Params) -> Params:
    """No change: most methods train and score the model as it is."""
    return phi


MetaGradient = Callable[[Learner, Params, TaskBatch, TrainConfig], tuple[Params, Tensor]]
ParamsHook = Callable[[Learner, Params], Params]


@dataclass(frozen=True)
class Method:
    """A registered approach: how it computes its update and which outer optimiser applies it."""

    name: str
    title: str
    description: str
    meta_gradient: MetaGradient | None  # None: no meta-training (the random initialisation)
    optimizer: str = "adam"  # "adam" (lr β) or "sgd" (lr ε, Reptile)
    loss_label: str = "query loss after adaptation"
    start: ParamsHook = same_params  # the shared initialisation -> what training starts from
    finish: ParamsHook = same_params  # trained parameters -> the φ that adaptation starts from


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("maml", "MAML", "exact second-order MAML: query loss after adapting φ, "
           "differentiated through the inner steps", maml_gradient),
    Method("fomaml", "First-order MAML", "MAML without second derivatives: the query gradient "
           "at the adapted parameters updates φ", fomaml_gradient),
    Method("reptile", "Reptile", "SGD on each task, then move φ toward the adapted parameters "
           "by ε·mean(θ − φ)", reptile_gradient, optimizer="sgd",
           loss_label="task loss after its inner steps"),
    Method("pretrain", "Pre-training", "joint training: minimise the loss of φ itself on all "
           "tasks' data (current, not potential, performance); on image families, supervised "
           "training on all meta-train classes, then a fresh head (transfer learning)",
           pretrain_gradient, loss_label="joint loss of φ before adaptation",
           start=pretrain_start, finish=pretrain_finish),
    Method("scratch", "Scratch", "no meta-training: the random initialisation, the floor every "
           "method must beat", None, loss_label="(not trained)"),
)}
