"""The training and evaluation settings every method shares (one vocabulary everywhere)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.settings import SettingError, Validated, excerpt, setting


@dataclass(frozen=True)
class TrainConfig(Validated):
    """Meta-training and test-time settings; the defaults are the MAML paper's sinusoid setup."""

    iterations: int = setting(2000, "meta-training iterations", 0, 10_000_000, kind="int")
    meta_batch_size: int = setting(25, "tasks per meta-iteration", 1, 100_000, kind="int")
    inner_lr: float = setting(0.01, "α: SGD step size of adaptation, in training and at test time",
                              0.0, 1000.0, kind="float")
    inner_steps: int = setting(1, "adaptation steps inside MAML's meta-training", 1, 100,
                               kind="int")
    meta_lr: float = setting(0.001, "β: Adam step size of the meta-update (MAML, pre-training)",
                             0.0, 100.0, kind="float")
    reptile_inner_steps: int = setting(5, "Reptile's SGD steps on each task's data", 1, 1000,
                                       kind="int")
    reptile_step_size: float = setting(1.0, "ε: Reptile's step toward the adapted parameters",
                                       0.0, 100.0, kind="float")
    reptile_anneal: bool = setting(True, "decay ε linearly to 0 over training (Reptile paper)",
                                   kind="bool")
    hidden: tuple = setting((40, 40), "hidden layer widths of the MLP", 1, 4096, kind="ints")
    eval_steps: tuple = setting((0, 1, 2, 5, 10), "fine-tuning steps at which test tasks are "
                                "scored (0 = before adaptation)", 0, 10_000, kind="ints")
    test_tasks: int = setting(600, "held-out test tasks scored per seed", 1, 1_000_000,
                              kind="int")
    val_tasks: int = setting(100, "validation tasks scored at each checkpoint", 1, 100_000,
                             kind="int")
    checkpoints: int = setting(10, "validation checkpoints during training (0 = none)", 0, 1000,
                               kind="int")
    test_lr: str = setting("train", "test-time α: 'train' adapts with the training α (the "
                           "lecture's setting; Meta-SGD: its learned α); 'auto' picks, per method, "
                           "the best of α × 0.1, 0.3, 1, 3 on the validation tasks",
                           choices=("train", "auto"), kind="choice")
    queries: str = setting("together", "how query points are scored: 'together' in one batch, "
                           "or 'alone', each in its own forward pass (no other query point can "
                           "sway a batch-normalised prediction)", choices=("together", "alone"),
                           kind="choice")
    seed: int = setting(0, "random seed: same seed, same numbers", 0, 2**31 - 1, kind="int")

    def check(self) -> None:
        if list(self.eval_steps) != sorted(set(self.eval_steps)):
            raise SettingError("eval_steps must be increasing without repeats "
                               f"(got {excerpt(self.eval_steps)})")

    @property
    def max_eval_step(self) -> int:
        """The most fine-tuning steps any score needs."""
        return self.eval_steps[-1]

    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some settings changed."""
        return dataclasses.replace(self, **changes)
