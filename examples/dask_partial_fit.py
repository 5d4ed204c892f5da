"""Training on data larger than memory: partial_fit over a dask.array.

The data lives on disk (here a NumPy file written first, read through a
memory map); dask hands it over one block of rows at a time, and each block
is one partial_fit call, so memory holds a single block, never the data set.
The same code reads a dask array made from Zarr, HDF5 or Parquet files.

Run from the repository root:  python examples/dask_partial_fit.py
Needs: pip install 'nnbook[dask]'
"""
import os
import tempfile

import dask.array as da
import numpy as np

from nnbook.sklearn import MLPRegressor, partial_fit_blocks

ROWS, FEATURES, BLOCK = 200_000, 20, 20_000

with tempfile.TemporaryDirectory() as folder:
    # a synthetic regression problem written to disk in pieces
    rng = np.random.RandomState(0)
    true_w = rng.normal(size=FEATURES)
    X_file = np.lib.format.open_memmap(os.path.join(folder, "X.npy"), mode="w+",
                                       dtype=np.float64, shape=(ROWS, FEATURES))
    y_file = np.lib.format.open_memmap(os.path.join(folder, "y.npy"), mode="w+",
                                       dtype=np.float64, shape=(ROWS,))
    for s in range(0, ROWS, BLOCK):
        xb = rng.normal(size=(BLOCK, FEATURES))
        X_file[s:s + BLOCK] = xb
        y_file[s:s + BLOCK] = np.tanh(xb @ true_w) + 0.1 * rng.normal(size=BLOCK)
    X_file.flush(), y_file.flush()
    del X_file, y_file

    X = da.from_array(np.load(os.path.join(folder, "X.npy"), mmap_mode="r"), chunks=(BLOCK, -1))
    y = da.from_array(np.load(os.path.join(folder, "y.npy"), mmap_mode="r"), chunks=BLOCK)
    print(f"X: {X.shape} in {X.numblocks[0]} blocks of {BLOCK} rows")

    model = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    partial_fit_blocks(model, X, y, epochs=3)
    print(f"{len(model.loss_curve_)} partial_fit calls, loss {model.loss_curve_[0]:.4f} "
          f"-> {model.loss_curve_[-1]:.4f}")
    print(f"R^2 on the last block: {model.score(X[-BLOCK:].compute(), y[-BLOCK:].compute()):.4f}")
