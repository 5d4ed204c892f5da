"""Scaling out: grid search on a Dask cluster, joblib's thread pool, and
partial_fit streaming over the blocks of a dask.array."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network as reference  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nnbook.sklearn import MLPClassifier, MLPRegressor, partial_fit_blocks  # noqa: E402

GRID = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-2]}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:600], y[:600]


def grid_search(X, y, n_jobs):
    search = GridSearchCV(MLPClassifier(max_iter=15, random_state=0), GRID, cv=3, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def assert_same_search(a, b):
    assert a.best_params_ == b.best_params_
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    for ca, cb in zip(a.best_estimator_.coefs_, b.best_estimator_.coefs_):
        np.testing.assert_array_equal(ca, cb)


@pytest.mark.dask_cluster
def test_grid_search_on_a_local_dask_cluster_equals_one_process(digits):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = digits
    alone = grid_search(X, y, n_jobs=None)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster, \
            distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            on_cluster = grid_search(X, y, n_jobs=-1)
    assert_same_search(on_cluster, alone)


def test_grid_search_on_joblibs_thread_pool_is_bit_identical(digits):
    import joblib

    X, y = digits
    alone = grid_search(X, y, n_jobs=None)
    with joblib.parallel_config(backend="threading"):
        threaded = grid_search(X, y, n_jobs=2)
    assert_same_search(threaded, alone)


def test_partial_fit_streams_dask_array_blocks_from_disk(digits, tmp_path):
    da = pytest.importorskip("dask.array")
    X, y = digits
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    # a memory map on disk, read one 150-row block at a time
    Xd = da.from_array(np.load(tmp_path / "X.npy", mmap_mode="r"), chunks=(150, -1))
    yd = da.from_array(np.load(tmp_path / "y.npy", mmap_mode="r"), chunks=150)
    params = dict(hidden_layer_sizes=(12,), solver="sgd", learning_rate_init=0.05,
                  random_state=0)
    streamed = partial_fit_blocks(MLPClassifier(**params), Xd, yd, classes=np.arange(10),
                                  epochs=2)
    theirs = reference.MLPClassifier(**params)
    for _ in range(2):
        for s in range(0, len(y), 150):
            theirs.partial_fit(X[s:s + 150], y[s:s + 150], classes=np.arange(10))
    assert streamed.t_ == theirs.t_ == 2 * len(y)
    np.testing.assert_allclose(streamed.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for a, b in zip(streamed.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-13)
    # NumPy blocks give the same fit as the dask blocks
    again = partial_fit_blocks(MLPClassifier(**params), X, y, classes=np.arange(10), epochs=2,
                               block_rows=150)
    np.testing.assert_array_equal(again.coefs_[0], streamed.coefs_[0])


def test_partial_fit_blocks_bad_input(digits):
    X, y = digits
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        partial_fit_blocks(MLPRegressor(), X, y, epochs=0)
    with pytest.raises(ValueError, match="block_rows must be a positive integer, got 0"):
        partial_fit_blocks(MLPRegressor(), X, y, block_rows=0)
