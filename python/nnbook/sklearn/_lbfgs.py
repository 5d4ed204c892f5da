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
    scikit-learn's packing (all weights, then all intercepts)."""
    w = [np.arange(net.weight(l).size) + net.offsets[l][0] for l in range(net.n_layers)]
    b = [np.arange(net.bias(l).size) + net.offsets[l][1] for l in range(net.n_layers)]
    return np.concatenate(w + b)


def _row_blocks(X, Y):
    """(x, y) blocks for one pass: a dense X whole, a sparse X in dense
    blocks of rows (never densified whole)."""
    if not sp.issparse(X):
        return [(X, Y)]
    rows = _rows._block_rows(X, 1)
    return [(X[s:s + rows], Y[s:s + rows]) for s in range(0, X.shape[0], rows)]


def loss_and_gradient(net, blocks, alpha, out_activation, n_rows):
    """scikit-learn's lbfgs objective at net.params: (loss, gradient in the
    core's layout). Each block is one full batch in the core; a block's
    gradient g_b = (A_b' d_b + c alpha W) / m_b, so the whole gradient is
    (sum_b m_b g_b - (B - 1) c alpha W) / n."""
    K = net.sizes[-1]
    c = _coremap.grad_scale(out_activation, K)
    start = net.params.copy()
    total = np.zeros(net.params.size, np.float64)
    loss_sum = 0.0
    penalty = None
    for xb, yb in blocks:
        xd = xb.toarray() if sp.issparse(xb) else xb
        net.params[...] = start
        net.opt_state[...] = 0
        lb, pb, _ = net.train_epochs(xd, yb, xd.shape[0], 1)
        loss_sum += float(lb[0])
        penalty = float(pb[0]) if penalty is None else penalty
        total -= xd.shape[0] * net.opt_state[:net.params.size]
    net.params[...] = start
    if len(blocks) > 1:
        for l in range(net.n_layers):
            a = net.offsets[l][0]
            w = start[a:a + net.weight(l).size]
            total[a:a + w.size] -= (len(blocks) - 1) * c * alpha * w
    factor = _coremap.loss_factor(out_activation, K)
    loss = (loss_sum * factor + penalty / c) / n_rows
    return loss, total / (n_rows * c)


def fit_lbfgs(net, X, Y, alpha, out_activation, max_iter, max_fun, tol):
    """Minimise scikit-learn's MLP loss from net's current parameters with
    scipy's L-BFGS-B, as scikit-learn calls it. Returns (n_iter_, loss_)."""
    _coremap.reconfigure(net, **_coremap.gradient_settings(alpha, out_activation,
                                                           net.sizes[-1], net.dtype))
    order = sklearn_order(net)
    blocks = _row_blocks(X, Y)
    n_rows = X.shape[0]

    def objective(packed):
        net.params[order] = packed
        loss, grad = loss_and_gradient(net, blocks, alpha, out_activation, n_rows)
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
