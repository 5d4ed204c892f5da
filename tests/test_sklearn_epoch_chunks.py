"""nnbook.sklearn runs several epochs per core call when nothing between
them can change the next one (sklearn/_base.py, _epochs_before_a_decision).
These tests fit each estimator twice, chunked and forced to one epoch per
call, and require the very same bits: loss curve, parameters, stopping
epoch, printed lines and warnings."""
import contextlib
import io
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from nnbook.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from nnbook.sklearn import _base  # noqa: E402


def _data(seed=0, n=150, features=6, classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y % classes


def _fit(make, X, y, chunked, monkeypatch, **fit_kw):
    with monkeypatch.context() as m:
        if not chunked:
            m.setattr(_base.BaseMLP, "_epochs_can_share_a_call", lambda self, *a: False)
        calls = []
        real = _base._rows.train_epochs
        m.setattr(_base._rows, "train_epochs",
                  lambda net, X, Y, b, orders, sw=None: calls.append(len(orders)) or
                  real(net, X, Y, b, orders, sw))
        out = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
            warnings.simplefilter("always")
            est = make().fit(X, y, **fit_kw)
    return est, out.getvalue(), [(w.category, str(w.message)) for w in caught], calls


CASES = {
    "adam, stops on tol": lambda: MLPClassifier((8,), max_iter=300, tol=3e-3,
                                                n_iter_no_change=3, random_state=1, verbose=True),
    "adam, max_iter": lambda: MLPClassifier((8,), max_iter=40, tol=0, random_state=2),
    "sgd adaptive": lambda: MLPClassifier((8,), solver="sgd", learning_rate="adaptive",
                                          tol=1e-2, n_iter_no_change=2, max_iter=200,
                                          random_state=3, verbose=True),
    "sgd constant, momentum, no shuffle": lambda: MLPClassifier(
        (5, 4), solver="sgd", momentum=0.5, shuffle=False, max_iter=60, random_state=4,
        activation="tanh"),
    "regressor, batch 16": lambda: MLPRegressor(hidden_layer_sizes=(7,), batch_size=16, max_iter=50,
                                                random_state=5, alpha=1e-2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_epochs_are_the_same_epochs(name, monkeypatch):
    X, y = _data()
    if "regressor" in name:
        y = X[:, :2] @ np.array([[1.0, -2.0], [0.5, 1.0]])
    make = CASES[name]
    a, out_a, warn_a, calls_a = _fit(make, X, y, True, monkeypatch)
    b, out_b, warn_b, calls_b = _fit(make, X, y, False, monkeypatch)
    assert set(calls_b) == {1} and max(calls_a) > 1   # the two paths really differ
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_
    assert a.loss_curve_ == b.loss_curve_ and a.loss_ == b.loss_
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(p, q)
    assert out_a == out_b and warn_a == warn_b
    if "stops" in name or "adaptive" in name:   # a decision really came mid-fit
        assert a.n_iter_ < a.max_iter


def test_sample_weights_chunked_equal_one_epoch_per_call(monkeypatch):
    X, y = _data(seed=7)
    sw = np.random.default_rng(0).uniform(0.1, 2.0, len(X))
    make = lambda: MLPClassifier((6,), max_iter=30, random_state=0)  # noqa: E731
    a = _fit(make, X, y, True, monkeypatch, sample_weight=sw)[0]
    b = _fit(make, X, y, False, monkeypatch, sample_weight=sw)[0]
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_no_chunks_when_the_random_state_is_shared(monkeypatch):
    X, y = _data(seed=3)
    rng = np.random.RandomState(0)
    calls = _fit(lambda: MLPClassifier((4,), max_iter=20, random_state=rng), X, y, True,
                 monkeypatch)[3]
    assert set(calls) == {1}


def test_convergence_warning_once_at_max_iter(monkeypatch):
    X, y = _data(seed=5)
    _, _, caught, calls = _fit(lambda: MLPClassifier((4,), max_iter=25, tol=0, random_state=0),
                               X, y, True, monkeypatch)
    assert [c for c, _ in caught].count(ConvergenceWarning) == 1 and sum(calls) == 25


@pytest.mark.parametrize("chunked", [True, False])
def test_interrupt_inside_a_chunk_keeps_the_completed_epochs(chunked, monkeypatch):
    """Ctrl-C while the core runs: the epochs it completed are recorded, then
    scikit-learn's 'Training interrupted by user.' warning; the same state
    whether the epochs ran one per call or several."""
    from nnbook._network import CoreNetwork
    X, y = _data(seed=11)
    stop_after = 7
    real = CoreNetwork.train_epochs
    ran = []

    def interrupted(self, x, y_, batch_size, n_epochs, perms=None, *args, **kw):
        k = min(n_epochs, stop_after - sum(ran))
        ran.append(k)
        if k == n_epochs:
            return real(self, x, y_, batch_size, n_epochs, perms, *args, **kw)
        done = real(self, x, y_, batch_size, k, None if perms is None else perms[:k],
                    *args, **kw)
        stop = KeyboardInterrupt()
        stop.nnbook_completed = done
        raise stop

    monkeypatch.setattr(CoreNetwork, "train_epochs", interrupted)
    est, _, caught, _ = _fit(lambda: MLPClassifier((5,), max_iter=50, random_state=0), X, y,
                             chunked, monkeypatch)
    assert est.n_iter_ == stop_after == len(est.loss_curve_)
    assert (UserWarning, "Training interrupted by user.") in caught
    monkeypatch.setattr(CoreNetwork, "train_epochs", real)
    ref = MLPClassifier((5,), max_iter=stop_after, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
    assert est.loss_curve_ == ref.loss_curve_
    np.testing.assert_array_equal(est.coefs_[0], ref.coefs_[0])


@pytest.mark.parametrize("hide_state", [False, True])
def test_a_given_random_state_ends_where_scikit_learns_does(hide_state, monkeypatch):
    # a fit that stops early gives back the permutations it drew ahead:
    # the caller's RandomState continues exactly as after scikit-learn's fit
    # (through the state copied in place, or get_state where that is hidden)
    from sklearn.neural_network import MLPClassifier as Reference

    from nnbook import _nncore
    if hide_state:
        monkeypatch.setattr(_nncore, "legacy_state", lambda rng: None)
    X, y = _data(3)
    params = dict(hidden_layer_sizes=(5,), solver="sgd", tol=1e-2, n_iter_no_change=2,
                  max_iter=200, learning_rate_init=0.05)
    ours, theirs = np.random.RandomState(4), np.random.RandomState(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(random_state=ours, **params).fit(X, y)
        b = Reference(random_state=theirs, **params).fit(X, y)
    assert a.n_iter_ == b.n_iter_ < 200
    assert ours.randint(1 << 30, size=5).tolist() == theirs.randint(1 << 30, size=5).tolist()
