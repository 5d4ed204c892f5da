"""The core draws the book's per-epoch row orders itself: they must be exactly
NumPy's legacy RandomState.permutation stream, and leave the generator where
the Python calls would have left it."""
import numpy as np
import pytest

from nnbook import _nncore


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 364, 48000])
@pytest.mark.parametrize("count", [0, 1, 7])
def test_same_orders_as_numpy(n, count):
    ours, theirs = np.random.RandomState(42), np.random.RandomState(42)
    got = _nncore.legacy_permutations(ours, n, count)
    assert got.shape == (count, n) and got.dtype == np.int64
    for row in got:
        np.testing.assert_array_equal(row, theirs.permutation(n))
    # the stream continues identically afterwards
    assert ours.random_sample() == theirs.random_sample()


def test_state_with_a_cached_gaussian_is_kept():
    ours, theirs = np.random.RandomState(7), np.random.RandomState(7)
    ours.normal(size=3)             # an odd number of normals leaves one cached
    theirs.normal(size=3)
    _nncore.legacy_permutations(ours, 100, 3)
    for _ in range(3):
        theirs.permutation(100)
    assert ours.normal() == theirs.normal()
    assert ours.get_state()[2] == theirs.get_state()[2]


def test_across_a_refill_of_the_mt_state():
    # 624 words per refill: many draws cross several refills
    ours, theirs = np.random.RandomState(0), np.random.RandomState(0)
    got = _nncore.legacy_permutations(ours, 5000, 3)
    np.testing.assert_array_equal(got, np.stack([theirs.permutation(5000) for _ in range(3)]))


def test_rejects_other_generators():
    with pytest.raises(TypeError, match="RandomState"):
        _nncore.legacy_permutations(np.random.default_rng(0), 5, 1)
    with pytest.raises(ValueError, match="n and count must be >= 0"):
        _nncore.legacy_permutations(np.random.RandomState(0), -1, 1)
