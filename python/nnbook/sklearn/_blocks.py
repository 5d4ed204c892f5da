"""Training on data larger than memory: partial_fit over row blocks.

Works on anything that yields its rows a block at a time: a dask.array
(each block is computed only when it is trained on, so blocks stream from
disk or from a cluster), or a NumPy array or memory map cut into blocks of
`block_rows`. Dask is never imported here; a dask array is recognised by its
`to_delayed`/`chunks` attributes.
"""
import numpy as np


def _row_blocks(a, block_rows):
    """Yield (start, stop, block as NumPy) for the row blocks of a."""
    if hasattr(a, "to_delayed") and hasattr(a, "chunks"):  # a dask array
        start = 0
        for rows, part in zip(a.chunks[0], a.to_delayed().reshape(len(a.chunks[0]), -1)):
            if len(part) != 1:
                raise ValueError(f"X must be chunked along rows only (one block across the "
                                 f"columns); got {len(part)} column blocks")
            yield start, start + rows, np.asarray(part[0].compute())
            start += rows
        return
    n = len(a)
    step = n if block_rows is None else int(block_rows)
    if step < 1:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    for start in range(0, n, step):
        yield start, min(start + step, n), np.asarray(a[start:start + step])


def partial_fit_blocks(estimator, X, y, *, classes=None, sample_weight=None, epochs=1,
                       block_rows=None):
    """Call estimator.partial_fit on each row block of X (and the matching
    rows of y and sample_weight), `epochs` times over; returns the estimator.

    Parameters
    ----------
    estimator : nnbook.sklearn.MLPClassifier or MLPRegressor (any estimator
        with partial_fit)
    X : dask.array (chunked along rows), numpy array or memory map
    y : array-like or dask.array with X's rows; y's blocks follow X's
    classes : array-like, optional
        Every label (classifiers: required unless already fitted).
    sample_weight : array-like or dask.array, optional
    epochs : int, default=1
    block_rows : int, optional
        Rows per block for a NumPy X (a dask array brings its own chunks).

    Example
    -------
    >>> import numpy as np
    >>> from nnbook.sklearn import MLPRegressor
    >>> X = np.random.RandomState(0).rand(100, 3); y = X.sum(axis=1)
    >>> reg = partial_fit_blocks(MLPRegressor(hidden_layer_sizes=(5,), random_state=0), X, y,
    ...                          epochs=3, block_rows=25)
    >>> reg.t_
    300
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    kwargs = {} if classes is None else {"classes": classes}
    for _ in range(epochs):
        for start, stop, xb in _row_blocks(X, block_rows):
            extra = dict(kwargs)
            if sample_weight is not None:  # np.asarray computes a dask slice
                extra["sample_weight"] = np.asarray(sample_weight[start:stop])
            estimator.partial_fit(xb, np.asarray(y[start:stop]), **extra)
    return estimator
