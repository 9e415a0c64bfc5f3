"""scikit-learn's 8×8 handwritten digits as N-way K-shot tasks, classes split by digit."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.data import cached_data, digits
from core.engine.families.base import DownloadProgress, register_family
from core.engine.families.images import (BATCHING_HELP, CHANNELS_HELP, QUERY_HELP, ClassPool,
                                         ImageFamily, make_pools)
from core.settings import SettingError, excerpt, setting


@cached_data(maxsize=4)
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
    # The interactive budget, chosen by benchmarks/interactive_budgets.py (docs/budgets.md):
    # every method trained and scored in ≤ 20 CPU s, MAML after one step still well ahead.
    suggested = {**ImageFamily.suggested, "iterations": 150, "meta_batch_size": 8,
                 "meta_lr": 0.003, "test_tasks": 200, "val_tasks": 50, "checkpoints": 2,
                 "reptile_inner_steps": 3}

    # With the budget above: a narrow net and 5 query images per class (scoring 10 steps on
    # every test task costs most; 8×8 images instead left MAML below pre-training).
    query: int = setting(5, QUERY_HELP, 1, 173, kind="int")
    channels: int = setting(8, CHANNELS_HELP, 1, 256, kind="int")
    # Small images: one grouped convolution is 2-3x faster than the loop (docs/speed.md).
    batching: str = setting("grouped", BATCHING_HELP, choices=("loop", "grouped"), kind="choice")
    image_size: int = setting(16, "side of the images in pixels: the 8×8 originals upsampled, so "
                                  "that the conv blocks keep spatial maps (8 = original)", 8, 32,
                              kind="int")
    test_digits: tuple = setting((5, 6, 7, 8, 9), "digits whose drawings form the test (and "
                                 "validation) tasks; the others train", 0, 9, kind="ints")

    def check(self) -> None:
        if len(set(self.test_digits)) != len(self.test_digits) or len(self.test_digits) > 9:
            raise SettingError(f"test_digits must be distinct and leave a digit to train on "
                               f"(got {excerpt(self.test_digits)})")

    def _read_pools(self, progress: DownloadProgress | None) -> dict[str, ClassPool]:
        return _digit_pools(tuple(sorted(self.test_digits)), self.rotations, self.image_size)

    @property
    def base_classes(self) -> int:
        return digits.NUM_DIGITS

    def _source_bytes(self) -> int:
        originals = digits.load_digits()  # 8 × 8, resized to image_size while the pools are made
        return originals.nbytes + originals.nbytes // 64 * self.image_size ** 2

    def _split_hint(self) -> str:
        return " (change test_digits, or use fewer ways)"

    def _base_name(self, base: int) -> str:
        return f"digit {base}"
