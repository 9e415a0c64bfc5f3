"""scikit-learn's 8x8 handwritten digits as a (digit, drawing) array, split by digit."""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

NUM_DIGITS = 10
DEFAULT_TEST_DIGITS = (6, 7, 8, 9)
_MAX_INK = 16.0  # the data set's pixel values are ink counts 0..16


@functools.lru_cache(maxsize=1)
def load_digits() -> np.ndarray:
    """(10 digits, drawings, 8, 8) float32 in [0, 1], ink = 1; class i is digit i; read-only.

    Every digit keeps its first `min count` drawings in the data set's order (174 each), so the
    array is rectangular and the same on every run.
    """
    import sklearn.datasets  # here, not at import: scikit-learn and SciPy hold ~70 MB of a server

    bunch = sklearn.datasets.load_digits()
    per_digit = [bunch.images[bunch.target == d] for d in range(NUM_DIGITS)]
    count = min(len(drawings) for drawings in per_digit)
    images = np.stack([d[:count] for d in per_digit]).astype(np.float32) / _MAX_INK
    images.setflags(write=False)  # shared by the cache
    return images


def split_digits(test: Sequence[int] = DEFAULT_TEST_DIGITS) -> dict[str, np.ndarray]:
    """Class indices (int64, ascending) of "train" (the other digits) and "test" (`test`)."""
    test_set = set(test)
    if not test_set <= set(range(NUM_DIGITS)):
        raise ValueError(f"test digits must lie in 0..{NUM_DIGITS - 1}, got {sorted(test_set)}")
    train = [d for d in range(NUM_DIGITS) if d not in test_set]
    if not train or not test_set:
        raise ValueError(f"both splits need a digit, got test {sorted(test_set)}")
    return {"train": np.array(train, np.int64), "test": np.array(sorted(test_set), np.int64)}
