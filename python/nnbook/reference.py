"""Plain-NumPy mirror of every kernel of the C core, and of the book's classes.

Read this file next to ``src/nncore/``: each function here computes what the
C kernel of the same name computes, in the same precision and (where it
matters for the last few bits) in the same order. It exists for two readers:

* a person learning the math, who wants the formula without C pointers;
* the test suite, which checks every C kernel against it (rtol 1e-12 in
  float64, 1e-5 in float32).

Conventions, shared with the core:

* Arrays are row-major, one row per example. ``B`` = rows in the batch,
  ``C`` = input features, ``OC`` = output units, ``K`` = classes.
* Weight matrices are ``(n_in, n_out)``, as in the book, Keras and
  scikit-learn, so a layer is ``x @ W + b``.
* Every function returns new arrays and never modifies its inputs (the C
  kernels write into caller-owned buffers instead).
* Results keep the precision of the inputs (float32 in, float32 out). Scalar
  arguments (learning rate, zmin, ...) are converted to that precision first,
  because that is what the C core receives. Loss *values* are accumulated in
  float64 in both precisions, as the core does.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

__all__ = [
    # activations
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "relu_forward", "relu_backward", "softmax_forward", "softmax_backward",
    "activation_forward", "activation_backward",
    "elu_forward", "elu_backward", "selu_forward", "selu_backward", "gelu_forward",
    "gelu_backward", "swish_forward", "swish_backward", "leaky_relu_forward",
    "leaky_relu_backward", "softplus_forward", "softplus_backward", "softsign_forward",
    "softsign_backward", "hard_sigmoid_forward", "hard_sigmoid_backward",
    "hard_silu_forward", "hard_silu_backward", "ACTIVATIONS_NEEDING_INPUT",
    # dense layer
    "dense_forward", "dense_backward", "dense_weight_sgd_step",
    # losses
    "softmax_cross_entropy_forward", "binary_cross_entropy_forward",
    "cross_entropy_backward", "mse_forward", "mse_backward",
    "elementwise_loss_forward", "elementwise_loss_backward", "output_loss_forward",
    "output_loss_backward",
    # metric counts
    "metric_counts",
    # penalty and optimizers
    "l1_l2_penalty_forward", "l1_l2_penalty_backward", "sgd_update",
    "sgd_momentum_update", "adam_update", "rmsprop_update", "adagrad_update",
    "adadelta_update", "adamax_update", "nadam_update", "weight_decay_update",
    "learning_rate_at", "initial_optimizer_state",
    # whole networks
    "NetworkSpec", "param_count", "param_offsets", "optimizer_slots",
    "layer_params", "network_forward", "network_train_epoch",
    # the book's classes
    "SingleLayer", "DualLayer", "RandomInitNetwork", "MinibatchNetwork",
    "MultiClassNetwork",
]


def _as(value, like):
    """`value` as a scalar of `like`'s precision (what the C kernel receives)."""
    return np.asarray(like).dtype.type(value)


# ---------------------------------------------------------------------------
# Activations. Each backward is written from the forward *output* a, as the
# book does (sigmoid' = a(1-a)), so no copy of the pre-activation is needed.
# ---------------------------------------------------------------------------

def sigmoid_forward(z, zmin=-np.inf):
    """Logistic sigmoid, with z clipped below at zmin.

    a = 1 / (1 + exp(-max(z, zmin))). The book clips at zmin = -100 so that
    exp(-z) cannot overflow in float64; the default applies no clip.

    Parameters
    ----------
    z : ndarray, any shape
    zmin : float

    Returns
    -------
    ndarray, z's shape and dtype

    Example
    -------
    >>> sigmoid_forward(np.array([0.0, -1000.0]), zmin=-100.0)[0]
    np.float64(0.5)
    """
    z = np.maximum(z, _as(zmin, z))
    one = _as(1, z)
    with np.errstate(over="ignore"):  # exp(1000) = inf gives a = 0, which is right
        return one / (one + np.exp(-z))


def sigmoid_backward(dout, a):
    """dL/dz = dL/da * a * (1 - a), from the forward output a.

    Example
    -------
    >>> sigmoid_backward(np.array([2.0]), np.array([0.5]))
    array([0.5])
    """
    return dout * a * (_as(1, a) - a)


def tanh_forward(z):
    """a = tanh(z).

    Example
    -------
    >>> tanh_forward(np.array([0.0]))
    array([0.])
    """
    return np.tanh(z)


def tanh_backward(dout, a):
    """dL/dz = dL/da * (1 - a^2), from the forward output a.

    Example
    -------
    >>> tanh_backward(np.array([1.0]), np.array([0.5]))
    array([0.75])
    """
    return dout * (_as(1, a) - a * a)


def relu_forward(z):
    """a = max(z, 0).

    Example
    -------
    >>> relu_forward(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    return np.where(z > 0, z, _as(0, z))


def relu_backward(dout, a):
    """dL/dz = dL/da where a > 0, else 0 (the subgradient at 0 is taken as 0).

    Example
    -------
    >>> relu_backward(np.array([3.0, 3.0]), np.array([0.0, 2.0]))
    array([0., 3.])
    """
    return np.where(a > 0, dout, _as(0, dout))


def softmax_forward(z, zmin=-np.inf):
    """Row-wise softmax of max(z, zmin), computed stably.

    Subtracting the row maximum before exp keeps exp from overflowing for
    large logits (the book's version overflows above z = 709); the value is
    the same wherever exp(z) / sum(exp(z)) is finite.

    Parameters
    ----------
    z : ndarray (B, K)
    zmin : float

    Returns
    -------
    ndarray (B, K); each row sums to 1

    Example
    -------
    >>> softmax_forward(np.array([[0.0, 0.0], [1e4, 0.0]]))
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    z = np.maximum(z, _as(zmin, z))
    e = np.exp(z - z.max(axis=1, keepdims=True))   # (B, K), largest entry 1
    return e * (_as(1, z) / e.sum(axis=1, keepdims=True))


def softmax_backward(dout, a):
    """The softmax Jacobian applied row by row: a * (dout - sum_k dout * a).

    Example
    -------
    >>> softmax_backward(np.array([[1.0, 1.0]]), np.array([[0.5, 0.5]]))
    array([[0., 0.]])
    """
    dot = np.sum(dout * a, axis=1, keepdims=True)   # (B, 1)
    return a * (dout - dot)


def activation_forward(z, act, zmin=-np.inf):
    """Apply the activation named `act` ('linear', 'sigmoid', 'tanh', 'relu',
    'softmax', or one of Keras's further ones below: 'elu', 'selu', 'gelu',
    'swish'/'silu', 'leaky_relu', 'softplus', 'softsign', 'hard_sigmoid',
    'hard_silu'/'hard_swish', 'exponential'); zmin is used by sigmoid and
    softmax only.

    Example
    -------
    >>> activation_forward(np.array([[-2.0, 2.0]]), "relu")
    array([[0., 2.]])
    """
    if act == "sigmoid":
        return sigmoid_forward(z, zmin)
    if act == "tanh":
        return tanh_forward(z)
    if act == "relu":
        return relu_forward(z)
    if act == "softmax":
        return softmax_forward(z, zmin)
    if act == "linear":
        return np.array(z, copy=True)
    if act in _KERAS_FORWARD:
        return _KERAS_FORWARD[act](z)
    raise ValueError(f"unknown activation {act!r}")


def activation_backward(dout, a, act, z=None):
    """dL/dz from dL/da and the forward output a of the activation `act`; the
    activations in ACTIVATIONS_NEEDING_INPUT need the forward input z as well.

    Example
    -------
    >>> activation_backward(np.array([[2.0]]), np.array([[0.5]]), "sigmoid")
    array([[0.5]])
    """
    if act == "sigmoid":
        return sigmoid_backward(dout, a)
    if act == "tanh":
        return tanh_backward(dout, a)
    if act == "relu":
        return relu_backward(dout, a)
    if act == "softmax":
        return softmax_backward(dout, a)
    if act == "linear":
        return np.array(dout, copy=True)
    if act in ACTIVATIONS_NEEDING_INPUT:
        if z is None:
            raise ValueError(f"the backward pass of {act!r} needs its input z")
        return _KERAS_BACKWARD[act](dout, z)
    if act in _KERAS_BACKWARD:
        return _KERAS_BACKWARD[act](dout, a)
    raise ValueError(f"unknown activation {act!r}")


# ---------------------------------------------------------------------------
# Keras's further activations (Keras 3, TensorFlow backend). elu, selu,
# leaky_relu, softplus, softsign and hard_sigmoid write their derivative from
# the output a, as above; gelu, swish and hard_silu are not monotonic, so a
# does not determine z and their backward takes z.
# ---------------------------------------------------------------------------

_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_SCALE_ALPHA = 1.7580993408473768599402175208123    # scale * alpha, as TensorFlow has it
_LEAKY_SLOPE = 0.2                                       # Keras's default for "leaky_relu"
ACTIVATIONS_NEEDING_INPUT = ("gelu", "swish", "silu", "hard_silu", "hard_swish")


def elu_forward(z):
    """elu (alpha 1): z for z > 0, else exp(z) - 1 (as expm1, exact near 0).

    Example
    -------
    >>> elu_forward(np.array([-1.0, 2.0])).round(6)
    array([-0.632121,  2.      ])
    """
    return np.where(z > 0, z, np.expm1(np.minimum(z, _as(0, z))))


def elu_backward(dout, a):
    """dL/dz = dL/da where a >= 0, else dL/da * (a + 1) (= exp(z)).

    Example
    -------
    >>> elu_backward(np.array([1.0, 1.0]), np.array([-0.5, 2.0]))
    array([0.5, 1. ])
    """
    return np.where(a < 0, dout * (a + _as(1, a)), dout)


def selu_forward(z):
    """selu: scale * z for z > 0, else scale * alpha * (exp(z) - 1).

    Example
    -------
    >>> float(selu_forward(np.array([1.0]))[0])
    1.0507009873554805
    """
    neg = _as(_SELU_SCALE_ALPHA, z) * np.expm1(np.minimum(z, _as(0, z)))
    return np.where(z > 0, _as(_SELU_SCALE, z) * z, neg)


def selu_backward(dout, a):
    """dL/dz = dL/da * scale where a >= 0, else dL/da * (a + scale * alpha).

    Example
    -------
    >>> float(selu_backward(np.array([2.0]), np.array([0.5]))[0])
    2.101401974710961
    """
    return np.where(a < 0, dout * (a + _as(_SELU_SCALE_ALPHA, a)), dout * _as(_SELU_SCALE, a))


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def gelu_forward(z):
    """gelu, exact (Keras's default): z/2 * erfc(-z/sqrt 2) = z Phi(z).

    Example
    -------
    >>> gelu_forward(np.array([0.0, 1.0])).round(6)
    array([0.      , 0.841345])
    """
    z64 = np.asarray(z, np.float64)
    return (0.5 * z64 * _erfc(-z64 / math.sqrt(2.0))).astype(np.asarray(z).dtype)


def gelu_backward(dout, z):
    """dL/dz = dL/da * (Phi(z) + z phi(z)), phi the standard normal density.

    Example
    -------
    >>> gelu_backward(np.array([1.0]), np.array([0.0]))
    array([0.5])
    """
    z64 = np.asarray(z, np.float64)
    cdf = 0.5 * _erfc(-z64 / math.sqrt(2.0))
    pdf = np.exp(-0.5 * z64 * z64) / math.sqrt(2.0 * math.pi)
    return dout * (cdf + z64 * pdf).astype(np.asarray(z).dtype)


def _sigmoid_pair(z):
    """(sigmoid(z), 1 - sigmoid(z)) from exp(-|z|), which never overflows."""
    e = np.exp(-np.abs(z))
    p = _as(1, z) / (_as(1, z) + e)
    q = e * p
    return np.where(z >= 0, p, q), np.where(z >= 0, q, p)


def swish_forward(z):
    """swish = silu: z * sigmoid(z).

    Example
    -------
    >>> swish_forward(np.array([0.0, -1000.0, 1000.0]))
    array([   0.,   -0., 1000.])
    """
    return z * _sigmoid_pair(z)[0]


def swish_backward(dout, z):
    """dL/dz = dL/da * s (1 + z (1 - s)), s = sigmoid(z).

    Example
    -------
    >>> swish_backward(np.array([1.0]), np.array([0.0]))
    array([0.5])
    """
    s, t = _sigmoid_pair(z)
    return dout * (s * (_as(1, z) + z * t))


def leaky_relu_forward(z):
    """leaky_relu with Keras's default slope for the name, 0.2: z for z > 0, else 0.2 z.

    Example
    -------
    >>> leaky_relu_forward(np.array([-1.0, 2.0]))
    array([-0.2,  2. ])
    """
    return np.where(z > 0, z, _as(_LEAKY_SLOPE, z) * z)


def leaky_relu_backward(dout, a):
    """dL/dz = dL/da where a > 0, else 0.2 dL/da.

    Example
    -------
    >>> leaky_relu_backward(np.array([1.0, 1.0]), np.array([-0.2, 2.0]))
    array([0.2, 1. ])
    """
    return np.where(a > 0, dout, _as(_LEAKY_SLOPE, a) * dout)


def softplus_forward(z):
    """softplus: log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)).

    Example
    -------
    >>> softplus_forward(np.array([0.0, 1000.0])).round(6).tolist()
    [0.693147, 1000.0]
    """
    return np.maximum(z, _as(0, z)) + np.log1p(np.exp(-np.abs(z)))


def softplus_backward(dout, a):
    """dL/dz = dL/da * sigmoid(z) = dL/da * -expm1(-a), from the output a.

    Example
    -------
    >>> softplus_backward(np.array([1.0]), np.array([np.log(2.0)]))
    array([0.5])
    """
    return dout * -np.expm1(-a)


def softsign_forward(z):
    """softsign: z / (1 + |z|).

    Example
    -------
    >>> softsign_forward(np.array([-1.0, 3.0]))
    array([-0.5 ,  0.75])
    """
    return z / (_as(1, z) + np.abs(z))


def softsign_backward(dout, a):
    """dL/dz = dL/da / (1 + |z|)^2 = dL/da * (1 - |a|)^2.

    Example
    -------
    >>> softsign_backward(np.array([1.0]), np.array([0.5]))
    array([0.25])
    """
    r = _as(1, a) - np.abs(a)
    return dout * (r * r)


def _relu6(t):
    return np.minimum(np.maximum(t, _as(0, t)), _as(6, t))


def hard_sigmoid_forward(z):
    """hard_sigmoid, Keras 3's: relu6(z + 3) / 6.

    Example
    -------
    >>> hard_sigmoid_forward(np.array([-4.0, 0.0, 4.0]))
    array([0. , 0.5, 1. ])
    """
    return _relu6(z + _as(3, z)) / _as(6, z)


def hard_sigmoid_backward(dout, a):
    """dL/dz = dL/da / 6 where 0 < a < 1, else 0.

    Example
    -------
    >>> hard_sigmoid_backward(np.array([6.0, 6.0]), np.array([0.5, 1.0]))
    array([1., 0.])
    """
    return np.where((a > 0) & (a < 1), dout / _as(6, a), _as(0, a))


def hard_silu_forward(z):
    """hard_silu = hard_swish: z * hard_sigmoid(z).

    Example
    -------
    >>> hard_silu_forward(np.array([-4.0, 1.0, 4.0]))
    array([-0.        ,  0.66666667,  4.        ])
    """
    return z * (_relu6(z + _as(3, z)) / _as(6, z))


def hard_silu_backward(dout, z):
    """dL/dz = dL/da * (hard_sigmoid(z) + z/6 inside -3 < z < 3).

    Example
    -------
    >>> hard_silu_backward(np.array([1.0, 1.0]), np.array([0.0, 4.0]))
    array([0.5, 1. ])
    """
    t = z + _as(3, z)
    slope = np.where((t > 0) & (t < 6), z / _as(6, z), _as(0, z))
    return dout * (_relu6(t) / _as(6, z) + slope)


_KERAS_FORWARD = {"elu": elu_forward, "selu": selu_forward, "gelu": gelu_forward,
                  "swish": swish_forward, "silu": swish_forward,
                  "leaky_relu": leaky_relu_forward, "softplus": softplus_forward,
                  "softsign": softsign_forward, "hard_sigmoid": hard_sigmoid_forward,
                  "hard_silu": hard_silu_forward, "hard_swish": hard_silu_forward,
                  "exponential": np.exp}
_KERAS_BACKWARD = {"elu": elu_backward, "selu": selu_backward, "gelu": gelu_backward,
                   "swish": swish_backward, "silu": swish_backward,
                   "leaky_relu": leaky_relu_backward, "softplus": softplus_backward,
                   "softsign": softsign_backward, "hard_sigmoid": hard_sigmoid_backward,
                   "hard_silu": hard_silu_backward, "hard_swish": hard_silu_backward,
                   "exponential": lambda dout, a: dout * a}


# ---------------------------------------------------------------------------
# The fully connected layer.
# ---------------------------------------------------------------------------

def dense_forward(x, w, b=None, act="linear", zmin=-np.inf):
    """out = act(x @ w + b).

    Parameters
    ----------
    x : ndarray (B, C)
    w : ndarray (C, OC)
    b : ndarray (OC,) or None
    act : str, one of 'linear', 'sigmoid', 'tanh', 'relu', 'softmax'
    zmin : float, sigmoid/softmax clip

    Returns
    -------
    ndarray (B, OC)

    Example
    -------
    >>> dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0], [1.0]]), np.array([0.5]))
    array([[3.5]])
    """
    z = x @ w                                       # (B, OC)
    if b is not None:
        z = z + b
    return activation_forward(z, act, zmin)


def dense_backward(dout, x, w):
    """Gradients of a dense layer, given dout = dL/dz of its pre-activation.

    The 1/m of a batch mean is expected to be folded into dout already.

    Parameters
    ----------
    dout : ndarray (B, OC)
    x : ndarray (B, C), the layer's input in the forward pass
    w : ndarray (C, OC), the weights as they were in the forward pass

    Returns
    -------
    dinp : ndarray (B, C)  = dout @ w.T, the error passed to the layer below
    dw : ndarray (C, OC)   = x.T @ dout
    db : ndarray (OC,)     = column sums of dout

    Example
    -------
    >>> dinp, dw, db = dense_backward(np.array([[1.0]]), np.array([[2.0, 3.0]]),
    ...                               np.array([[4.0], [5.0]]))
    >>> dinp, dw.ravel(), db
    (array([[4., 5.]]), array([2., 3.]), array([1.]))
    """
    dw = x.T @ dout
    # the core sums the bias gradient in float64, so long float32 batches stay accurate
    db = dout.sum(axis=0, dtype=np.float64).astype(dout.dtype)
    dinp = dout @ w.T
    return dinp, dw, db


def dense_weight_sgd_step(w, dout, x, lr, keep=1.0):
    """An SGD step on a dense layer's weights from its weight gradient
    ``x.T @ dout`` (dense_backward's dw), without keeping the gradient: what
    the core does for a wide first layer under SGD. keep < 1 is an L2
    penalty's or weight decay's shrinking folded in: with the book's l2,
    ``keep = 1 - lr * l2 / m`` gives ``w - lr * (dw + l2 * w / m)``.

    Example
    -------
    >>> dense_weight_sgd_step(np.array([[1.0], [1.0]]), np.array([[1.0]]),
    ...                       np.array([[2.0, 3.0]]), 0.5).ravel()
    array([ 0. , -0.5])
    >>> dense_weight_sgd_step(np.array([[1.0]]), np.array([[1.0]]), np.array([[2.0]]),
    ...                       0.5, keep=0.5).ravel()
    array([-0.5])
    """
    return _as(keep, w) * w - _as(lr, w) * (x.T @ dout)


# ---------------------------------------------------------------------------
# Losses. Why the output error is simply a - y: for sigmoid + binary
# cross-entropy and softmax + categorical cross-entropy, dL/dz = a - y because
# the activation's derivative cancels against the loss's 1/a terms. The
# forward kernels therefore take logits and return (probabilities, loss sum).
# ---------------------------------------------------------------------------

def _clip_prob(p, eps):
    """p clipped to [eps, 1-eps], in float64 (1 - 1e-10 is 1.0 in float32)."""
    eps = float(eps)
    return np.clip(p.astype(np.float64), eps, 1.0 - eps)


def softmax_cross_entropy_forward(logits, y, zmin=-np.inf, eps=0.0):
    """Softmax probabilities and the summed categorical cross-entropy.

    loss = sum over rows of -sum_k y log p, where p = softmax(max(z, zmin)).

    * eps > 0 (the book: 1e-10): p is clipped to [eps, 1-eps] before the log,
      in float64.
    * eps = 0: log p = (z - zmax) - log sum exp(z - zmax), which stays exact
      even when p underflows to 0.

    Parameters
    ----------
    logits : ndarray (B, K)
    y : ndarray (B, K), one-hot (or any row weights)
    zmin, eps : float

    Returns
    -------
    probs : ndarray (B, K), logits' dtype
    loss_sum : float

    Example
    -------
    >>> p, loss = softmax_cross_entropy_forward(np.array([[0.0, 0.0]]),
    ...                                         np.array([[1.0, 0.0]]))
    >>> round(loss, 6)   # -log(1/2)
    0.693147
    """
    eps = _as(eps, logits)        # the core receives eps in the array's precision
    z = np.maximum(logits, _as(zmin, logits))
    shifted = z - z.max(axis=1, keepdims=True)      # (B, K), every entry <= 0
    e = np.exp(shifted)
    row_sum = e.sum(axis=1)                         # (B,), in the array's precision
    probs = e * (_as(1, z) / row_sum)[:, None]
    y64 = y.astype(np.float64)
    if eps > 0:
        loss = -np.sum(y64 * np.log(_clip_prob(probs, eps)))
    else:
        log_sum = np.log(row_sum.astype(np.float64))
        loss = np.sum(y64.sum(axis=1) * log_sum - np.sum(y64 * shifted, axis=1))
    return probs, float(loss)


def binary_cross_entropy_forward(logits, y, zmin=-np.inf, eps=0.0):
    """Sigmoid probabilities and the summed binary cross-entropy.

    loss = sum of -(y log p + (1-y) log(1-p)), where p = sigmoid(max(z, zmin)).

    * eps > 0 (the book: 1e-10): p is clipped to [eps, 1-eps] first, in float64.
    * eps = 0: the same quantity written from the logit,
      max(z, 0) - z y + log(1 + exp(-|z|)), exact for any z.

    Example
    -------
    >>> p, loss = binary_cross_entropy_forward(np.array([[0.0]]), np.array([[1.0]]))
    >>> p, round(loss, 6)
    (array([[0.5]]), 0.693147)
    """
    eps = _as(eps, logits)
    probs = sigmoid_forward(logits, zmin)
    y64 = y.astype(np.float64)
    if eps > 0:
        p = _clip_prob(probs, eps)
        # log(1 - p) of the clipped p, not a clip of 1 - p: they differ in the last bits
        loss = -np.sum(y64 * np.log(p) + (1 - y64) * np.log(1 - p))
    else:
        z = np.maximum(logits, _as(zmin, logits)).astype(np.float64)
        loss = np.sum(np.maximum(z, 0) - z * y64 + np.log1p(np.exp(-np.abs(z))))
    return probs, float(loss)


def cross_entropy_backward(probs, y, scale):
    """dL/dlogits = scale * (probs - y), for sigmoid+BCE and softmax+CE alike.

    scale is 1/m for the mean over a batch of m rows.

    Example
    -------
    >>> cross_entropy_backward(np.array([[0.25, 0.75]]), np.array([[0.0, 1.0]]), 0.5)
    array([[ 0.125, -0.125]])
    """
    return _as(scale, probs) * (probs - y)


def mse_forward(out, y):
    """Sum over rows of the mean over columns of (out - y)^2 (Keras's mse,
    summed over the batch), accumulated in float64.

    Example
    -------
    >>> mse_forward(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))   # (1 + 9) / 2
    5.0
    """
    d = out.astype(np.float64) - y.astype(np.float64)
    return float(np.sum(np.mean(d * d, axis=1)))


def mse_backward(out, y, scale):
    """dL/dout = scale * 2 * (out - y); scale is 1/(m K) for the batch mean.

    Example
    -------
    >>> mse_backward(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]), 0.5)
    array([[1., 3.]])
    """
    return _as(scale, out) * _as(2, out) * (out - y)


# ---------------------------------------------------------------------------
# Keras's further losses, between output activations a and targets y. Each
# row's loss is the mean of its K elementwise terms (kl_divergence: the sum);
# values in float64, gradients dL/da in the array's precision.
# ---------------------------------------------------------------------------

_KERAS_EPSILON = 1e-7           # Keras's backend.epsilon(): mape's and kl_divergence's guard
_ELEMENTWISE_LOSSES = {"mean_absolute_error": "mae", "mae": "mae",
                       "mean_absolute_percentage_error": "mape", "mape": "mape",
                       "huber": "huber", "log_cosh": "log_cosh",
                       "kl_divergence": "kl_divergence", "hinge": "hinge",
                       "squared_hinge": "squared_hinge"}


def _hinge_labels(y):
    """Keras's 0/1 -> -1/+1 hinge labels, element by element: 0 reads as -1."""
    return np.where(y == 0, -1.0, y)


def _log_cosh(x):
    """log(cosh x) without cancellation (x float64): log1p(cosh x - 1) below
    |x| = 1, with cosh x - 1 = em^2 / (2 (1 + em)), em = expm1(|x|); beyond,
    Keras's |x| + log1p(exp(-2|x|)) - log 2."""
    ax = np.abs(x)
    em = np.expm1(np.minimum(ax, 1.0))
    small = np.log1p(em * em / (2.0 * (1.0 + em)))
    large = ax + np.log1p(np.exp(-2.0 * ax)) - math.log(2.0)
    return np.where(ax < 1.0, small, large)


def elementwise_loss_forward(out, y, loss, huber_delta=1.0):
    """Sum over rows of Keras's `loss` ('mae', 'mape', 'huber', 'log_cosh',
    'kl_divergence', 'hinge', 'squared_hinge' or their long names) between
    out and y (B, K):

    * mae: |a - y|;  mape: 100 |(y - a) / max(|y|, 1e-7)|;
    * huber: e^2/2 where |e| <= delta, else delta |e| - delta^2/2 (e = a - y);
    * log_cosh: log(cosh(a - y));
    * kl_divergence: t log(t / p), t and p the labels and a clipped to [1e-7, 1];
    * hinge: max(1 - t a, 0);  squared_hinge: its square (t: y with 0 read as -1),

    each averaged over a row's K terms, except kl_divergence, which sums them.

    Example
    -------
    >>> elementwise_loss_forward(np.array([[0.5, 3.0]]), np.zeros((1, 2)), "huber")   # (0.125 + 2.5)/2
    1.3125
    """
    name = _ELEMENTWISE_LOSSES[loss]
    a, t = out.astype(np.float64), y.astype(np.float64)
    eps = float(np.asarray(out).dtype.type(_KERAS_EPSILON))   # the constant in out's precision
    if name == "mae":
        terms = np.abs(a - t)
    elif name == "mape":
        terms = 100.0 * np.abs((t - a) / np.maximum(np.abs(t), eps))
    elif name == "huber":
        e = np.abs(a - t)
        terms = np.where(e <= huber_delta, 0.5 * e * e,
                         huber_delta * e - 0.5 * huber_delta * huber_delta)
    elif name == "log_cosh":
        terms = _log_cosh(a - t)
    elif name == "kl_divergence":
        tc, pc = np.clip(t, eps, 1.0), np.clip(a, eps, 1.0)
        return float(np.sum(tc * np.log(tc / pc)))
    else:
        h = np.maximum(1.0 - _hinge_labels(t) * a, 0.0)
        terms = h if name == "hinge" else h * h
    return float(np.sum(terms.sum(axis=1) / out.shape[1]))


def elementwise_loss_backward(out, y, loss, scale, huber_delta=1.0):
    """scale * d(term)/d(out) of `loss` (see elementwise_loss_forward); scale is
    1/(m K) for a batch mean of row means, 1/m for kl_divergence. At kinks the
    gradient is TensorFlow's: |.|' (0) = 0, the hinge's max passes the
    gradient at 1 - t a = 0, huber takes the quadratic side at |e| = delta, a
    clip passes the gradient at its bounds.

    Example
    -------
    >>> elementwise_loss_backward(np.array([[2.0, -1.0, 0.0]]), np.zeros((1, 3)), "mae", 1.0)
    array([[ 1., -1.,  0.]])
    """
    name = _ELEMENTWISE_LOSSES[loss]
    one, zero, sc = _as(1, out), _as(0, out), _as(scale, out)
    eps = _as(_KERAS_EPSILON, out)
    if name == "mae":
        g = np.sign(out - y)
    elif name == "mape":
        g = _as(100, out) * np.sign(out - y) / np.maximum(np.abs(y), eps)
    elif name == "huber":
        e, d = out - y, _as(huber_delta, out)
        g = np.where(np.abs(e) <= d, e, np.where(e > 0, d, -d))
    elif name == "log_cosh":
        g = np.tanh(out - y)
    elif name == "kl_divergence":
        t = np.clip(y, eps, one)
        inside = (out >= eps) & (out <= one)
        return np.where(inside, sc * (-t / np.where(inside, out, one)), zero)
    else:
        t = np.where(y == 0, -one, y)
        h = one - t * out
        if name == "hinge":
            return np.where(h >= 0, sc * -t, zero)
        return np.where(h > 0, sc * (_as(-2, out) * t * h), zero)
    return sc * g


def output_loss_forward(z, y, loss, act, zmin=-np.inf, eps=0.0, huber_delta=1.0):
    """(act(z), rows' loss sum) of the output layer, as the training loop forms
    them (mirrors output_loss_forward in losses.c); the loss is 0.0 without y.

    Example
    -------
    >>> a, loss = output_loss_forward(np.array([[0.0]]), np.array([[1.0]]), "hinge", "tanh")
    >>> a, loss
    (array([[0.]]), 1.0)
    """
    if y is not None and loss == "categorical_crossentropy":
        return softmax_cross_entropy_forward(z, y, zmin, eps)
    if y is not None and loss == "binary_crossentropy":
        a, total = binary_cross_entropy_forward(z, y, zmin, eps)
        return a, total / z.shape[1]
    a = activation_forward(z, act, zmin)
    if y is None:
        return a, 0.0
    if loss == "mse":
        return a, mse_forward(a, y)
    if loss == "poisson":
        a64, t = a.astype(np.float64), y.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(t != 0, t * np.log(t / a64), 0.0)
        return a, float(np.sum(logs - t + a64))
    return a, elementwise_loss_forward(a, y, loss, huber_delta)


def output_loss_backward(a, y, loss, act, m, huber_delta=1.0):
    """dL/dz of the output layer's logits for a's rows, in a batch of m rows
    whose loss is the mean over its rows (mirrors output_loss_backward).

    Example
    -------
    >>> output_loss_backward(np.array([[0.5]]), np.array([[1.0]]), "mae", "sigmoid", 2)
    array([[-0.125]])
    """
    k = a.shape[1]
    if loss == "binary_crossentropy":
        return cross_entropy_backward(a, y, 1.0 / (m * k))
    if loss in ("categorical_crossentropy", "poisson"):
        return cross_entropy_backward(a, y, 1.0 / m)
    if loss == "mse":
        dout = mse_backward(a, y, 1.0 / (m * k))
    else:
        scale = 1.0 / (m if _ELEMENTWISE_LOSSES[loss] == "kl_divergence" else m * k)
        dout = elementwise_loss_backward(a, y, loss, scale, huber_delta)
    return activation_backward(dout, a, act)


# ---------------------------------------------------------------------------
# Per-batch metric counts (mirrors metrics.c).
# ---------------------------------------------------------------------------

def metric_counts(a, y, loss="mse", top_k=5, threshold=0.5):
    """[correct, top_k, true positives, false positives, false negatives] of
    output activations a (m, K) against targets y:

    * correct: for one output, the rows where a > 0.5 agrees with y > 0.5;
      for several (binary cross-entropy over several units too: Keras's
      'accuracy' is categorical there), the rows whose argmax agrees;
    * top_k: rows whose target (argmax of y) has fewer than top_k scores
      strictly above it (TensorFlow's in_top_k: ties at the boundary count
      in; a row with a non-finite score never does);
    * tp/fp/fn over every element: predicted positive a > threshold, label
      positive y != 0 (Keras's Precision and Recall).

    Example
    -------
    >>> metric_counts(np.array([[0.6, 0.6, 0.1]]), np.array([[0.0, 1.0, 0.0]]), top_k=1)
    [0, 1, 1, 1, 0]
    """
    m, k = a.shape
    if k == 1:
        correct = int(np.sum((a > _as(0.5, a)) == (y > _as(0.5, y))))
    else:
        correct = int(np.sum(np.argmax(a, axis=1) == np.argmax(y, axis=1)))
    target = np.argmax(y, axis=1)
    score = a[np.arange(m), target]
    higher = np.sum(a > score[:, None], axis=1)
    finite = np.all(np.isfinite(a), axis=1)
    in_top = int(np.sum(finite & (higher < top_k)))
    pred, label = a > _as(threshold, a), y != 0
    return [correct, in_top, int(np.sum(pred & label)), int(np.sum(pred & ~label)),
            int(np.sum(~pred & label))]


def auc_histogram(a, y, bins, single=True):
    """Keras's AUC buckets of scores a against labels y: (positives, negatives),
    each an int64 array of `bins` counts; element p lands in bucket
    max(ceil(clip(p, 0, 1) (bins - 1)) - 1, 0), computed in float32 when
    `single` (Keras's metric dtype), and is a positive when its label != 0.

    Example
    -------
    >>> pos, neg = auc_histogram(np.array([[0.1], [0.9]]), np.array([[0.0], [1.0]]), 3)
    >>> pos.tolist(), neg.tolist()
    ([0, 1, 0], [1, 0, 0])
    """
    kind = np.float32 if single else np.float64
    p = np.clip(a.astype(kind).ravel(), 0, 1)
    bucket = np.maximum(np.ceil(p * kind(bins - 1)) - 1, 0).astype(np.int64)
    label = y.ravel() != 0
    return (np.bincount(bucket[label], minlength=bins),
            np.bincount(bucket[~label], minlength=bins))



# ---------------------------------------------------------------------------
# The weight penalty and the optimizers, over flat parameter vectors.
# ---------------------------------------------------------------------------

def l1_l2_penalty_forward(w, l1, l2):
    """The book's penalty l1 * sum|w| + l2/2 * sum w^2, in float64.

    Example
    -------
    >>> l1_l2_penalty_forward(np.array([1.0, -2.0]), 0.5, 1.0)   # 0.5*3 + 0.5*5
    4.0
    """
    w64 = np.asarray(w, dtype=np.float64)
    return float(l1 * np.sum(np.abs(w64)) + l2 / 2 * np.sum(w64 * w64))


def l1_l2_penalty_backward(dw, w, l1, l2, inv_m):
    """dw + (l1 sign(w) + l2 w) * inv_m: the book's penalty gradient, added to
    every batch's weight gradient with inv_m = 1/m.

    Example
    -------
    >>> l1_l2_penalty_backward(np.zeros(2), np.array([1.0, -2.0]), 1.0, 1.0, 0.5)
    array([ 1. , -1.5])
    """
    l1, l2, inv_m = _as(l1, w), _as(l2, w), _as(inv_m, w)
    return dw + (l1 * np.sign(w) + l2 * w) * inv_m


def sgd_update(param, grad, lr, grad2=None):
    """param - lr * grad, or with grad2 param - lr * (grad + grad2).

    Example
    -------
    >>> sgd_update(np.array([1.0]), np.array([2.0]), 0.25)
    array([0.5])
    >>> sgd_update(np.array([1.0]), np.array([2.0]), 0.25, np.array([2.0]))
    array([0.])
    """
    if grad2 is not None:
        grad = grad + grad2
    return param - _as(lr, param) * grad


def sgd_momentum_update(param, velocity, grad, lr, momentum, nesterov=False):
    """Keras's SGD with momentum.

    v' = momentum v - lr g; param' = param + v', or with Nesterov
    param' = param + momentum v' - lr g.

    Returns
    -------
    (param', v')

    Example
    -------
    >>> sgd_momentum_update(np.array([1.0]), np.array([1.0]), np.array([2.0]), 0.25, 0.5)
    (array([1.]), array([0.]))
    """
    lr, momentum = _as(lr, param), _as(momentum, param)
    v = momentum * velocity - lr * grad
    step = momentum * v - lr * grad if nesterov else v
    return param + step, v


def adam_update(param, m, v, grad, lr, beta1, beta2, epsilon, step):
    """Adam (Kingma & Ba) in Keras's form; step = 1 on the first update.

    m' = m + (1-b1)(g - m); v' = v + (1-b2)(g^2 - v);
    param' = param - lr sqrt(1-b2^t)/(1-b1^t) * m' / (sqrt(v') + epsilon).
    The bias-correction factor is computed in float64, as in the core.

    Returns
    -------
    (param', m', v')

    Example
    -------
    >>> p, m, v = adam_update(np.array([1.0]), np.zeros(1), np.zeros(1), np.array([2.0]),
    ...                       0.1, 0.9, 0.999, 0.0, 1)
    >>> p   # the first Adam step moves by lr * sign(g)
    array([0.9])
    """
    one = _as(1, param)
    beta1, beta2, epsilon = _as(beta1, param), _as(beta2, param), _as(epsilon, param)
    # float(beta) reads the value the core got (e.g. float32(0.9)), then widens it
    alpha = _as(lr * np.sqrt(1.0 - float(beta2) ** step) / (1.0 - float(beta1) ** step), param)
    m = m + (one - beta1) * (grad - m)
    v = v + (one - beta2) * (grad * grad - v)
    return param - alpha * m / (np.sqrt(v) + epsilon), m, v


def rmsprop_update(param, velocity, grad, lr, rho, epsilon):
    """RMSprop in Keras's form: v' = rho v + (1-rho) g^2;
    param' = param - lr g / sqrt(v' + epsilon).

    Returns
    -------
    (param', v')

    Example
    -------
    >>> rmsprop_update(np.array([1.0]), np.zeros(1), np.array([2.0]), 0.5, 0.75, 0.0)
    (array([0.]), array([1.]))
    """
    lr, rho, epsilon = _as(lr, param), _as(rho, param), _as(epsilon, param)
    v = rho * velocity + (_as(1, param) - rho) * grad * grad
    return param - lr * grad / np.sqrt(v + epsilon), v


def adagrad_update(param, accumulator, grad, lr, epsilon):
    """Adagrad in Keras's form: acc' = acc + g^2; param' = param - lr g / sqrt(acc' + epsilon).

    Returns
    -------
    (param', acc')

    Example
    -------
    >>> adagrad_update(np.array([1.0]), np.array([0.0]), np.array([2.0]), 0.5, 0.0)
    (array([0.5]), array([4.]))
    """
    lr, epsilon = _as(lr, param), _as(epsilon, param)
    acc = accumulator + grad * grad
    return param - lr * grad / np.sqrt(acc + epsilon), acc


def adadelta_update(param, acc_grad, acc_delta, grad, lr, rho, epsilon):
    """Adadelta in Keras's form: ag' = rho ag + (1-rho) g^2;
    d = -sqrt(ad + epsilon) g / sqrt(ag' + epsilon); ad' = rho ad + (1-rho) d^2;
    param' = param + lr d.

    Returns
    -------
    (param', ag', ad')

    Example
    -------
    >>> p, ag, ad = adadelta_update(np.array([1.0]), np.zeros(1), np.zeros(1), np.array([2.0]),
    ...                             1.0, 0.5, 1e-2)
    >>> ag
    array([2.])
    """
    one = _as(1, param)
    lr, rho, epsilon = _as(lr, param), _as(rho, param), _as(epsilon, param)
    ag = rho * acc_grad + (one - rho) * (grad * grad)
    d = -(np.sqrt(acc_delta + epsilon) * grad / np.sqrt(ag + epsilon))
    ad = rho * acc_delta + (one - rho) * (d * d)
    return param + lr * d, ag, ad


def adamax_update(param, m, u, grad, lr, beta1, beta2, epsilon, step):
    """Adamax in Keras's form (step = 1 on the first update): m' = m + (g - m)(1-b1);
    u' = max(b2 u, |g|); param' = param - lr m' / ((1 - b1^t)(u' + epsilon)).

    Returns
    -------
    (param', m', u')

    Example
    -------
    >>> adamax_update(np.array([1.0]), np.zeros(1), np.zeros(1), np.array([2.0]),
    ...               0.1, 0.5, 0.9, 0.0, 1)[0]   # m' = 1, u' = 2, 1 - b1 = 0.5
    array([0.9])
    """
    one = _as(1, param)
    beta1, beta2, epsilon = _as(beta1, param), _as(beta2, param), _as(epsilon, param)
    correction = one - _as(float(beta1) ** step, param)
    m = m + (grad - m) * (one - beta1)
    u = np.maximum(beta2 * u, np.abs(grad))
    return param - _as(lr, param) * m / (correction * (u + epsilon)), m, u


def nadam_products(u_product, beta1, step, dtype):
    """Nadam's momentum-schedule products before update `step`: (u_1 ... u_t,
    u_1 ... u_{t+1}) from the stored u_1 ... u_{t-1}, u_k = b1 (1 - 0.5 0.96^k)."""
    b1, one, half = _as(beta1, np.zeros(1, dtype)), dtype.type(1), dtype.type(0.5)
    u_t = u_product * b1 * (one - half * dtype.type(0.96 ** step))
    return u_t, u_t * (b1 * (one - half * dtype.type(0.96 ** (step + 1))))


def nadam_update(param, m, v, grad, lr, beta1, beta2, epsilon, step, u_product_t,
                 u_product_t1):
    """Nadam in Keras's form (step = 1 on the first update); see nadam_products.
    m' = m + (g - m)(1-b1); v' = v + (g^2 - v)(1-b2);
    param' = param - lr (u_{t+1} m' / (1 - P_{t+1}) + (1 - u_t) g / (1 - P_t))
                     / (sqrt(v' / (1 - b2^t)) + epsilon).

    Returns
    -------
    (param', m', v')

    Example
    -------
    >>> pt, pt1 = nadam_products(np.float64(1.0), 0.9, 1, np.dtype(np.float64))
    >>> p, m, v = nadam_update(np.array([1.0]), np.zeros(1), np.zeros(1), np.array([2.0]),
    ...                        0.1, 0.9, 0.999, 1e-7, 1, pt, pt1)
    >>> bool(p[0] < 1.0)
    True
    """
    one, half = _as(1, param), _as(0.5, param)
    beta1, beta2, epsilon = _as(beta1, param), _as(beta2, param), _as(epsilon, param)
    u_t = beta1 * (one - half * _as(0.96 ** step, param))
    u_t1 = beta1 * (one - half * _as(0.96 ** (step + 1), param))
    beta2_power = _as(float(beta2) ** step, param)
    m = m + (grad - m) * (one - beta1)
    v = v + (grad * grad - v) * (one - beta2)
    m_hat = u_t1 * m / (one - u_product_t1) + (one - u_t) * grad / (one - u_product_t)
    v_hat = v / (one - beta2_power)
    return param - m_hat * _as(lr, param) / (np.sqrt(v_hat) + epsilon), m, v


def weight_decay_update(param, weight_decay, lr):
    """Keras's decoupled weight decay: param - param * weight_decay * lr.

    Example
    -------
    >>> weight_decay_update(np.array([2.0]), 0.5, 0.1)
    array([1.9])
    """
    return param - param * _as(weight_decay, param) * _as(lr, param)


def learning_rate_at(spec, iterations):
    """The schedule's learning rate for the update after `iterations` earlier ones.

    Example
    -------
    >>> spec = NetworkSpec(sizes=(1, 1), activations=("linear",), learning_rate=0.1,
    ...                    lr_schedule="exponential", lr_decay_steps=10, lr_decay_rate=0.5)
    >>> round(learning_rate_at(spec, 10), 12)
    0.05
    """
    step = float(iterations)
    if spec.lr_schedule == "exponential":
        p = step / spec.lr_decay_steps
        return spec.learning_rate * spec.lr_decay_rate ** (np.floor(p) if spec.lr_staircase
                                                           else p)
    if spec.lr_schedule == "piecewise":
        for b, v in zip(spec.lr_boundaries, spec.lr_values):
            if step <= b:
                return v
        return spec.lr_values[-1]
    if spec.lr_schedule == "cosine":
        s = min(step, spec.lr_decay_steps)
        cosine = 0.5 * (1.0 + np.cos(np.pi * s / spec.lr_decay_steps))
        return spec.learning_rate * ((1.0 - spec.lr_alpha) * cosine + spec.lr_alpha)
    return spec.learning_rate


# ---------------------------------------------------------------------------
# Whole networks, mirroring train.c: a network's parameters live in one flat
# vector, layer by layer, W_l (sizes[l], sizes[l+1]) row-major then b_l.
# ---------------------------------------------------------------------------

# Defaults of the per-stage settings (one value per stage when given).
STAGE_DEFAULTS = {"rates": 0.0, "bn_momentum": 0.99, "bn_epsilon": 1e-3, "bn_scale": True,
                  "kernel_l1": 0.0, "kernel_l2": 0.0, "bias_l1": 0.0, "bias_l2": 0.0,
                  "activity_l1": 0.0, "activity_l2": 0.0}


@dataclass(frozen=True)
class NetworkSpec:
    """A network's stages, loss and optimizer. The field names are those of
    ``nnbook._nncore.CoreConfig``, so ``CoreConfig(**dataclasses.asdict(spec))``
    builds the same network in the core.

    Stages are dense unless `kinds` says otherwise ('dense', 'batchnorm',
    'dropout', 'activation'; the others keep the width). Per-stage settings
    (rates, bn_*, the Keras regularizers) are None for their defaults
    (STAGE_DEFAULTS) or one value per stage.

    Example
    -------
    >>> spec = NetworkSpec(sizes=(3, 2, 1), activations=("sigmoid", "sigmoid"))
    >>> param_count(spec)   # 3*2 + 2 + 2*1 + 1
    11
    """
    sizes: Sequence[int]
    activations: Sequence[str]
    has_bias: Optional[Sequence[bool]] = None
    loss: str = "binary_crossentropy"
    zmin: float = -np.inf
    eps: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-7
    rho: float = 0.9
    nesterov: bool = False
    frozen: Optional[Sequence[bool]] = None
    weight_decay: float = 0.0
    initial_accumulator: float = 0.0
    lr_schedule: str = "constant"
    lr_decay_steps: float = 1.0
    lr_decay_rate: float = 1.0
    lr_alpha: float = 0.0
    lr_staircase: bool = False
    lr_boundaries: Sequence[float] = ()
    lr_values: Sequence[float] = ()
    kinds: Optional[Sequence[str]] = None
    rates: Optional[Sequence[float]] = None
    bn_momentum: Optional[Sequence[float]] = None
    bn_epsilon: Optional[Sequence[float]] = None
    bn_scale: Optional[Sequence[bool]] = None
    kernel_l1: Optional[Sequence[float]] = None
    kernel_l2: Optional[Sequence[float]] = None
    bias_l1: Optional[Sequence[float]] = None
    bias_l2: Optional[Sequence[float]] = None
    activity_l1: Optional[Sequence[float]] = None
    activity_l2: Optional[Sequence[float]] = None
    dropout_seed: int = 0
    clipnorm: float = 0.0
    global_clipnorm: float = 0.0
    clipvalue: float = 0.0

    def bias(self, layer):
        """Whether stage `layer` has a bias (beta for batch normalization)."""
        return True if self.has_bias is None else bool(self.has_bias[layer])

    def kind(self, layer):
        """'dense', 'batchnorm', 'dropout' or 'activation'."""
        return "dense" if self.kinds is None else self.kinds[layer]

    def stage(self, name, layer):
        """Stage `layer`'s value of a per-stage setting (see STAGE_DEFAULTS)."""
        values = getattr(self, name)
        return STAGE_DEFAULTS[name] if values is None else values[layer]

    def is_frozen(self, layer):
        return self.frozen is not None and bool(self.frozen[layer])


def _layout(spec):
    """[(w_start, b_start, state_start), ...] (-1: none) and the vector's length."""
    layout, at = [], 0
    for l in range(len(spec.activations)):
        n, w, b, state = spec.sizes[l + 1], -1, -1, -1
        if spec.kind(l) == "dense":
            w, at = at, at + spec.sizes[l] * n
        elif spec.kind(l) == "batchnorm" and spec.stage("bn_scale", l):
            w, at = at, at + n
        if spec.kind(l) in ("dense", "batchnorm") and spec.bias(l):
            b, at = at, at + n
        if spec.kind(l) == "batchnorm":
            state, at = at, at + 2 * n
        layout.append((w, b, state))
    return layout, at


def param_offsets(spec):
    """[(w_start, b_start), ...]: where each stage's W (gamma) and b (beta)
    begin in the flat parameter vector (-1: none).

    Example
    -------
    >>> param_offsets(NetworkSpec(sizes=(3, 2, 1), activations=("sigmoid", "sigmoid")))
    [(0, 6), (8, 10)]
    """
    return [(w, b) for w, b, _ in _layout(spec)[0]]


def state_offsets(spec):
    """Where each batch-normalization stage's moving mean begins (then its
    moving variance); -1 for other stages."""
    return [state for _, _, state in _layout(spec)[0]]


def param_count(spec):
    """Length of the flat parameter vector."""
    return _layout(spec)[1]


def optimizer_slots(spec):
    """How many state vectors (each param_count long) the optimizer keeps."""
    return {"sgd": 0, "momentum": 1, "adam": 2, "rmsprop": 1, "adagrad": 1, "adadelta": 2,
            "adamax": 2, "nadam": 2}[spec.optimizer]


def initial_optimizer_state(spec, dtype):
    """A fresh optimizer state: the slots (Adagrad's at initial_accumulator),
    then Nadam's momentum-schedule product (1)."""
    P = param_count(spec)
    state = np.zeros(optimizer_slots(spec) * P + (spec.optimizer == "nadam"), dtype)
    if spec.optimizer == "adagrad":
        state[...] = spec.initial_accumulator
    if spec.optimizer == "nadam":
        state[-1] = 1
    return state


def layer_params(spec, params):
    """[(W_l, b_l), ...] as views into the flat vector `params` (None where a
    stage has none; a batch-normalization stage's are gamma and beta).

    Example
    -------
    >>> spec = NetworkSpec(sizes=(2, 1), activations=("sigmoid",))
    >>> layer_params(spec, np.array([1.0, 2.0, 3.0]))
    [(array([[1.],
           [2.]]), array([3.]))]
    """
    layers = []
    for l, (w_start, b_start, _) in enumerate(_layout(spec)[0]):
        n_in, n_out = spec.sizes[l], spec.sizes[l + 1]
        w = None
        if w_start >= 0:
            w = params[w_start:w_start + (n_in * n_out if spec.kind(l) == "dense" else n_out)]
            if spec.kind(l) == "dense":
                w = w.reshape(n_in, n_out)
        b = params[b_start:b_start + n_out] if b_start >= 0 else None
        layers.append((w, b))
    return layers


def _moving_statistics(spec, params, l):
    start, n = state_offsets(spec)[l], spec.sizes[l + 1]
    return params[start:start + n], params[start + n:start + 2 * n]


_M64 = (1 << 64) - 1


def _mix64(z):
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_mask(seed, step, layer, rows, n, row0=0):
    """The kept units (bool (rows, n)) of dropout stage `layer` at update
    `step` for batch rows row0..row0+rows-1: unit j of batch row i is kept
    when the 53-bit uniform hash(key, i * n + j) >= rate (see dropout.c)."""
    with np.errstate(over="ignore"):
        key = _mix64(_mix64(np.uint64((seed + 0x9E3779B97F4A7C15) & _M64))
                     ^ np.uint64((step * 32 + layer) & _M64))
        e = (np.arange(row0 * n, (row0 + rows) * n, dtype=np.uint64)
             + np.uint64(0x632BE59BD9B4E019))
        u = _mix64(key ^ _mix64(e))
    return ((u >> np.uint64(11)).astype(np.float64) * 2.0 ** -53).reshape(rows, n)


def dropout_forward(x, rate, uniforms):
    """x * (u >= rate) / (1 - rate), the inverted dropout of training."""
    scale = _as(1.0 / (1.0 - rate), x)
    return np.where(uniforms >= rate, x * scale, _as(0, x))


def batchnorm_statistics(x):
    """The batch's per-unit mean and biased variance (float64 sums, cast to x's dtype)."""
    x64 = x.astype(np.float64)
    mean = x64.sum(axis=0) / len(x)
    var = ((x64 - mean) ** 2).sum(axis=0) / len(x)
    return _as(mean, x), _as(var, x)


def batchnorm_forward(x, gamma, beta, mean, var, epsilon):
    """gamma (x - mean) / sqrt(var + eps) + beta, as x * inv + (beta - mean * inv)
    with inv = gamma / sqrt(var + eps) (TensorFlow's order); gamma/beta None: 1/0."""
    inv = 1.0 / np.sqrt(var.astype(np.float64) + epsilon)
    if gamma is not None:
        inv = inv * gamma
    shift = (0.0 if beta is None else beta.astype(np.float64)) - mean * inv
    return _as(x.astype(np.float64) * inv + shift, x)


def batchnorm_backward(dout, x, gamma, mean, var, epsilon, batch=True):
    """(dx, dgamma, dbeta) of batchnorm_forward; batch: the statistics were
    the batch's own (else fixed: the moving ones)."""
    d64, x64 = dout.astype(np.float64), x.astype(np.float64)
    istd = 1.0 / np.sqrt(var.astype(np.float64) + epsilon)
    xhat = (x64 - mean) * istd
    dgamma, dbeta = (d64 * xhat).sum(axis=0), d64.sum(axis=0)
    scale = (1.0 if gamma is None else gamma.astype(np.float64)) * istd
    m = len(x)
    dx = scale * (d64 - dbeta / m - xhat * dgamma / m) if batch else scale * d64
    return _as(dx, x), _as(dgamma, x), _as(dbeta, x)


def _forward_layers(spec, layers, x, params=None, training=False, step=0, row0=0):
    """Every stage's output for the batch x, the last one left as logits
    (its activation is applied together with the loss), and each
    batch-normalization stage's (mean, var) used."""
    acts, stats, inp = [], {}, x
    last = len(layers) - 1
    for l, (w, b) in enumerate(layers):
        act = "linear" if l == last else spec.activations[l]
        kind = spec.kind(l)
        if kind == "batchnorm":
            if training and not spec.is_frozen(l):
                stats[l] = batchnorm_statistics(inp)
            else:
                stats[l] = _moving_statistics(spec, params, l)
            inp = batchnorm_forward(inp, w, b, *stats[l], spec.stage("bn_epsilon", l))
        elif kind == "dropout":
            rate = spec.stage("rates", l)
            if training and rate > 0:
                u = dropout_mask(spec.dropout_seed, step, l, len(inp), inp.shape[1], row0)
                inp = dropout_forward(inp, rate, u)
            else:
                inp = inp.copy()
        elif kind == "activation":
            inp = activation_forward(inp, act, spec.zmin)
        else:
            inp = dense_forward(inp, w, b, act, spec.zmin)
        acts.append(inp)
    return acts, stats


def _output_layer(spec, z, y):
    """(output activations, loss sum) from the last layer's logits z; the
    loss is 0.0 when y is None."""
    if y is not None and spec.loss == "categorical_crossentropy":
        return softmax_cross_entropy_forward(z, y, spec.zmin, spec.eps)
    if y is not None and spec.loss == "binary_crossentropy":
        # per sample: the mean over its units (Keras's multi-label form; the
        # book's networks have one unit)
        a, loss = binary_cross_entropy_forward(z, y, spec.zmin, spec.eps)
        return a, loss / z.shape[1]
    a = activation_forward(z, spec.activations[-1], spec.zmin)
    return a, (mse_forward(a, y) if y is not None else 0.0)


def _activity_penalty(spec, acts):
    """Keras's activity penalties summed over the rows: l1 sum|a| + l2 sum a^2."""
    total = 0.0
    for l, a in enumerate(acts):
        l1, l2 = spec.stage("activity_l1", l), spec.stage("activity_l2", l)
        if l1 or l2:
            a64 = a.astype(np.float64)
            total += l1 * np.abs(a64).sum() + l2 * (a64 * a64).sum()
    return total


def weight_penalty(spec, params):
    """Keras's kernel and bias regularizers: sum of l1 sum|v| + l2 sum v^2
    over the trained stages (Keras counts trainable weights only)."""
    total = 0.0
    for l, (w, b) in enumerate(layer_params(spec, params)):
        if spec.is_frozen(l):
            continue
        for v, (l1, l2) in ((w, (spec.stage("kernel_l1", l), spec.stage("kernel_l2", l))),
                            (b, (spec.stage("bias_l1", l), spec.stage("bias_l2", l)))):
            if v is not None and (l1 or l2):
                v64 = v.astype(np.float64)
                total += l1 * np.abs(v64).sum() + l2 * (v64 * v64).sum()
    return total


def network_forward(spec, params, x, y=None, logits=False):
    """Forward pass over all rows of x (mirrors network_forward in train.c).

    Parameters
    ----------
    spec : NetworkSpec
    params : ndarray (param_count(spec),)
    x : ndarray (n, sizes[0])
    y : ndarray (n, sizes[-1]) or None
    logits : bool, return the last layer's logits instead of its activations

    Returns
    -------
    out : ndarray (n, sizes[-1])
    loss_sum : float, sum of the loss terms over all rows (0.0 without y),
        plus the Keras regularizers' penalties (rows times the weights',
        and the activity penalties)

    Example
    -------
    >>> spec = NetworkSpec(sizes=(1, 1), activations=("sigmoid",))
    >>> network_forward(spec, np.array([0.0, 0.0]), np.ones((1, 1)))[0]
    array([[0.5]])
    """
    layers = layer_params(spec, params)
    acts, _ = _forward_layers(spec, layers, x, params)
    z = acts[-1]
    a, loss = _output_layer(spec, z, y)
    if y is not None:
        loss += _activity_penalty(spec, acts[:-1] + [a]) + len(x) * weight_penalty(spec, params)
    return (z if logits else a), loss


def _output_delta(spec, a, y):
    """dL/dz of the last layer, with the batch mean's 1/m folded in."""
    m, k = a.shape
    if spec.loss == "mse":
        dout = mse_backward(a, y, 1.0 / (m * k))
        return activation_backward(dout, a, spec.activations[-1])
    # sigmoid+BCE and softmax+CE: dL/dz = (a - y) / m, and / k for BCE's mean over units
    if spec.loss == "binary_crossentropy":
        return cross_entropy_backward(a, y, 1.0 / (m * k))
    return cross_entropy_backward(a, y, 1.0 / m)


def _activity_gradient(spec, l, a, m):
    """d(activity penalty / m)/da = (l1 sign a + 2 l2 a) / m."""
    l1, l2 = spec.stage("activity_l1", l), spec.stage("activity_l2", l)
    return l1_l2_penalty_backward(np.zeros_like(a), a, l1, 2 * l2, 1.0 / m)


def _gradients(spec, layers, x, acts, delta, stats=None, step=0, row0=0, m=None):
    """The flat gradient vector, given every stage's output (the last one's
    after its activation) and the output delta. Every gradient is formed
    before any weight moves, so the hidden error uses each W as it was in the
    forward pass (the book's order)."""
    grads = np.zeros(param_count(spec), dtype=x.dtype)
    m = len(x) if m is None else m
    last = len(layers) - 1
    if spec.stage("activity_l1", last) or spec.stage("activity_l2", last):
        extra = _activity_gradient(spec, last, acts[last], m)
        delta = delta + activation_backward(extra, acts[last], spec.activations[last])
    for l in range(last, -1, -1):
        w, _ = layers[l]
        inp = acts[l - 1] if l else x
        w_start, b_start = param_offsets(spec)[l]
        if l != last and (spec.stage("activity_l1", l) or spec.stage("activity_l2", l)):
            delta = delta + _activity_gradient(spec, l, acts[l], m)
        kind = spec.kind(l)
        if kind == "batchnorm":
            batch = not spec.is_frozen(l)
            delta, dgamma, dbeta = batchnorm_backward(delta, inp, w, *stats[l],
                                                      spec.stage("bn_epsilon", l), batch)
            if w_start >= 0:
                grads[w_start:w_start + dgamma.size] = dgamma
            if b_start >= 0:
                grads[b_start:b_start + dbeta.size] = dbeta
        elif kind == "dropout":
            rate = spec.stage("rates", l)
            if rate > 0:
                u = dropout_mask(spec.dropout_seed, step, l, len(delta), delta.shape[1], row0)
                delta = dropout_forward(delta, rate, u)
        elif kind == "activation":
            if l != last:
                delta = activation_backward(delta, acts[l], spec.activations[l])
        else:
            if l != last:
                delta = activation_backward(delta, acts[l], spec.activations[l])
            dinp, dw, db = dense_backward(delta, inp, w)
            grads[w_start:w_start + dw.size] = dw.ravel()
            if b_start >= 0:
                grads[b_start:b_start + db.size] = db
            delta = dinp
    return grads


def _variables(spec):
    """[(stage, start, end), ...]: every trainable variable's range (a dense
    stage's W and b, a batch-normalization stage's gamma and beta)."""
    out = []
    for l, (w_start, b_start) in enumerate(param_offsets(spec)):
        n = spec.sizes[l + 1]
        if w_start >= 0:
            out.append((l, w_start, w_start + (spec.sizes[l] * n if spec.kind(l) == "dense"
                                               else n)))
        if b_start >= 0:
            out.append((l, b_start, b_start + n))
    return out


def _add_penalty(spec, params, grads, m):
    """grads with the book's (l1 sign W + l2 W) / m added on dense weights,
    and Keras's regularizers' l1 sign v + 2 l2 v on kernels and biases."""
    grads = grads.copy()
    for l, start, end in _variables(spec):
        if spec.is_frozen(l):
            continue
        is_weight = start == param_offsets(spec)[l][0]
        if is_weight and spec.kind(l) == "dense" and (spec.l1 or spec.l2):
            grads[start:end] = l1_l2_penalty_backward(
                grads[start:end], params[start:end], spec.l1, spec.l2, 1.0 / m)
        l1 = spec.stage("kernel_l1" if is_weight else "bias_l1", l)
        l2 = spec.stage("kernel_l2" if is_weight else "bias_l2", l)
        if l1 or l2:
            grads[start:end] = l1_l2_penalty_backward(
                grads[start:end], params[start:end], l1, 2 * l2, 1.0)
    return grads


def clip_gradients(spec, grads):
    """Keras's clipping of the trainable variables' gradients: per variable
    g * clipnorm / max(|g|, clipnorm), or all of them by clip * min(1/|g|,
    1/clip) (global_clipnorm), or elementwise to [-clipvalue, clipvalue]."""
    grads = grads.copy()
    variables = [(s, e) for l, s, e in _variables(spec) if not spec.is_frozen(l)]
    if spec.clipnorm > 0:
        for s, e in variables:
            norm = np.sqrt((grads[s:e].astype(np.float64) ** 2).sum())
            grads[s:e] = grads[s:e] * _as(spec.clipnorm / max(norm, spec.clipnorm), grads)
    elif spec.global_clipnorm > 0:
        norm = np.sqrt(sum((grads[s:e].astype(np.float64) ** 2).sum() for s, e in variables))
        c = spec.global_clipnorm
        scale = c * min(1.0 / norm if norm else np.inf, 1.0 / c)
        for s, e in variables:
            grads[s:e] = grads[s:e] * _as(scale, grads)
    elif spec.clipvalue > 0:
        for s, e in variables:
            grads[s:e] = np.clip(grads[s:e], -spec.clipvalue, spec.clipvalue)
    return grads


def _update_range(spec, params, opt_state, grads, step, lr, products, lo, hi):
    """One optimizer update of params[lo:hi] (opt_state slots sliced alike)."""
    P = params.size
    p, g = params[lo:hi], grads[lo:hi]
    s0, s1 = opt_state[lo:hi], opt_state[P + lo:P + hi]
    if spec.weight_decay:
        p = weight_decay_update(p, spec.weight_decay, lr)
    if spec.optimizer == "momentum":
        p, s0 = sgd_momentum_update(p, s0, g, lr, spec.momentum, spec.nesterov)
    elif spec.optimizer == "adam":
        p, s0, s1 = adam_update(p, s0, s1, g, lr, spec.beta1, spec.beta2, spec.epsilon, step)
    elif spec.optimizer == "rmsprop":
        p, s0 = rmsprop_update(p, s0, g, lr, spec.rho, spec.epsilon)
    elif spec.optimizer == "adagrad":
        p, s0 = adagrad_update(p, s0, g, lr, spec.epsilon)
    elif spec.optimizer == "adadelta":
        p, s0, s1 = adadelta_update(p, s0, s1, g, lr, spec.rho, spec.epsilon)
    elif spec.optimizer == "adamax":
        p, s0, s1 = adamax_update(p, s0, s1, g, lr, spec.beta1, spec.beta2, spec.epsilon, step)
    elif spec.optimizer == "nadam":
        p, s0, s1 = nadam_update(p, s0, s1, g, lr, spec.beta1, spec.beta2, spec.epsilon, step,
                                 *products)
    else:
        p = sgd_update(p, g, lr)
    params[lo:hi] = p
    slots = optimizer_slots(spec)
    if slots >= 1:
        opt_state[lo:hi] = s0
    if slots >= 2:
        opt_state[P + lo:P + hi] = s1


def _optimizer_step(spec, params, opt_state, grads, step):
    """(params', opt_state') after one update; opt_state holds the optimizer's
    slots back to back (momentum/RMSprop/Adagrad: v; Adam/Adamax/Nadam: m then
    v or u; Adadelta: both accumulators), then Nadam's schedule product.
    Frozen stages and batch-normalization statistics keep their values."""
    params, opt_state = params.copy(), opt_state.copy()
    P = params.size
    lr = learning_rate_at(spec, step - 1)
    products = None
    if spec.optimizer == "nadam":
        products = nadam_products(opt_state[2 * P], spec.beta1, step, params.dtype)
    for l, start, end in _variables(spec):
        if not spec.is_frozen(l):
            _update_range(spec, params, opt_state, grads, step, lr, products, start, end)
    if spec.optimizer == "nadam":
        opt_state[2 * P] = products[0]
    return params, opt_state


def network_train_epoch(spec, params, x, y, perm=None, batch_size=32, opt_state=None, step=0):
    """One epoch of mini-batch training (mirrors network_train_epoch in train.c).

    For each batch (rows perm[start:start+m], or consecutive rows when perm is
    None; the last batch may be shorter): forward, loss, backward, penalties,
    clipping, one optimizer step, then the batch-normalization stages' moving
    statistics.

    Parameters
    ----------
    spec : NetworkSpec
    params : ndarray (P,), the flat parameter vector
    x : ndarray (n, sizes[0]); y : ndarray (n, sizes[-1])
    perm : int array (n,) or None
    batch_size : int
    opt_state : ndarray (optimizer_slots(spec) * P,) or None for zeros
    step : int, updates made so far (Adam's t before this epoch)

    Returns
    -------
    params : ndarray (P,)
    opt_state : ndarray
    step : int, advanced once per batch
    loss_sum : float, sum of every batch's loss terms, each taken on that
        batch's activations before its update (no book penalty; Keras's
        regularizers included as network_forward includes them)

    Example
    -------
    >>> spec = NetworkSpec(sizes=(1, 1), activations=("sigmoid",), learning_rate=1.0)
    >>> p, _, step, loss = network_train_epoch(spec, np.zeros(2), np.ones((1, 1)), np.ones((1, 1)))
    >>> p, step   # dL/dw = dL/db = 0.5 - 1
    (array([0.5, 0.5]), 1)
    """
    n = len(x)
    if opt_state is None:
        opt_state = initial_optimizer_state(spec, params.dtype)
    order = np.arange(n) if perm is None else np.asarray(perm)
    total = 0.0
    for start in range(0, n, batch_size):
        rows = order[start:start + batch_size]
        xb, yb = x[rows], y[rows]
        m = len(rows)
        layers = layer_params(spec, params)
        acts, stats = _forward_layers(spec, layers, xb, params, True, step + 1)
        acts[-1], loss = _output_layer(spec, acts[-1], yb)
        total += loss + _activity_penalty(spec, acts) + m * weight_penalty(spec, params)
        grads = _gradients(spec, layers, xb, acts, _output_delta(spec, acts[-1], yb), stats,
                           step + 1)
        grads = clip_gradients(spec, _add_penalty(spec, params, grads, m))
        step += 1
        params, opt_state = _optimizer_step(spec, params, opt_state, grads, step)
        for l, (mean, var) in stats.items():
            if not spec.is_frozen(l):
                mm, mv = _moving_statistics(spec, params, l)
                mom = spec.stage("bn_momentum", l)
                mm[...] = _as(mm.astype(np.float64) * mom + mean * (1.0 - mom), mm)
                mv[...] = _as(mv.astype(np.float64) * mom + var * (1.0 - mom), mv)
    return params, opt_state, step, total


# ---------------------------------------------------------------------------
# The book's classes (chapter 6), in plain NumPy, by the rules of docs/semantics.md.
# This is the textbook's own code with three changes: randomness comes from
# numpy.random.RandomState(random_state) streams instead of np.random.seed;
# MultiClassNetwork's output-bias gradient is taken per class; softmax is
# computed stably. A `dtype` argument picks the precision of the arithmetic.
# ---------------------------------------------------------------------------

_BOOK_ZMIN = -100.0     # the book clips z at -100 before exp
_BOOK_EPS = 1e-10       # ... and a to [1e-10, 1 - 1e-10] before log


def _binary_loss_sum(a, y):
    """The book's -sum(y log a + (1-y) log(1-a)), with a clipped; in float64,
    because 1 - 1e-10 rounds to 1.0 in float32 and log(1 - 1.0) = -inf."""
    a = np.clip(a.astype(np.float64), _BOOK_EPS, 1 - _BOOK_EPS)
    y = y.astype(np.float64)
    return float(np.sum(-(y * np.log(a) + (1 - y) * np.log(1 - a))))


def _categorical_loss_sum(a, y):
    """The book's -sum(y log a), with a clipped, in float64."""
    a = np.clip(a.astype(np.float64), _BOOK_EPS, 1 - _BOOK_EPS)
    return float(np.sum(-y.astype(np.float64) * np.log(a)))


class SingleLayer:
    """Logistic regression trained by full-batch gradient descent (the book's
    SingleLayer with L1/L2 penalties).

    Example
    -------
    >>> x = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0, 0, 1, 1])
    >>> SingleLayer().fit(x, y, epochs=50).score(x, y)
    np.float64(1.0)
    """

    def __init__(self, learning_rate=0.1, l1=0, l2=0, dtype=np.float64):
        self.w = None
        self.b = None
        self.losses = []
        self.val_losses = []
        self.w_history = []
        self.lr = learning_rate
        self.l1 = l1
        self.l2 = l2
        self.dtype = np.dtype(dtype).type

    def forpass(self, x):
        """z (m, 1) = x @ w + b."""
        return x @ self.w + self.b

    def backprop(self, x, err):
        """(w_grad (n_features, 1), b_grad scalar), means over the m rows."""
        m = len(x)
        w_grad = x.T @ err / m
        b_grad = np.sum(err) / m
        return w_grad, b_grad

    def activation(self, z):
        """Sigmoid with z clipped below at -100."""
        return sigmoid_forward(z, _BOOK_ZMIN)

    def reg_loss(self):
        """l1 sum|w| + l2/2 sum w^2."""
        return l1_l2_penalty_forward(self.w, self.l1, self.l2)

    def fit(self, x, y, epochs=100, x_val=None, y_val=None):
        x = np.asarray(x, dtype=self.dtype)
        y = np.asarray(y, dtype=self.dtype).reshape(-1, 1)     # (m, 1)
        m = len(x)
        self.w = np.ones((x.shape[1], 1), dtype=self.dtype)
        self.b = self.dtype(0)
        self.w_history.append(self.w.copy())
        for _ in range(epochs):
            z = self.forpass(x)
            a = self.activation(z)
            err = -(y - a)
            w_grad, b_grad = self.backprop(x, err)
            w_grad += (self.l1 * np.sign(self.w) + self.l2 * self.w) / m
            self.w -= self.lr * w_grad
            self.b -= self.lr * b_grad
            self.w_history.append(self.w.copy())
            # the loss of this epoch is taken on a from before the update
            self.losses.append((_binary_loss_sum(a, y) + self.reg_loss()) / m)
            self.update_val_loss(x_val, y_val)
        return self

    def update_val_loss(self, x_val, y_val):
        """Append (loss over x_val + penalty) / len(x_val); skipped without x_val."""
        if x_val is None:
            return
        x_val = np.asarray(x_val, dtype=self.dtype)
        y_val = np.asarray(y_val, dtype=self.dtype).reshape(-1, 1)
        a = self.activation(self.forpass(x_val))
        self.val_losses.append((_binary_loss_sum(a, y_val) + self.reg_loss()) / len(y_val))

    def predict(self, x):
        """Boolean column (m, 1): z > 0, i.e. sigmoid(z) > 0.5."""
        return self.forpass(np.asarray(x, dtype=self.dtype)) > 0

    def score(self, x, y):
        """Accuracy: mean of predict(x) == y as a column."""
        return np.mean(self.predict(x) == np.asarray(y).reshape(-1, 1))


class DualLayer(SingleLayer):
    """One sigmoid hidden layer, weights initialised to ones, full batch.

    Example
    -------
    >>> net = DualLayer(units=2).fit(np.array([[1.0], [-1.0]]), np.array([1, 0]), epochs=1)
    >>> net.w1.shape, net.w2.shape, len(net.losses)
    ((1, 2), (2, 1), 1)
    """

    def __init__(self, units=10, learning_rate=0.1, l1=0, l2=0, dtype=np.float64):
        super().__init__(learning_rate=learning_rate, l1=l1, l2=l2, dtype=dtype)
        self.units = units
        self.w1 = None
        self.b1 = None
        self.w2 = None
        self.b2 = None
        self.a1 = None

    def forpass(self, x):
        """z2 (m, k): the output logits; keeps the hidden activations in a1."""
        z1 = x @ self.w1 + self.b1              # (m, units)
        self.a1 = self.activation(z1)
        return self.a1 @ self.w2 + self.b2      # (m, k)

    def backprop(self, x, err):
        """Gradients of the mean loss over the m rows; err = a - y (m, k)."""
        m = len(x)
        w2_grad = self.a1.T @ err / m
        b2_grad = np.sum(err) / m
        # the hidden error uses w2 as it was in the forward pass
        err_to_hidden = err @ self.w2.T * self.a1 * (1 - self.a1)
        w1_grad = x.T @ err_to_hidden / m
        b1_grad = np.sum(err_to_hidden, axis=0) / m
        return w1_grad, b1_grad, w2_grad, b2_grad

    def init_weights(self, n_features):
        self.w1 = np.ones((n_features, self.units), dtype=self.dtype)
        self.b1 = np.zeros(self.units, dtype=self.dtype)
        self.w2 = np.ones((self.units, 1), dtype=self.dtype)
        self.b2 = self.dtype(0)

    def reg_loss(self):
        """l1 sum|W| + l2/2 sum W^2 over w1 and w2 (no biases)."""
        return (l1_l2_penalty_forward(self.w1, self.l1, self.l2)
                + l1_l2_penalty_forward(self.w2, self.l1, self.l2))

    def output(self, z):
        """The output activation (sigmoid here, softmax for MultiClassNetwork)."""
        return self.activation(z)

    def loss_sum(self, a, y):
        """The batch's summed loss terms (binary cross-entropy here)."""
        return _binary_loss_sum(a, y)

    def training(self, x, y, m):
        """One gradient step on the batch (x, y) of m rows; returns a from the
        forward pass (before the step)."""
        z = self.forpass(x)
        a = self.output(z)
        err = -(y - a)
        w1_grad, b1_grad, w2_grad, b2_grad = self.backprop(x, err)
        w1_grad += (self.l1 * np.sign(self.w1) + self.l2 * self.w1) / m
        w2_grad += (self.l1 * np.sign(self.w2) + self.l2 * self.w2) / m
        self.w1 -= self.lr * w1_grad
        self.b1 -= self.lr * b1_grad
        self.w2 -= self.lr * w2_grad
        self.b2 -= self.lr * b2_grad
        return a

    def _targets(self, y):
        return np.asarray(y, dtype=self.dtype).reshape(-1, 1)

    def fit(self, x, y, epochs=100, x_val=None, y_val=None):
        x = np.asarray(x, dtype=self.dtype)
        y = self._targets(y)
        m = len(x)
        self.init_weights(x.shape[1])
        for _ in range(epochs):
            a = self.training(x, y, m)
            self.losses.append((self.loss_sum(a, y) + self.reg_loss()) / m)
            self.update_val_loss(x_val, y_val)
        return self

    def update_val_loss(self, x_val, y_val):
        if x_val is None:
            return
        x_val = np.asarray(x_val, dtype=self.dtype)
        y_val = self._targets(y_val)
        a = self.output(self.forpass(x_val))
        self.val_losses.append((self.loss_sum(a, y_val) + self.reg_loss()) / len(y_val))


class RandomInitNetwork(DualLayer):
    """DualLayer with w1 then w2 drawn from N(0, 1) by
    RandomState(random_state).normal, in that order.

    Example
    -------
    >>> net = RandomInitNetwork(units=2)
    >>> net.init_weights(1)
    >>> bool(net.w1[0, 0] == np.random.RandomState(42).normal(0, 1))
    True
    """

    def __init__(self, units=10, learning_rate=0.1, l1=0, l2=0, dtype=np.float64,
                 random_state=42):
        super().__init__(units=units, learning_rate=learning_rate, l1=l1, l2=l2, dtype=dtype)
        self.random_state = random_state

    def init_weights(self, n_features):
        rng = np.random.RandomState(self.random_state)
        self.w1 = rng.normal(0, 1, (n_features, self.units)).astype(self.dtype)
        self.b1 = np.zeros(self.units, dtype=self.dtype)
        self.w2 = rng.normal(0, 1, (self.units, 1)).astype(self.dtype)
        self.b2 = self.dtype(0)


class MinibatchNetwork(RandomInitNetwork):
    """RandomInitNetwork trained on mini-batches: a fresh
    RandomState(random_state) draws one permutation(n) per epoch; batches are
    consecutive slices of that order, the last one shorter.

    Example
    -------
    >>> net = MinibatchNetwork(batch_size=2)
    >>> net._batch_rng = np.random.RandomState(0)
    >>> [len(xb) for xb, yb in net.gen_batch(np.zeros((5, 1)), np.zeros(5))]
    [2, 2, 1]
    """

    def __init__(self, units=10, batch_size=32, learning_rate=0.1, l1=0, l2=0,
                 dtype=np.float64, random_state=42):
        super().__init__(units=units, learning_rate=learning_rate, l1=l1, l2=l2, dtype=dtype,
                         random_state=random_state)
        self.batch_size = batch_size
        self._batch_rng = None

    def _start_streams(self, n_features, n_outputs):
        """init_weights (its own RandomState), then a fresh one for the batches."""
        self.init_weights(n_features)
        self._batch_rng = np.random.RandomState(self.random_state)

    def gen_batch(self, x, y):
        """Yield (x_batch, y_batch) in the order of one new permutation."""
        length = len(x)
        bins = length // self.batch_size
        if length % self.batch_size:
            bins += 1
        indexes = self._batch_rng.permutation(length)
        x, y = x[indexes], y[indexes]
        for i in range(bins):
            start, end = self.batch_size * i, self.batch_size * (i + 1)
            yield x[start:end], y[start:end]

    def fit(self, x, y, epochs=100, x_val=None, y_val=None):
        x = np.asarray(x, dtype=self.dtype)
        y = self._targets(y)
        self._start_streams(x.shape[1], y.shape[1])
        for _ in range(epochs):
            loss = 0.0
            for x_batch, y_batch in self.gen_batch(x, y):
                a = self.training(x_batch, y_batch, len(x_batch))
                loss += self.loss_sum(a, y_batch)
            self.losses.append((loss + self.reg_loss()) / len(x))
            self.update_val_loss(x_val, y_val)
        return self


class MultiClassNetwork(MinibatchNetwork):
    """Softmax output over k classes, y one-hot (n, k). ONE
    RandomState(random_state) draws w1, then w2 (units, k), then one
    permutation per epoch. The output-bias gradient is the per-class column
    sum of the error (the book's printed code sums over the classes as well,
    which is always 0 under softmax, so its b2 never learns).

    Example
    -------
    >>> y = np.eye(3)[[0, 1, 2, 0]]
    >>> net = MultiClassNetwork(units=4, batch_size=2).fit(np.eye(4), y, epochs=1)
    >>> net.w2.shape, net.b2.shape
    ((4, 3), (3,))
    """

    def sigmoid(self, z):
        """The hidden layer's activation (the book's name in this class)."""
        return self.activation(z)

    def softmax(self, z):
        """Row-wise softmax of z clipped below at -100, computed stably."""
        return softmax_forward(z, _BOOK_ZMIN)

    def output(self, z):
        return self.softmax(z)

    def loss_sum(self, a, y):
        return _categorical_loss_sum(a, y)

    def _targets(self, y):
        return np.asarray(y, dtype=self.dtype)          # already one-hot (n, k)

    def init_weights(self, n_features, n_classes):
        rng = self._batch_rng
        self.w1 = rng.normal(0, 1, (n_features, self.units)).astype(self.dtype)
        self.b1 = np.zeros(self.units, dtype=self.dtype)
        self.w2 = rng.normal(0, 1, (self.units, n_classes)).astype(self.dtype)
        self.b2 = np.zeros(n_classes, dtype=self.dtype)

    def _start_streams(self, n_features, n_outputs):
        """One stream for the weights and then every epoch's permutation."""
        self._batch_rng = np.random.RandomState(self.random_state)
        self.init_weights(n_features, n_outputs)

    def backprop(self, x, err):
        w1_grad, b1_grad, w2_grad, _ = super().backprop(x, err)
        b2_grad = np.sum(err, axis=0) / len(x)       # per class (k,)
        return w1_grad, b1_grad, w2_grad, b2_grad

    def training(self, x, y, m=None):
        """The book's MultiClassNetwork.training(x, y) takes m from x."""
        return super().training(x, y, len(x) if m is None else m)

    def predict(self, x):
        """The class index of the largest logit, per row."""
        return np.argmax(self.forpass(np.asarray(x, dtype=self.dtype)), axis=1)

    def score(self, x, y):
        """Accuracy against argmax(y) of the one-hot targets."""
        return np.mean(self.predict(x) == np.argmax(y, axis=1))
