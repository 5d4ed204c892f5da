"""Rows into the core: dense arrays go in whole, SciPy sparse matrices
(CSR/CSC) are densified a block of rows at a time, never all at once."""
import numpy as np
import scipy.sparse as sp


# Dense rows made from a sparse X at a time (per block of batches, or per
# forward chunk): bounded so a large sparse matrix is never densified whole.
SPARSE_BLOCK_BYTES = 16 << 20


def as_core_input(X, dtype):
    """X as the core reads it: a C-contiguous array of dtype, or a CSR matrix
    of dtype (CSC is converted, once, to CSR so rows can be gathered).

    Example
    -------
    >>> as_core_input(sp.csc_matrix(np.eye(3)), np.float32).format
    'csr'
    """
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def _block_rows(X, multiple):
    """Rows per dense block of a sparse X, a multiple of `multiple`."""
    per_row = X.shape[1] * X.dtype.itemsize
    return multiple * max(1, SPARSE_BLOCK_BYTES // max(1, per_row * multiple))


def _core_epoch(net, x, y, batch_size, perm, sample_weight):
    """One epoch of dense rows in C: (loss sum, penalty sum); see train_epoch."""
    perms = None if perm is None else perm.reshape(1, -1)
    # scikit-learn's estimators read no per-batch metric counts
    loss, penalty, _ = net.train_epochs(x, y, batch_size, 1, perms=perms,
                                        sample_weight=sample_weight, metric_counts=False)
    return float(loss[0]), float(penalty[0])


def train_epoch(net, X, Y, batch_size, order, sample_weight=None):
    """One epoch in C over X (n, F) and Y (n, K), batches of batch_size rows
    taken in `order` (int64 row indices, or None for the rows as they are),
    each row weighted by sample_weight (n values in net.dtype, or None).

    Returns (sum over batches of rows x the batch's (weighted) mean loss,
    the same sum of the penalty taken before each batch's update). A sparse
    X is densified one block of whole batches at a time; the core carries
    its step count and optimizer state across blocks.
    """
    n = X.shape[0]
    if not sp.issparse(X):
        return _core_epoch(net, X, Y, batch_size, order, sample_weight)
    rows = _block_rows(X, batch_size)
    loss = penalty = 0.0
    for start in range(0, n, rows):
        idx = np.arange(start, min(start + rows, n)) if order is None else order[start:start + rows]
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight[idx])
        lb, pb = _core_epoch(net, X[idx].toarray(), np.ascontiguousarray(Y[idx]), batch_size,
                             None, sw)
        loss += lb
        penalty += pb
    return loss, penalty


def train_epochs(net, X, Y, batch_size, orders, sample_weight=None):
    """len(orders) epochs in one C call: train_epoch for each order in turn
    (each an int64 row order, or None for the rows as they are), returning
    one (loss sum, penalty sum) pair per epoch. One call for several epochs
    spares small data sets Python's per-epoch cost; the epochs are the same.
    A sparse X goes epoch by epoch. When training is interrupted, the
    exception carries the completed epochs' pairs as ``nnbook_epochs``.
    """
    if sp.issparse(X) or len(orders) == 1:
        pairs = []
        for order in orders:
            try:
                pairs.append(train_epoch(net, X, Y, batch_size, order, sample_weight))
            except BaseException as stop:
                stop.nnbook_epochs = pairs
                raise
        return pairs
    perms = None if orders[0] is None else np.stack(orders)
    try:
        loss, penalty, _ = net.train_epochs(X, Y, batch_size, len(orders), perms=perms,
                                            sample_weight=sample_weight, metric_counts=False)
    except BaseException as stop:
        done = getattr(stop, "nnbook_completed", ((), (), None))
        stop.nnbook_epochs = [(float(a), float(b)) for a, b in zip(done[0], done[1])]
        raise
    return [(float(a), float(b)) for a, b in zip(loss, penalty)]


def forward(net, X):
    """The network's output activations for every row of X, shape (n, K)."""
    if not sp.issparse(X):
        return net.forward(X)
    out = np.empty((X.shape[0], net.sizes[-1]), net.dtype)
    rows = _block_rows(X, 1)
    for start in range(0, X.shape[0], rows):
        out[start:start + rows] = net.forward(X[start:start + rows].toarray())
    return out
