"""Few-shot image classification: Omniglot characters and scikit-learn's 8×8 digits.

Classes are split so that test tasks only use classes never seen in training (Omniglot by
alphabet, digits by digit). Rotating a training class by 90°, 180° or 270° makes a new class
(Santoro et al. 2016; Finn et al. 2017), in meta-training only. Decoded images are held in memory
once per data setting; tasks are gathered from them as batched tensors.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import Tensor

from core.convnet import ConvNet
from core.data import digits, omniglot
from core.families.base import TaskFamily, register_family
from core.settings import SettingError, setting
from core.tasks import TaskBatch

ROTATIONS = 4  # 0°, 90°, 180°, 270°
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

    ways: int = setting(5, "N: classes per task", 2, 50)
    shots: int = setting(1, "K: support images per class", 1, 100)
    query: int = setting(15, "query images per class", 1, 173)
    rotations: bool = setting(True, "meta-train also on each class rotated by 90°, 180° and 270° "
                                    "as new classes (test classes are never rotated)")
    channels: int = setting(32, "channels of each conv block (the MLP's hidden is not used)", 1, 256)
    batching: str = setting("loop", BATCHING_HELP, choices=("loop", "grouped"))

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

    def pools(self) -> dict[str, ClassPool]:
        """Class pools of 'train', 'validation' and 'test' (cached per data setting)."""
        raise NotImplementedError

    def check(self) -> None:
        pools = self.pools()
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
        return ConvNet(1, self.input_shape[-1], self.channels, self.ways, batching=self.batching)

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


def _show_download(done: int, total: int) -> None:
    """Download progress on stderr (downloads are rare, and the CLI has no other channel)."""
    of = f" of {total / 1e6:.1f}" if total else ""
    end = "\n" if total and done >= total else ""
    print(f"\rdownloading Omniglot: {done / 1e6:.1f}{of} MB", end=end, file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=4)
def _omniglot_pools(data_dir: str, image_size: int, download: bool, test: tuple[str, ...],
                    validation: tuple[str, ...], rotations: bool
                    ) -> tuple[omniglot.OmniglotData, dict[str, ClassPool]]:
    data = omniglot.load_omniglot(data_dir or None, image_size, download, _show_download)
    splits = omniglot.split_by_alphabet(data, test, validation or None)
    return data, make_pools(data.images, splits, rotations)


def _names(text: str) -> tuple[str, ...]:
    """Comma-separated names as a tuple, blanks dropped."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


@register_family
@dataclass(frozen=True)
class Omniglot(ImageFamily):
    """Omniglot characters (Lake et al. 2015), classes split by alphabet."""

    name = "omniglot"
    title = "Omniglot characters (N-way K-shot)"
    description = ("Handwritten characters of 50 alphabets, 20 drawings each; test alphabets are "
                   "never seen in training. The few-shot benchmark of the MAML paper.")
    suggested = {**ImageFamily.suggested, "iterations": 400}  # about 10 min of 2-core CPU

    image_size: int = setting(28, "side of the downsampled images in pixels (105 = original)", 8, 105)
    test_alphabets: str = setting(",".join(omniglot.DEFAULT_TEST_ALPHABETS),
                                  "comma-separated alphabets whose characters form the test tasks")
    validation_alphabets: str = setting("", "comma-separated validation alphabets (empty: the "
                                            "first other alphabet in sorted order)")
    data_dir: str = setting("", "folder holding images_background.zip and images_evaluation.zip "
                                "(or other Omniglot zips or their folders); empty: the user cache")
    download: bool = setting(True, "download the official archives into the cache when the cache "
                                   "is empty and no data_dir is given")

    def _cached(self) -> tuple[omniglot.OmniglotData, dict[str, ClassPool]]:
        try:
            return _omniglot_pools(self.data_dir, self.image_size, self.download,
                                   _names(self.test_alphabets), _names(self.validation_alphabets),
                                   self.rotations)
        except ValueError as err:  # unknown or overlapping alphabets: name the settings
            raise SettingError(f"test_alphabets / validation_alphabets: {err}") from None

    def pools(self) -> dict[str, ClassPool]:
        return self._cached()[1]

    @property
    def base_classes(self) -> int:
        return self._cached()[0].num_classes

    def _split_hint(self) -> str:
        return " (choose other test_alphabets / validation_alphabets, or fewer ways)"

    def _base_name(self, base: int) -> str:
        data = self._cached()[0]
        return f"{data.alphabets[base]} {data.characters[base]}"


@functools.lru_cache(maxsize=4)
def _digit_pools(test: tuple[int, ...], rotations: bool, image_size: int) -> dict[str, ClassPool]:
    images = _resized(digits.load_digits(), image_size)
    split = digits.split_digits(test)
    half = images.shape[1] // 2
    # Digits has no third group of classes: validation and test share the test digits but not
    # a single drawing.
    return make_pools(images, {"train": split["train"], "validation": split["test"],
                               "test": split["test"]}, rotations,
                      {"validation": slice(0, half), "test": slice(half, None)})


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    """(classes, drawings, h, w) images resized to size × size, bilinearly."""
    if images.shape[-1] == size:
        return images
    flat = torch.tensor(images).flatten(0, 1).unsqueeze(1)
    out = torch.nn.functional.interpolate(flat, size=(size, size), mode="bilinear", antialias=True)
    return out.clamp(0, 1).view(*images.shape[:2], size, size).numpy()


@register_family
@dataclass(frozen=True)
class Digits(ImageFamily):
    """scikit-learn's 8×8 handwritten digits, classes split by digit; no download."""

    name = "digits"
    title = "Handwritten digits 8×8 (N-way K-shot)"
    description = ("scikit-learn's 8×8 handwritten digits, no download: meta-train on some digits, "
                   "test on the others.")
    suggested = {**ImageFamily.suggested, "iterations": 300}

    # Small images: one grouped convolution is 2-3x faster than the loop (docs/speed.md).
    batching: str = setting("grouped", BATCHING_HELP, choices=("loop", "grouped"))
    image_size: int = setting(16, "side of the images in pixels: the 8×8 originals upsampled, so "
                                  "that the conv blocks keep spatial maps (8 = original)", 8, 32)
    test_digits: tuple = setting((5, 6, 7, 8, 9), "digits whose drawings form the test (and "
                                 "validation) tasks; the others train", 0, 9)

    def check(self) -> None:
        if len(set(self.test_digits)) != len(self.test_digits) or len(self.test_digits) > 9:
            raise SettingError(f"test_digits must be distinct and leave a digit to train on "
                               f"(got {self.test_digits})")
        super().check()

    def pools(self) -> dict[str, ClassPool]:
        return _digit_pools(tuple(sorted(self.test_digits)), self.rotations, self.image_size)

    @property
    def base_classes(self) -> int:
        return digits.NUM_DIGITS

    def _split_hint(self) -> str:
        return " (change test_digits, or use fewer ways)"

    def _base_name(self, base: int) -> str:
        return f"digit {base}"
