"""The task-family interface every family implements, and the registry that lists them."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from core.engine.models import MLP, Model
from core.engine.tasks import TaskBatch
from core.settings import SettingError, Validated, setting, specs

FAMILIES: dict[str, type["TaskFamily"]] = {}
# Told (done_bytes, total_bytes) while data downloads; total is 0 when unknown.
DownloadProgress = Callable[[int, int], None]


def register_family(cls: type["TaskFamily"]) -> type["TaskFamily"]:
    """Class decorator: make a family selectable by its `name` in the CLI and dashboard."""
    FAMILIES[cls.name] = cls
    return cls


def make_family(name: str, **settings: Any) -> "TaskFamily":
    """Build a registered family by name; unknown names and settings raise SettingError."""
    if name not in FAMILIES:
        raise SettingError(f"family must be one of {', '.join(FAMILIES)} (got {name!r})")
    cls = FAMILIES[name]
    try:
        return cls(**settings)
    except TypeError as err:  # an unknown keyword: say which settings exist
        known = ", ".join(s.name for s in specs(cls))
        raise SettingError(f"{err}; {name} settings are: {known}") from None


@dataclass(frozen=True)
class TaskFamily(Validated):
    """A distribution over tasks that can be sampled as batched tensors."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]  # one line: what the family teaches
    kind: ClassVar[str]  # "regression" or "classification"
    input_shape: ClassVar[tuple[int, ...]]
    # Training settings that suit this family, applied unless the user sets them.
    suggested: ClassVar[dict[str, Any]] = {}
    eval_chunk: ClassVar[int] = 1000  # test tasks adapted at once (bounds memory, not results)

    @property
    def output_dim(self) -> int:
        """Outputs of the model: 1 for regression, N-way for classification."""
        return 1

    def make_model(self, hidden: tuple[int, ...]) -> Model:
        """The model every method shares on this family (an MLP unless a family needs more)."""
        return MLP((self.input_shape[0], *hidden, self.output_dim))

    @property
    def pretrain_classes(self) -> int | None:
        """None: pre-training fits φ itself on each task's labels (joint training). A number:
        supervised training over that many meta-train classes, then a fresh N-way head
        (transfer learning)."""
        return None

    def load(self, progress: DownloadProgress | None = None) -> None:
        """Read (or download) the family's data now, so that a missing data set or a setting the
        data cannot meet is reported before training; families without data files do nothing.
        Building a family never reads data: sampling reads it on first use otherwise."""

    def data_bytes(self) -> int:
        """Bytes of data the family holds in memory while it is used (0: tasks come from formulas;
        the tasks drawn are counted with the run). May read the data."""
        return 0

    def pretraining_data(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """The points pre-training fits, with its labels: every task's points and task labels."""
        return batch.all_data()

    def sample(self, num_tasks: int, gen: torch.Generator, split: str = "train") -> TaskBatch:
        """`num_tasks` tasks from the `split` ('train', 'validation' or 'test') distribution."""
        raise NotImplementedError

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        """Per-task mean loss, shape (tasks,): MSE for regression, cross-entropy otherwise."""
        if self.kind == "regression":
            return ((pred - y) ** 2).flatten(1).mean(1)
        tasks, points, classes = pred.shape
        ce = F.cross_entropy(pred.reshape(tasks * points, classes), y.reshape(-1), reduction="none")
        return ce.view(tasks, points).mean(1)

    def accuracy(self, pred: Tensor, y: Tensor) -> Tensor:
        """Per-task fraction of correct labels, shape (tasks,)."""
        return (pred.argmax(-1) == y).float().mean(1)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names evaluation reports for this family."""
        return ("loss",) if self.kind == "regression" else ("loss", "accuracy")


@dataclass(frozen=True)
class FunctionRegression(TaskFamily):
    """Regression on y = f_task(x) with x uniform: subclasses draw the task parameters and f."""

    kind = "regression"
    input_shape = (1,)

    shots: int = setting(10, "K: support points per task", 1, 1000, kind="int")
    query: int = setting(10, "query points per task", 1, 10000, kind="int")
    x_range: tuple = setting((-5.0, 5.0), "input range", -100.0, 100.0, kind="range")

    def task_info(self, num_tasks: int, gen: torch.Generator) -> dict[str, Tensor]:
        """Each task's parameters, each (tasks,)."""
        raise NotImplementedError

    def truth(self, info: dict[str, Tensor], x: Tensor) -> Tensor:
        """The tasks' true functions at x (tasks, points, 1)."""
        raise NotImplementedError

    def sample(self, num_tasks: int, gen: torch.Generator, split: str = "train") -> TaskBatch:
        info = self.task_info(num_tasks, gen)
        x = uniform(self.x_range, (num_tasks, self.shots + self.query, 1), gen)
        y = self.truth(info, x)
        k = self.shots
        return TaskBatch(x[:, :k], y[:, :k], x[:, k:], y[:, k:], info)


def uniform(low_high: tuple[float, float], shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """Samples from U[low, high] (a degenerate range gives the constant)."""
    low, high = low_high
    return low + (high - low) * torch.rand(shape, generator=gen)
