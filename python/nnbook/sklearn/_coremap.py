"""How scikit-learn's multi-layer perceptron maps onto nnbook's CoreNetwork.

scikit-learn's MLP and the core agree on the network (weights (n_in, n_out),
the forward pass, the canonical output error a - y) but not on how the loss
and its gradient are scaled:

=================  ==========================  ==================================
output / loss      scikit-learn, per row       the core, per row
=================  ==========================  ==================================
softmax + log      -sum_k y log p              the same
exp + Poisson      sum_k y log(y/a) - y + a    the same
logistic + log     -sum_k bce_k (K units)      the mean over the K units
identity + square  1/2 mean_k (a - y)^2,       mean_k (a - y)^2,
                   gradient a - y              gradient 2 (a - y) / K
=================  ==========================  ==================================

So the core's gradient is `grad_scale` (c) times scikit-learn's. Training
follows scikit-learn's path exactly when the core gets the penalty c * alpha,
SGD's learning rate divided by c and Adam's epsilon times c (Adam's step is
otherwise invariant to a constant factor on the gradient). The epoch's loss
is recovered from the core's sums with `loss_factor` and 1 / c.
"""
import numpy as np

from .. import _nncore
from .._network import CoreNetwork

# scikit-learn's activation names -> the core's
HIDDEN_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# scikit-learn's output activation -> (the core's activation, the core's loss)
OUTPUTS = {
    "softmax": ("softmax", "categorical_crossentropy"),
    "logistic": ("sigmoid", "binary_crossentropy"),
    "identity": ("linear", "mse"),
    "exp": ("exponential", "poisson"),
}


def grad_scale(out_activation, n_outputs):
    """c: the core's gradient over scikit-learn's for this output.

    Example
    -------
    >>> grad_scale("identity", 1), grad_scale("logistic", 4), grad_scale("softmax", 10)
    (2.0, 0.25, 1.0)
    """
    if out_activation == "logistic":
        return 1.0 / n_outputs
    if out_activation == "identity":
        return 2.0 / n_outputs
    return 1.0


def loss_factor(out_activation, n_outputs):
    """scikit-learn's summed loss terms over the core's.

    Example
    -------
    >>> loss_factor("identity", 3), loss_factor("logistic", 4)
    (0.5, 4.0)
    """
    if out_activation == "logistic":
        return float(n_outputs)
    if out_activation == "identity":
        return 0.5
    return 1.0


def solver_settings(est, out_activation, n_outputs, dtype, learning_rate):
    """CoreConfig settings that make the core take scikit-learn's steps.

    learning_rate is the optimizer's current rate (SGD's schedules change
    it between epochs). The loss clip is scikit-learn's: probabilities
    clipped to [eps, 1 - eps] with eps the machine epsilon of the dtype.
    """
    c = grad_scale(out_activation, n_outputs)
    settings = dict(zmin=_nncore.NO_CLIP, eps=float(np.finfo(dtype).eps), l2=c * est.alpha,
                    penalty_each_batch=True)
    if est.solver == "adam":
        settings.update(optimizer="adam", learning_rate=learning_rate, beta1=est.beta_1,
                        beta2=est.beta_2, epsilon=c * est.epsilon)
    else:
        # momentum 0 is plain SGD in the same arithmetic: v = 0 v - lr g
        settings.update(optimizer="momentum", learning_rate=learning_rate / c,
                        momentum=est.momentum, nesterov=bool(est.nesterovs_momentum))
    return settings


def build_network(layer_units, activation, out_activation, dtype, **settings):
    """An untrained CoreNetwork for scikit-learn's layer_units (inputs first).

    Example
    -------
    >>> net = build_network([4, 8, 3], "relu", "softmax", np.float64)
    >>> net.activations, net.loss, net.weight(1).shape
    (['relu', 'softmax'], 'categorical_crossentropy', (8, 3))
    """
    out_act, loss = OUTPUTS[out_activation]
    acts = [HIDDEN_ACTIVATIONS[activation]] * (len(layer_units) - 2) + [out_act]
    return CoreNetwork(layer_units, acts, loss, dtype, **settings)


def reconfigure(net, **settings):
    """Give net new optimizer/penalty settings, keeping its parameters and state."""
    net.settings.update(settings)
    net.config = _nncore.CoreConfig(net.sizes, net.activations, loss=net.loss, **net.settings)
    slots = net.config.optimizer_slots() * net.params.size
    if net.opt_state.size != slots:
        net.opt_state = np.zeros(slots, net.dtype)


def gradient_settings(alpha, out_activation, n_outputs, dtype):
    """Settings under which one full-batch 'momentum' step leaves the exact
    gradient in the optimizer state: with momentum 0 and learning rate 1 the
    velocity is v = 0 v - 1 g = -g, bit for bit."""
    c = grad_scale(out_activation, n_outputs)
    return dict(zmin=_nncore.NO_CLIP, eps=float(np.finfo(dtype).eps), l2=c * alpha,
                penalty_each_batch=True, optimizer="momentum", learning_rate=1.0,
                momentum=0.0, nesterov=False)
