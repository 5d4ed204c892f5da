"""The 'lbfgs' solver: SciPy's L-BFGS-B on the loss and gradient from the core.

The core has no gradient-only call; one full-batch step of SGD with momentum
0 and learning rate 1 leaves exactly the gradient (negated) in the optimizer
state: v = 0 * v - 1 * g = -g, bit for bit. The parameters that step moves
are put back before every evaluation.
"""
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from . import _coremap, _rows


def sklearn_order(net):
    """Indices that turn the core's flat vector (W0 b0 W1 b1 ...) into
    scikit-learn's packing (all weights, then all intercepts).

    Example
    -------
    >>> from nnbook.sklearn._coremap import build_network
    >>> net = build_network([2, 1, 1], "tanh", "identity", np.float64)
    >>> sklearn_order(net).tolist()   # W0 at 0-1, b0 at 2, W1 at 3, b1 at 4
    [0, 1, 3, 2, 4]
    """
    w = [np.arange(net.weight(l).size) + net.offsets[l][0] for l in range(net.n_layers)]
    b = [np.arange(net.bias(l).size) + net.offsets[l][1] for l in range(net.n_layers)]
    return np.concatenate(w + b)


def row_blocks(X, Y, sample_weight=None):
    """(x, y, weights or None) blocks for one pass: a dense X whole, a sparse
    X in blocks of rows, each densified only while the core reads it."""
    if not sp.issparse(X):
        return [(X, Y, sample_weight)]
    rows = _rows._block_rows(X, 1)
    return [(X[s:s + rows], np.ascontiguousarray(Y[s:s + rows]),
             None if sample_weight is None else np.ascontiguousarray(sample_weight[s:s + rows]))
            for s in range(0, X.shape[0], rows)]


def loss_and_gradient(net, blocks, alpha, out_activation):
    """scikit-learn's lbfgs objective at net.params: (loss, gradient in the
    core's layout). Each block is one full batch in the core. With W_b the
    block's weight sum (its row count m_b when unweighted), its gradient is
    g_b = (A_b' (w d)_b + c alpha W) / W_b, so the whole gradient is
    (sum_b W_b g_b - (B - 1) c alpha W) / sum_b W_b; its loss sums come back
    scaled by m_b / W_b (see _rows.train_epoch)."""
    K = net.sizes[-1]
    c = _coremap.grad_scale(out_activation, K)
    start = net.params.copy()
    total = np.zeros(net.params.size, np.float64)
    loss_sum = weight_sum = 0.0
    penalty = None
    for xb, yb, wb in blocks:
        m = xb.shape[0]
        w = float(m if wb is None else np.sum(wb, dtype=np.float64))
        net.params[...] = start
        net.opt_state[...] = 0
        lb, pb = _rows.train_epoch(net, xb, yb, m, None, wb)
        loss_sum += lb * w / m
        penalty = pb * w / m if penalty is None else penalty
        weight_sum += w
        total -= w * net.opt_state[:net.params.size]
    net.params[...] = start
    if len(blocks) > 1:
        for l in range(net.n_layers):
            a = net.offsets[l][0]
            size = net.weight(l).size
            total[a:a + size] -= (len(blocks) - 1) * c * alpha * start[a:a + size]
    factor = _coremap.loss_factor(out_activation, K)
    loss = (loss_sum * factor + penalty / c) / weight_sum
    return loss, total / (weight_sum * c)


def fit_lbfgs(net, X, Y, sample_weight, alpha, out_activation, max_iter, max_fun, tol):
    """Minimise scikit-learn's MLP loss from net's current parameters with
    scipy's L-BFGS-B, as scikit-learn calls it. Returns (n_iter_, loss_)."""
    _coremap.reconfigure(net, **_coremap.gradient_settings(alpha, out_activation,
                                                           net.sizes[-1], net.dtype))
    order = sklearn_order(net)
    blocks = row_blocks(X, Y, sample_weight)

    def objective(packed):
        net.params[order] = packed
        loss, grad = loss_and_gradient(net, blocks, alpha, out_activation)
        return loss, grad[order]

    res = scipy.optimize.minimize(
        objective, net.params[order].astype(np.float64), method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    n_iter = min(res.nit, max_iter)
    if res.status != 0:
        msg = (f"lbfgs failed to converge after {n_iter} iteration(s) "
               f"(status={res.status}):\n{res.message}\n")
        if n_iter == max_iter:
            msg += ("\nIncrease the number of iterations to improve the "
                    f"convergence (max_iter={max_iter}).")
        msg += ("\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html")
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    net.params[order] = res.x
    return n_iter, res.fun
