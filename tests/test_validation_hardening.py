"""Argument validation of the book classes and nnbook.keras: every bad argument
is a TypeError/ValueError whose message names it, nothing reaches the core
unchecked, and no input is ever modified.

One test (or parametrized family) per rule:
1. seeds as scikit-learn's check_random_state accepts them;
2. sizes beyond the core's int32 and non-real numbers;
3. array arguments that are not rectangular arrays of numbers;
4. values that overflow the network's dtype on conversion;
5. missing or non-finite error terms in backprop/training;
6. non-finite or misshapen weights assigned to a model;
7. the rules are written down in the docstrings.
"""
import copy
import re
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import nnbook
from nnbook import book
from nnbook.keras import Input, Sequential, callbacks, initializers, layers, losses
from nnbook.keras import optimizers, trainer, utils
from nnbook.keras.layers import Dense

BIG = 2**31          # one more than the core's int
F32_OVER = 1e39      # finite in float64, inf in float32

BOOK_CLASSES = ["SingleLayer", "DualLayer", "RandomInitNetwork", "MinibatchNetwork",
                "MultiClassNetwork"]
SEEDED_CLASSES = ["RandomInitNetwork", "MinibatchNetwork", "MultiClassNetwork"]


# ----------------------------------------------------------------- helpers

def make(name, **kwargs):
    if name != "SingleLayer":
        kwargs.setdefault("units", 5)       # not the feature count: a transposed w1 is wrong
    return getattr(nnbook, name)(**kwargs)


def data(name, n=12, f=3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, f))
    if name == "MultiClassNetwork":
        return x, np.eye(3)[np.arange(n) % 3]
    return x, (x[:, 0] > 0).astype(float)


def fitted(name, **kwargs):
    x, y = data(name)
    return make(name, **kwargs).fit(x, y, epochs=2)


def names_argument(message, name):
    """True when `name` appears in the message as a word of its own (x, not x_val)."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message) is not None


def same(a, b):
    """Deep equality for the inputs we hand over (arrays, lists, dicts, sets, scalars)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype == object or b.dtype == object:
            return a.shape == b.shape and all(same(p, q) for p, q in zip(a.flat, b.flat))
        nan_aware = a.dtype.kind in "fc" and b.dtype.kind in "fc"
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b,
                                                                           equal_nan=nan_aware)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(p, q) for p, q in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a):
        return np.isnan(b)
    return a == b


def refused(errors, name, call, *inputs):
    """call() raises one of `errors` naming `name`, warns nothing, and leaves `inputs` unchanged."""
    before = [copy.deepcopy(a) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(errors) as info:
            call()
    assert names_argument(str(info.value), name), \
        f"message does not name {name!r}: {info.value}"
    for b, a in zip(before, inputs):
        assert same(b, a), f"an input was modified: {b!r} -> {a!r}"
    return info.value


def keras_model(loss="categorical_crossentropy", dtype="float32", units=3, features=4):
    activation = {"categorical_crossentropy": "softmax", "sparse_categorical_crossentropy":
                  "softmax", "binary_crossentropy": "sigmoid", "mse": None}[loss]
    model = Sequential([Dense(5, activation="sigmoid", input_shape=(features,)),
                        Dense(units, activation=activation)], dtype=dtype)
    model.compile(optimizer="sgd", loss=loss)
    return model


def keras_data(n=8, features=4, classes=3):
    x = np.random.RandomState(1).normal(size=(n, features))
    return x, np.eye(classes)[np.arange(n) % classes]


# ------------------------------------------------------- 1. random_state / seeds

GOOD_SEEDS = [None, 0, 7, 2**32 - 1, np.int64(7), np.uint32(2**32 - 1), np.int8(3)]
BAD_SEEDS = [(-1, ValueError), (2**32, ValueError), (np.int64(-5), ValueError),
             ("abc", TypeError), (1.5, TypeError), (7.0, TypeError), (True, TypeError),
             (np.bool_(False), TypeError), ([1, 2], TypeError),
             (np.random.default_rng(0), TypeError), (np.random, TypeError)]


@pytest.mark.parametrize("name", SEEDED_CLASSES)
@pytest.mark.parametrize("seed", GOOD_SEEDS + [np.random.RandomState(5)],
                         ids=lambda s: type(s).__name__ + "-" + str(s)[:12])
def test_random_state_accepts_what_check_random_state_accepts(name, seed):
    x, y = data(name)
    net = make(name, random_state=seed).fit(x, y, epochs=2)
    assert np.isfinite(net.losses).all()


@pytest.mark.parametrize("name", SEEDED_CLASSES)
@pytest.mark.parametrize("seed,error", BAD_SEEDS, ids=lambda s: str(s)[:20])
def test_random_state_refused_at_init(name, seed, error):
    refused(error, "random_state", lambda: make(name, random_state=seed))


@pytest.mark.parametrize("name", SEEDED_CLASSES)
def test_random_state_set_later_is_checked_at_fit(name):
    x, y = data(name)
    net = make(name)
    net.random_state = -1
    refused(ValueError, "random_state", lambda: net.fit(x, y, epochs=1), x, y)
    net.random_state = "abc"
    refused(TypeError, "random_state", lambda: net.init_weights(*(
        (3, 3) if name == "MultiClassNetwork" else (3,))))


@pytest.mark.parametrize("name", SEEDED_CLASSES)
def test_default_42_and_numpy_ints_give_the_book_draws(name):
    rng = np.random.RandomState(42)
    outputs = 3 if name == "MultiClassNetwork" else 1
    w1, w2 = rng.normal(0, 1, (4, 6)), rng.normal(0, 1, (6, outputs))
    for seed in (42, np.int64(42), np.uint32(42)):
        net = make(name, units=6, random_state=seed)
        net.init_weights(*((4, 3) if name == "MultiClassNetwork" else (4,)))
        np.testing.assert_array_equal(net.w1, w1)
        np.testing.assert_array_equal(net.w2, w2)
        assert type(net.random_state) is int       # stored JSON-ready
    assert make(name).random_state == 42


def test_random_state_instance_is_used_and_advanced():
    """A RandomState is drawn from directly (scikit-learn's meaning), so its stream advances."""
    rs, ref = np.random.RandomState(9), np.random.RandomState(9)
    net = nnbook.RandomInitNetwork(units=2, random_state=rs)
    net.init_weights(3)
    np.testing.assert_array_equal(net.w1, ref.normal(0, 1, (3, 2)))
    np.testing.assert_array_equal(net.w2, ref.normal(0, 1, (2, 1)))
    assert rs.normal() == ref.normal()


@pytest.mark.parametrize("seed", GOOD_SEEDS[1:])
def test_keras_seeds_accept_integers_and_reproduce(seed):
    utils.set_random_seed(seed)
    first = Dense(4, input_shape=(3,))
    first.build(3)
    utils.set_random_seed(seed)
    second = Dense(4, input_shape=(3,))
    second.build(3)
    np.testing.assert_array_equal(first.kernel, second.kernel)
    init = initializers.GlorotUniform(seed=seed)
    np.testing.assert_array_equal(init((3, 4)), init((3, 4)))


def test_keras_seeds_accept_none_and_random_state():
    utils.set_random_seed(None)
    for seed_a, seed_b in ((np.random.RandomState(4), np.random.RandomState(4)),):
        utils.set_random_seed(seed_a)
        a = initializers.RandomNormal()((5,))
        utils.set_random_seed(seed_b)
        b = initializers.RandomNormal()((5,))
        np.testing.assert_array_equal(a, b)
    draws = initializers.RandomUniform(seed=np.random.RandomState(1))
    assert draws.get_config()["seed"] is None       # live state is not configuration
    assert draws((3,)).shape == (3,)


KERAS_SEEDED = {
    "set_random_seed": utils.set_random_seed,
    "RandomNormal": lambda s: initializers.RandomNormal(seed=s),
    "RandomUniform": lambda s: initializers.RandomUniform(seed=s),
    "GlorotUniform": lambda s: initializers.GlorotUniform(seed=s),
    "HeNormal": lambda s: initializers.HeNormal(seed=s),
}


@pytest.mark.parametrize("entry", sorted(KERAS_SEEDED))
@pytest.mark.parametrize("seed,error", BAD_SEEDS, ids=lambda s: str(s)[:20])
def test_keras_seeds_refused(entry, seed, error):
    refused(error, "seed", lambda: KERAS_SEEDED[entry](seed))


# ------------------------------------------- 2. int32 sizes and non-real numbers

@pytest.mark.parametrize("name", BOOK_CLASSES[1:])
def test_units_beyond_int32(name):
    err = refused(ValueError, "units", lambda: make(name, units=BIG))
    assert not isinstance(err, OverflowError)
    make(name, units=np.int64(5))               # NumPy ints are fine


@pytest.mark.parametrize("name", BOOK_CLASSES[3:])
def test_batch_size_beyond_int32(name):
    refused(ValueError, "batch_size", lambda: make(name, batch_size=BIG))
    refused(TypeError, "batch_size", lambda: make(name, batch_size=32.0))


class FitStarted(Exception):
    """Raised by a callback: fit ran an epoch although its arguments should have been refused
    (so a regression fails at once instead of running 2**31 epochs)."""


def stop_book_fit(epoch, logs):
    raise FitStarted


class StopKerasFit(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        raise FitStarted


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_epochs_beyond_int32_and_not_integers(name):
    x, y = data(name)
    refused(ValueError, "epochs",
            lambda: make(name).fit(x, y, epochs=BIG, callback=stop_book_fit), x, y)
    refused(TypeError, "epochs", lambda: make(name).fit(x, y, epochs=2.0), x, y)
    refused(TypeError, "epochs", lambda: make(name).fit(x, y, epochs=None), x, y)


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_book_callback_must_be_callable(name):
    x, y = data(name)
    refused(TypeError, "callback", lambda: make(name).fit(x, y, epochs=1, callback="print"), x, y)


@pytest.mark.parametrize("name", BOOK_CLASSES[1:])
def test_init_weights_sizes(name):
    multi = name == "MultiClassNetwork"
    net = make(name)
    refused(ValueError, "n_features", lambda: net.init_weights(*((BIG, 3) if multi else (BIG,))))
    refused(TypeError, "n_features", lambda: net.init_weights(*(("3", 3) if multi else ("3",))))
    if multi:
        refused(ValueError, "n_classes", lambda: net.init_weights(3, BIG))


@pytest.mark.parametrize("name", BOOK_CLASSES[1:4])
def test_training_m_checked(name):
    x, y = data(name)
    net = fitted(name)
    col = y.reshape(-1, 1)
    refused(ValueError, "m", lambda: net.training(x, col, BIG), x, col)
    refused(TypeError, "m", lambda: net.training(x, col, None), x, col)


NON_REAL = [(1j, TypeError), ("0.1", TypeError), (None, TypeError), (Decimal("0.1"), TypeError),
            (np.array([0.1]), TypeError), (True, TypeError), (10**400, ValueError),
            (float("nan"), ValueError), (float("inf"), ValueError)]


@pytest.mark.parametrize("name", BOOK_CLASSES)
@pytest.mark.parametrize("argument", ["learning_rate", "l1", "l2"])
@pytest.mark.parametrize("value,error", NON_REAL, ids=lambda v: str(v)[:12])
def test_book_rates_must_be_real(name, argument, value, error):
    refused(error, argument, lambda: make(name, **{argument: value}))


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_book_rates_accept_fractions_and_numpy_scalars(name):
    x, y = data(name)
    net = make(name, learning_rate=Fraction(1, 10), l1=np.float32(0.001), l2=Fraction(1, 100))
    assert (net.lr, net.l2) == (0.1, 0.01) and type(net.lr) is float
    net.fit(x, y, epochs=2)
    ref = make(name, learning_rate=0.1, l1=float(np.float32(0.001)), l2=0.01).fit(x, y, epochs=2)
    np.testing.assert_array_equal(net.losses, ref.losses)


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_hyperparameters_set_as_attributes_are_checked_at_fit(name):
    x, y = data(name)
    net = make(name)
    net.lr = "fast"
    refused(TypeError, "learning_rate", lambda: net.fit(x, y, epochs=1), x, y)
    net.lr, net.l2 = 0.1, -1
    refused(ValueError, "l2", lambda: net.fit(x, y, epochs=1), x, y)
    if name != "SingleLayer":
        net.l2, net.units = 0, BIG
        refused(ValueError, "units", lambda: net.fit(x, y, epochs=1), x, y)


KERAS_OPTIMIZER_ARGS = [
    (optimizers.SGD, "learning_rate"), (optimizers.SGD, "momentum"),
    (optimizers.Adam, "learning_rate"), (optimizers.Adam, "beta_1"),
    (optimizers.Adam, "beta_2"), (optimizers.Adam, "epsilon"),
    (optimizers.RMSprop, "learning_rate"), (optimizers.RMSprop, "rho"),
    (optimizers.RMSprop, "epsilon"),
]


@pytest.mark.parametrize("cls,argument", KERAS_OPTIMIZER_ARGS,
                         ids=[f"{c.__name__}-{a}" for c, a in KERAS_OPTIMIZER_ARGS])
@pytest.mark.parametrize("value,error", NON_REAL, ids=lambda v: str(v)[:12])
def test_keras_optimizer_numbers_must_be_real(cls, argument, value, error):
    refused(error, argument, lambda: cls(**{argument: value}))


@pytest.mark.parametrize("cls,argument", KERAS_OPTIMIZER_ARGS,
                         ids=[f"{c.__name__}-{a}" for c, a in KERAS_OPTIMIZER_ARGS])
def test_keras_optimizer_numbers_accept_fractions(cls, argument):
    opt = cls(**{argument: Fraction(1, 10)})
    assert getattr(opt, argument) == 0.1 and type(getattr(opt, argument)) is float


def test_sgd_fraction_trains_like_the_float():
    x, y = keras_data()
    histories = []
    for lr in (Fraction(1, 10), 0.1):
        utils.set_random_seed(3)
        model = keras_model()
        model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="categorical_crossentropy")
        histories.append(model.fit(x, y, epochs=2, verbose=0, shuffle=False).history["loss"])
    assert histories[0] == histories[1]


@pytest.mark.parametrize("call,argument,error", [
    (lambda: optimizers.SGD(nesterov="yes"), "nesterov", TypeError),
    (lambda: optimizers.Adam(amsgrad=None), "amsgrad", TypeError),
    (lambda: optimizers.RMSprop(centered=1), "centered", TypeError),
    (lambda: optimizers.RMSprop(momentum="0"), "momentum", TypeError),
    (lambda: optimizers.SGD(momentum=1.0), "momentum", ValueError),
    (lambda: Dense(BIG), "units", ValueError),
    (lambda: Dense("3"), "units", TypeError),
    (lambda: Dense(3, use_bias="no"), "use_bias", TypeError),
    (lambda: Dense(3, input_shape=(BIG,)), "input_shape", ValueError),
    (lambda: Dense(3, input_dim=BIG), "input_dim", ValueError),
    (lambda: Input(shape=(BIG,)), "shape", ValueError),
    (lambda: losses.BinaryCrossentropy(from_logits="yes"), "from_logits", TypeError),
    (lambda: utils.to_categorical([0, 1], num_classes=BIG), "num_classes", ValueError),
    (lambda: callbacks.EarlyStopping(patience="3"), "patience", TypeError),
    (lambda: callbacks.EarlyStopping(min_delta=1j), "min_delta", TypeError),
    (lambda: callbacks.EarlyStopping(baseline="low"), "baseline", TypeError),
    (lambda: Sequential(name=3), "name", TypeError),
    (lambda: keras_model().evaluate(*keras_data(), verbose=0, return_dict=np.ones(2)),
     "return_dict", TypeError),
], ids=lambda v: v if isinstance(v, str) else None)
def test_keras_constructor_arguments(call, argument, error):
    refused(error, argument, call)


def test_keras_learning_rate_set_between_epochs_is_checked():
    opt = optimizers.SGD()
    opt.learning_rate = Fraction(1, 20)
    assert opt.learning_rate == 0.05
    opt.learning_rate = 0                          # freezing is allowed
    with pytest.raises(TypeError, match="learning_rate"):
        opt.learning_rate = "0.1"
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
@pytest.mark.parametrize("value,error", [(BIG, ValueError), (0, ValueError), (2.0, TypeError),
                                         ("32", TypeError), (True, TypeError)],
                         ids=lambda v: str(v))
def test_keras_batch_size(method, value, error):
    x, y = keras_data()
    model = keras_model()
    args = (x,) if method == "predict" else (x, y)
    refused(error, "batch_size",
            lambda: getattr(model, method)(*args, batch_size=value, verbose=0), x, y)


@pytest.mark.parametrize("kwargs,argument,error", [
    (dict(epochs=BIG), "epochs", ValueError), (dict(epochs=1.0), "epochs", TypeError),
    (dict(epochs=-1), "epochs", ValueError), (dict(initial_epoch=BIG), "initial_epoch", ValueError),
    (dict(validation_split="0.2"), "validation_split", TypeError),
    (dict(validation_split=1j), "validation_split", TypeError),
    (dict(validation_split=1.0), "validation_split", ValueError),
    (dict(shuffle="yes"), "shuffle", TypeError), (dict(shuffle=np.ones(2)), "shuffle", TypeError),
    (dict(verbose=np.ones(2)), "verbose", ValueError), (dict(verbose=1.5), "verbose", ValueError),
], ids=lambda v: v if isinstance(v, str) else None)
def test_keras_fit_arguments(kwargs, argument, error):
    x, y = keras_data()
    refused(error, argument,
            lambda: keras_model().fit(x, y, callbacks=[StopKerasFit()], **kwargs), x, y)


def test_keras_validation_split_accepts_fractions():
    x, y = keras_data()
    history = keras_model().fit(x, y, epochs=1, verbose=0, validation_split=Fraction(1, 4))
    assert "val_loss" in history.history


# ------------------------------------------------------------ 3. array arguments

BAD_ARRAYS = [
    ("ragged", [[1.0, 2.0, 3.0], [1.0]], (ValueError,)),
    ("string", "abc", (TypeError,)),
    ("dict", {"a": 1}, (TypeError,)),
    ("set", {1, 2}, (TypeError,)),
    ("None", None, (TypeError,)),
    ("object", np.array([[1.0, None, 2.0]], dtype=object), (TypeError,)),
    ("huge-int", [[2**70, 1, 2]], (TypeError,)),
    ("strings", np.array([["a", "b", "c"]]), (TypeError,)),
    ("complex", np.ones((2, 3), complex), (TypeError,)),
    ("timedelta", np.ones((2, 3), "m8[s]"), (TypeError,)),
    ("0-d", np.float64(3.0), (ValueError,)),
    ("3-D", np.zeros((2, 3, 1)), (ValueError,)),
]
BAD_IDS = [b[0] for b in BAD_ARRAYS]


def book_calls(name):
    """(argument name, call(bad) -> None) for every array argument of a fitted book network."""
    x, y = data(name)
    multi = name == "MultiClassNetwork"
    yt = y if multi else y.reshape(-1, 1)
    net = fitted(name)
    net.forpass(x)
    err = np.zeros((len(x), 3 if multi else 1))
    calls = [
        ("x", lambda v: make(name).fit(v, y, epochs=1)),
        ("y", lambda v: make(name).fit(x, v, epochs=1)),
        ("x_val", lambda v: make(name).fit(x, y, epochs=1, x_val=v, y_val=y)),
        ("y_val", lambda v: make(name).fit(x, y, epochs=1, x_val=x, y_val=v)),
        ("x", lambda v: net.predict(v)),
        ("x", lambda v: net.score(v, y)),
        ("y", lambda v: net.score(x, v)),
        ("x", lambda v: net.forpass(v)),
        ("x", lambda v: net.backprop(v, err)),
        ("err", lambda v: net.backprop(x, v)),
        ("x_val", lambda v: net.update_val_loss(v, y)),
    ]
    if name != "SingleLayer":
        train = (lambda a, b: net.training(a, b)) if multi else \
            (lambda a, b: net.training(a, b, len(x)))
        calls += [("x", lambda v: train(v, yt)), ("y", lambda v: train(x, v))]
    if name in ("MinibatchNetwork", "MultiClassNetwork"):
        calls += [("x", lambda v: net.gen_batch(v, y)), ("y", lambda v: net.gen_batch(x, v))]
    return calls, (x, y, err, net)


@pytest.mark.parametrize("name", BOOK_CLASSES)
@pytest.mark.parametrize("label,bad,errors", BAD_ARRAYS, ids=BAD_IDS)
def test_book_array_arguments(name, label, bad, errors):
    calls, (x, y, err, net) = book_calls(name)
    params = net._net.params.copy()
    for argument, call in calls:
        if argument in ("y", "y_val") and label == "3-D":
            continue                              # 3-D labels: covered by the shape tests
        if argument == "err" and label == "0-d":
            continue                              # a scalar err is a shape error, tested below
        if argument in ("y", "y_val"):
            errors_here = (TypeError, ValueError)     # labels: kind or shape
        elif argument == "x_val" and bad is None:
            errors_here = (ValueError,)               # None means "not given": y_val alone
        else:
            errors_here = errors
        refused(errors_here, argument, lambda: call(bad), bad, x, y, err)
    np.testing.assert_array_equal(net._net.params, params)   # failed calls change nothing


def test_gen_batch_checks_at_the_call_not_at_the_first_batch():
    net = nnbook.MinibatchNetwork()
    refused(TypeError, "x", lambda: net.gen_batch({"a": 1}, [0]))
    refused(ValueError, "y", lambda: net.gen_batch(np.zeros((3, 2)), np.zeros(4)))
    refused(ValueError, "x", lambda: net.gen_batch(np.array([[np.nan, 1.0]]), [0]))


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_book_activation_z_checked(name):
    net = make(name)
    refused(TypeError, "z", lambda: net.activation("abc"))
    refused(ValueError, "z", lambda: net.activation([[1.0], [2.0, 3.0]]))
    refused(ValueError, "z", lambda: net.activation(np.array([np.nan])))
    assert net.activation(0.0) == 0.5 and np.shape(net.activation(0.0)) == ()
    if name == "MultiClassNetwork":
        refused(TypeError, "z", lambda: net.softmax({"a": 1}))
        refused(ValueError, "z", lambda: net.softmax(np.array([[1.0, np.inf]])))


KERAS_ENTRY_POINTS = {
    "fit-x": ("x", lambda m, x, y, v: m.fit(v, y, verbose=0)),
    "fit-y": ("y", lambda m, x, y, v: m.fit(x, v, verbose=0)),
    "fit-x_val": ("x_val", lambda m, x, y, v: m.fit(x, y, verbose=0, validation_data=(v, y))),
    "fit-y_val": ("y_val", lambda m, x, y, v: m.fit(x, y, verbose=0, validation_data=(x, v))),
    "evaluate-x": ("x", lambda m, x, y, v: m.evaluate(v, y, verbose=0)),
    "evaluate-y": ("y", lambda m, x, y, v: m.evaluate(x, v, verbose=0)),
    "predict-x": ("x", lambda m, x, y, v: m.predict(v, verbose=0)),
    "call-x": ("x", lambda m, x, y, v: m(v)),
}


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "mse"])
@pytest.mark.parametrize("entry", sorted(KERAS_ENTRY_POINTS))
@pytest.mark.parametrize("label,bad,errors", BAD_ARRAYS, ids=BAD_IDS)
def test_keras_array_arguments(loss, entry, label, bad, errors):
    argument, call = KERAS_ENTRY_POINTS[entry]
    x, y = keras_data()
    if loss.startswith("sparse"):
        y = np.argmax(y, axis=1)
    model = keras_model(loss)
    weights = model.get_weights()
    if argument.startswith("y"):
        errors = (TypeError, ValueError)          # labels: kind or shape, either names them
    refused(errors, argument, lambda: call(model, x, y, bad), bad, x, y)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_keras_to_categorical_labels():
    refused(TypeError, "y", lambda: utils.to_categorical({"a": 1}))
    refused(ValueError, "y", lambda: utils.to_categorical([[0, 1], [2]]))
    refused(ValueError, "y", lambda: utils.to_categorical(np.array([0.0, 1e300])))


# --------------------------------------------------- 4. overflow of the network dtype

@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_book_float32_overflow_refused(name):
    x, y = data(name)
    big = x.copy()
    big[2, 1] = F32_OVER
    net = make(name, dtype=np.float32).fit(x, y, epochs=1)
    for argument, call in [("x", lambda: make(name, dtype=np.float32).fit(big, y, epochs=1)),
                           ("x_val", lambda: make(name, dtype=np.float32).fit(
                               x, y, epochs=1, x_val=big, y_val=y)),
                           ("x", lambda: net.predict(big)), ("x", lambda: net.score(big, y)),
                           ("x", lambda: net.forpass(big))]:
        error = refused(ValueError, argument, call, big, y)
        assert "float32" in str(error) and "[2, 1]" in str(error)


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_book_float32_limits_and_float64(name):
    x, y = data(name)
    edge = x.copy()
    edge[0, 0] = float(np.finfo(np.float32).max)     # fits exactly: accepted
    make(name, dtype=np.float32).fit(edge, y, epochs=1)
    big = x.copy()
    big[0, 0] = F32_OVER
    make(name, dtype=np.float64).fit(big, y, epochs=1)   # fits float64: accepted
    for value in (np.nan, np.inf, -np.inf):               # NaN/Inf: still refused
        bad = x.copy()
        bad[1, 2] = value
        error = refused(ValueError, "x", lambda: make(name, dtype=np.float32).fit(bad, y), bad)
        assert "NaN or Inf" in str(error)


@pytest.mark.parametrize("entry", ["fit-x", "fit-x_val", "evaluate-x", "predict-x", "call-x"])
def test_keras_float32_overflow_refused(entry):
    argument, call = KERAS_ENTRY_POINTS[entry]
    x, y = keras_data()
    big = x.copy()
    big[3, 0] = -F32_OVER
    error = refused(ValueError, argument, lambda: call(keras_model(), x, y, big), big, x, y)
    assert "float32" in str(error)


def test_keras_mse_targets_overflow_refused():
    x, y = keras_data()
    big = y.copy()
    big[0, 0] = F32_OVER
    refused(ValueError, "y", lambda: keras_model("mse").fit(x, big, verbose=0), x, big)
    keras_model("mse", dtype="float64").fit(x, big, verbose=0, epochs=0)


@pytest.mark.parametrize("name", BOOK_CLASSES[:4])
def test_longdouble_beyond_float64_refused(name):
    x, y = data(name)
    big = x.astype(np.longdouble)
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    big[0, 0] = np.longdouble(np.finfo(np.float64).max) * 16
    refused(ValueError, "x", lambda: make(name).fit(big, y, epochs=1), big)


# ----------------------------------------------- 5. error terms of backprop / training

@pytest.mark.parametrize("name", BOOK_CLASSES)
@pytest.mark.parametrize("bad,error", [(None, TypeError), (np.nan, ValueError),
                                       (np.inf, ValueError), ("e", TypeError)],
                         ids=["None", "nan", "inf", "str"])
def test_backprop_error_terms(name, bad, error):
    x, y = data(name)
    net = fitted(name)
    net.forpass(x)
    k = 3 if name == "MultiClassNetwork" else 1
    if bad is None or isinstance(bad, str):
        err = bad
    else:
        err = np.zeros((len(x), k))
        err[4, 0] = bad
    refused(error, "err", lambda: net.backprop(x, err), err, x)


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_backprop_error_shape(name):
    x, y = data(name)
    net = fitted(name)
    net.forpass(x)
    k = 3 if name == "MultiClassNetwork" else 1
    err = np.zeros((k, len(x)))                   # transposed: same size, wrong shape
    refused(ValueError, "err", lambda: net.backprop(x, err), err)
    if k == 1:
        net.backprop(x, np.zeros(len(x)))         # (m,) is a column for one unit


@pytest.mark.parametrize("name", BOOK_CLASSES[1:])
@pytest.mark.parametrize("bad,error", [(None, TypeError), (np.nan, ValueError)],
                         ids=["None", "nan"])
def test_training_targets(name, bad, error):
    x, y = data(name)
    net = fitted(name)
    params = net._net.params.copy()
    if bad is None:
        yb = None
    else:
        yb = (y if name == "MultiClassNetwork" else y.reshape(-1, 1)).copy()
        yb[3, 0] = bad
    call = (lambda: net.training(x, yb)) if name == "MultiClassNetwork" else \
        (lambda: net.training(x, yb, len(x)))
    refused(error, "y", call, x, yb)
    np.testing.assert_array_equal(net._net.params, params)


# ------------------------------------------------------------ 6. assigned weights

def book_attributes(name):
    return ["w", "b"] if name == "SingleLayer" else ["w1", "b1", "w2", "b2"]


@pytest.mark.parametrize("name", BOOK_CLASSES)
@pytest.mark.parametrize("kind", ["nan", "inf", "None", "str", "transposed", "f32-overflow"])
def test_book_weight_assignment(name, kind):
    net = fitted(name, dtype=np.float32) if kind == "f32-overflow" else fitted(name)
    for attr in book_attributes(name):
        current = np.array(getattr(net, attr))
        before = net._net.params.copy()
        if kind == "None":
            value, error = None, TypeError
        elif kind == "str":
            value, error = np.full(current.shape, "a"), TypeError
        elif kind == "transposed":
            if current.ndim < 2 or 1 in current.shape:
                continue
            value, error = np.zeros(current.shape[::-1]), ValueError
        else:
            value = np.zeros(current.shape)
            value[(0,) * current.ndim] = {"nan": np.nan, "inf": np.inf,
                                          "f32-overflow": F32_OVER}[kind]
            error = ValueError
        refused(error, attr, lambda: setattr(net, attr, value), value)
        np.testing.assert_array_equal(net._net.params, before)


def test_book_weight_assignment_accepts_the_book_forms():
    net = nnbook.MultiClassNetwork(units=4)
    net.init_weights(3, 3)
    net.b2 = [0.1, -0.2, 0.05]
    net.b1 = 0                                        # a scalar sets every entry
    assert (net.b1 == 0).all()
    single = nnbook.SingleLayer().fit(*data("SingleLayer"), epochs=0)
    single.w = [1.0, 2.0, 3.0]                       # (3,) for the (3, 1) column
    single.b = np.array([0.5])
    assert single.w.shape == (3, 1) and float(single.b) == 0.5
    refused(ValueError, "w", lambda: setattr(single, "w", np.zeros((3, 2))))


def test_book_weight_assignment_example_from_the_issue():
    x, y = data("SingleLayer")
    s = nnbook.SingleLayer().fit(x, y, epochs=3)
    refused(ValueError, "w", lambda: setattr(s, "w", np.full((3, 1), np.nan)))
    assert np.isfinite(s.w).all()


@pytest.mark.parametrize("target", ["model", "layer"])
@pytest.mark.parametrize("kind,error", [("nan", ValueError), ("inf", ValueError),
                                        ("shape", ValueError), ("None", TypeError),
                                        ("str", TypeError), ("ragged", ValueError),
                                        ("f32-overflow", ValueError)])
def test_keras_set_weights(target, kind, error):
    model = keras_model()
    good = model.get_weights()
    new = [w.copy() + 0.5 for w in good]
    i = 1                                            # the first layer's bias
    if kind in ("nan", "inf", "f32-overflow"):
        new[i] = new[i].astype(np.float64)
        new[i][2] = {"nan": np.nan, "inf": np.inf, "f32-overflow": F32_OVER}[kind]
    elif kind == "shape":
        new[0] = new[0].T
        i = 0
    elif kind == "None":
        new[i] = None
    elif kind == "str":
        new[i] = ["a"] * 5
    else:
        new[i] = [[1.0, 2.0], [3.0]]
    snapshot = copy.deepcopy(new)
    if target == "model":
        refused(error, "weights", lambda: model.set_weights(new))
    else:
        refused(error, "weights", lambda: model.layers[0].set_weights(new[:2]))
    assert same(snapshot, new)
    for before, after in zip(good, model.get_weights()):    # nothing half-copied
        np.testing.assert_array_equal(before, after)


# ------------------------------------------------------------------ 7. the rules, written

@pytest.mark.parametrize("module,phrases", [
    (book, ["random_state", "2**31 - 1", "NaN", "float32", "w1"]),
    (trainer, ["2**31 - 1", "validation_split", "ragged", "3.4e38"]),
    (optimizers, ["Fraction", "TypeError"]),
    (layers, ["2**31 - 1", "finite"]),
    (losses, ["finite"]),
    (utils, ["check_random_state", "2**32 - 1"]),
    (initializers, ["seed", "RandomState"]),
], ids=lambda m: getattr(m, "__name__", None))
def test_rules_are_in_the_docstrings(module, phrases):
    for phrase in phrases:
        assert phrase in module.__doc__, f"{module.__name__} docstring lacks {phrase!r}"


@pytest.mark.parametrize("name", BOOK_CLASSES)
def test_every_public_book_method_has_a_docstring(name):
    cls = getattr(nnbook, name)
    for attr in ["fit", "predict", "score", "forpass", "backprop", "activation"]:
        assert getattr(cls, attr).__doc__, f"{name}.{attr} has no docstring"
