"""nnbook.sklearn against scikit-learn itself, run side by side on small data.

In float64 with the same random_state, loss_curve_, coefs_, intercepts_ and
predictions must equal scikit-learn's within 1e-9 relative for the stochastic
solvers (in practice they agree to ~1e-15: the same arithmetic, in C) and
1e-6 for lbfgs.
"""
import contextlib
import io
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")
from sklearn import neural_network as reference  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nnbook.sklearn as nbs  # noqa: E402

RTOL = 1e-9


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def relative_gap(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def fit_both(kind, X, y, rtol=RTOL, **params):
    """Fit nnbook's and scikit-learn's estimator of `kind` with the same
    parameters (warnings silenced) and check every fitted number agrees."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = getattr(nbs, kind)(**params).fit(X, y)
        theirs = getattr(reference, kind)(**params).fit(X, y)
    assert_same_fit(ours, theirs, X, rtol)
    return ours, theirs


def assert_same_fit(ours, theirs, X, rtol=RTOL):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    if hasattr(theirs, "loss_curve_"):
        assert len(ours.loss_curve_) == len(theirs.loss_curve_)
        assert relative_gap(ours.loss_curve_, theirs.loss_curve_) < rtol
        if theirs.best_loss_ is not None:
            assert relative_gap(ours.best_loss_, theirs.best_loss_) < rtol
        if theirs.validation_scores_ is None:
            assert ours.validation_scores_ is None and ours.best_validation_score_ is None
        else:  # accuracies agree exactly, R^2 to rounding
            assert relative_gap(ours.validation_scores_, theirs.validation_scores_) < rtol
            assert relative_gap(ours.best_validation_score_, theirs.best_validation_score_) < rtol
    assert relative_gap(ours.loss_, theirs.loss_) < rtol
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert relative_gap(a, b) < rtol
    if hasattr(theirs, "predict_proba"):
        assert relative_gap(ours.predict_proba(X), theirs.predict_proba(X)) < rtol
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        assert relative_gap(ours.predict(X), theirs.predict(X)) < rtol


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_multiclass_every_activation(iris, solver, activation):
    X, y = iris
    fit_both("MLPClassifier", X, y, hidden_layer_sizes=(7, 5), activation=activation,
             solver=solver, max_iter=25, random_state=1, batch_size=32, learning_rate_init=0.05)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_regression_every_activation(iris, solver, activation):
    X, y = iris
    fit_both("MLPRegressor", X[:, 1:], X[:, 0] * 2 + y, hidden_layer_sizes=(6,),
             activation=activation, solver=solver, max_iter=25, random_state=2,
             learning_rate_init=0.01, batch_size=40)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_binary_multilabel_and_multi_output(iris, solver):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=20, random_state=0,
                  learning_rate_init=0.02, alpha=0.01)
    fit_both("MLPClassifier", X, y == 1, **params)
    fit_both("MLPClassifier", X, np.c_[y == 0, y == 2, X[:, 0] > 0], **params)
    fit_both("MLPRegressor", X, np.c_[X[:, 0] + X[:, 1], X[:, 2] * X[:, 3]], **params)


def test_string_labels_and_no_shuffle(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    ours, _ = fit_both("MLPClassifier", X, names, hidden_layer_sizes=(5,), max_iter=15,
                       random_state=3, shuffle=False)
    assert set(ours.predict(X)) <= set(names)


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_learning_rate_schedules_and_tol(iris, schedule):
    X, y = iris
    ours, _ = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(6,), solver="sgd",
                       learning_rate=schedule, max_iter=80, random_state=0,
                       learning_rate_init=0.1, tol=1e-3, n_iter_no_change=3)
    if schedule != "adaptive":
        assert ours.n_iter_ < 80  # stopped by tol/n_iter_no_change, as scikit-learn did


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_early_stopping(iris, solver):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver=solver, early_stopping=True, max_iter=60,
                  random_state=0, learning_rate_init=0.05, n_iter_no_change=4)
    ours, _ = fit_both("MLPClassifier", X, y, **params)
    assert len(ours.validation_scores_) == ours.n_iter_
    fit_both("MLPRegressor", X[:, 1:], X[:, 0], **params)


def test_warm_start_and_partial_fit(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=10, random_state=4,
                  warm_start=True, learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = nbs.MLPClassifier(**params).fit(X, y).fit(X[::2], y[::2])
        theirs = reference.MLPClassifier(**params).fit(X, y).fit(X[::2], y[::2])
    assert_same_fit(ours, theirs, X)

    rng = np.random.RandomState(0)  # a shared RandomState advances across calls
    ours = nbs.MLPClassifier((6,), random_state=rng)
    rng2 = np.random.RandomState(0)
    theirs = reference.MLPClassifier((6,), random_state=rng2)
    for part in np.array_split(np.arange(150), 5):
        ours.partial_fit(X[part], y[part], classes=[0, 1, 2])
        theirs.partial_fit(X[part], y[part], classes=[0, 1, 2])
    assert_same_fit(ours, theirs, X)
    ours_reg = nbs.MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", random_state=1)
    theirs_reg = reference.MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", random_state=1)
    for _ in range(3):
        ours_reg.partial_fit(X, y.astype(float))
        theirs_reg.partial_fit(X, y.astype(float))
    assert_same_fit(ours_reg, theirs_reg, X)


def test_verbose_prints_the_same_lines(iris):
    X, y = iris
    outputs = []
    for module in (nbs, reference):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            module.MLPClassifier((5,), solver="sgd", learning_rate="adaptive", max_iter=40,
                                 early_stopping=True, n_iter_no_change=2, tol=0.05,
                                 verbose=True, random_state=0).fit(X, y)
        outputs.append(buf.getvalue().splitlines())
    assert len(outputs[0]) > 10 and "Setting learning rate" in "\n".join(outputs[0])
    assert outputs[0] == outputs[1]


def test_convergence_warning_where_scikit_learn_warns(iris):
    X, y = iris
    for module in (nbs, reference):
        with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\) reached"):
            module.MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
        with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
            module.MLPClassifier((4,), solver="lbfgs", max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_lbfgs_within_1e6(iris, activation):
    X, y = iris
    fit_both("MLPClassifier", X, y, rtol=1e-6, hidden_layer_sizes=(5,), solver="lbfgs",
             activation=activation, max_iter=60, random_state=0)
    fit_both("MLPRegressor", X[:, 1:], X[:, 0], rtol=1e-6, hidden_layer_sizes=(4,),
             solver="lbfgs", activation=activation, max_iter=40, random_state=0, alpha=0.1)


@pytest.mark.parametrize("classifier", [True, False])
def test_lbfgs_objective_equals_scikit_learns(iris, classifier):
    # the loss and gradient L-BFGS sees, at one point, to rounding
    from nnbook.sklearn import _lbfgs

    X, y = iris
    target = y if classifier else np.c_[X[:, 0], X[:, 1] ** 2]
    kind = "MLPClassifier" if classifier else "MLPRegressor"
    params = dict(hidden_layer_sizes=(5, 3), solver="lbfgs", max_iter=3, random_state=0,
                  alpha=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = getattr(nbs, kind)(**params).fit(X, target)
        theirs = getattr(reference, kind)(**params).fit(X, target)
    net = ours._network()
    order = _lbfgs.sklearn_order(net)
    packed = net.params[order].copy()
    Y = ours._label_binarizer.transform(target) if classifier else target
    Y = np.ascontiguousarray(Y, np.float64)
    w = np.linspace(0.5, 2.0, len(X))
    loss, grad = _lbfgs.loss_and_gradient(net, [(X, Y, w)], ours.alpha, ours.out_activation_)
    theirs_loss, theirs_grad = theirs._loss_grad_lbfgs(
        packed.copy(), X, Y, w, [X] + [None] * (theirs.n_layers_ - 1),
        [None] * (theirs.n_layers_ - 1), [np.empty_like(c) for c in theirs.coefs_],
        [np.empty_like(b) for b in theirs.intercepts_])
    assert abs(loss - theirs_loss) <= 1e-13 * abs(theirs_loss)
    assert relative_gap(grad[order], theirs_grad) < 1e-12
    # the same objective from three sparse blocks of rows
    blocks = _lbfgs.row_blocks(sp.csr_matrix(X), Y, w)
    assert len(blocks) == 1
    blocks = [(sp.csr_matrix(X[s:s + 50]), Y[s:s + 50], w[s:s + 50]) for s in (0, 50, 100)]
    loss3, grad3 = _lbfgs.loss_and_gradient(net, blocks, ours.alpha, ours.out_activation_)
    assert abs(loss3 - theirs_loss) <= 1e-13 * abs(theirs_loss)
    assert relative_gap(grad3[order], theirs_grad) < 1e-12


def test_float32_trains_in_float32_close_to_scikit_learn(iris):
    X, y = iris
    X32 = X.astype(np.float32)
    ours = nbs.MLPClassifier((8,), max_iter=30, random_state=0, dtype=np.float32)
    theirs = reference.MLPClassifier((8,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X32, y)
        theirs.fit(X32, y)  # scikit-learn trains in float32 on float32 input
    assert ours.coefs_[0].dtype == np.float32 and ours.predict_proba(X).dtype == np.float32
    assert relative_gap(ours.loss_curve_, theirs.loss_curve_) < 1e-4


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sample_weight(iris, solver):
    X, y = iris
    w = np.random.RandomState(0).uniform(0.1, 3.0, len(y))
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=20, random_state=0,
                  learning_rate_init=0.02, alpha=0.01, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for kind, target in (("MLPClassifier", y), ("MLPRegressor", np.c_[X[:, 0], y])):
            ours = getattr(nbs, kind)(**params).fit(X, target, sample_weight=w)
            theirs = getattr(reference, kind)(**params).fit(X, target, sample_weight=w)
            assert_same_fit(ours, theirs, X)
            ours = getattr(nbs, kind)(early_stopping=True, **params)
            theirs = getattr(reference, kind)(early_stopping=True, **params)
            assert_same_fit(ours.fit(X, target, sample_weight=w),
                            theirs.fit(X, target, sample_weight=w), X)
        ours = nbs.MLPClassifier(**params).partial_fit(X, y, classes=[0, 1, 2], sample_weight=w)
        theirs = reference.MLPClassifier(**params).partial_fit(X, y, classes=[0, 1, 2],
                                                               sample_weight=w)
        assert_same_fit(ours, theirs, X)


def test_sample_weight_lbfgs(iris):
    X, y = iris
    w = np.random.RandomState(1).uniform(0.1, 3.0, len(y))
    params = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = nbs.MLPClassifier(**params).fit(X, y, sample_weight=w)
        theirs = reference.MLPClassifier(**params).fit(X, y, sample_weight=w)
    assert_same_fit(ours, theirs, X, rtol=1e-6)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_regression(iris, solver):
    X, y = iris
    counts = np.c_[np.round(np.exp(0.5 * X[:, 0])), y]  # two non-negative outputs
    fit_both("MLPRegressor", X[:, 1:], counts, rtol=1e-6 if solver == "lbfgs" else RTOL,
             loss="poisson", hidden_layer_sizes=(5,), solver=solver, max_iter=25,
             learning_rate_init=0.01, random_state=0, activation="tanh")


def test_warm_started_early_stopping_and_multilabel_partial_fit(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver="sgd", early_stopping=True, warm_start=True,
                  max_iter=15, random_state=0, learning_rate_init=0.05, n_iter_no_change=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = nbs.MLPClassifier(**params).fit(X, y).fit(X, y).fit(X[::2], y[::2])
        theirs = reference.MLPClassifier(**params).fit(X, y).fit(X, y).fit(X[::2], y[::2])
    assert_same_fit(ours, theirs, X)
    Y = np.c_[y == 0, y == 1]
    ours, theirs = nbs.MLPClassifier((5,), random_state=0), reference.MLPClassifier((5,),
                                                                                 random_state=0)
    for _ in range(3):
        ours.partial_fit(X, Y, classes=[0, 1])
        theirs.partial_fit(X, Y, classes=[0, 1])
    assert_same_fit(ours, theirs, X)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sparse_weighted_fit(iris, early_stopping):
    X, y = iris
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    w = np.linspace(0.1, 2.0, len(y))
    params = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=15, random_state=0,
                  batch_size=20, early_stopping=early_stopping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = nbs.MLPClassifier(**params).fit(Xs, y, sample_weight=w)
        theirs = reference.MLPClassifier(**params).fit(Xs, y, sample_weight=w)
    assert_same_fit(ours, theirs, Xs)
