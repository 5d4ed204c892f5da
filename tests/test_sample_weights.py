"""Weighted rows in the core (scikit-learn's sample_weight) and the penalty
taken before each batch (scikit-learn's loss_)."""
import numpy as np
import pytest

from nnbook._network import CoreNetwork


def _net(dtype, **settings):
    net = CoreNetwork([4, 6, 3], ["tanh", "softmax"], "categorical_crossentropy", dtype,
                      optimizer="sgd", learning_rate=0.2, **settings)
    net.params[...] = np.random.default_rng(0).normal(scale=0.5, size=net.params.size)
    return net


def _data(dtype, n=30):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype(dtype)
    y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    return x, y


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_integer_weights_equal_repeated_rows(dtype, rtol):
    # one full batch: weights w give the gradient sum_i w_i g_i / sum(w), the
    # gradient of the batch that repeats row i w_i times
    x, y = _data(dtype)
    w = np.random.default_rng(2).integers(0, 4, len(x)).astype(dtype)
    weighted, repeated = _net(dtype, l2=0.1), _net(dtype, l2=0.1)
    loss_w, _, _ = weighted.train_epochs(x, y, len(x), 1, sample_weight=w)
    xr, yr = np.repeat(x, w.astype(int), axis=0), np.repeat(y, w.astype(int), axis=0)
    loss_r, _, _ = repeated.train_epochs(xr, yr, len(xr), 1)
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(loss_w[0] * w.sum() / len(x), loss_r[0], rtol=rtol)


def test_unit_weights_change_nothing():
    x, y = _data(np.float64)
    a, b = _net(np.float64), _net(np.float64)
    perms = np.stack([np.random.default_rng(e).permutation(len(x)) for e in range(2)])
    la, _, _ = a.train_epochs(x, y, 7, 2, perms, sample_weight=np.ones(len(x)))
    lb, _, _ = b.train_epochs(x, y, 7, 2, perms)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-14)
    np.testing.assert_allclose(la, lb, rtol=1e-14)


def test_sample_weight_needs_one_value_per_row():
    x, y = _data(np.float64)
    with pytest.raises(ValueError, match="sample_weight must have 30 entries"):
        _net(np.float64).train_epochs(x, y, 7, 1, sample_weight=np.ones(29))


def test_penalty_each_batch_sums_the_penalty_before_every_update():
    x, y = _data(np.float64)
    net = _net(np.float64, l2=0.3, penalty_each_batch=True)
    probe = _net(np.float64, l2=0.3)
    expected = 0.0
    for start in range(0, len(x), 7):          # batches of 7, 7, 7, 7, 2
        expected += probe.penalty()
        probe.train_epochs(x[start:start + 7], y[start:start + 7], 7, 1)
    _, penalties, _ = net.train_epochs(x, y, 7, 1)
    assert penalties[0] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(net.params, probe.params, rtol=1e-12)
