"""The batch-normalization and dropout kernels on their own: against
nnbook.reference (float32 and float64, shapes down to 1x1) and against central
differences (float64). Whole networks of stages are in test_stages.py."""
import zlib

import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook import reference as ref

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
SHAPES = [(1, 1), (1, 5), (7, 1), (13, 9), (40, 33)]
NONE = {np.float32: np.empty(0, np.float32), np.float64: np.empty(0, np.float64)}


def assert_close(actual, expected, dtype):
    expected = np.asarray(expected)
    floor = RTOL[dtype] * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=floor)


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def affine(rng, n, dtype, with_gamma, with_beta):
    gamma = rng.uniform(0.5, 1.5, n).astype(dtype) if with_gamma else None
    beta = rng.standard_normal(n).astype(dtype) if with_beta else None
    return gamma, beta


def opt(v, dtype):
    return NONE[dtype] if v is None else v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_gamma,with_beta", [(True, True), (False, True), (True, False),
                                                  (False, False)])
def test_batchnorm_forward_matches_reference(dtype, shape, with_gamma, with_beta, rng):
    B, N = shape
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    gamma, beta = affine(rng, N, dtype, with_gamma, with_beta)
    out, mean, var = np.empty_like(x), np.empty(N, dtype), np.empty(N, dtype)
    core.batchnorm_forward_train(out, mean, var, x, opt(gamma, dtype), opt(beta, dtype), 1e-3)
    want_mean, want_var = ref.batchnorm_statistics(x)
    assert_close(mean, want_mean, dtype)
    assert_close(var, want_var, dtype)
    assert_close(out, ref.batchnorm_forward(x, gamma, beta, want_mean, want_var, 1e-3), dtype)
    # inference with given statistics, in place
    mm, mv = rng.standard_normal(N).astype(dtype), rng.uniform(0.5, 2, N).astype(dtype)
    y = x.copy()
    core.batchnorm_forward_infer(y, y, opt(gamma, dtype), opt(beta, dtype), mm, mv, 1e-2)
    assert_close(y, ref.batchnorm_forward(x, gamma, beta, mm, mv, 1e-2), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("batch", [True, False])
def test_batchnorm_backward_matches_reference(dtype, shape, batch, rng):
    B, N = shape
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma, _ = affine(rng, N, dtype, True, False)
    mean, var = ref.batchnorm_statistics(x)
    if not batch:
        mean, var = rng.standard_normal(N).astype(dtype), rng.uniform(0.5, 2, N).astype(dtype)
    dinp, dgamma, dbeta = np.empty_like(x), np.empty(N, dtype), np.empty(N, dtype)
    core.batchnorm_backward(dinp, dgamma, dbeta, dout, x, mean, var, gamma, 1e-3, batch)
    want = ref.batchnorm_backward(dout, x, gamma, mean, var, 1e-3, batch)
    for got, expected in zip((dinp, dgamma, dbeta), want):
        assert_close(got, expected, dtype)
    # in place, without dgamma/dbeta
    d = dout.copy()
    core.batchnorm_backward(d, NONE[dtype], NONE[dtype], d, x, mean, var, gamma, 1e-3, batch)
    assert_close(d, want[0], dtype)


@pytest.mark.parametrize("batch", [True, False])
def test_batchnorm_backward_is_the_derivative(batch, rng):
    B, N, eps = 6, 4, 1e-3
    x = rng.standard_normal((B, N))
    gamma, beta = rng.uniform(0.5, 1.5, N), rng.standard_normal(N)
    weights = rng.standard_normal((B, N))       # L = sum(weights * y)
    mm, mv = rng.standard_normal(N), rng.uniform(0.5, 2, N)

    def loss(x, gamma, beta):
        mean, var = ref.batchnorm_statistics(x) if batch else (mm, mv)
        return float((weights * ref.batchnorm_forward(x, gamma, beta, mean, var, eps)).sum())

    mean, var = ref.batchnorm_statistics(x) if batch else (mm, mv)
    dinp, dgamma, dbeta = np.empty_like(x), np.empty(N), np.empty(N)
    core.batchnorm_backward(dinp, dgamma, dbeta, weights, x, mean, var, gamma, eps, batch)
    h = 1e-6
    for array, grad in ((x, dinp), (gamma, dgamma), (beta, dbeta)):
        for i in np.ndindex(array.shape):
            up, down = array.copy(), array.copy()
            up[i] += h
            down[i] -= h
            args_up = [up if a is array else a for a in (x, gamma, beta)]
            args_down = [down if a is array else a for a in (x, gamma, beta)]
            fd = (loss(*args_up) - loss(*args_down)) / (2 * h)
            assert abs(grad[i] - fd) < 1e-6 * max(1, abs(fd))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_update_moving_matches_reference(dtype, rng):
    mm, mv = rng.standard_normal(9).astype(dtype), rng.uniform(0.5, 2, 9).astype(dtype)
    mean, var = rng.standard_normal(9).astype(dtype), rng.uniform(0, 2, 9).astype(dtype)
    want_m = (mm.astype(np.float64) * 0.99 + mean * 0.01).astype(dtype)
    want_v = (mv.astype(np.float64) * 0.99 + var * 0.01).astype(dtype)
    core.batchnorm_update_moving(mm, mv, mean, var, 0.99)
    assert_close(mm, want_m, dtype)
    assert_close(mv, want_v, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.9])
def test_dropout_matches_reference(dtype, shape, rate, rng):
    x = rng.standard_normal(shape).astype(dtype)
    out = np.empty_like(x)
    core.dropout_forward(out, x, rate, 11, 3, 2, row0=4)
    u = ref.dropout_mask(11, 3, 2, shape[0], shape[1], row0=4)
    np.testing.assert_array_equal(out, ref.dropout_forward(x, rate, u))
    # the backward pass is the same mask on the gradient: the derivative of a
    # linear map, so central differences are exact up to rounding
    assert np.all((out == 0) | (np.sign(out) == np.sign(x)))


def test_dropout_rejects_a_rate_of_one():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="rate"):
        core.dropout_forward(np.empty_like(x), x, 1.0, 0, 1, 0)
