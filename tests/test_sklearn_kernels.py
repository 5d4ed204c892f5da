"""The core's exponential output and Poisson loss (added for
MLPRegressor(loss='poisson')) against NumPy, at the core's parity
tolerances (rtol 1e-12 in float64, 1e-5 in float32), and the Poisson
gradient a - y against central differences."""
import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook._network import CoreNetwork

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (9, 1), (13, 7)])
def test_exponential_activation(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    z = (rng.standard_normal(shape) * 3).astype(dtype)
    out = np.empty_like(z)
    core.activation_forward(out, z, "exponential", core.NO_CLIP)
    np.testing.assert_allclose(out, np.exp(z.astype(np.float64)), rtol=RTOL[dtype])
    dout = rng.standard_normal(shape).astype(dtype)
    dinp = np.empty_like(z)
    core.activation_backward(dinp, dout, out, "exponential")
    np.testing.assert_allclose(dinp, dout * out, rtol=RTOL[dtype])


def poisson_network(dtype, l2=0.0):
    net = CoreNetwork([3, 4, 2], ["tanh", "exponential"], "poisson", dtype, l2=l2,
                      optimizer="momentum", learning_rate=1.0, momentum=0.0)
    rng = np.random.default_rng(0)
    net.params[...] = rng.uniform(-0.5, 0.5, net.params.size)
    x = rng.standard_normal((6, 3)).astype(dtype)
    y = np.c_[rng.poisson(1.0, 6), np.zeros(6)].astype(dtype)  # zeros: the y log y = 0 case
    return net, x, y


def numpy_loss(net, x, y):
    w0, b0, w1, b1 = (np.asarray(a, np.float64) for a in (net.weight(0), net.bias(0),
                                                            net.weight(1), net.bias(1)))
    a = np.exp(np.tanh(x @ w0 + b0) @ w1 + b1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = np.where(y != 0, y * np.log(y / a), 0.0)
    return float(np.sum(ylog - y + a)), a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_poisson_loss_and_output(dtype):
    net, x, y = poisson_network(dtype)
    out, loss = net.forward_loss(x, y)
    want, a = numpy_loss(net, x, y)
    np.testing.assert_allclose(out, a, rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(loss, want, rtol=RTOL[dtype] * 10)


def test_poisson_gradient_is_a_minus_y_by_central_differences():
    net, x, y = poisson_network(np.float64, l2=0.2)
    start = net.params.copy()
    net.train_epochs(x, y, len(x), 1)  # momentum 0, rate 1: velocity = -gradient
    grad = -net.opt_state.copy()
    net.params[...] = start

    def objective(p):
        net.params[...] = p
        loss = numpy_loss(net, x, y)[0] / len(x)
        return loss + 0.2 / 2 * sum(np.sum(w ** 2) for w in net.weights()) / len(x)

    h = 1e-6
    numeric = np.empty_like(start)
    for i in range(start.size):
        e = np.zeros_like(start)
        e[i] = h
        numeric[i] = (objective(start + e) - objective(start - e)) / (2 * h)
    net.params[...] = start
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_poisson_needs_the_exponential_output():
    with pytest.raises(ValueError, match="inconsistent network configuration"):
        core.CoreConfig([2, 1], ["linear"], loss="poisson")
