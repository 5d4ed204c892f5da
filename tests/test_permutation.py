"""The core draws the book's per-epoch row orders itself: they must be exactly
NumPy's legacy RandomState.permutation stream, and leave the generator where
the Python calls would have left it."""
import threading

import numpy as np
import pytest

from nnbook import _nncore


class StateByCopy(np.random.RandomState):
    """A RandomState whose generator cannot be reached in place: the core
    then goes through get_state/set_state."""
    _bit_generator = None


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 364, 48000])
@pytest.mark.parametrize("count", [0, 1, 7])
@pytest.mark.parametrize("kind", [np.random.RandomState, StateByCopy])
def test_same_orders_as_numpy(n, count, kind):
    ours, theirs = kind(42), np.random.RandomState(42)
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


def test_draws_under_the_generators_lock():
    # the state is advanced in place: another thread holding the generator's
    # lock (as NumPy's own draws do) must hold the core's draws back
    rng = np.random.RandomState(3)
    lock = rng._bit_generator.lock
    done = threading.Event()
    out = []

    def draw():
        out.append(_nncore.legacy_permutations(rng, 1000, 2))
        done.set()

    with lock:
        worker = threading.Thread(target=draw)
        worker.start()
        assert not done.wait(0.2), "drew while another thread held the generator's lock"
    worker.join(10)
    assert done.is_set()
    theirs = np.random.RandomState(3)
    np.testing.assert_array_equal(out[0], np.stack([theirs.permutation(1000) for _ in range(2)]))


def test_legacy_state_round_trip():
    rng, theirs = np.random.RandomState(11), np.random.RandomState(11)
    rng.normal(size=3), theirs.normal(size=3)     # one Gaussian cached on each
    saved = _nncore.legacy_state(rng)
    assert isinstance(saved, bytes) and len(saved) == 625 * 4
    first = _nncore.legacy_permutations(rng, 700, 2)
    _nncore.set_legacy_state(rng, saved)
    np.testing.assert_array_equal(_nncore.legacy_permutations(rng, 700, 2), first)
    theirs.permutation(700), theirs.permutation(700)
    np.testing.assert_array_equal(rng.get_state()[1], theirs.get_state()[1])
    assert rng.get_state()[2] == theirs.get_state()[2]
    assert rng.normal() == theirs.normal()          # the cached Gaussian is untouched
    # where the state cannot be reached in place: None, and a clear error
    assert _nncore.legacy_state(StateByCopy(1)) is None
    with pytest.raises(ValueError, match="legacy_state"):
        _nncore.set_legacy_state(np.random.RandomState(1), b"short")
