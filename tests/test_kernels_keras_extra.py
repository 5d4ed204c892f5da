"""The core's kernels for Keras's further activations, losses and metric counts:
against their NumPy mirrors in nnbook.reference (rtol 1e-12 in float64, 1e-5 in
float32, as tests/test_kernels.py) and against central finite differences, on
odd shapes and at edge values (0, the kinks, large |z| where the functions
saturate).
"""
import zlib

import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook import reference as ref

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
NEW_ACTIVATIONS = ["elu", "selu", "gelu", "swish", "silu", "leaky_relu", "softplus",
                   "softsign", "hard_sigmoid", "hard_silu", "hard_swish"]
SHAPES = [(1, 1), (7, 13), (13, 7), (2, 40)]
# values where the activations change form or saturate; the float32 set stays
# inside float32's range
EDGES = {np.float64: [0.0, -0.0, 1e-9, -1e-9, 1.0, -1.0, 3.0, -3.0, 2.999, -2.999, 40.0, -40.0,
                      200.0, -200.0, 800.0, -800.0, 1e6, -1e6],
         np.float32: [0.0, -0.0, 1e-6, -1e-6, 1.0, -1.0, 3.0, -3.0, 2.99, -2.99, 20.0, -20.0,
                      90.0, -90.0, 120.0, -120.0, 1e6, -1e6]}


def assert_close(actual, expected, dtype, rtol=None):
    rtol = RTOL[dtype] if rtol is None else rtol
    expected = np.asarray(expected)
    floor = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=floor)


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


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
