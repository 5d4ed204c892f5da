"""The core's per-batch metric counts against nnbook.reference on outputs
with ties, NaN and infinities, for one and several outputs: the counts are
formed in fused passes (metrics.c), and must stay what the reference
defines element by element."""
import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook import reference as ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 2, 5, 10, 17])
@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "categorical_crossentropy"])
def test_counts_with_non_finite_scores_match_reference(dtype, K, loss):
    rng = np.random.default_rng(K)
    m = 41
    a = np.round(rng.random((m, K)) * 4) / 4
    # poison some entries: +inf and -inf, and NaN where the counts are taken
    # element by element (an argmax over a row with NaN is not defined alike:
    # NumPy takes the NaN, the core the largest number)
    binary = K == 1
    for value in (np.inf, -np.inf) + ((np.nan,) if binary else ()):
        a[rng.random((m, K)) < 0.05] = value
    if K > 1:
        y = np.eye(K)[rng.integers(0, K, m)]
    else:
        y = (rng.random((m, 1)) < 0.5) * 1.0
    y[rng.random((m, K)) < 0.1] = 0.5   # soft labels: positive (y != 0), not > 0.5
    a, y = a.astype(dtype), y.astype(dtype)
    for top_k in sorted({1, 2, K}):
        for threshold in (0.0, 0.5):
            got = core.metric_counts(a, y, loss, top_k=top_k, threshold=threshold)
            assert got.tolist() == ref.metric_counts(a, y, loss, top_k, threshold)


def test_one_output_top_k_counts_finite_rows():
    a = np.array([[0.2], [np.nan], [np.inf], [-np.inf], [0.9]])
    y = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
    got = core.metric_counts(a, y, "binary_crossentropy", top_k=1, threshold=0.5)
    assert got.tolist() == [4, 2, 2, 0, 1] == ref.metric_counts(a, y, "binary_crossentropy", 1, 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [2, 5, 10])
def test_class_counts_with_nan_scores_match_reference_past_the_argmax(dtype, K):
    rng = np.random.default_rng(100 + K)
    m = 41
    a = np.round(rng.random((m, K)) * 4) / 4
    a[rng.random((m, K)) < 0.05] = np.nan
    y = np.eye(K)[rng.integers(0, K, m)]
    a, y = a.astype(dtype), y.astype(dtype)
    for top_k in (1, 2, K):
        got = core.metric_counts(a, y, "categorical_crossentropy", top_k=top_k, threshold=0.5)
        want = ref.metric_counts(a, y, "categorical_crossentropy", top_k, 0.5)
        # a row holding NaN is never a top-k hit; the confusion counts are per element
        assert got.tolist()[1:] == want[1:]
