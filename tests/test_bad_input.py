"""Bad input to the book's classes: a ValueError/TypeError naming the argument,
what was expected and what was received; never a crash, never a mutated input."""
import numpy as np
import pytest

import nnbook
from conftest import BOOK_CLASS_NAMES, binary_problem, multiclass_problem
from nnbook import NotFittedError


def binary(seed=0):
    """20 rows of 3 features: the sizes the messages below name."""
    return binary_problem(n=20, features=3, seed=seed)


def onehot(seed=0):
    return multiclass_problem(n=20, features=3, classes=3, seed=seed)


BINARY = [lambda: nnbook.SingleLayer(), lambda: nnbook.DualLayer(units=3),
          lambda: nnbook.RandomInitNetwork(units=3), lambda: nnbook.MinibatchNetwork(units=3)]
BINARY_IDS = BOOK_CLASS_NAMES[:4]


def fitted_binary(make):
    x, y = binary()
    return make().fit(x, y, epochs=2)


@pytest.mark.parametrize("make", BINARY, ids=BINARY_IDS)
@pytest.mark.parametrize("x,y,match", [
    (np.zeros(5), np.zeros(5), r"x must be a 2-D array.*got 1-D"),
    (np.zeros((2, 3, 4)), np.zeros(2), r"x must be a 2-D array.*got 3-D"),
    (np.zeros((0, 3)), np.zeros(0), r"x is empty"),
    (np.zeros((4, 0)), np.zeros(4), r"x has 0 features"),
    (np.zeros((4, 3)), np.zeros(5), r"y has 5 labels but x has 4 samples"),
    (np.zeros((4, 3)), np.zeros((4, 2)), r"y must be a 1-D array"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), np.zeros(2), r"x contains NaN or Inf"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), np.zeros(2), r"x contains NaN or Inf"),
    (np.zeros((2, 2)), np.array([0.0, np.nan]), r"y contains NaN or Inf"),
    (np.zeros((2, 2)), np.array([0.0, 2.0]), r"y must hold binary targets in \[0, 1\]"),
    (np.array([["a", "b"]]), np.zeros(1), r"x must be an array of numbers"),
])
def test_fit_rejects_bad_arrays(make, x, y, match):
    with pytest.raises(ValueError if "numbers" not in match else TypeError, match=match):
        make().fit(x, y, epochs=1)


@pytest.mark.parametrize("make", BINARY, ids=BINARY_IDS)
def test_predict_with_wrong_feature_count(make):
    net = fitted_binary(make)
    with pytest.raises(ValueError, match="x has 4 features but the network was fitted with 3"):
        net.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="x has 2 features but the network was fitted with 3"):
        net.score(np.zeros((2, 2)), np.zeros(2))


@pytest.mark.parametrize("make", BINARY + [lambda: nnbook.MultiClassNetwork(units=3)],
                         ids=BINARY_IDS + ["MultiClassNetwork"])
def test_not_fitted(make):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        make().predict(np.zeros((2, 3)))


def test_validation_data_checked_too():
    x, y = binary()
    net = nnbook.MinibatchNetwork(units=3)
    with pytest.raises(ValueError, match="x_val was given without y_val"):
        net.fit(x, y, epochs=1, x_val=x)
    with pytest.raises(ValueError, match="x_val must have 3 features, got 2"):
        net.fit(x, y, epochs=1, x_val=x[:, :2], y_val=y)
    with pytest.raises(ValueError, match="y_val has 19 labels but x_val has 20 samples"):
        net.fit(x, y, epochs=1, x_val=x, y_val=y[:-1])


@pytest.mark.parametrize("y,match", [
    (lambda n: np.arange(n) % 3, r"y must be one-hot encoded.*to_categorical"),
    (lambda n: np.full((n, 3), 1 / 3), r"y is not one-hot: row 0"),
    (lambda n: np.eye(3)[np.arange(n) % 3] * 2, r"y is not one-hot"),
    (lambda n: np.ones((n, 1)), r"y must have at least 2 classes"),
    (lambda n: np.eye(3)[np.arange(n - 1) % 3], r"y has 19 rows but x has 20 samples"),
])
def test_multiclass_needs_one_hot_targets(y, match):
    x, _ = onehot()
    with pytest.raises(ValueError, match=match):
        nnbook.MultiClassNetwork(units=3).fit(x, y(len(x)), epochs=1)


def test_multiclass_score_with_other_class_count():
    x, y = onehot()
    net = nnbook.MultiClassNetwork(units=3).fit(x, y, epochs=1)
    with pytest.raises(ValueError, match="y has 4 classes but the network was fitted with 3"):
        net.score(x, np.eye(4)[np.arange(len(x)) % 4])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(units=0), ValueError, r"units must be an integer >= 1, got 0"),
    (dict(units=2.5), TypeError, r"units must be an integer"),
    (dict(batch_size=0), ValueError, r"batch_size must be an integer >= 1"),
    (dict(learning_rate=-0.1), ValueError, r"learning_rate must be > 0"),
    (dict(learning_rate=float("nan")), ValueError, r"learning_rate must be finite"),
    (dict(l2=-1), ValueError, r"l2 must be >= 0"),
    (dict(dtype=np.int32), TypeError, r"dtype must be numpy.float32 or numpy.float64"),
    (dict(dtype="float16"), TypeError, r"dtype must be numpy.float32 or numpy.float64"),
])
def test_hyperparameters_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        nnbook.MinibatchNetwork(**kwargs)


def test_epochs_checked():
    x, y = binary()
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        nnbook.DualLayer().fit(x, y, epochs=-1)


@pytest.mark.parametrize("make", BINARY + [lambda: nnbook.MultiClassNetwork(units=3)],
                         ids=BINARY_IDS + ["MultiClassNetwork"])
def test_inputs_never_modified(make):
    multi = isinstance(make(), nnbook.MultiClassNetwork)
    x, y = onehot() if multi else binary()
    xv, yv = (onehot(seed=1) if multi else binary(seed=1))
    copies = [a.copy() for a in (x, y, xv, yv)]
    net = make().fit(x, y, epochs=3, x_val=xv, y_val=yv)
    net.predict(xv)
    net.score(xv, yv)
    net.update_val_loss(xv, yv)
    for before, after in zip(copies, (x, y, xv, yv)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_integer_and_noncontiguous_inputs_are_converted(dtype):
    rng = np.random.RandomState(0)
    xi = rng.randint(-3, 4, size=(30, 8))
    y = (xi[:, 0] > 0).astype(np.int64)
    xt = np.asfortranarray(xi.astype(dtype))
    strided = np.ascontiguousarray(np.repeat(xi.astype(dtype), 2, axis=1))[:, ::2]
    assert not strided.flags.c_contiguous
    ref = nnbook.MinibatchNetwork(units=4, dtype=dtype).fit(xi.astype(dtype), y.astype(float),
                                                             epochs=5)
    for x in (xi, xt, strided):
        net = nnbook.MinibatchNetwork(units=4, dtype=dtype).fit(x, y, epochs=5)
        np.testing.assert_array_equal(net.losses, ref.losses)
        np.testing.assert_array_equal(net.w1, ref.w1)


def test_read_only_inputs_are_fine():
    x, y = binary()
    x.setflags(write=False)
    y.setflags(write=False)
    net = nnbook.MinibatchNetwork(units=3).fit(x, y, epochs=2, x_val=x, y_val=y)
    assert net.predict(x).shape == (len(x), 1)


def test_backprop_needs_matching_forpass():
    x, y = binary()
    net = nnbook.DualLayer(units=3)
    net.init_weights(3)
    with pytest.raises(ValueError, match="call forpass"):
        net.backprop(x, np.zeros((len(x), 1)))
    net.forpass(x)
    with pytest.raises(ValueError, match=r"err must have shape \(20, 1\)"):
        net.backprop(x, np.zeros((len(x), 2)))


def test_weight_assignment_checks_shape():
    net = nnbook.DualLayer(units=3)
    net.init_weights(2)
    with pytest.raises(ValueError, match=r"w1 must have shape \(2, 3\)"):
        net.w1 = np.zeros((3, 3))
    net.w1 = np.full((2, 3), 0.5)
    assert (net.w1 == 0.5).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_large_inputs_are_checked_by_the_core_too(dtype, bad, where):
    """Arrays of 2**16 values or more are checked for NaN/Inf in C on the
    core's threads; the error is the same as for small ones, index included."""
    from nnbook._validation import CORE_FINITE_CHECK
    rows, features = CORE_FINITE_CHECK // 8 + 3, 8
    x = np.random.default_rng(0).normal(size=(rows, features)).astype(dtype)
    y = (x[:, 0] > 0).astype(dtype)
    assert x.size >= CORE_FINITE_CHECK
    r, c = {"first": (0, 0), "middle": (rows // 2, 5), "last": (rows - 1, features - 1)}[where]
    x[r, c] = bad
    before = x.copy()
    with pytest.raises(ValueError, match=rf"x contains NaN or Inf \(first at index \[{r}, {c}\]\)"):
        nnbook.DualLayer(units=3, dtype=dtype).fit(x, y, epochs=1)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_core_finiteness_check_agrees_with_numpy(dtype):
    from nnbook import _nncore
    rng = np.random.default_rng(1)
    for n in (0, 1, 7, 65535, 65536, 65537, 131072 * 3 + 5):
        x = rng.normal(size=n).astype(dtype)
        for threads in (1, 2, 3, 16):
            assert _nncore.array_is_finite(x, threads)
        if n:
            for pos in {0, n // 2, n - 1}:
                for bad in (np.nan, np.inf, -np.inf):
                    y = x.copy()
                    y[pos] = bad
                    for threads in (1, 2, 3, 16):
                        assert not _nncore.array_is_finite(y, threads), (n, pos, bad, threads)
    # huge finite values, whose sum overflows, are finite
    assert _nncore.array_is_finite(np.full(1 << 17, np.finfo(dtype).max, dtype), 2)
