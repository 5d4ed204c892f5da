"""Every kernel of nnbook._nncore against the NumPy reference (nnbook.reference),
plus central-difference gradient checks of the math both of them implement.

Parity tolerances: every C kernel has a NumPy mirror in nnbook.reference and
matches it over shapes down to 1x1 and batch 1, at rtol 1e-12 in float64 and
1e-5 in float32, with an absolute floor of rtol times the largest expected
magnitude, because a GEMM entry that cancels to near zero carries the
rounding error of its largest terms, not of its own size.
"""
import dataclasses

import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook import reference as ref
from conftest import DTYPES, RTOL, assert_close

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "softmax"]
# (rows, columns): 1x1, batch 1, one feature, more columns than rows, odd sizes
SHAPES = [(1, 1), (1, 6), (9, 1), (3, 17), (13, 7), (40, 33)]
# (B, C, OC) for the dense layer
DENSE_SHAPES = [(1, 1, 1), (1, 5, 3), (7, 1, 4), (2, 19, 5), (13, 7, 1), (33, 20, 11)]


def random(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def one_hot(rng, rows, k, dtype):
    return np.eye(k, dtype=dtype)[rng.integers(0, k, rows)]


# ---------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("zmin", [core.NO_CLIP, -0.5])
def test_activation_forward_matches_reference(dtype, shape, act, zmin, rng):
    z = random(rng, shape, dtype, scale=3.0)
    out = np.empty_like(z)
    core.activation_forward(out, z, act, zmin)
    assert_close(out, ref.activation_forward(z, act, zmin), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_forward_in_place(dtype, act, rng):
    # activations.c: "Every out may alias its inp"
    z = random(rng, (5, 7), dtype, scale=3.0)
    expected = ref.activation_forward(z, act, -1.0)
    core.activation_forward(z, z, act, -1.0)
    assert_close(z, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_backward_matches_reference(dtype, shape, act, rng):
    a = ref.activation_forward(random(rng, shape, dtype, scale=2.0), act)
    dout = random(rng, shape, dtype)
    dinp = np.empty_like(dout)
    core.activation_backward(dinp, dout, a, act)
    assert_close(dinp, ref.activation_backward(dout, a, act), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_backward_in_place(dtype, act, rng):
    # train.c calls activation_backward(dinp, dinp, ...): dinp may be dout
    a = ref.activation_forward(random(rng, (6, 5), dtype, scale=2.0), act)
    dout = random(rng, (6, 5), dtype)
    expected = ref.activation_backward(dout, a, act)
    core.activation_backward(dout, dout, a, act)
    assert_close(dout, expected, dtype)


def test_relu_backward_at_zero_passes_nothing():
    a = np.array([[0.0, 1e-300, 2.0]])
    dinp = np.empty_like(a)
    core.activation_backward(dinp, np.ones_like(a), a, "relu")
    np.testing.assert_array_equal(dinp, [[0.0, 1.0, 1.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_clips_below_zmin(dtype):
    # below zmin every input gives sigmoid(zmin), as the book's -100 guard does
    # (zmin -20 here: sigmoid(-99) is already 0 in float32)
    z = np.array([[-1000.0, -20.0, -19.0]], dtype=dtype)
    out = np.empty_like(z)
    core.activation_forward(out, z, "sigmoid", -20.0)
    assert out[0, 0] == out[0, 1]
    assert out[0, 2] > out[0, 1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_is_within_ulps_of_the_exact_value(dtype):
    # the core's tanh is its own vectorised one (vtanh.h): within 2.1 ulp of
    # the exact tanh in float64 (long double here) and 1.9 in float32, over
    # the whole range the activation sees and on odd lengths (vector tails)
    x = np.concatenate([np.linspace(-22, 22, 200_001), np.geomspace(1e-300, 1, 10_001),
                        -np.geomspace(1e-30, 0.5, 10_003)]).astype(dtype)
    out = np.empty_like(x)
    core.activation_forward(out.reshape(1, -1), x.reshape(1, -1), "tanh")
    wide = np.longdouble if dtype == np.float64 else np.float64
    exact = np.tanh(x.astype(wide))
    ulp = np.spacing(np.abs(exact.astype(dtype)))
    err = np.abs(out.astype(wide) - exact) / ulp.astype(wide)
    assert float(err.max()) <= 2.5
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30], dtype)
    got = np.empty_like(special)
    core.activation_forward(got.reshape(1, -1), special.reshape(1, -1), "tanh")
    np.testing.assert_array_equal(got, [0.0, -0.0, 1.0, -1.0, np.nan, 1.0, -1.0])
    assert np.signbit(got[1]) and not np.signbit(got[0])


# ---------------------------------------------------------------------------
# dense layer
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,C,OC", DENSE_SHAPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_dense_forward_matches_reference(dtype, B, C, OC, act, with_bias, rng):
    x, w = random(rng, (B, C), dtype), random(rng, (C, OC), dtype)
    b = random(rng, OC, dtype) if with_bias else np.empty(0, dtype)
    out = np.empty((B, OC), dtype)
    core.dense_forward(out, x, w, b, act, -1.0)
    expected = ref.dense_forward(x, w, b if with_bias else None, act, -1.0)
    assert_close(out, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,C,OC", DENSE_SHAPES)
def test_dense_backward_matches_reference(dtype, B, C, OC, rng):
    x, w, dout = random(rng, (B, C), dtype), random(rng, (C, OC), dtype), random(rng, (B, OC), dtype)
    dinp, dw, db = np.empty((B, C), dtype), np.empty((C, OC), dtype), np.empty(OC, dtype)
    core.dense_backward(dinp, dw, db, dout, x, w)
    ref_dinp, ref_dw, ref_db = ref.dense_backward(dout, x, w)
    assert_close(dinp, ref_dinp, dtype)
    assert_close(dw, ref_dw, dtype)
    assert_close(db, ref_db, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B", [1, 6, 32])
def test_dense_bias_gradient_is_the_row_order_sum_in_double(dtype, B, rng):
    # every width takes one rule whatever loop runs it (a vector loop for 4
    # to 16 columns, the last vector overlapping; a general one otherwise):
    # each column summed in float64 from +0, row by row, then rounded
    for OC in range(1, 21):
        x, w = random(rng, (B, 3), dtype), random(rng, (3, OC), dtype)
        dout = random(rng, (B, OC), dtype, scale=1e3) * (rng.random((B, OC)) < 0.7)
        db = np.empty(OC, dtype)
        core.dense_backward(np.empty((0, 0), dtype), np.empty((3, OC), dtype), db, dout, x, w)
        acc = np.zeros(OC)
        for row in dout:
            acc = acc + row.astype(np.float64)
        np.testing.assert_array_equal(db, acc.astype(dtype), err_msg=f"OC={OC}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_skips_empty_outputs(dtype, rng):
    # the first layer needs no dinp, a bias-free layer no dbias
    x, w, dout = random(rng, (4, 3), dtype), random(rng, (3, 2), dtype), random(rng, (4, 2), dtype)
    dw = np.empty((3, 2), dtype)
    core.dense_backward(np.empty((0, 0), dtype), dw, np.empty(0, dtype), dout, x, w)
    assert_close(dw, ref.dense_backward(dout, x, w)[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,C,OC", DENSE_SHAPES + [(16, 784, 100)])
@pytest.mark.parametrize("part", ["all", "first", "last"])
@pytest.mark.parametrize("keep", [1.0, 0.875])
def test_dense_weight_sgd_step_matches_reference(dtype, B, C, OC, part, keep, rng):
    # the step on all of the weight's rows, or on one part of them read from
    # the middle of the input's rows (the core steps a wide layer in parts);
    # keep < 1: an L2 penalty's shrinking folded in
    x, dout = random(rng, (B, C), dtype), random(rng, (B, OC), dtype)
    w = random(rng, (C, OC), dtype)
    c0, c1 = {"all": (0, C), "first": (0, (C + 1) // 2), "last": (C // 2, C)}[part]
    got = w[c0:c1].copy()
    x_before = x.copy()
    core.dense_weight_sgd_step(got, dout, x, 0.3, col0=c0, keep=keep)
    assert_close(got, ref.dense_weight_sgd_step(w[c0:c1], dout, x[:, c0:c1], 0.3, keep), dtype)
    # and it is dense_backward's dw, plus the book's l2 penalty gradient,
    # with sgd_update's step (keep = 1 - lr l2 / m)
    dw = np.empty((C, OC), dtype)
    core.dense_backward(np.empty((0, 0), dtype), dw, np.empty(0, dtype), dout, x, w)
    l2_over_m = (1 - keep) / 0.3
    penalised = ref.l1_l2_penalty_backward(dw[c0:c1], w[c0:c1], 0.0, l2_over_m, 1.0)
    assert_close(got, ref.sgd_update(w[c0:c1], penalised, 0.3), dtype)
    np.testing.assert_array_equal(x, x_before)


def test_dense_weight_sgd_step_checks_its_arguments(rng):
    w, dout, x = np.zeros((3, 2)), np.zeros((4, 2)), np.zeros((4, 5))
    with pytest.raises(ValueError, match="columns col0"):
        core.dense_weight_sgd_step(w, dout, x, 0.1, col0=3)
    with pytest.raises(ValueError, match="dout must be"):
        core.dense_weight_sgd_step(w, np.zeros((3, 2)), x, 0.1)


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------

LOSS_CLIPS = [(core.NO_CLIP, 0.0), (-100.0, 1e-10), (-2.0, 0.0), (-2.0, 1e-3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("zmin,eps", LOSS_CLIPS)
def test_softmax_cross_entropy_forward_matches_reference(dtype, shape, zmin, eps, rng):
    logits = random(rng, shape, dtype, scale=4.0)
    y = one_hot(rng, shape[0], shape[1], dtype)
    probs = np.empty_like(logits)
    loss = core.softmax_cross_entropy_forward(probs, logits, y, zmin, eps)
    ref_probs, ref_loss = ref.softmax_cross_entropy_forward(logits, y, zmin, eps)
    assert_close(probs, ref_probs, dtype)
    assert_close(loss, ref_loss, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(300, 7), (2, 600), (1, 257), (40, 10)])
@pytest.mark.parametrize("zmin,eps", [(-100.0, 1e-10), (-2.0, 1e-3), (core.NO_CLIP, 1e-7)])
def test_softmax_cross_entropy_forward_with_soft_targets(dtype, shape, zmin, eps, rng):
    # the clipped path gathers the nonzero targets' terms across rows and
    # takes their logs 256 at a time: these shapes end a batch of terms
    # between rows, inside a row and more than once; a third of the targets
    # are 0 and are skipped
    logits = random(rng, shape, dtype, scale=4.0)
    y = rng.random(shape).astype(dtype)
    y[rng.random(shape) < 1 / 3] = 0
    probs = np.empty_like(logits)
    loss = core.softmax_cross_entropy_forward(probs, logits, y, zmin, eps)
    ref_probs, ref_loss = ref.softmax_cross_entropy_forward(logits, y, zmin, eps)
    assert_close(probs, ref_probs, dtype)
    assert_close(loss, ref_loss, dtype)
    # the same terms added one at a time in row order (np.log: within an ulp of vlog)
    e = float(dtype(eps))  # the kernel's eps is of the data's precision
    p = np.clip(probs.astype(np.float64), e, 1 - e)
    terms = (y * np.log(p)).ravel()[y.ravel() != 0]
    total = 0.0
    for t in terms:
        total -= t
    assert loss == pytest.approx(total, rel=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("zmin,eps", LOSS_CLIPS)
def test_binary_cross_entropy_forward_matches_reference(dtype, shape, zmin, eps, rng):
    logits = random(rng, shape, dtype, scale=4.0)
    y = rng.integers(0, 2, shape).astype(dtype)
    probs = np.empty_like(logits)
    loss = core.binary_cross_entropy_forward(probs, logits, y, zmin, eps)
    ref_probs, ref_loss = ref.binary_cross_entropy_forward(logits, y, zmin, eps)
    assert_close(probs, ref_probs, dtype)
    assert_close(loss, ref_loss, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["softmax_cross_entropy_forward", "binary_cross_entropy_forward"])
def test_cross_entropy_forward_in_place(dtype, kernel, rng):
    # losses.c: "logits may alias probs" (train.c turns logits into probs in place)
    logits = random(rng, (5, 4), dtype, scale=4.0)
    y = one_hot(rng, 5, 4, dtype)
    ref_probs, ref_loss = getattr(ref, kernel)(logits, y, -100.0, 0.0)
    loss = getattr(core, kernel)(logits, logits, y, -100.0, 0.0)
    assert_close(logits, ref_probs, dtype)
    assert_close(loss, ref_loss, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_backward_matches_reference(dtype, shape, rng):
    probs, y = rng.random(shape).astype(dtype), rng.random(shape).astype(dtype)
    dlogits = np.empty_like(probs)
    core.cross_entropy_backward(dlogits, probs, y, 1.0 / shape[0])
    assert_close(dlogits, ref.cross_entropy_backward(probs, y, 1.0 / shape[0]), dtype)
    # dlogits may alias probs
    core.cross_entropy_backward(probs, probs, y, 1.0 / shape[0])
    assert_close(probs, dlogits, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_mse_matches_reference(dtype, shape, rng):
    out, y = random(rng, shape, dtype), random(rng, shape, dtype)
    assert_close(core.mse_forward(out, y), ref.mse_forward(out, y), dtype)
    dout = np.empty_like(out)
    scale = 1.0 / (shape[0] * shape[1])
    core.mse_backward(dout, out, y, scale)
    assert_close(dout, ref.mse_backward(out, y, scale), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_is_finite_for_huge_logits(dtype):
    # exp(1e4) overflows in both precisions; the max-subtraction must avoid it
    logits = np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]], dtype=dtype)
    y = np.array([[1, 0], [1, 0], [0, 1]], dtype=dtype)
    probs = np.empty_like(logits)
    loss = core.softmax_cross_entropy_forward(probs, logits, y, core.NO_CLIP, 0.0)
    np.testing.assert_array_equal(probs, [[1, 0], [0, 1], [0.5, 0.5]])
    # rows: -log 1 = 0, -log softmax = 2e4 exactly from the logits, -log 1/2
    assert loss == pytest.approx(0.0 + 2e4 + np.log(2.0), rel=RTOL[dtype])
    # with the book's clip the wrong row costs -log(1e-10) instead
    book_loss = core.softmax_cross_entropy_forward(probs, logits, y, -100.0, 1e-10)
    assert np.isfinite(book_loss)
    assert book_loss == pytest.approx(-np.log(float(dtype(1e-10))) + np.log(2.0), rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 1e4]], dtype=dtype)
    y = np.array([[1, 0, 0]], dtype=dtype)
    probs = np.empty_like(logits)
    loss = core.binary_cross_entropy_forward(probs, logits, y, core.NO_CLIP, 0.0)
    np.testing.assert_array_equal(probs, [[1, 0, 1]])
    assert loss == pytest.approx(1e4, rel=RTOL[dtype])


# ---------------------------------------------------------------------------
# central-difference gradient checks (float64): the kernels' derivatives are
# the derivatives of their own forward passes
# ---------------------------------------------------------------------------

FD_STEP = 1e-6


def numerical_gradient(f, x):
    """Central differences of the scalar function f at x, entry by entry."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + FD_STEP
        up = f(x)
        x[i] = keep - FD_STEP
        down = f(x)
        x[i] = keep
        grad[i] = (up - down) / (2 * FD_STEP)
    return grad


def assert_gradient(analytic, numeric):
    scale = max(np.max(np.abs(numeric)), 1e-3)
    error = np.max(np.abs(analytic - numeric)) / scale
    assert error < 1e-6, f"relative gradient error {error:.2e}"


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_backward_is_the_derivative(act, rng):
    # L(z) = sum(act(z) * G), so dL/dz = act_backward(G, act(z))
    z = random(rng, (4, 5), np.float64, scale=2.0)
    z[np.abs(z) < 0.05] += 0.1  # keep relu's kink away from the FD stencil
    G = random(rng, (4, 5), np.float64)

    def loss(zz):
        out = np.empty_like(zz)
        core.activation_forward(out, zz, act)
        return np.sum(out * G)

    a, dz = np.empty_like(z), np.empty_like(z)
    core.activation_forward(a, z, act)
    core.activation_backward(dz, G, a, act)
    assert_gradient(dz, numerical_gradient(loss, z))


@pytest.mark.parametrize("act", ["linear", "sigmoid", "tanh"])
def test_dense_backward_is_the_derivative(act, rng):
    # L = sum(dense_forward(x) * G): dense_backward gets dL/dz = act_backward(G)
    B, C, OC = 3, 4, 2
    x, w, b = random(rng, (B, C), np.float64), random(rng, (C, OC), np.float64), random(rng, OC, np.float64)
    G = random(rng, (B, OC), np.float64)

    def loss(xx, ww, bb):
        out = np.empty((B, OC))
        core.dense_forward(out, xx, ww, bb, act)
        return np.sum(out * G)

    a = np.empty((B, OC))
    core.dense_forward(a, x, w, b, act)
    dz = np.empty_like(a)
    core.activation_backward(dz, G, a, act)
    dinp, dw, db = np.empty((B, C)), np.empty((C, OC)), np.empty(OC)
    core.dense_backward(dinp, dw, db, dz, x, w)
    assert_gradient(dinp, numerical_gradient(lambda v: loss(v, w, b), x))
    assert_gradient(dw, numerical_gradient(lambda v: loss(x, v, b), w))
    assert_gradient(db, numerical_gradient(lambda v: loss(x, w, v), b))



def test_dense_weight_sgd_step_steps_down_the_derivative(rng):
    # L = sum(dense_forward(x, w) * G) with a sigmoid: the step moves w by
    # -lr dL/dw, dL/dw taken by central differences
    B, C, OC, lr = 5, 6, 3, 0.25
    x, w, G = random(rng, (B, C), np.float64), random(rng, (C, OC), np.float64), random(rng, (B, OC), np.float64)

    def loss(ww):
        out = np.empty((B, OC))
        core.dense_forward(out, x, ww, np.empty(0), "sigmoid")
        return np.sum(out * G)

    a = np.empty((B, OC))
    core.dense_forward(a, x, w, np.empty(0), "sigmoid")
    dz = np.empty_like(a)
    core.activation_backward(dz, G, a, "sigmoid")
    stepped = w.copy()
    core.dense_weight_sgd_step(stepped, dz, x, lr)
    assert_gradient((w - stepped) / lr, numerical_gradient(loss, w))


@pytest.mark.parametrize("kernel,targets", [
    ("softmax_cross_entropy_forward", "one_hot"),
    ("binary_cross_entropy_forward", "binary"),
    ("binary_cross_entropy_forward", "soft"),
])
@pytest.mark.parametrize("eps", [0.0, 1e-10])
def test_cross_entropy_backward_is_the_derivative(kernel, targets, eps, rng):
    # moderate logits, so the book's 1e-10 clip does not bind
    logits = random(rng, (4, 3), np.float64, scale=2.0)
    y = {"one_hot": one_hot(rng, 4, 3, np.float64),
         "binary": rng.integers(0, 2, (4, 3)).astype(np.float64),
         "soft": rng.random((4, 3))}[targets]
    forward = getattr(core, kernel)

    def loss(z):
        return forward(np.empty_like(z), z, y, -100.0, eps)

    probs = np.empty_like(logits)
    forward(probs, logits, y, -100.0, eps)
    dlogits = np.empty_like(logits)
    core.cross_entropy_backward(dlogits, probs, y, 1.0)
    assert_gradient(dlogits, numerical_gradient(loss, logits))


def test_mse_backward_is_the_derivative(rng):
    out, y = random(rng, (3, 4), np.float64), random(rng, (3, 4), np.float64)
    dout = np.empty_like(out)
    core.mse_backward(dout, out, y, 1.0 / out.shape[1])  # mse_forward means over columns
    assert_gradient(dout, numerical_gradient(lambda o: core.mse_forward(o, y), out))


def test_penalty_backward_is_the_derivative(rng):
    w = random(rng, 7, np.float64)
    w[np.abs(w) < 0.05] += 0.1  # keep sign(w) away from its jump
    dw = np.zeros_like(w)
    core.l1_l2_penalty_backward(dw, w, 0.3, 0.7, 1.0)
    assert_gradient(dw, numerical_gradient(lambda v: core.l1_l2_penalty_forward(v, 0.3, 0.7), w))


# ---------------------------------------------------------------------------
# penalty and optimizers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 37])
def test_penalty_matches_reference(dtype, n, rng):
    w, dw = random(rng, n, dtype), random(rng, n, dtype)
    assert_close(core.l1_l2_penalty_forward(w, 0.01, 0.3), ref.l1_l2_penalty_forward(w, 0.01, 0.3), dtype)
    expected = ref.l1_l2_penalty_backward(dw, w, 0.01, 0.3, 1.0 / 7)
    core.l1_l2_penalty_backward(dw, w, 0.01, 0.3, 1.0 / 7)
    assert_close(dw, expected, dtype)


def run_optimizer(name, dtype, rng, n=23, steps=5):
    """(core, reference) parameters and state after `steps` updates with the
    same gradients."""
    param = random(rng, n, dtype)
    grads = [random(rng, n, dtype) for _ in range(steps)]
    c_param, c_state = param.copy(), [np.zeros(n, dtype), np.zeros(n, dtype)]
    r_param, r_state = param.copy(), [np.zeros(n, dtype), np.zeros(n, dtype)]
    for t, g in enumerate(grads, start=1):
        if name == "sgd":
            core.sgd_update(c_param, g, 0.1)
            r_param = ref.sgd_update(r_param, g, 0.1)
        elif name == "sgd two blocks":
            # the gradients of a batch's two row blocks, summed in the step
            g2 = g[::-1].copy()
            core.sgd_update(c_param, g, 0.1, g2)
            r_param = ref.sgd_update(r_param, g, 0.1, g2)
        elif name in ("momentum", "nesterov"):
            core.sgd_momentum_update(c_param, c_state[0], g, 0.1, 0.9, name == "nesterov")
            r_param, r_state[0] = ref.sgd_momentum_update(r_param, r_state[0], g, 0.1, 0.9,
                                                          name == "nesterov")
        elif name == "adam":
            core.adam_update(c_param, c_state[0], c_state[1], g, 0.01, 0.9, 0.999, 1e-7, t)
            r_param, r_state[0], r_state[1] = ref.adam_update(r_param, r_state[0], r_state[1], g,
                                                              0.01, 0.9, 0.999, 1e-7, t)
        elif name == "rmsprop":
            core.rmsprop_update(c_param, c_state[0], g, 0.01, 0.9, 1e-7)
            r_param, r_state[0] = ref.rmsprop_update(r_param, r_state[0], g, 0.01, 0.9, 1e-7)
    return (c_param, c_state), (r_param, r_state)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sgd", "sgd two blocks", "momentum", "nesterov", "adam",
                                  "rmsprop"])
def test_optimizer_matches_reference_over_steps(dtype, name, rng):
    (c_param, c_state), (r_param, r_state) = run_optimizer(name, dtype, rng)
    assert_close(c_param, r_param, dtype)
    for c, r in zip(c_state, r_state):
        assert_close(c, r, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_summing_two_blocks_is_the_step_on_their_sum(dtype, rng):
    # the training loop sums a batch's two block gradients inside the step:
    # it must give the bits of summing them first (rounded to dtype), then
    # stepping, which is what it replaced
    param, g0, g1 = (random(rng, 1001, dtype) for _ in range(3))
    fused, summed = param.copy(), param.copy()
    core.sgd_update(fused, g0, 0.1, g1)
    core.sgd_update(summed, (g0 + g1).astype(dtype), 0.1)
    np.testing.assert_array_equal(fused, summed)
    with pytest.raises(ValueError, match="grad2 must have the length of grad"):
        core.sgd_update(fused, g0, 0.1, g1[:-1])


def test_adam_first_step_moves_by_learning_rate():
    # t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001)/0.1, so the step
    # is lr * g / |g| (up to epsilon): Adam's scale invariance
    param, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    core.adam_update(param, m, v, np.array([5.0, -0.01, 300.0]), 0.01, 0.9, 0.999, 0.0, 1)
    np.testing.assert_allclose(param, [-0.01, 0.01, -0.01], rtol=1e-12)


# ---------------------------------------------------------------------------
# CoreConfig
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("activations,loss", [
    (("sigmoid", "softmax"), "binary_crossentropy"),
    (("sigmoid", "linear"), "binary_crossentropy"),
    (("sigmoid", "sigmoid"), "categorical_crossentropy"),
    (("relu", "linear"), "categorical_crossentropy"),
])
def test_config_rejects_unfused_output_loss(activations, loss):
    with pytest.raises(ValueError):
        core.CoreConfig((3, 4, 2), activations, loss=loss)


@pytest.mark.parametrize("kwargs", [
    dict(sizes=(3, 0, 1), activations=("sigmoid", "sigmoid")),
    dict(sizes=(3, 1), activations=("sigmoid", "sigmoid")),
    dict(sizes=(3, 1), activations=("sigmoid",), eps=0.5),
])
def test_config_rejects_bad_shapes_and_eps(kwargs):
    with pytest.raises(ValueError):
        core.CoreConfig(**kwargs)


def test_param_offsets_match_reference():
    spec = ref.NetworkSpec(sizes=(5, 3, 4, 2), activations=("tanh", "relu", "softmax"),
                           has_bias=(True, False, True), loss="categorical_crossentropy")
    config = core.CoreConfig(**dataclasses.asdict(spec))
    assert config.param_offsets() == ref.param_offsets(spec)
    assert config.param_count() == ref.param_count(spec)


# ---------------------------------------------------------------------------
# whole networks: train_epoch and forward against the reference
# ---------------------------------------------------------------------------

NETWORKS = {
    # name: (sizes, activations, loss)
    "logistic": ((4, 1), ("sigmoid",), "binary_crossentropy"),
    "book_dual": ((4, 6, 1), ("sigmoid", "sigmoid"), "binary_crossentropy"),
    "multiclass": ((5, 7, 3), ("sigmoid", "softmax"), "categorical_crossentropy"),
    "deep_ce": ((3, 6, 5, 4), ("tanh", "relu", "softmax"), "categorical_crossentropy"),
    "multilabel": ((4, 5, 2), ("relu", "sigmoid"), "binary_crossentropy"),
    "regression": ((3, 5, 2), ("tanh", "linear"), "mse"),
    "mse_sigmoid": ((3, 4, 1), ("relu", "sigmoid"), "mse"),
    "mse_softmax": ((4, 5, 3), ("sigmoid", "softmax"), "mse"),
}
OPTIMIZERS = {
    "sgd": dict(optimizer="sgd", learning_rate=0.5),
    "momentum": dict(optimizer="momentum", learning_rate=0.1, momentum=0.9),
    "nesterov": dict(optimizer="momentum", learning_rate=0.1, momentum=0.9, nesterov=True),
    "adam": dict(optimizer="adam", learning_rate=0.01),
    "rmsprop": dict(optimizer="rmsprop", learning_rate=0.01),
    "adagrad": dict(optimizer="adagrad", learning_rate=0.1, initial_accumulator=0.1),
    "adadelta": dict(optimizer="adadelta", learning_rate=1.0, rho=0.95),
    "adamax": dict(optimizer="adamax", learning_rate=0.01),
    "nadam": dict(optimizer="nadam", learning_rate=0.01),
    "adamw": dict(optimizer="adam", learning_rate=0.01, weight_decay=0.05),
    "sgd-exponential": dict(optimizer="sgd", learning_rate=0.5, lr_schedule="exponential",
                            lr_decay_steps=3.0, lr_decay_rate=0.5),
    "momentum-staircase": dict(optimizer="momentum", learning_rate=0.1, momentum=0.9,
                               lr_schedule="exponential", lr_decay_steps=4.0,
                               lr_decay_rate=0.7, lr_staircase=True),
    "sgd-piecewise": dict(optimizer="sgd", lr_schedule="piecewise", learning_rate=0.5,
                          lr_boundaries=(2.0, 7.0), lr_values=(0.5, 0.2, 0.05)),
    "adam-cosine": dict(optimizer="adam", learning_rate=0.02, lr_schedule="cosine",
                        lr_decay_steps=10.0, lr_alpha=0.1),
}


def targets_for(loss, rng, n, k, dtype):
    if loss == "categorical_crossentropy":
        return one_hot(rng, n, k, dtype)
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (n, k)).astype(dtype)
    return random(rng, (n, k), dtype)


def make_problem(network, rng, dtype, n=23, **spec_kwargs):
    sizes, activations, loss = NETWORKS[network]
    spec = ref.NetworkSpec(sizes=sizes, activations=activations, loss=loss, **spec_kwargs)
    config = core.CoreConfig(**dataclasses.asdict(spec))
    params = random(rng, config.param_count(), dtype, scale=0.7)
    x = random(rng, (n, sizes[0]), dtype)
    y = targets_for(loss, rng, n, sizes[-1], dtype)
    return spec, config, params, x, y


def train_both(spec, config, params, x, y, dtype, batch_size, perms, max_rows):
    """Run the same epochs through the core and the reference; returns both
    (params, opt_state, step, [loss per epoch])."""
    c_state, r_state = config.initial_optimizer_state(dtype), ref.initial_optimizer_state(spec, dtype)
    np.testing.assert_array_equal(c_state, r_state)
    c_params, c_step, c_losses = params.copy(), 0, []
    r_params, r_step, r_losses = params.copy(), 0, []
    work = np.zeros(config.workspace_len(max_rows), dtype)
    for perm in perms:
        c_perm = np.empty(0, np.int64) if perm is None else perm
        loss, c_step, _ = core.train_epoch(config, c_params, c_state, work, 1, x, y,
                                        c_perm, batch_size, c_step)
        c_losses.append(loss)
        r_params, r_state, r_step, loss = ref.network_train_epoch(
            spec, r_params, x, y, perm, batch_size, r_state, r_step)
        r_losses.append(loss)
    return (c_params, c_state, c_step, c_losses), (r_params, r_state, r_step, r_losses)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("shuffle", [False, True])
def test_train_epoch_matches_reference(dtype, network, optimizer, shuffle, rng):
    spec, config, params, x, y = make_problem(network, rng, dtype, **OPTIMIZERS[optimizer])
    n, batch_size = len(x), 5                 # 23 rows: four batches of 5, one of 3
    perms = [rng.permutation(n) if shuffle else None for _ in range(3)]
    core_run, ref_run = train_both(spec, config, params, x, y, dtype, batch_size, perms,
                                   max_rows=batch_size + 2)
    assert core_run[2] == ref_run[2] == 15
    for core_value, ref_value in zip(core_run, ref_run):   # params, state, step, losses
        assert_close(core_value, ref_value, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", ["book_dual", "multiclass", "regression"])
def test_train_epoch_with_book_clips_and_penalty(dtype, network, rng):
    # the book's settings: zmin -100, eps 1e-10, l1/l2 penalty on weights only;
    # one layer without a bias, and a batch as large as the data set
    spec, config, params, x, y = make_problem(
        network, rng, dtype, zmin=-100.0, eps=1e-10, l1=0.01, l2=0.05, learning_rate=0.3,
        has_bias=(False, True))
    for batch_size in (len(x), 4, 1):
        core_run, ref_run = train_both(spec, config, params, x, y, dtype, batch_size,
                                       [None, rng.permutation(len(x))], max_rows=len(x))
        assert_close(core_run[0], ref_run[0], dtype)
        assert_close(core_run[3], ref_run[3], dtype)


def test_train_epoch_penalty_leaves_biases_alone(rng):
    # with zero data gradient (lr applies to the penalty only) biases stay put
    spec, config, params, x, y = make_problem("book_dual", rng, np.float64, l2=1.0,
                                              learning_rate=0.1)
    b_start = config.param_offsets()[0][1]
    params_free = ref.network_train_epoch(
        dataclasses.replace(spec, l2=0.0), params, x, y, batch_size=len(x))[0]
    params_pen = ref.network_train_epoch(spec, params, x, y, batch_size=len(x))[0]
    c_params, work = params.copy(), np.zeros(config.workspace_len(len(x)))
    core.train_epoch(config, c_params, np.empty(0), work, 1, x, y, np.empty(0, np.int64),
                     len(x), 0)
    np.testing.assert_allclose(c_params, params_pen, rtol=1e-12)
    bias = slice(b_start, b_start + spec.sizes[1])
    np.testing.assert_allclose(params_pen[bias], params_free[bias], rtol=1e-12)
    assert not np.allclose(params_pen[:b_start], params_free[:b_start])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("max_rows", [1, 6, 50])
def test_forward_matches_reference(dtype, network, logits, max_rows, rng):
    spec, config, params, x, y = make_problem(network, rng, dtype, n=17, zmin=-100.0)
    work = np.zeros(config.workspace_len(max_rows), dtype)
    out = np.empty_like(y)
    loss = core.forward(config, params, work, max_rows, 1, x, out, logits, y)
    ref_out, ref_loss = ref.network_forward(spec, params, x, y, logits)
    assert_close(out, ref_out, dtype)
    assert_close(loss, ref_loss, dtype)
    # without y: same output, no loss
    out2 = np.empty_like(y)
    assert core.forward(config, params, work, max_rows, 1, x, out2, logits, np.empty((0, 0), dtype)) == 0.0
    np.testing.assert_array_equal(out2, out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_loss_equals_first_batch_loss_of_full_batch_epoch(dtype, rng):
    # a full-batch epoch's loss is taken before its update: the forward loss
    spec, config, params, x, y = make_problem("multiclass", rng, dtype)
    n = len(x)
    work = np.zeros(config.workspace_len(n), dtype)
    forward_loss = core.forward(config, params, work, n, 1, x, np.empty((0, 0), dtype), False, y)
    epoch_loss, _, _ = core.train_epoch(config, params.copy(), np.empty(0, dtype), work, 1, x, y,
                                     np.empty(0, np.int64), n, 0)
    assert epoch_loss == pytest.approx(forward_loss, rel=RTOL[dtype])


def test_train_epoch_does_not_modify_inputs(rng):
    spec, config, params, x, y = make_problem("multiclass", rng, np.float64)
    perm = rng.permutation(len(x))
    x0, y0, perm0 = x.copy(), y.copy(), perm.copy()
    work = np.zeros(config.workspace_len(5))
    core.train_epoch(config, params, np.empty(0), work, 1, x, y, perm, 5, 0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(perm, perm0)
