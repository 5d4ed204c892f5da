"""Hypothesis fuzzing of every public entry point.

Entry points: the five book classes (constructor, fit, predict, score and the
book's step-by-step methods), ``nnbook.keras`` (Dense, Sequential, compile,
fit, evaluate, predict), ``nnbook.load``, ``nnbook.keras.models.load_model``
on mutated model files, and the command line on mutated ``.npz`` data files.

The strategies draw shapes (empty ones included), dtypes (bool, integers,
float16/32/64, object), memory layouts (Fortran order, strided views,
read-only arrays), non-finite and huge values, wrong or malformed labels,
non-array inputs, and valid and invalid hyper-parameters.

Every example must end in one of two ways:

* a clear exception: ``ValueError`` or ``TypeError`` (``ModelFileError`` and
  ``NotFittedError`` are ``ValueError``) with a non-empty message; a model
  file that cannot be read must raise ``nnbook.ModelFileError`` naming the
  file; the command line returns (or exits with) 2, its last line on stderr
  saying what is wrong, and never lets a traceback out;
* or an answer that is finite, with no NumPy floating-point warning leaking
  out (such a warning means garbage went through unchecked).

In both cases the inputs are unchanged afterwards.

How many examples: ``NNBOOK_FUZZ_EXAMPLES`` is the total over the suite
(default 400, split between the tests by their ``fuzz(share)``); with it unset the
examples are derandomised, so CI sees the same ones on every run.
``NNBOOK_FUZZ_EXAMPLES=20000 make fuzz`` runs a long, randomised run.
"""
import contextlib
import fractions
import inspect
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nnbook  # noqa: E402
from conftest import BOOK_CLASSES  # noqa: E402
from nnbook import ModelFileError, NotFittedError, keras  # noqa: E402
from nnbook.cli import main as cli_main  # noqa: E402

TOTAL_EXAMPLES = int(os.environ.get("NNBOOK_FUZZ_EXAMPLES", "400"))
TOTAL_SHARES = 16                    # the fuzz(share) tests below split TOTAL_EXAMPLES
SHARES = {}                          # test name -> its share, filled by fuzz()
BASE_SETTINGS = settings(
    derandomize="NNBOOK_FUZZ_EXAMPLES" not in os.environ,
    database=None,                   # never write .hypothesis/ into the checkout
    deadline=None,                   # the machine is shared: timings mean nothing
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


def fuzz(share):
    """Hypothesis settings giving a test `share` / TOTAL_SHARES of the examples.

    Cheap entry points get more shares than ones that train or run the CLI.
    """
    def decorate(test):
        SHARES[test.__name__] = share
        examples = max(1, TOTAL_EXAMPLES * share // TOTAL_SHARES)
        return settings(BASE_SETTINGS, max_examples=examples)(test)
    return decorate


CLEAR_ERRORS = (ValueError, TypeError)
# Head-room for one example's allocations. Some draws declare sizes of 2**31
# and more; an entry point that allocates before checking them must fail the
# example with MemoryError, not exhaust a machine other people share.
MEMORY_HEADROOM = 2 << 30


@pytest.fixture(scope="module", autouse=True)
def bounded_memory():
    """Cap this process's address space at its current size + MEMORY_HEADROOM.

    Not under AddressSanitizer, which reserves terabytes of address space up
    front: `make sanitize` bounds single allocations through ASAN_OPTIONS instead.
    """
    import resource
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * resource.getpagesize()
    cap = in_use + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY
                                            else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ---------------------------------------------------------------------------
# Checking one call
# ---------------------------------------------------------------------------

class Saved(dict):
    """Saved files by key; a short repr keeps hypothesis's failure reports readable."""

    def __repr__(self):
        return f"<{len(self)} saved files>"


class Rejected(Exception):
    """The call refused its input with a clear exception (the test goes on or stops)."""


def attempt(call, errors=CLEAR_ERRORS):
    """Run call(); return its result, or raise Rejected when it raised a clear error.

    Any other exception, an error with an empty message, or a NumPy
    floating-point warning (overflow, invalid value: garbage went through)
    fails the example.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except errors as exc:
            assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
            raise Rejected from exc
    leaked = [str(w.message) for w in caught if "encountered" in str(w.message)
              or "overflow" in str(w.message).lower()]
    assert not leaked, f"NumPy warnings leaked out: {leaked}"
    return result


def assert_finite(value, what):
    """value (an array, number, list or dict of them) holds only finite numbers."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert_finite(item, f"{what}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_finite(item, f"{what}[{i}]")
        return
    array = np.asarray(value)
    assert array.dtype.kind in "biuf", f"{what} is not numeric: {array.dtype}"
    assert np.isfinite(array).all(), f"{what} is not finite: {array!r}"


def snapshot(value):
    """A comparable picture of an input, to prove it was not modified."""
    if isinstance(value, np.ndarray):
        body = repr(value.tolist()) if value.dtype == object else value.tobytes()
        return ("ndarray", value.dtype.str, value.shape, value.strides,
                value.flags.writeable, body)
    if isinstance(value, (list, tuple, dict)):
        return (type(value).__name__, repr(value))
    return (type(value).__name__, repr(value))


# ---------------------------------------------------------------------------
# Strategies: arrays
# ---------------------------------------------------------------------------

SPECIAL_VALUES = [np.nan, np.inf, -np.inf, 1e308, -1e308, 3.5e38, -3.5e38, 7e4, 1e-320, -0.0]
NUMERIC_DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]


@st.composite
def float_values(draw, size):
    """size floats: mostly ordinary, sometimes with NaN, infinities and extremes."""
    ordinary = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
    if draw(st.integers(0, 3)) == 0:
        element = st.one_of(ordinary, st.sampled_from(SPECIAL_VALUES))
    else:
        element = ordinary
    return draw(st.lists(element, min_size=size, max_size=size))


def layout(draw, array):
    """The same values in another memory layout: C, Fortran, strided, reversed, read-only."""
    kind = draw(st.sampled_from(["c", "c", "fortran", "strided", "reversed", "readonly"]))
    if kind == "fortran" and array.ndim == 2:
        return np.asfortranarray(array)
    if kind == "strided" and array.ndim >= 1:
        wide = np.repeat(array, 2, axis=-1)
        return wide[..., ::2]
    if kind == "reversed" and array.ndim >= 1:
        return array[::-1].copy()[::-1]
    if kind == "readonly":
        array = array.copy()
        array.setflags(write=False)
    return array


@st.composite
def typed_array(draw, shape):
    """An array of `shape` in a drawn dtype with drawn values and layout."""
    size = int(np.prod(shape, dtype=np.int64))
    kind = draw(st.sampled_from(["float"] * 4 + ["int", "bool", "object"]))
    if kind == "float":
        dtype = draw(st.sampled_from([np.float64, np.float64, np.float32, np.float16]))
        with np.errstate(over="ignore"):
            array = np.array(draw(float_values(size)), dtype=np.float64).astype(dtype)
    elif kind == "int":
        dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8]))
        info = np.iinfo(dtype)
        ints = st.integers(int(info.min), int(info.max)) if draw(st.booleans()) \
            else st.integers(0, 3)
        array = np.array(draw(st.lists(ints, min_size=size, max_size=size)), dtype=dtype)
    elif kind == "bool":
        array = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=bool)
    else:
        items = st.one_of(st.floats(-3, 3), st.none(), st.text(max_size=2), st.integers(-2, 2))
        array = np.empty(size, dtype=object)
        array[:] = draw(st.lists(items, min_size=size, max_size=size))
    return layout(draw, array.reshape(shape))


NOT_ARRAYS = st.sampled_from([None, "abc", 3.0, {"a": 1}, [[1.0, 2.0], [3.0]],
                              [["a", "b"], ["c", "d"]], [[1 + 2j, 0j]], object()])


@st.composite
def features(draw, rows=None, cols=None):
    """What a user might pass as x: mostly a (rows, cols) array, sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(NOT_ARRAYS)
    rows = draw(st.integers(0, 12)) if rows is None else rows
    cols = draw(st.integers(0, 5)) if cols is None else cols
    ndim = draw(st.sampled_from([2] * 8 + [0, 1, 3]))
    shape = {0: (), 1: (rows,), 2: (rows, cols), 3: (rows, cols, 2)}[ndim]
    x = draw(typed_array(shape))
    if draw(st.integers(0, 9)) == 0:
        x = x.tolist()               # nested lists are array-like too
    return x


def n_rows(x):
    """How many rows x has, for drawing matching labels (3 for what has no rows)."""
    if isinstance(x, np.ndarray):
        return len(x) if x.ndim else 3
    return len(x) if isinstance(x, list) else 3


@st.composite
def binary_labels(draw, rows):
    """y for the binary book classes: 0/1 labels, sometimes wrong in some way."""
    if draw(st.integers(0, 14)) == 0:
        return draw(NOT_ARRAYS)
    rows = max(0, rows + draw(st.sampled_from([0] * 10 + [-1, 1])))
    values = draw(st.lists(st.sampled_from([0, 1]), min_size=rows, max_size=rows))
    y = np.array(values, dtype=draw(st.sampled_from([np.float64, np.int64, np.bool_, np.float32])))
    if rows and draw(st.integers(0, 5)) == 0:
        y = y.astype(np.float64)
        y[draw(st.integers(0, rows - 1))] = draw(st.sampled_from([2.0, -1.0, 0.5, np.nan, 1e8]))
    if draw(st.integers(0, 7)) == 0:
        y = y.reshape(-1, 1)
    return layout(draw, y)


@st.composite
def one_hot_labels(draw, rows, classes=None):
    """One-hot y: sometimes integer labels, a damaged row, or a wrong class count."""
    if draw(st.integers(0, 14)) == 0:
        return draw(NOT_ARRAYS)
    classes = draw(st.integers(1, 4)) if classes is None else classes
    rows = max(0, rows + draw(st.sampled_from([0] * 10 + [-1, 1])))
    labels = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=rows, max_size=rows)),
                      dtype=np.int64)
    if draw(st.integers(0, 6)) == 0:
        return labels                 # integer labels where one-hot rows are expected
    y = np.eye(classes)[labels]
    if rows and draw(st.integers(0, 5)) == 0:
        y[draw(st.integers(0, rows - 1)), 0] = draw(st.sampled_from([2.0, 0.5, np.nan, -1.0]))
    return layout(draw, y.astype(draw(st.sampled_from([np.float64, np.float32, np.int64]))))


# ---------------------------------------------------------------------------
# Strategies: hyper-parameters
# ---------------------------------------------------------------------------

def maybe_invalid(draw, valid, invalid):
    """Mostly a valid value, one time in four an invalid one."""
    return draw(invalid) if draw(st.integers(0, 3)) == 0 else draw(valid)


BAD_INTS = st.sampled_from([0, -1, 2.5, "3", None, 2 ** 31, 2 ** 63, 10 ** 30, float("nan"),
                            np.float64(2.0), 1 + 0j])
BAD_REALS = st.sampled_from([0, -0.1, float("nan"), float("inf"), "0.1", None, 1 + 0j, 1e300,
                             fractions.Fraction(1, 10), [0.1]])
BAD_PENALTIES = st.sampled_from([-1, float("nan"), float("inf"), "0", None, 1e300, 1j])
BAD_DTYPES = st.sampled_from([np.float16, np.int32, "abc", None, object, "float128", complex])
BAD_SEEDS = st.sampled_from([-1, "abc", 2 ** 32, 2.5, None, np.random.default_rng(0), [1, 2]])


@st.composite
def book_kwargs(draw, cls):
    """Constructor arguments for cls (only those its signature takes)."""
    candidates = {
        "units": maybe_invalid(draw, st.integers(1, 8), BAD_INTS),
        "batch_size": maybe_invalid(draw, st.integers(1, 40), BAD_INTS),
        "learning_rate": maybe_invalid(draw, st.sampled_from([0.001, 0.1, 0.5, 3.0]), BAD_REALS),
        "l1": maybe_invalid(draw, st.sampled_from([0, 0.0, 0.01]), BAD_PENALTIES),
        "l2": maybe_invalid(draw, st.sampled_from([0, 0.01, 0.1]), BAD_PENALTIES),
        "dtype": maybe_invalid(draw, st.sampled_from([np.float64, np.float32, "float32"]),
                               BAD_DTYPES),
        "random_state": maybe_invalid(draw, st.sampled_from([42, 0, 2 ** 32 - 1]), BAD_SEEDS),
    }
    accepted = inspect.signature(cls).parameters
    chosen = {k: v for k, v in candidates.items() if k in accepted}
    # leave some arguments at their defaults
    return {k: v for k, v in chosen.items() if draw(st.booleans())}


EPOCHS = st.one_of(st.integers(0, 3), st.sampled_from([-1, 2.5, "2", None, 2 ** 63]))


# ---------------------------------------------------------------------------
# The book classes
# ---------------------------------------------------------------------------

def targets_for(cls, rows):
    return one_hot_labels(rows) if cls is nnbook.MultiClassNetwork else binary_labels(rows)


def check_fitted_book_model(net, x, y):
    """predict, score and forpass on a fitted book network: finite answers or clear errors."""
    for name, call in (("predict", lambda: net.predict(x)), ("score", lambda: net.score(x, y)),
                       ("forpass", lambda: net.forpass(x))):
        try:
            assert_finite(attempt(call), name)
        except Rejected:
            pass


@fuzz(3)
@given(data=st.data())
def test_book_classes_fit_predict_score(data):
    draw = data.draw
    cls = draw(st.sampled_from(BOOK_CLASSES))
    kwargs = draw(book_kwargs(cls))
    x = draw(features())
    y = draw(targets_for(cls, n_rows(x)))
    fit_kwargs = {"epochs": draw(EPOCHS)}
    if draw(st.booleans()):
        fit_kwargs["x_val"] = draw(features())
        fit_kwargs["y_val"] = draw(targets_for(cls, n_rows(fit_kwargs["x_val"])))
    inputs = [x, y, kwargs, fit_kwargs]
    before = [snapshot(v) for v in (x, y, *kwargs.values(), *fit_kwargs.values())]
    try:
        net = attempt(lambda: cls(**kwargs))
        fitted = attempt(lambda: net.fit(x, y, **fit_kwargs))
        assert fitted is net
        check_fitted_book_model(net, x, y)
        # losses may hold nan after a diverging run (with a warning), but the
        # network must still answer finitely or refuse
    except Rejected:
        pass
    after = [snapshot(v) for v in (x, y, *kwargs.values(), *fit_kwargs.values())]
    assert before == after, f"an input was modified: {inputs!r}"


def book_network(cls, n_features, n_classes=3):
    """A book network with its initial weights, ready for the step-by-step methods."""
    net = cls(**({"units": 3} if "units" in inspect.signature(cls).parameters else {}))
    if cls is nnbook.MultiClassNetwork:
        net.init_weights(n_features, n_classes)
    elif cls is nnbook.SingleLayer:       # the book's SingleLayer sets w up in fit only
        net.fit(np.zeros((1, n_features)), np.zeros(1), epochs=0)
    else:
        net.init_weights(n_features)
    return net


@st.composite
def initialised_book_network(draw):
    """(class, n_features, a fresh network of that class with its initial weights)."""
    cls = draw(st.sampled_from(BOOK_CLASSES))
    n_features = draw(st.integers(1, 4))
    return cls, n_features, book_network(cls, n_features)


@fuzz(2)
@given(data=st.data())
def test_book_step_by_step_methods(data):
    draw = data.draw
    cls, n_features, net = draw(initialised_book_network())
    x = draw(features(cols=n_features if draw(st.booleans()) else None))
    rows = n_rows(x)
    outputs = 3 if cls is nnbook.MultiClassNetwork else 1
    y = draw(targets_for(cls, rows))
    err = draw(st.one_of(typed_array((rows, outputs)), features(rows=rows, cols=outputs)))
    z = draw(features())
    inputs = (x, y, err, z)
    before = [snapshot(v) for v in inputs]
    method = draw(st.sampled_from(["forpass", "backprop", "activation", "softmax", "training",
                                   "gen_batch", "reg_loss", "update_val_loss"]))
    try:
        if method == "forpass":
            assert_finite(attempt(lambda: net.forpass(x)), "forpass")
        elif method == "backprop":
            attempt(lambda: net.forpass(x))
            assert_finite(attempt(lambda: net.backprop(x, err)), "backprop")
        elif method == "activation":
            assert_finite(attempt(lambda: net.activation(z)), "activation")
        elif method == "softmax" and hasattr(net, "softmax"):
            assert_finite(attempt(lambda: net.softmax(z)), "softmax")
        elif method == "training" and hasattr(net, "training"):
            if cls is nnbook.MultiClassNetwork:
                attempt(lambda: net.training(x, y))
            else:
                attempt(lambda: net.training(x, y, draw(st.one_of(st.just(rows), BAD_INTS))))
            assert_finite([getattr(net, w) for w in ("w1", "b1", "w2", "b2")], "weights")
        elif method == "gen_batch" and hasattr(net, "gen_batch"):
            batches = attempt(lambda: list(net.gen_batch(x, y)))
            assert sum(len(bx) for bx, _ in batches) == rows
        elif method == "reg_loss":
            assert_finite(attempt(net.reg_loss), "reg_loss")
        elif method == "update_val_loss":
            attempt(lambda: net.update_val_loss(x, y))
            assert_finite(net.val_losses, "val_losses")
    except Rejected:
        pass
    assert before == [snapshot(v) for v in inputs], "an input was modified"


@fuzz(1)
@given(data=st.data())
def test_book_weight_assignment(data):
    draw = data.draw
    cls, n_features, net = draw(initialised_book_network())
    names = ["w", "b"] if cls is nnbook.SingleLayer else ["w1", "b1", "w2", "b2"]
    name = draw(st.sampled_from(names))
    shape = np.shape(getattr(net, name))
    if draw(st.booleans()) and shape:
        value = draw(typed_array(shape))
    else:
        value = draw(st.one_of(features(), st.sampled_from([np.nan, 1.0, None, "x"])))
    before = snapshot(value)
    try:
        attempt(lambda: setattr(net, name, value))
        assert_finite(getattr(net, name), name)
        x = np.ones((2, n_features))
        assert_finite(attempt(lambda: net.forpass(x)), "forpass after assignment")
    except Rejected:
        pass
    assert snapshot(value) == before, "the assigned value was modified"


# ---------------------------------------------------------------------------
# nnbook.keras
# ---------------------------------------------------------------------------

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "softmax", None]
LOSSES = ["mse", "binary_crossentropy", "categorical_crossentropy",
          "sparse_categorical_crossentropy"]


@st.composite
def dense_layer(draw, first, n_features):
    units = maybe_invalid(draw, st.integers(1, 5), BAD_INTS)
    activation = maybe_invalid(draw, st.sampled_from(ACTIVATIONS),
                               st.sampled_from(["foo", 3, "Sigmoid", ""]))
    kwargs = {"activation": activation, "use_bias": draw(st.booleans())}
    if first:
        kwargs["input_shape"] = maybe_invalid(draw, st.just((n_features,)),
                                              st.sampled_from([(0,), (-1,), (2, 3), "x", 4]))
    return lambda: keras.layers.Dense(units, **kwargs)


@st.composite
def keras_targets(draw, loss, rows, outputs):
    """y that matches the loss most of the time."""
    kind = loss if draw(st.integers(0, 4)) else draw(st.sampled_from(LOSSES))
    classes = max(1, outputs if isinstance(outputs, int) and 0 < outputs < 50 else 2)
    if kind == "categorical_crossentropy":
        return draw(one_hot_labels(rows, classes))
    if kind == "sparse_categorical_crossentropy":
        values = st.integers(0, classes - 1) if draw(st.integers(0, 4)) \
            else st.sampled_from([-1, classes, 2 ** 40])
        return np.array(draw(st.lists(values, min_size=rows, max_size=rows)), dtype=np.int64)
    if kind == "binary_crossentropy":
        return draw(typed_array((rows, classes)))
    return draw(typed_array((rows, classes)))


@fuzz(2)
@given(data=st.data())
def test_keras_sequential(data):
    draw = data.draw
    keras.utils.set_random_seed(0)
    n_features = draw(st.integers(1, 4))
    makers = [draw(dense_layer(i == 0, n_features)) for i in range(draw(st.integers(1, 3)))]
    loss = maybe_invalid(draw, st.sampled_from(LOSSES), st.sampled_from(["foo", None, 3]))
    optimizer = draw(st.sampled_from(["sgd", "adam", "rmsprop", "momentum?", "sgd-bad-lr"]))
    metrics = draw(st.sampled_from([[], ["accuracy"], ["foo"], None]))
    x = draw(features(cols=n_features if draw(st.integers(0, 4)) else None))
    rows = n_rows(x)
    fit_kwargs = {
        "epochs": maybe_invalid(draw, st.integers(0, 2), EPOCHS),
        "batch_size": maybe_invalid(draw, st.one_of(st.none(), st.integers(1, 16)), BAD_INTS),
        "validation_split": maybe_invalid(draw, st.sampled_from([0.0, 0.25]),
                                          st.sampled_from([1.0, -0.1, 1.5, "0.2", np.nan])),
        "shuffle": draw(st.booleans()),
        "verbose": 0,
    }
    before_x = snapshot(x)
    try:
        model = keras.models.Sequential()
        for make in makers:
            attempt(lambda: model.add(make()))
        if optimizer == "sgd-bad-lr":
            optimizer = attempt(lambda: keras.optimizers.SGD(
                learning_rate=draw(st.one_of(BAD_REALS, st.just(0.01)))))
        elif optimizer == "momentum?":
            optimizer = attempt(lambda: keras.optimizers.SGD(
                learning_rate=0.01, momentum=draw(st.sampled_from([0.9, -0.5, 1.5, np.nan]))))
        attempt(lambda: model.compile(optimizer=optimizer, loss=loss, metrics=metrics))
        outputs = model.layers[-1].units if model.layers else 1
        y = draw(keras_targets(loss, rows, outputs))
        before_y = snapshot(y)
        history = attempt(lambda: model.fit(x, y, **fit_kwargs))
        assert isinstance(history.history, dict)
        try:
            assert_finite(attempt(lambda: model.predict(x, verbose=0)), "predict")
            assert_finite(attempt(lambda: model.evaluate(x, y, verbose=0)), "evaluate")
        finally:
            assert snapshot(y) == before_y, "y was modified"
    except Rejected:
        pass
    assert snapshot(x) == before_x, "x was modified"


# ---------------------------------------------------------------------------
# Model files: byte-level and structured mutations
# ---------------------------------------------------------------------------

@st.composite
def byte_mutation(draw, original):
    """original with some bytes flipped, cut, inserted or overwritten."""
    data = bytearray(original)
    kind = draw(st.sampled_from(["flip", "flip", "truncate", "insert", "zero-run", "empty"]))
    if kind == "empty":
        return b""
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at:at + 16] = bytes(min(16, len(data) - at))
    return bytes(data)


def stable_zip(content):
    """content (a zip archive) with every member's timestamp set to one fixed date.

    np.savez stamps members with the current time, so without this the same
    draws would damage different bytes from one run to the next.
    """
    source, target = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            out.writestr(fixed, source.read(info.filename))
    return target.getvalue()


def npz_bytes(members):
    """members saved as an uncompressed .npz, as bytes with fixed timestamps."""
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return stable_zip(buffer.getvalue())


def read_members(original):
    """The arrays of an .npz given as bytes (what the saver wrote)."""
    with np.load(io.BytesIO(original), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def mutate_json(draw, text):
    """The JSON document text with one value replaced by something hostile."""
    try:
        document = json.loads(text)
    except ValueError:
        return text + "}"
    hostile = st.sampled_from([None, -1, 0, 2 ** 31, 10 ** 12, 1e308, "x", [], {}, [2 ** 31],
                               [60000, 60000], "NaN", True, 0.5])

    def paths(node, prefix=()):
        yield prefix
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, prefix + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from paths(value, prefix + (i,))

    where = draw(st.sampled_from(list(paths(document))))
    if not where:
        return json.dumps(draw(hostile))
    parent = document
    for key in where[:-1]:
        parent = parent[key]
    if draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = draw(hostile)
    return json.dumps(document)


@st.composite
def structured_mutation(draw, original):
    """original re-written with one member dropped, poisoned, reshaped, retyped or replaced.

    The kind of damage is drawn first, then a member it applies to, so that
    NaN weights, huge declared sizes and rewritten JSON are all frequent.
    """
    members = read_members(original)
    applies = {
        "nan": [n for n, v in members.items() if v.dtype.kind == "f" and v.size],
        "huge": [n for n, v in members.items() if v.dtype.kind in "iu" and v.size],
        "reshape": [n for n, v in members.items() if v.size],
        "retype": [n for n, v in members.items() if v.dtype.kind in "biuf"],
        "json": [n for n, v in members.items() if v.dtype.kind == "U" or v.dtype == np.uint8],
        "drop": sorted(members), "replace": sorted(members), "add": sorted(members),
    }
    kind = draw(st.sampled_from([k for k, names in applies.items() if names]))
    name = draw(st.sampled_from(sorted(applies[kind])))
    if kind in ("nan", "huge") and draw(st.booleans()):   # often the weights or the sizes
        name = max(applies[kind], key=lambda n: members[n].size)
    value = members[name]
    if kind == "drop":
        del members[name]
    elif kind == "nan":
        value = value.copy()
        with np.errstate(over="ignore"):          # 1e308 is inf in a float32 member
            value.reshape(-1)[draw(st.integers(0, value.size - 1))] = draw(
                st.sampled_from([np.nan, np.inf, -np.inf, 1e308]))
        members[name] = value
    elif kind == "huge":
        value = value.astype(np.int64)
        value.reshape(-1)[draw(st.integers(0, value.size - 1))] = draw(
            st.sampled_from([2 ** 31, 10 ** 12, 12000, -1, 0, 2 ** 62]))
        members[name] = value
    elif kind == "reshape":
        members[name] = value.reshape(-1)[:draw(st.integers(0, value.size - 1))]
    elif kind == "retype":
        members[name] = value.astype(draw(st.sampled_from([np.int8, np.float16, np.uint8, "U3"])))
    elif kind == "json" and value.dtype.kind == "U":
        members[name] = np.array(mutate_json(draw, str(value)))
    elif kind == "json":
        text = mutate_json(draw, value.tobytes().decode("utf-8", "replace"))
        members[name] = np.frombuffer(text.encode(), dtype=np.uint8)
    elif kind == "replace":
        members[name] = draw(typed_array(draw(st.sampled_from([(), (0,), (3,), (2, 2),
                                                                (4, 1, 1)]))))
        if members[name].dtype == object:
            members[name] = members[name].astype(str)
    else:
        members[draw(st.sampled_from(["zzz", "weight_9", "params2"]))] = np.zeros(3)
    return npz_bytes(members)


def mutated_file(draw, original, folder, name):
    content = draw(st.one_of(byte_mutation(original), structured_mutation(original)))
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(content)
    return path, content


def attempt_load(load, path):
    """load(path): a model, or Rejected when it raised ModelFileError naming the file."""
    try:
        return attempt(lambda: load(path), errors=(ModelFileError,))
    except Rejected as rejected:
        message = str(rejected.__cause__)
        assert os.path.basename(path) in message, f"the error does not name the file: {message}"
        raise


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def saved_book_models(workdir):
    """Bytes of one saved, fitted model of each book class, and the data it was fitted on."""
    # 30 features, like the breast-cancer data the command line predicts on
    rng = np.random.RandomState(0)
    x = rng.normal(size=(40, 30))
    y = (x[:, 0] > 0).astype(float)
    saved = Saved()
    for cls in BOOK_CLASSES:
        target = np.eye(3)[rng.randint(0, 3, 40)] if cls is nnbook.MultiClassNetwork else y
        net = book_network(cls, 30)
        net.fit(x, target, epochs=2)
        path = os.path.join(workdir, f"{cls.__name__}.npz")
        net.save(path)
        with open(path, "rb") as f:
            saved[cls] = stable_zip(f.read())
    return saved, x


@fuzz(3)
@given(data=st.data())
def test_nnbook_load_of_a_damaged_file(data, saved_book_models, workdir):
    saved, x = saved_book_models
    cls = data.draw(st.sampled_from(BOOK_CLASSES))
    path, content = mutated_file(data.draw, saved[cls], workdir, "damaged-model.npz")
    loader = data.draw(st.sampled_from([nnbook.load, cls.load]))
    try:
        net = attempt_load(loader, path)
        check_fitted_book_model(net, x, np.zeros(len(x)))
    except Rejected:
        pass
    with open(path, "rb") as f:
        assert f.read() == content, "loading modified the file"


@pytest.fixture(scope="module")
def saved_keras_model(workdir):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    y = keras.utils.to_categorical(rng.integers(0, 3, 30), 3)
    model = keras.models.Sequential([keras.layers.Dense(5, activation="relu", input_shape=(4,)),
                                     keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    path = os.path.join(workdir, "model.npz")
    model.save(path)
    with open(path, "rb") as f:
        return Saved(model=stable_zip(f.read())), x, y


@fuzz(2)
@given(data=st.data())
def test_keras_load_model_of_a_damaged_file(data, saved_keras_model, workdir):
    saved, x, y = saved_keras_model
    path, content = mutated_file(data.draw, saved["model"], workdir, "damaged-keras-model.npz")
    try:
        model = attempt_load(keras.models.load_model, path)
        assert_finite(attempt(lambda: model.predict(x, verbose=0)), "predict")
        if model.compiled:
            assert_finite(attempt(lambda: model.evaluate(x, y, verbose=0)), "evaluate")
    except Rejected:
        pass
    with open(path, "rb") as f:
        assert f.read() == content, "loading modified the file"


# ---------------------------------------------------------------------------
# The command line on mutated data files
# ---------------------------------------------------------------------------

def run_cli(argv):
    """nnbook.cli.main(argv) in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")          # a diverging run warns; the exit code says it
        try:
            code = cli_main(argv)
        except SystemExit as exc:               # argparse's own exit
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_one_error_line(stderr):
    """Exit 2 ends with one line saying what is wrong (status lines may come before it)."""
    lines = stderr.strip().splitlines()
    assert lines and "error" in lines[-1], f"exit 2 without an error line: {stderr!r}"


@st.composite
def data_file_arrays(draw):
    """The arrays of a user's .npz data file, sometimes malformed."""
    n_features = draw(st.integers(1, 4))
    arrays = {}
    for part, rows in (("train", draw(st.integers(0, 12))), ("val", draw(st.integers(0, 6)))):
        if part == "val" and draw(st.integers(0, 3)) == 0:
            continue
        cols = n_features if draw(st.integers(0, 5)) else draw(st.integers(0, 5))
        x = draw(typed_array((rows, cols)))
        if x.dtype == object:
            x = x.astype(str)                     # np.savez refuses to pickle objects
        labels = st.integers(0, 2) if draw(st.integers(0, 4)) \
            else st.sampled_from([-1, 2 ** 40, 0.5, np.nan, 1e8])
        y = np.array(draw(st.lists(labels, min_size=rows, max_size=rows)))
        if draw(st.integers(0, 4)) == 0 and y.dtype.kind in "iu" and (0 <= y).all() \
                and (y < 10).all():
            y = np.eye(max(2, int(y.max(initial=0)) + 1))[y]   # one-hot rows
        arrays[f"x_{part}"], arrays[f"y_{part}"] = x, y
    if arrays and draw(st.integers(0, 6)) == 0:
        del arrays[draw(st.sampled_from(sorted(arrays)))]
    if draw(st.integers(0, 6)) == 0:
        arrays["class_names"] = np.array(draw(st.lists(st.text(max_size=3), max_size=4)),
                                         dtype=str)
    return arrays


@fuzz(2)
@given(data=st.data())
def test_cli_on_damaged_data_files(data, workdir):
    draw = data.draw
    content = npz_bytes(draw(data_file_arrays()))
    if draw(st.integers(0, 3)) == 0:
        content = draw(byte_mutation(content))
    path = os.path.join(workdir, "data.npz")
    with open(path, "wb") as f:
        f.write(content)
    model = draw(st.sampled_from(["single", "dual", "randinit", "minibatch", "multiclass"]))
    argv = ["train", "--data", path, "--model", model, "--epochs", "2", "--no-progress"]
    code, _, err = run_cli(argv)
    assert code in (0, 1, 2), f"exit code {code!r}; stderr: {err}"
    assert "Traceback" not in err
    if code == 2:
        assert_one_error_line(err)
    with open(path, "rb") as f:
        assert f.read() == content, "the data file was modified"


@fuzz(1)
@given(data=st.data())
def test_cli_predict_with_a_damaged_model_file(data, saved_book_models, workdir):
    saved, _ = saved_book_models
    cls = data.draw(st.sampled_from(BOOK_CLASSES[:4]))    # the binary ones: breast-cancer data
    path, content = mutated_file(data.draw, saved[cls], workdir, "cli-model.npz")
    code, _, err = run_cli(["predict", path, "--data", "breast-cancer"])
    assert code in (0, 2), f"exit code {code!r}; stderr: {err}"
    assert "Traceback" not in err
    if code == 2:
        assert_one_error_line(err)
    with open(path, "rb") as f:
        assert f.read() == content, "predict modified the model file"


def test_every_fuzz_test_has_a_share():
    # the shares split the example budget: together they must make TOTAL_SHARES
    fuzzed = {name for name, value in globals().items()
              if name.startswith("test_") and hasattr(value, "hypothesis")}
    assert set(SHARES) == fuzzed and sum(SHARES.values()) == TOTAL_SHARES, SHARES


def test_clear_errors_are_value_errors():
    # attempt() accepts NotFittedError and ModelFileError as clear errors through ValueError
    assert issubclass(NotFittedError, ValueError) and issubclass(ModelFileError, ValueError)
