"""The core's kernels for Keras's further activations, losses and metric counts:
against their NumPy mirrors in nnbook.reference (rtol 1e-12 in float64, 1e-5 in
float32, as tests/test_kernels.py) and against central finite differences, on
odd shapes and at edge values (0, the kinks, large |z| where the functions
saturate).
"""
import json
import os

import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook import reference as ref
from conftest import DTYPES, assert_close

NEW_ACTIVATIONS = ["elu", "selu", "gelu", "swish", "silu", "leaky_relu", "softplus",
                   "softsign", "hard_sigmoid", "hard_silu", "hard_swish"]
NEW_LOSSES = ["mean_absolute_error", "mae", "mean_absolute_percentage_error", "mape", "huber",
              "log_cosh", "kl_divergence", "hinge", "squared_hinge"]
SHAPES = [(1, 1), (7, 13), (13, 7), (2, 40)]
# values where the activations change form or saturate; the float32 set stays
# inside float32's range
EDGES = {np.float64: [0.0, -0.0, 1e-9, -1e-9, 1.0, -1.0, 3.0, -3.0, 2.999, -2.999, 40.0, -40.0,
                      200.0, -200.0, 800.0, -800.0, 1e6, -1e6],
         np.float32: [0.0, -0.0, 1e-6, -1e-6, 1.0, -1.0, 3.0, -3.0, 2.99, -2.99, 20.0, -20.0,
                      90.0, -90.0, 120.0, -120.0, 1e6, -1e6]}




def inputs(rng, shape, dtype):
    """Random pre-activations, with the edge values written over the first entries."""
    z = (rng.standard_normal(shape) * 3).ravel()
    edges = EDGES[dtype][:z.size]
    z[:len(edges)] = edges
    return z.reshape(shape).astype(dtype)


def core_forward(z, act):
    out = np.empty_like(z)
    core.activation_forward(out, z, act)
    return out


def core_backward(dout, a, z, act):
    dinp = np.empty_like(a)
    core.activation_backward(dinp, dout, a, act, z)
    return dinp


# ---------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_activation_forward_matches_reference(dtype, shape, act, rng):
    z = inputs(rng, shape, dtype)
    z_before = z.copy()
    a = core_forward(z, act)
    assert a.dtype == dtype and np.all(np.isfinite(a))
    assert_close(a, ref.activation_forward(z, act), dtype)
    np.testing.assert_array_equal(z, z_before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_activation_backward_matches_reference(dtype, shape, act, rng):
    z = inputs(rng, shape, dtype)
    a = core_forward(z, act)
    dout = rng.standard_normal(shape).astype(dtype)
    dinp = core_backward(dout, a, z, act)
    assert np.all(np.isfinite(dinp))
    assert_close(dinp, ref.activation_backward(dout, a, act, z), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_activation_backward_in_place(dtype, act, rng):
    # an activation stage may call activation_backward(dinp, dinp, out, inp, ...)
    z = inputs(rng, (7, 13), dtype)
    a = core_forward(z, act)
    dout = rng.standard_normal(z.shape).astype(dtype)
    expected = ref.activation_backward(dout, a, act, z)
    core.activation_backward(dout, dout, a, act, z)
    assert_close(dout, expected, dtype)


def kink_free(rng, shape, act):
    """Points at least 1e-3 away from every kink (0 for the piecewise ones, +-3
    for hard_sigmoid/hard_silu), so a central difference of step 1e-6 is exact
    up to its truncation error."""
    z = rng.standard_normal(shape) * 4
    kinks = {"leaky_relu": [0.0], "hard_sigmoid": [-3.0, 3.0], "hard_silu": [-3.0, 3.0],
             "hard_swish": [-3.0, 3.0], "elu": [0.0], "selu": [0.0]}.get(act, [])
    for k in kinks:
        near = np.abs(z - k) < 1e-3
        z[near] = k + 0.5
    return z


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_activation_backward_matches_central_differences(dtype, act, rng):
    # d/dz sum(w * act(z)) by central differences of the float64 kernel, against
    # the dtype's backward with dout = w
    z64 = kink_free(rng, (7, 13), act)
    w = rng.standard_normal(z64.shape)
    h = 1e-6
    numeric = (core_forward(z64 + h, act) - core_forward(z64 - h, act)) / (2 * h) * w
    z = z64.astype(dtype)
    got = core_backward(w.astype(dtype), core_forward(z, act), z, act)
    np.testing.assert_allclose(got, numeric, rtol=1e-6 if dtype == np.float64 else 2e-4,
                               atol=1e-7 if dtype == np.float64 else 2e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_values_at_their_edges(dtype):
    # hand-checked values: the kinks and the saturated tails
    def fwd(act, values):
        return core_forward(np.array([values], dtype), act)[0]

    def bwd(act, values):
        z = np.array([values], dtype)
        return core_backward(np.ones_like(z), core_forward(z, act), z, act)[0]

    big = 100.0 if dtype == np.float64 else 50.0
    np.testing.assert_array_equal(fwd("elu", [-big, 0.0, 2.0]), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(bwd("elu", [-big, 0.0, 2.0]), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(fwd("hard_sigmoid", [-3.0, 0.0, 3.0, 9.0]), [0.0, 0.5, 1.0, 1.0])
    # relu6's gradient is 0 at its kinks, as TensorFlow takes it
    np.testing.assert_array_equal(bwd("hard_sigmoid", [-3.0, 3.0, 9.0]), [0.0, 0.0, 0.0])
    assert bwd("hard_sigmoid", [0.0])[0] == dtype(1) / dtype(6)
    # hard_silu: 0 left of -3, identity right of 3; derivative (2z + 3)/6 inside
    np.testing.assert_array_equal(fwd("hard_silu", [-4.0, -3.0, 3.0, 4.0]), [0.0, 0.0, 3.0, 4.0])
    np.testing.assert_array_equal(bwd("hard_silu", [-4.0, -3.0, 3.0, 4.0]), [0.0, 0.0, 1.0, 1.0])
    assert_close(bwd("hard_silu", [1.5]), [1.0], dtype)
    # leaky_relu: slope 0.2 below 0, z = 0 takes the slope
    np.testing.assert_array_equal(bwd("leaky_relu", [-1.0, 0.0, 1.0]), [dtype(0.2), dtype(0.2), 1.0])
    # softplus saturates to z and to exp(z) with exact derivatives 1 and ~0
    assert fwd("softplus", [big])[0] == dtype(big)
    assert bwd("softplus", [big])[0] == 1.0
    assert_close(fwd("softplus", [-big])[0], np.exp(-big), dtype)
    assert_close(bwd("softplus", [-30.0])[0] / np.exp(-30.0), 1.0, dtype)
    # swish and gelu: no NaN where exp overflows, 0 and z in the tails
    np.testing.assert_array_equal(fwd("swish", [-1e6, 1e6]), [0.0, 1e6])
    np.testing.assert_array_equal(bwd("swish", [-1e6, 1e6]), [0.0, 1.0])
    np.testing.assert_array_equal(fwd("gelu", [-1e6, 1e6]), [0.0, 1e6])
    np.testing.assert_array_equal(bwd("gelu", [-1e6, 1e6]), [0.0, 1.0])
    # gelu(0) = 0 with derivative Phi(0) = 1/2; swish likewise
    assert bwd("gelu", [0.0])[0] == 0.5 and bwd("swish", [0.0])[0] == 0.5
    # selu: TensorFlow's constants
    assert_close(fwd("selu", [1.0, -big]), [1.0507009873554805, -1.7580993408473768], dtype)
    # softsign: bounded by +-1, derivative 1/(1 + |z|)^2
    assert_close(bwd("softsign", [3.0]), [1.0 / 16.0], dtype)


def test_activations_needing_input_are_the_non_monotonic_ones():
    assert set(core.ACTIVATIONS_NEEDING_INPUT) == {"gelu", "swish", "silu", "hard_silu",
                                                    "hard_swish"}
    assert set(ref.ACTIVATIONS_NEEDING_INPUT) == set(core.ACTIVATIONS_NEEDING_INPUT)
    assert core.ACTIVATIONS["swish"] == core.ACTIVATIONS["silu"]
    a = np.zeros((2, 3))
    with pytest.raises(ValueError, match="needs inp"):
        core.activation_backward(a.copy(), a, a, "gelu")
    with pytest.raises(ValueError, match="inp must have"):
        core.activation_backward(a.copy(), a, a, "swish", np.zeros((3, 2)))


@pytest.mark.parametrize("act", sorted(core.ACTIVATIONS_NEEDING_INPUT))
def test_dense_layers_refuse_activations_that_need_their_input(act):
    # a dense layer keeps only its output, so these cannot run as one
    with pytest.raises(ValueError, match="inconsistent"):
        core.CoreConfig([3, 4, 1], [act, "sigmoid"])


@pytest.mark.parametrize("act", ["elu", "selu", "leaky_relu", "softplus", "softsign",
                                 "hard_sigmoid"])
def test_dense_forward_applies_the_new_activations(act, rng):
    x = rng.standard_normal((7, 5))
    w = rng.standard_normal((5, 13))
    b = rng.standard_normal(13)
    out = np.empty((7, 13))
    core.dense_forward(out, x, w, b, act)
    assert_close(out, ref.dense_forward(x, w, b, act), np.float64)


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------

def loss_data(rng, shape, loss, dtype):
    """(outputs, targets) of the kind each loss meets."""
    name = ref._ELEMENTWISE_LOSSES.get(loss, loss)
    if name == "kl_divergence":
        a = ref.softmax_forward(rng.standard_normal(shape) * 2)
        y = ref.softmax_forward(rng.standard_normal(shape) * 2)
        y[0, 0] = 0.0                        # below the clip
        return a.astype(dtype), y.astype(dtype)
    a = rng.standard_normal(shape) * 2
    if name in ("hinge", "squared_hinge"):
        labels = (0.0, 1.0) if rng.random() < 0.5 else (-1.0, 1.0)
        y = np.where(rng.random(shape) < 0.5, *labels)
        return a.astype(dtype), y.astype(dtype)
    y = rng.standard_normal(shape) * 2
    if name == "mape":
        y.ravel()[::5] = 0.0                 # |y| below Keras's epsilon
    return a.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss", NEW_LOSSES)
def test_elementwise_loss_forward_matches_reference(dtype, shape, loss, rng):
    a, y = loss_data(rng, shape, loss, dtype)
    got = core.elementwise_loss_forward(a, y, loss, huber_delta=0.7)
    want = ref.elementwise_loss_forward(a, y, loss, huber_delta=0.7)
    assert np.isfinite(got)
    # values are formed in float64 in both precisions
    assert_close(got, want, np.float64, rtol=1e-12 if loss != "mape" else 1e-11)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss", NEW_LOSSES)
def test_elementwise_loss_backward_matches_reference(dtype, shape, loss, rng):
    a, y = loss_data(rng, shape, loss, dtype)
    scale = 1.0 / (3 * shape[1])
    dout = np.empty_like(a)
    core.elementwise_loss_backward(dout, a, y, loss, scale, huber_delta=0.7)
    assert_close(dout, ref.elementwise_loss_backward(a, y, loss, scale, huber_delta=0.7), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", NEW_LOSSES)
def test_elementwise_loss_backward_matches_central_differences(dtype, loss, rng):
    # the forward is sum over rows of mean_k term (kl_divergence: sum_k), so its
    # gradient is the backward at scale 1/K (1)
    a, y = loss_data(rng, (7, 13), loss, np.float64)
    name = ref._ELEMENTWISE_LOSSES[loss]
    if name == "kl_divergence":
        a = np.clip(a, 1e-3, 1 - 1e-3)       # inside the clip
    h = 1e-6
    numeric = np.empty_like(a)
    for idx in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (core.elementwise_loss_forward(up, y, loss, 0.7)
                        - core.elementwise_loss_forward(down, y, loss, 0.7)) / (2 * h)
    scale = 1.0 if name == "kl_divergence" else 1.0 / a.shape[1]
    got = np.empty(a.shape, dtype)
    core.elementwise_loss_backward(got, a.astype(dtype), y.astype(dtype), loss, scale, 0.7)
    tol = 1e-6 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(got, numeric, rtol=tol, atol=tol * np.max(np.abs(numeric)))


def test_loss_values_worked_by_hand():
    a = np.array([[0.5, 3.0]])
    y = np.array([[0.0, 1.0]])
    # mae: (0.5 + 2) / 2
    assert core.elementwise_loss_forward(a, y, "mae") == 1.25
    # mape: 100 * (|0 - 0.5| / 1e-7 + |1 - 3| / 1) / 2 = 100 * (5e6 + 2) / 2
    assert_close(core.elementwise_loss_forward(a, y, "mape"), 250000100.0, np.float64)
    # huber, delta 1: (0.5^2/2 + (1 * 2 - 1/2)) / 2 = (0.125 + 1.5) / 2
    assert core.elementwise_loss_forward(a, y, "huber") == 0.8125
    # huber, delta 3: both quadratic, (0.125 + 2) / 2
    assert core.elementwise_loss_forward(a, y, "huber", huber_delta=3.0) == 1.0625
    # log_cosh: (log cosh 0.5 + log cosh 2) / 2
    assert_close(core.elementwise_loss_forward(a, y, "log_cosh"),
                 (np.log(np.cosh(0.5)) + np.log(np.cosh(2.0))) / 2, np.float64)
    # hinge with 0/1 labels read as -1/+1: (max(1 + 0.5, 0) + max(1 - 3, 0)) / 2
    assert core.elementwise_loss_forward(a, y, "hinge") == 0.75
    # squared hinge: (1.5^2 + 0) / 2
    assert core.elementwise_loss_forward(a, y, "squared_hinge") == 1.125
    # kl_divergence, summed over the row: 0.5 log(0.5/0.25) + 0.5 log(0.5/0.75)
    p, q = np.array([[0.25, 0.75]]), np.array([[0.5, 0.5]])
    assert_close(core.elementwise_loss_forward(p, q, "kl_divergence"),
                 0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0), np.float64)
    # a zero label and a zero prediction are clipped to 1e-7: 1e-7 log(1e-7/1e-7) + 1 log(1/1)
    assert core.elementwise_loss_forward(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]]),
                                         "kl_divergence") == 0.0


def test_log_cosh_is_accurate_for_small_and_huge_errors():
    # log cosh x = x^2/2 - x^4/12 + ... near 0 (the direct formula cancels to 0
    # there); |x| - log 2 far out (cosh overflows)
    x = np.array([[1e-8, 1e-4]])
    want = (x**2 / 2 - x**4 / 12).mean()
    assert_close(core.elementwise_loss_forward(x, np.zeros_like(x), "log_cosh") / want, 1.0,
                 np.float64)
    far = np.array([[1000.0]])
    assert core.elementwise_loss_forward(far, np.zeros_like(far), "log_cosh") == 1000.0 - np.log(2.0)


def test_gradients_at_kinks_are_tensorflows():
    # |.|' (0) = 0; the hinge's max passes its gradient at 1 - t a = 0; huber
    # takes the quadratic side at |e| = delta; kl_divergence's clip passes it at 1
    def grad(a, y, loss, delta=1.0):
        d = np.empty_like(a)
        core.elementwise_loss_backward(d, a, y, loss, 1.0, delta)
        return d

    np.testing.assert_array_equal(grad(np.array([[1.0]]), np.array([[1.0]]), "mae"), [[0.0]])
    np.testing.assert_array_equal(grad(np.array([[1.0, -1.0]]), np.array([[1.0, 0.0]]), "hinge"),
                                  [[-1.0, 1.0]])
    np.testing.assert_array_equal(grad(np.array([[2.0]]), np.array([[1.0]]), "huber"), [[1.0]])
    np.testing.assert_array_equal(grad(np.array([[3.0]]), np.array([[1.0]]), "huber"), [[1.0]])
    np.testing.assert_array_equal(grad(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]),
                                       "kl_divergence"), [[-0.5, 0.0]])


OUTPUT_PAIRS = [("mean_absolute_error", "linear"), ("mape", "relu"), ("huber", "tanh"),
                ("log_cosh", "elu"), ("kl_divergence", "softmax"), ("hinge", "tanh"),
                ("squared_hinge", "linear"), ("mae", "softplus"), ("huber", "selu"),
                ("mse", "leaky_relu"), ("mse", "hard_sigmoid"), ("log_cosh", "softsign"),
                ("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"),
                ("categorical_crossentropy", "softmax"), ("poisson", "exponential")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,act", OUTPUT_PAIRS)
def test_output_loss_matches_reference(dtype, loss, act, rng):
    z = (rng.standard_normal((7, 13)) * 2).astype(dtype)
    _, y = loss_data(rng, (7, 13), loss, dtype)
    if loss == "categorical_crossentropy":
        y = np.eye(13, dtype=dtype)[rng.integers(0, 13, 7)]
    if loss in ("binary_crossentropy", "poisson"):
        y = (rng.random((7, 13)) < 0.5).astype(dtype)
    a = z.copy()
    got = core.output_loss_forward(a, y, loss, act, huber_delta=0.7)
    want_a, want = ref.output_loss_forward(z, y, loss, act, huber_delta=0.7)
    assert_close(a, want_a, dtype)
    # the loss of float32 activations inherits their last-bit differences
    assert_close(got, want, np.float64, rtol=1e-5 if dtype == np.float32 else 1e-11)
    delta = np.empty_like(a)
    core.output_loss_backward(delta, a, y, loss, act, 10.0, huber_delta=0.7)
    assert_close(delta, ref.output_loss_backward(a, y, loss, act, 10.0, huber_delta=0.7), dtype)
    # without targets: the activation only
    a2 = z.copy()
    assert core.output_loss_forward(a2, y[:0], loss, act) == 0.0
    assert_close(a2, want_a, dtype)


@pytest.mark.parametrize("loss,act", OUTPUT_PAIRS)
def test_output_loss_backward_matches_central_differences(loss, act, rng):
    # dL/dz of the batch mean over m rows, L = output_loss_forward(z) / m, through
    # the activation; z kept off the kinks of relu, leaky_relu and hard_sigmoid
    m = 10.0
    z = rng.standard_normal((3, 5)) * 2
    z[np.abs(z) < 1e-3] = 0.5
    z[np.abs(np.abs(z) - 3) < 1e-3] = 1.5
    _, y = loss_data(rng, (3, 5), loss, np.float64)
    if loss == "categorical_crossentropy":
        y = np.eye(5)[[0, 3, 4]]
    if loss in ("binary_crossentropy", "poisson"):
        y = (rng.random((3, 5)) < 0.5).astype(float)
    if loss == "mape":
        z = np.abs(z) + 0.1                      # relu stays on its linear side

    def total(zz):
        return core.output_loss_forward(zz.copy(), y, loss, act, huber_delta=0.7) / m

    h = 1e-6
    numeric = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (total(up) - total(down)) / (2 * h)
    a = z.copy()
    core.output_loss_forward(a, y, loss, act, huber_delta=0.7)
    delta = np.empty_like(a)
    core.output_loss_backward(delta, a, y, loss, act, m, huber_delta=0.7)
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-7 * max(1, np.max(np.abs(numeric))))


def test_output_loss_refuses_bad_arguments():
    a, y = np.zeros((2, 3)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="loss must be one of"):
        core.output_loss_forward(a, y, "nope", "linear")
    with pytest.raises(ValueError, match="act must be one of"):
        core.output_loss_forward(a, y, "mae", "nope")
    with pytest.raises(ValueError, match="cannot follow"):
        core.output_loss_forward(a, y, "mae", "gelu")
    with pytest.raises(ValueError, match="must not be a"):
        core.output_loss_backward(a, a, y, "mae", "linear", 2.0)
    with pytest.raises(ValueError, match="m .* must be >="):
        core.output_loss_backward(a.copy(), a, y, "mae", "linear", 1.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        core.elementwise_loss_forward(a, y, "mse")


# ---------------------------------------------------------------------------
# metric counts
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [1, 3, 7, 13])
@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "categorical_crossentropy"])
def test_metric_counts_match_reference(dtype, K, loss, rng):
    m = 7
    # rounded scores make ties common, at the top-k boundary too
    a = np.round(rng.random((m, K)) * 4) / 4
    y = np.eye(K)[rng.integers(0, K, m)] if K > 1 else (rng.random((m, 1)) < 0.5) * 1.0
    a, y = a.astype(dtype), y.astype(dtype)
    for top_k in range(1, K + 1):
        for threshold in (0.0, 0.25, 0.5, 0.9):
            got = core.metric_counts(a, y, loss, top_k=top_k, threshold=threshold)
            assert got.tolist() == ref.metric_counts(a, y, loss, top_k, threshold)


def test_metric_counts_worked_by_hand():
    a = np.array([[0.5, 0.5, 0.0],       # target 1 ties with class 0 for first place
                  [0.2, 0.3, 0.5],       # target 0 is third
                  [np.nan, 0.9, 0.1]])   # a non-finite score: never in the top k
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    # correct (argmax, first maximum on ties): row 0 argmax 0 != 1, row 1 2 != 0,
    # row 2: nothing compares greater than the NaN in front, argmax 0 != 1 -> 0
    # top 1: row 0 has no score strictly above its target's -> in (TensorFlow's
    # in_top_k); rows 1 and 2 out -> 1. top 3: rows 0 and 1 -> 2
    # threshold 0.4: predicted positive (0,0) (0,1) (1,2) (2,1); labels (0,1) (1,0) (2,1)
    # -> tp 2 [(0,1), (2,1)], fp 2 [(0,0), (1,2)], fn 1 [(1,0)]
    assert core.metric_counts(a, y, "categorical_crossentropy", top_k=1,
                              threshold=0.4).tolist() == [0, 1, 2, 2, 1]
    assert core.metric_counts(a, y, "categorical_crossentropy", top_k=3,
                              threshold=0.4).tolist()[1] == 2
    with pytest.raises(ValueError, match="top_k"):
        core.metric_counts(a, y, top_k=0)
    with pytest.raises(ValueError, match="share a shape"):
        core.metric_counts(a, y[:2])


# ---------------------------------------------------------------------------
# against real Keras: tests/fixtures/keras_kernels.json, made once with Keras
# 3.15.1 / TensorFlow 2.21.0 in float64 by scripts/make_keras_kernel_fixtures.py
# (its docstring says how it was run)
# ---------------------------------------------------------------------------

KERAS = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "keras_kernels.json")))
# Where Keras rounds a constant to float32 even in float64, nnbook keeps the
# exact value, and the two differ by that rounding: leaky_relu's slope 0.2
# (1.5e-8 relative), the 1/sqrt(2) of exact gelu (5e-9 relative), log_cosh's
# log 2 (1.9e-9 per element). Everything else agrees to 1e-12.
KERAS_RTOL = {"leaky_relu": 2e-8, "gelu": 1e-8, "log_cosh": 3e-9}


@pytest.mark.parametrize("act", sorted(KERAS["activations"]))
def test_activations_match_keras(act):
    z = np.array([KERAS["z"]])
    want = KERAS["activations"][act]
    rtol = KERAS_RTOL.get(act, 1e-12)
    a = core_forward(z, act)
    np.testing.assert_allclose(a[0], want["values"], rtol=rtol, atol=rtol)
    d = core_backward(np.ones_like(z), a, z, act)
    # gelu's derivative: Keras differentiates its float32-rounded constant too
    np.testing.assert_allclose(d[0], want["gradients"], rtol=max(rtol, 1e-12) * (50 if act == "gelu" else 1),
                               atol=1e-15)


@pytest.mark.parametrize("loss", sorted(KERAS["losses"]))
def test_losses_match_keras(loss):
    case = KERAS["losses"][loss]
    y, p = np.array(case["y"]), np.array(case["p"])
    rtol = KERAS_RTOL.get(loss, 1e-12)
    rows = [core.elementwise_loss_forward(p[i:i + 1], y[i:i + 1], loss) for i in range(len(p))]
    np.testing.assert_allclose(rows, case["rows"], rtol=rtol)
    scale = 1.0 if loss == "kl_divergence" else 1.0 / p.shape[1]
    g = np.empty_like(p)
    core.elementwise_loss_backward(g, p, y, loss, scale)
    np.testing.assert_allclose(g, case["gradients"], rtol=1e-12, atol=1e-15)


def test_metric_counts_match_keras():
    case = KERAS["metrics"]
    scores, labels = np.array(case["scores"]), np.array(case["labels"])
    for k, per_row in case["top_k"].items():
        counts = core.metric_counts(scores, labels, "categorical_crossentropy", top_k=int(k))
        assert counts[1] == sum(per_row)
    for threshold, (tp, fp, fn) in case["confusion"].items():
        counts = core.metric_counts(scores, labels, top_k=1, threshold=float(threshold))
        assert counts[2:].tolist() == [tp, fp, fn]


# ---------------------------------------------------------------------------
# AUC histograms
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bins", [2, 3, 200, 1024])
@pytest.mark.parametrize("single", [True, False])
def test_auc_histogram_matches_reference(dtype, bins, single, rng):
    a = rng.uniform(-0.2, 1.2, (37, 3)).astype(dtype)
    a[0, :] = [0.0, 1.0, 0.5]                     # the edges and a threshold itself
    a[1, :] = [np.nan, 1e-9, 1 - 1e-9]
    y = (rng.random((37, 3)) < 0.4).astype(dtype)
    pos, neg = core.auc_histogram(a, y, bins, single)
    want_pos, want_neg = ref.auc_histogram(np.nan_to_num(a, nan=0.0), y, bins, single)
    np.testing.assert_array_equal(pos, want_pos)
    np.testing.assert_array_equal(neg, want_neg)
    assert pos.sum() + neg.sum() == a.size


def test_auc_histogram_gives_keras_auc():
    from nnbook.keras import metrics
    rng = np.random.default_rng(5)
    a = rng.random((50, 1)).astype(np.float32)
    y = (rng.random((50, 1)) < 0.5).astype(np.float32)
    m = metrics.AUC(dtype="float32")
    m.update_state(y, a)
    assert m.from_histograms(*core.auc_histogram(a, y, 200)) == pytest.approx(m.result(),
                                                                                 abs=1e-15)
