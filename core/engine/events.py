"""What training yields: a method's progress, its validation checkpoints and its result."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from torch import Tensor

from core.engine.algorithms import AdaptPlan, plan_hook
from core.engine.config import TrainConfig
from core.engine.evaluation import FamilyLearner
from core.engine.models import Params


@dataclass(frozen=True)
class Progress:
    """A method's meta-loss at one iteration, emitted a hundred times per run."""

    method: str
    seed: int
    iteration: int
    iterations: int
    meta_loss: float
    seconds: float


@dataclass(frozen=True)
class Checkpoint:
    """Validation scores before and after adaptation at one point of training."""

    method: str
    seed: int
    iteration: int
    rows: list[dict]


@dataclass
class MethodResult:
    """One method trained with one seed: its parameters, history and test scores."""

    method: str
    seed: int
    params: Params
    seconds: float
    scores: dict[str, Tensor]  # metric -> (len(eval_steps), test tasks)
    history: list[Progress] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    diverged: str | None = None  # why, when training or test-time adaptation blew up
    plan: AdaptPlan | None = None  # how the test tasks were adapted (from `params`)
    test_lr_scale: float = 1.0  # the test-time α as a multiple of the trained one
    # When only test-time adaptation diverged: the index (into eval_steps) of the first step
    # that is not `reportable`; the steps before it are sound and are reported (Meta-SGD's α
    # suits the one step it was trained for and may overshoot on the next ones). None when
    # training diverged, so that no step is sound, and in runs saved before this existed.
    diverged_from: int | None = None

    def sound_steps(self, n: int) -> int:
        """How many of the n eval steps, from the first, have scores that can be reported."""
        if not self.diverged:
            return n
        return self.diverged_from or 0

    def test_plan(self, learner: FamilyLearner, cfg: TrainConfig) -> AdaptPlan:
        """How test time adapts this result: its kept plan, or (runs saved before plans were
        kept) the plan its method's hook makes from `params`, α scaled as it was scored."""
        if self.plan is not None:
            return self.plan
        return plan_hook(self.method)(learner, self.params, cfg).scaled(self.test_lr_scale)

    @property
    def test_lr(self) -> str:
        """The test-time α in words: a number, or Meta-SGD's learned α and its scale."""
        if self.plan is None or not isinstance(self.plan.inner_lr, dict):
            return f"{self.plan.inner_lr:g}" if self.plan else ""
        return "learned" + ("" if self.test_lr_scale == 1 else f"×{self.test_lr_scale:g}")


Event = Union[Progress, Checkpoint, MethodResult]
