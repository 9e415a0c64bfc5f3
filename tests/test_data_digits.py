"""The 8x8 digits reader: shapes, values against scikit-learn, and the digit split."""
import numpy as np
import pytest
import sklearn.datasets

from core.data.digits import load_digits, split_digits


def test_digits_are_a_rectangular_ink_array():
    images = load_digits()
    assert images.shape == (10, 174, 8, 8) and images.dtype == np.float32
    assert images.min() == 0 and images.max() == 1
    assert not images.flags.writeable
    assert load_digits() is images  # cached


def test_each_digit_keeps_its_first_drawings():
    bunch = sklearn.datasets.load_digits()
    images = load_digits()
    for digit in (0, 3, 9):
        first = bunch.images[bunch.target == digit][: images.shape[1]]
        np.testing.assert_allclose(images[digit], first / 16)


def test_default_split_is_disjoint_and_complete():
    split = split_digits()
    assert split["train"].tolist() == [0, 1, 2, 3, 4, 5]
    assert split["test"].tolist() == [6, 7, 8, 9]


def test_custom_split_and_bad_digits():
    split = split_digits(test=[9, 0])
    assert split["train"].tolist() == list(range(1, 9)) and split["test"].tolist() == [0, 9]
    with pytest.raises(ValueError, match="0..9"):
        split_digits(test=[10])
    with pytest.raises(ValueError, match="both splits"):
        split_digits(test=range(10))
