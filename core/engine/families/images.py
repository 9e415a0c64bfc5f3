"""Few-shot image classification from class pools: the base of the Omniglot and digits families.

Classes are split so that test tasks only use classes never seen in training. Rotating a training
class by 90°, 180° or 270° makes a new class (Santoro et al. 2016; Finn et al. 2017), in
meta-training only. Images are read when first needed, not when the family is built, and held in
memory once per data setting; tasks are gathered from them as batched tensors. More: docs/images.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import Tensor

from core.engine.convnet import NORMS, ConvNet
from core.engine.families.base import DownloadProgress, TaskFamily
from core.engine.tasks import TaskBatch
from core.settings import SettingError, setting

ROTATIONS = 4  # 0°, 90°, 180°, 270°
QUERY_HELP = "query images per class"
CHANNELS_HELP = "channels of each conv block (the MLP's hidden is not used)"
BATCHING_HELP = ("how the conv net runs many tasks: a per-task loop or one grouped convolution "
                 "(same results; the faster one depends on image size and device, see "
                 "benchmarks/conv_step.py)")


class ClassPool(NamedTuple):
    """The classes one split samples from."""

    images: Tensor  # (classes, drawings, H, W) float32 in [0, 1], ink = 1
    classes: Tensor  # (classes,) ascending global ids: base class + rotation · base classes


def make_pools(images: np.ndarray, splits: dict[str, np.ndarray], rotations: bool,
               drawings: dict[str, slice] | None = None) -> dict[str, ClassPool]:
    """Pools per split from (base classes, drawings, H, W); training gets the rotated copies too."""
    base = torch.tensor(images)
    pools = {}
    for split, rows in splits.items():
        index = torch.as_tensor(rows, dtype=torch.long)
        chosen = base[index][:, (drawings or {}).get(split, slice(None))]
        turns = ROTATIONS if rotations and split == "train" else 1
        pools[split] = ClassPool(
            torch.cat([torch.rot90(chosen, k, (-2, -1)) for k in range(turns)]),
            torch.cat([index + k * base.shape[0] for k in range(turns)]))
    return pools


@dataclass(frozen=True)
class ImageFamily(TaskFamily):
    """N-way K-shot tasks drawn from class pools; the model is the 4-block conv net."""

    kind = "classification"
    # α = 0.4 and one inner step as in the MAML paper's Omniglot runs; 16 tasks per iteration
    # beat 32 at equal CPU time in a validation pilot.
    suggested: ClassVar[dict] = {"inner_lr": 0.4, "inner_steps": 1, "meta_batch_size": 16,
                                 "meta_lr": 0.001, "eval_steps": (0, 1, 3, 10), "val_tasks": 100,
                                 "checkpoints": 5, "reptile_inner_steps": 5}
    eval_chunk = 50  # tasks adapted at once when scoring: bounds the memory of conv activations

    ways: int = setting(5, "N: classes per task", 2, 50, kind="int")
    shots: int = setting(1, "K: support images per class", 1, 100, kind="int")
    query: int = setting(15, QUERY_HELP, 1, 173, kind="int")
    rotations: bool = setting(True, "meta-train also on each class rotated by 90°, 180° and 270° "
                                    "as new classes (test classes are never rotated)", kind="bool")
    channels: int = setting(32, CHANNELS_HELP, 1, 256, kind="int")
    batching: str = setting("loop", BATCHING_HELP, choices=("loop", "grouped"), kind="choice")
    norm: str = setting("transductive", "whose statistics normalise the conv blocks: each batch's "
                        "own (transductive, MAML: queries by the query set), the task's support "
                        "set's, or none (group: per-image layer norm)", choices=NORMS, kind="choice")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One grey channel of image_size × image_size pixels."""
        return (1, self.image_size, self.image_size)

    @property
    def output_dim(self) -> int:
        return self.ways

    @property
    def base_classes(self) -> int:
        """Classes before rotation: global ids are base class + rotation · base_classes."""
        raise NotImplementedError

    def load(self, progress: DownloadProgress | None = None) -> None:
        """Read (or download) the images now and check the settings that depend on them."""
        self._checked_pools(progress)

    def pools(self) -> dict[str, ClassPool]:
        """Class pools of 'train', 'validation' and 'test': read on first use, then cached."""
        return self._checked_pools(None)

    def _read_pools(self, progress: DownloadProgress | None) -> dict[str, ClassPool]:
        """The pools of this data setting (cached by the subclass); may download."""
        raise NotImplementedError

    def data_bytes(self) -> int:
        """The class pools (rotated copies included) and the decoded images they are cut from."""
        return sum(p.images.nbytes for p in self.pools().values()) + self._source_bytes()

    def _source_bytes(self) -> int:
        """Bytes of the decoded images at image_size that the pools are made from."""
        raise NotImplementedError

    def _checked_pools(self, progress: DownloadProgress | None) -> dict[str, ClassPool]:
        pools = self._read_pools(progress)
        self._check_data(pools)
        return pools

    def _check_data(self, pools: dict[str, ClassPool]) -> None:
        """The settings bounded by the data: images per class and classes per split."""
        drawings = min(p.images.shape[1] for p in pools.values())
        if self.shots + self.query > drawings:
            raise SettingError(f"shots + query ({self.shots + self.query}) must be at most the "
                               f"{drawings} images per class")
        for split, pool in pools.items():
            if self.ways > len(pool.classes):
                raise SettingError(f"ways ({self.ways}) must be at most the {len(pool.classes)} "
                                   f"classes of the {split} split{self._split_hint()}")

    def _split_hint(self) -> str:
        return ""

    def make_model(self, hidden: tuple[int, ...]) -> ConvNet:
        """The 4-block conv net with an N-way head; `hidden` (MLP widths) does not apply."""
        return ConvNet(1, self.input_shape[-1], self.channels, self.ways, batching=self.batching,
                       norm=self.norm)

    def sample(self, num_tasks: int, gen: torch.Generator, split: str = "train") -> TaskBatch:
        pool = self.pools()[split]
        # A random order of the pool's classes per task: label i is the i-th class drawn, so the
        # labels are permuted per task and no class keeps one label across tasks.
        rows = torch.rand(num_tasks, len(pool.classes), generator=gen).argsort(1)[:, :self.ways]
        per_class = self.shots + self.query
        picks = torch.rand(num_tasks, self.ways, pool.images.shape[1], generator=gen).argsort(-1)
        images = pool.images[rows.unsqueeze(-1), picks[..., :per_class]].unsqueeze(3)  # (T, N, K+Q, 1, H, W)
        labels = torch.arange(self.ways).expand(num_tasks, -1)

        def part(start: int, count: int) -> tuple[Tensor, Tensor]:
            x = images[:, :, start:start + count].flatten(1, 2)  # (T, N·count, 1, H, W), class-major
            return x, labels.repeat_interleave(count, dim=1)

        return TaskBatch(*part(0, self.shots), *part(self.shots, self.query),
                         {"classes": pool.classes[rows]})

    @property
    def pretrain_classes(self) -> int:
        """Transfer learning: pre-training classifies every meta-train class (rotations included)."""
        return len(self.pools()["train"].classes)

    def pretraining_data(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Every image of the tasks, labelled by its row among the meta-train classes."""
        x, y = batch.all_data()
        rows = torch.searchsorted(self.pools()["train"].classes, batch.info["classes"])
        return x, rows.gather(1, y)

    def class_name(self, class_id: int) -> str:
        """A class in words, e.g. 'Korean character07' or 'digit 3, rotated 90°'."""
        base, turns = class_id % self.base_classes, class_id // self.base_classes
        return self._base_name(base) + (f", rotated {90 * turns}°" if turns else "")

    def _base_name(self, base: int) -> str:
        raise NotImplementedError
