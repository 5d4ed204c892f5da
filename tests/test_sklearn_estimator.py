"""nnbook.sklearn as a scikit-learn estimator: scikit-learn's own estimator
checks, pickling, clone, errors, sparse input, and import isolation."""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
import joblib  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn import neural_network as reference  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nnbook.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

ESTIMATORS = [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_pickle_and_joblib_round_trips(iris, tmp_path, solver):
    X, y = iris
    unfitted = MLPClassifier((5,), solver=solver, random_state=0)
    assert pickle.loads(pickle.dumps(unfitted)).get_params() == unfitted.get_params()
    fitted = quiet_fit(MLPClassifier((5,), solver=solver, max_iter=20, random_state=0), X, y)
    for copy in (pickle.loads(pickle.dumps(fitted)),
                 joblib.load(joblib.dump(fitted, tmp_path / "m.joblib")[0])):
        np.testing.assert_array_equal(copy.predict_proba(X), fitted.predict_proba(X))
        for a, b in zip(copy.coefs_, fitted.coefs_):
            assert not np.shares_memory(a, b)
            np.testing.assert_array_equal(a, b)


def test_partial_fit_continues_after_unpickling(iris):
    # the optimizer's state (Adam's moments and step) travels with the model
    X, y = iris
    a = MLPClassifier((5,), random_state=0)
    a.partial_fit(X, y, classes=[0, 1, 2])
    b = pickle.loads(pickle.dumps(a))
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert a.loss_curve_ == b.loss_curve_


def test_clone_and_unchanged_params(iris):
    X, y = iris
    est = MLPRegressor(hidden_layer_sizes=[3, 2], solver="sgd", random_state=5, dtype=np.float32)
    quiet_fit(est, X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "coefs_")
    assert est.hidden_layer_sizes == [3, 2]


def test_not_fitted_is_scikit_learns_error(iris):
    X, _ = iris
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(MLPClassifier(), method)(X)
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)


def test_bad_input_messages(iris):
    X, y = iris
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of MLPClassifier"):
        MLPClassifier(alpha=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'dtype' parameter"):
        MLPClassifier(dtype=np.int32).fit(X, y)
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        MLPClassifier().set_params(nope=1)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(Xn, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(3, 0)).fit(X, y)
    clf = MLPClassifier((3,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(AttributeError, match="has no attribute .partial_fit."):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_inputs_are_never_modified(iris):
    X, y = iris
    X0, y0 = X.copy(), y.copy()
    quiet_fit(MLPClassifier((4,), max_iter=5, random_state=0, early_stopping=True), X, y)
    quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5), X, y * 1.0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sparse_input_equals_dense(iris, monkeypatch, fmt, solver):
    from nnbook.sklearn import _rows

    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # about a third zeros
    Xs = sp.csr_matrix(X).asformat(fmt)
    # tiny dense blocks: several per epoch, each a whole number of batches
    monkeypatch.setattr(_rows, "SPARSE_BLOCK_BYTES", 40 * 4 * 8)
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=15, random_state=0,
                  batch_size=20)
    dense = quiet_fit(MLPClassifier(**params), X, y)
    sparse = quiet_fit(MLPClassifier(**params), Xs, y)
    theirs = quiet_fit(reference.MLPClassifier(**params), Xs, y)
    rtol = 1e-6 if solver == "lbfgs" else 1e-12
    for a, b, c in zip(sparse.coefs_, dense.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), rtol=rtol)


def test_sparse_rows_are_densified_a_block_at_a_time(iris, monkeypatch):
    from nnbook.sklearn import _rows

    X, y = iris
    Xs = sp.csr_matrix(X)
    largest = []
    real_toarray = sp.csr_matrix.toarray

    def spy(self, *a, **k):
        largest.append(self.shape[0])
        return real_toarray(self, *a, **k)

    monkeypatch.setattr(_rows, "SPARSE_BLOCK_BYTES", 30 * 4 * 8)
    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    quiet_fit(MLPClassifier((4,), max_iter=2, batch_size=10, random_state=0), Xs, y)
    assert largest and max(largest) <= 30


def test_pipeline_and_grid_search(iris):
    X, y = iris
    grid = GridSearchCV(make_pipeline(StandardScaler(),
                                      MLPClassifier(solver="lbfgs", max_iter=50, random_state=0)),
                        {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)]}, cv=3)
    quiet_fit(grid, X, y)
    assert grid.best_score_ > 0.7


def test_import_nnbook_never_imports_sklearn_scipy_or_dask():
    code = ("import sys, nnbook; bad = [m for m in ('sklearn', 'scipy', 'dask', 'distributed') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_docstring_examples_run():
    import doctest

    from nnbook.sklearn import (_blocks, _classifier, _coremap, _lbfgs, _optimizer,
                                _regressor, _rows, _shuffle)

    for module in (_classifier, _regressor, _optimizer, _shuffle, _blocks, _coremap, _lbfgs,
                   _rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_a_stopped_fit_leaves_the_callers_random_state_where_scikit_learn_does(iris):
    X, y = iris
    ours_rng, theirs_rng = np.random.RandomState(7), np.random.RandomState(7)
    params = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=0.2, tol=0.05,
                  n_iter_no_change=2, max_iter=100)
    ours = MLPClassifier(random_state=ours_rng, **params).fit(X, y)
    theirs = reference.MLPClassifier(random_state=theirs_rng, **params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 100
    assert ours_rng.randint(10**9) == theirs_rng.randint(10**9)


def test_sample_weight_metadata_routing_as_in_scikit_learn(iris):
    import sklearn
    from sklearn.model_selection import cross_validate

    X, y = iris
    w = np.linspace(0.2, 2.0, len(y))
    scores = []
    with sklearn.config_context(enable_metadata_routing=True):
        for cls in (MLPClassifier, reference.MLPClassifier):
            est = cls(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0)
            est.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                out = cross_validate(est, X, y, cv=3, params={"sample_weight": w},
                                     return_estimator=True)
            scores.append(out["test_score"])
        # unrequested sample_weight is an error, as in scikit-learn
        with pytest.raises(sklearn.exceptions.UnsetMetadataPassedError):
            cross_validate(MLPClassifier(max_iter=5), X, y, cv=3, params={"sample_weight": w})
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)


def test_replaced_coefs_are_used(iris):
    X, y = iris
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0), X, y)
    est.coefs_ = [np.zeros_like(c) for c in est.coefs_]
    np.testing.assert_allclose(est.predict(X), np.full(len(X), est.intercepts_[-1][0]),
                               rtol=1e-12)


def test_n_iter_no_change_inf_runs_every_epoch(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning):
        est = MLPClassifier((3,), max_iter=12, n_iter_no_change=np.inf, tol=10.0,
                            random_state=0).fit(X, y)
    assert est.n_iter_ == 12


LABEL_KINDS = {
    "binary ints": np.array([3, 7, 7, 3, 3, 7]),
    "binary strings": np.array(["yes", "no", "no", "yes", "no", "no"]),
    "binary bools": np.array([True, False, False, True, False, True]),
    "binary floats": np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0]),
    "one class": np.array([4, 4, 4, 4]),
    "multiclass ints": np.array([2, 0, 1, 2, -5, 0, 1]),
    "multiclass strings": np.array(["cat", "dog", "ant", "dog", "cat"]),
    "multiclass objects": np.array(["cat", "dog", "ant", "dog"], dtype=object),
    "multiclass floats": np.array([0.0, 2.0, 1.0, 2.0, -1.0]),
    "multilabel": np.array([[1, 0, 1], [0, 1, 1], [0, 0, 1], [1, 1, 0]]),
}


@pytest.mark.parametrize("kind", LABEL_KINDS)
def test_targets_match_the_label_binarizer(kind):
    # fit forms the output columns directly for the y its LabelBinarizer
    # was just fitted on; they must be exactly what transform gives
    from sklearn.preprocessing import LabelBinarizer

    from nnbook.sklearn._classifier import _indicator

    y = LABEL_KINDS[kind]
    lb = LabelBinarizer().fit(y)
    want = lb.transform(y).astype(bool)
    got = _indicator(lb, y, fitted_on_y=True)
    assert got.dtype == bool and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    # and a fit through it learns the same classes as scikit-learn
    if kind != "one class":
        ours = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
        theirs = reference.MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
        x = np.arange(2 * len(y), dtype=float).reshape(len(y), 2) / len(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.fit(x, y)
            theirs.fit(x, y)
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
