"""Rows into the core: dense arrays go in whole, SciPy sparse matrices
(CSR/CSC) are densified a block of rows at a time, never all at once."""
import numpy as np
import scipy.sparse as sp

# Dense rows made from a sparse X at a time (per block of batches, or per
# forward chunk): bounded so a large sparse matrix is never densified whole.
SPARSE_BLOCK_BYTES = 16 << 20


def as_core_input(X, dtype):
    """X as the core reads it: a C-contiguous array of dtype, or a CSR matrix
    of dtype (CSC is converted, once, to CSR so rows can be gathered)."""
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def _block_rows(X, multiple):
    """Rows per dense block of a sparse X, a multiple of `multiple`."""
    per_row = X.shape[1] * X.dtype.itemsize
    return multiple * max(1, SPARSE_BLOCK_BYTES // max(1, per_row * multiple))


def train_epoch(net, X, Y, batch_size, order):
    """One epoch in C over X (n, F) and Y (n, K), batches of batch_size rows
    taken in `order` (int64 row indices, or None for the rows as they are).

    Returns (sum of the loss terms, sum of the penalty before each batch's
    update). A sparse X is densified one block of whole batches at a time;
    the core carries its step count and optimizer state across blocks.
    """
    n = X.shape[0]
    if not sp.issparse(X):
        perms = None if order is None else order.reshape(1, n)
        loss, penalty, _ = net.train_epochs(X, Y, batch_size, 1, perms=perms)
        return float(loss[0]), float(penalty[0])
    rows = _block_rows(X, batch_size)
    loss = penalty = 0.0
    for start in range(0, n, rows):
        idx = np.arange(start, min(start + rows, n)) if order is None else order[start:start + rows]
        xb = X[idx].toarray()
        yb = np.ascontiguousarray(Y[idx])
        lb, pb, _ = net.train_epochs(xb, yb, batch_size, 1)
        loss += float(lb[0])
        penalty += float(pb[0])
    return loss, penalty


def forward(net, X):
    """The network's output activations for every row of X, shape (n, K)."""
    if not sp.issparse(X):
        return net.forward(X)
    out = np.empty((X.shape[0], net.sizes[-1]), net.dtype)
    rows = _block_rows(X, 1)
    for start in range(0, X.shape[0], rows):
        out[start:start + rows] = net.forward(X[start:start + rows].toarray())
    return out


def full_batch(net, X, Y):
    """One step over all rows as a single batch (for the gradient): the
    dense rows of X, densified if sparse (L-BFGS needs the whole batch)."""
    xd = X.toarray() if sp.issparse(X) else X
    loss, penalty, _ = net.train_epochs(xd, Y, X.shape[0], 1)
    return float(loss[0]), float(penalty[0])
