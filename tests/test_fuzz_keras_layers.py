"""Hypothesis fuzzing of nnbook.keras's layer stack beyond Dense.

Models built from random stacks of Flatten, Activation, Dropout,
BatchNormalization and Dense (with regularizers and any activation), with
valid and invalid arguments; compiled with random losses (label_smoothing,
from_logits, Huber's delta), metrics and optimizers (gradient clipping,
learning-rate schedules); fitted with class_weight, sample_weight,
validation_split, validation_data and validation_freq variants, bad ones
included; and .keras / .weights.h5 files of such models, damaged.

The rules are test_fuzz.py's, and so are the helpers (imported, not copied):
every example ends in a clear ValueError/TypeError with a message (a damaged
file: ``nnbook.ModelFileError`` naming the file), or in a finite answer with
no NumPy warning leaking out; inputs are never modified; test_fuzz.py's
address-space cap stops an example that allocates from an unchecked size.

How many examples: ``NNBOOK_FUZZ_EXAMPLES`` as in test_fuzz.py; these tests
take their shares of a budget of their own, a quarter of that total
(default 100), so that ``make test`` stays fast.
"""
import io
import os
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("h5py")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnbook import keras  # noqa: E402
from nnbook.keras import layers, losses, metrics, optimizers, regularizers  # noqa: E402
from nnbook.keras.optimizers import schedules  # noqa: E402
from test_fuzz import (BAD_INTS, BAD_REALS, BASE_SETTINGS, TOTAL_EXAMPLES, Rejected, Saved,  # noqa: E402,F401,E501
                       assert_finite, attempt, attempt_load, bounded_memory, byte_mutation,
                       maybe_invalid, mutate_json, snapshot, typed_array)

SHARES = {}
TOTAL_SHARES = 8


def fuzz(share):
    """Settings giving a test `share` / TOTAL_SHARES of this file's budget."""
    def decorate(test):
        SHARES[test.__name__] = share
        examples = max(1, TOTAL_EXAMPLES // 4 * share // TOTAL_SHARES)
        return settings(BASE_SETTINGS, max_examples=examples)(test)
    return decorate


ACTIVATIONS = list(layers.ACTIVATIONS)
BAD_RATES = st.sampled_from([1.0, 1.5, -0.1, float("nan"), float("inf"), "0.2", None, 10**400])


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

@st.composite
def regularizer(draw):
    kind = draw(st.sampled_from([None, None, "l1", "l2", "l1_l2", "L1L2", "obj", "bad"]))
    if kind == "obj":
        factor = maybe_invalid(draw, st.sampled_from([0.0, 1e-3, 0.1]),
                               st.sampled_from([-1.0, float("nan"), 1e300, 10**400, "x"]))
        return lambda: regularizers.L1L2(l1=factor, l2=factor)
    if kind == "bad":
        return lambda: draw(st.sampled_from(["l3", 3, {"class_name": "L9"}]))
    return lambda: kind


@st.composite
def hidden_layer(draw):
    """A maker of one layer between the input and the output Dense."""
    kind = draw(st.sampled_from(["dense", "activation", "dropout", "batchnorm", "flatten"]))
    if kind == "dense":
        units = maybe_invalid(draw, st.integers(1, 5), BAD_INTS)
        activation = maybe_invalid(draw, st.sampled_from(ACTIVATIONS),
                                   st.sampled_from(["foo", 3, "Relu"]))
        kernel, bias, activity = (draw(regularizer()) for _ in range(3))
        return lambda: layers.Dense(units, activation=activation, kernel_regularizer=kernel(),
                                    bias_regularizer=bias(), activity_regularizer=activity())
    if kind == "activation":
        name = maybe_invalid(draw, st.sampled_from(ACTIVATIONS),
                             st.sampled_from(["foo", None, 7]))
        return lambda: layers.Activation(name)
    if kind == "dropout":
        rate = maybe_invalid(draw, st.sampled_from([0.0, 0.2, 0.5, 0.9]), BAD_RATES)
        seed = maybe_invalid(draw, st.sampled_from([None, 0, 7, 2**32 - 1]),
                             st.sampled_from([-1, 2**32, "a", 1.5]))
        return lambda: layers.Dropout(rate, seed=seed)
    if kind == "batchnorm":
        momentum = maybe_invalid(draw, st.sampled_from([0.0, 0.5, 0.99, 1.0]), BAD_RATES)
        epsilon = maybe_invalid(draw, st.sampled_from([1e-3, 1e-7, 1.0]), BAD_REALS)
        center, scale = draw(st.booleans()), draw(st.booleans())
        trainable = draw(st.sampled_from([True, True, False]))
        return lambda: layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                                 center=center, scale=scale,
                                                 trainable=trainable)
    return lambda: layers.Flatten()


@st.composite
def output_and_loss(draw):
    """(a maker of the output Dense, its units, the loss)."""
    name = draw(st.sampled_from(["mse", "mae", "huber", "log_cosh", "hinge", "kld", "mape",
                                 "bce", "cce", "scce", "bad"]))
    logits = draw(st.booleans())
    smoothing = maybe_invalid(draw, st.sampled_from([0.0, 0.1, 1.0]), BAD_RATES)
    units = draw(st.integers(1, 3))
    if name == "bce":
        loss = lambda: losses.BinaryCrossentropy(from_logits=logits, label_smoothing=smoothing)
        activation = None if logits else "sigmoid"
    elif name in ("cce", "scce"):
        units = max(units, 2)
        loss = (lambda: losses.CategoricalCrossentropy(from_logits=logits,
                                                       label_smoothing=smoothing)) \
            if name == "cce" else (lambda: losses.SparseCategoricalCrossentropy(logits))
        activation = None if logits else "softmax"
    elif name == "huber":
        delta = maybe_invalid(draw, st.sampled_from([0.5, 1.0]), BAD_REALS)
        loss, activation = (lambda: losses.Huber(delta=delta)), draw(st.sampled_from(ACTIVATIONS))
    elif name == "bad":
        loss, activation = (lambda: draw(st.sampled_from(["foo", None, 3]))), "linear"
    else:
        loss, activation = (lambda: name), draw(st.sampled_from(ACTIVATIONS))
    if draw(st.integers(0, 6)) == 0:            # an output the loss cannot train
        activation = draw(st.sampled_from(ACTIVATIONS))
    return (lambda: layers.Dense(units, activation=activation)), units, name, loss


@st.composite
def optimizer(draw):
    cls = draw(st.sampled_from([optimizers.SGD, optimizers.Adam, optimizers.RMSprop,
                                optimizers.AdamW, optimizers.Adagrad, optimizers.Adadelta,
                                optimizers.Adamax, optimizers.Nadam]))
    kwargs = {}
    rate = draw(st.sampled_from(["number", "exp", "piecewise", "cosine"]))
    if rate == "number":
        kwargs["learning_rate"] = maybe_invalid(draw, st.sampled_from([1e-3, 0.01, 0.1]),
                                                BAD_REALS)
    elif rate == "exp":
        kwargs["learning_rate"] = lambda: schedules.ExponentialDecay(
            0.01, maybe_invalid(draw, st.integers(1, 10), BAD_INTS),
            maybe_invalid(draw, st.sampled_from([0.5, 0.96]), BAD_REALS))
    elif rate == "piecewise":
        kwargs["learning_rate"] = lambda: schedules.PiecewiseConstantDecay(
            maybe_invalid(draw, st.just([2, 5]), st.sampled_from([[5, 2], [], 3, [1.0, np.nan]])),
            maybe_invalid(draw, st.just([0.1, 0.01, 0.001]),
                          st.sampled_from([[0.1], [-1, 0, 0], [0.1, "a", 0.1]])))
    else:
        kwargs["learning_rate"] = lambda: schedules.CosineDecay(
            0.05, maybe_invalid(draw, st.integers(1, 10), BAD_INTS))
    clip = draw(st.sampled_from([None, "clipnorm", "clipvalue", "global_clipnorm", "two"]))
    if clip == "two":
        kwargs.update(clipnorm=1.0, clipvalue=1.0)
    elif clip:
        kwargs[clip] = maybe_invalid(draw, st.sampled_from([1e-3, 0.5, 5.0]), BAD_REALS)
    if draw(st.integers(0, 3)) == 0:
        kwargs["weight_decay"] = maybe_invalid(draw, st.sampled_from([0.0, 0.01]), BAD_REALS)
    if cls is optimizers.SGD and draw(st.booleans()):
        kwargs["momentum"] = maybe_invalid(draw, st.sampled_from([0.0, 0.9]), BAD_RATES)
        kwargs["nesterov"] = draw(st.sampled_from([True, False, "yes"]))

    def make():
        args = {k: (v() if callable(v) else v) for k, v in kwargs.items()}
        return cls(**args)
    return make


METRICS = ["accuracy", "binary_accuracy", "categorical_accuracy", "top_k_categorical_accuracy",
           "precision", "recall", "auc", "mse", "mae", "foo"]


@st.composite
def metric_list(draw):
    chosen = draw(st.lists(st.sampled_from(METRICS), max_size=3))
    extra = draw(st.sampled_from([None, "auc-logits", "recall-0.3", "topk-1", "bad"]))
    out = list(chosen)
    if extra == "auc-logits":
        out.append(metrics.AUC(from_logits=True, num_thresholds=draw(st.integers(2, 300))))
    elif extra == "recall-0.3":
        out.append(metrics.Recall(thresholds=0.3))
    elif extra == "topk-1":
        out.append(metrics.TopKCategoricalAccuracy(k=1))
    elif extra == "bad":
        out = draw(st.sampled_from(["accuracy", 3, {"a": 1}]))
    return out


@st.composite
def labels_for(draw, loss_name, rows, units):
    """y that matches the loss most of the time."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if draw(st.integers(0, 7)) == 0:
        return draw(typed_array(draw(st.sampled_from([(rows,), (rows, units), (rows + 1,)]))))
    if loss_name == "scce":
        y = rng.integers(0, units, rows)
        if rows and draw(st.integers(0, 5)) == 0:
            y[0] = draw(st.sampled_from([-1, units, 2**40]))
        return y
    classes = rng.integers(0, max(units, 2), rows)
    if loss_name in ("cce",):
        y = np.eye(units)[classes]
    elif loss_name in ("bce", "hinge"):
        y = (rng.random((rows, units)) > 0.5).astype(float)
    else:
        y = rng.normal(size=(rows, units))
    if rows and draw(st.integers(0, 7)) == 0:
        y.reshape(-1)[0] = draw(st.sampled_from([np.nan, np.inf, 1e300, 2.0, -1.0]))
    return y


@st.composite
def fit_arguments(draw, rows, units, loss_name):
    kwargs = {"epochs": draw(st.integers(1, 2)), "verbose": 0,
              "batch_size": draw(st.sampled_from([None, 1, 3, 8])),
              "shuffle": draw(st.booleans())}
    weights = draw(st.sampled_from([None, "sample", "class"]))
    if weights == "sample":
        kind = draw(st.sampled_from(["ok", "ok", "negative", "length", "nan", "zeros", "2d",
                                     "huge"]))
        w = np.abs(np.random.default_rng(rows).normal(size=rows)) + 0.1
        if kind == "negative" and rows:
            w[-1] = -1.0
        elif kind == "length":
            w = w[:-1] if rows else np.ones(1)
        elif kind == "nan" and rows:
            w[0] = np.nan
        elif kind == "zeros":
            w = np.zeros(rows)
        elif kind == "2d":
            w = w.reshape(-1, 1)
        elif kind == "huge":
            w = w * 1e300
        kwargs["sample_weight"] = w
    elif weights == "class":
        classes = 2 if units == 1 else units
        keys = st.one_of(st.integers(0, classes - 1),
                         st.sampled_from([classes, -1, "0", 1.0, True]))
        values = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 3.0]),
                           st.sampled_from([-1.0, np.nan, 1e300, "2", None]))
        kwargs["class_weight"] = draw(st.one_of(
            st.dictionaries(keys, values, max_size=3),
            st.sampled_from([[1.0, 2.0], None])))
    validation = draw(st.sampled_from([None, "split", "data", "data3"]))
    if validation == "split":
        kwargs["validation_split"] = maybe_invalid(draw, st.sampled_from([0.2, 0.5]),
                                                   BAD_RATES)
    elif validation in ("data", "data3"):
        val_rows = draw(st.integers(1, 6))
        x_val = np.random.default_rng(val_rows).normal(size=(val_rows,) + draw(
            st.sampled_from([(2, 3), (2, 3), (6,), (5,)])))
        data = (x_val, draw(labels_for(loss_name, val_rows, units)))
        if validation == "data3":
            data += (draw(st.sampled_from([np.ones(val_rows), -np.ones(val_rows),
                                           np.ones(val_rows + 1), None])),)
        kwargs["validation_data"] = data
    if validation:
        kwargs["validation_freq"] = maybe_invalid(
            draw, st.sampled_from([1, 2, [1], (2,), range(1, 3)]),
            st.sampled_from([0, -1, 2.0, "1", [1.5], True, None]))
    return kwargs


@st.composite
def model_makers(draw):
    """(layer makers, output units, loss name, loss maker)."""
    hidden = [draw(hidden_layer()) for _ in range(draw(st.integers(0, 4)))]
    output, units, loss_name, loss = draw(output_and_loss())
    return hidden + [output], units, loss_name, loss


def build(makers, input_shape):
    """A Sequential from an Input of input_shape and the layers (each may raise)."""
    model = keras.Sequential([keras.Input(shape=input_shape)])
    for make in makers:
        attempt(lambda: model.add(make()))
    return model


# ---------------------------------------------------------------------------
# Build, compile, fit, evaluate, predict
# ---------------------------------------------------------------------------

@fuzz(4)
@given(data=st.data())
def test_random_layer_stacks_compile_and_fit(data):
    draw = data.draw
    keras.utils.set_random_seed(0)
    makers, units, loss_name, loss = draw(model_makers())
    make_optimizer = draw(optimizer())
    metric_names = draw(metric_list())
    weighted = draw(st.sampled_from([None, ["accuracy"], ["auc", "mse"]]))
    rows = draw(st.integers(1, 12))
    x = draw(typed_array((rows, 2, 3))) if draw(st.integers(0, 5)) == 0 else \
        np.random.default_rng(rows).normal(size=(rows, 2, 3)) * draw(
            st.sampled_from([1.0, 1.0, 1e3, 1e30]))
    # a model that does not start with Flatten takes (2, 3) samples only if a
    # layer flattens them: the unflattened stacks are part of the fuzzing
    if draw(st.booleans()):
        makers = [layers.Flatten] + makers
    y = draw(labels_for(loss_name, rows, units))
    fit_kwargs = draw(fit_arguments(rows, units, loss_name))
    inputs = [x, y, fit_kwargs]
    before = [snapshot(v) for v in (x, y, *fit_kwargs.values())]
    try:
        model = build(makers, (2, 3))
        attempt(lambda: model.compile(optimizer=make_optimizer(), loss=loss(),
                                      metrics=metric_names, weighted_metrics=weighted))
        history = attempt(lambda: model.fit(x, y, **fit_kwargs))
        for key, values in history.history.items():
            # a diverged fit may log NaN losses (it warns); the metrics stay numbers
            if "loss" not in key:
                assert_finite(values, key)
        assert_finite(attempt(lambda: model.predict(x, verbose=0)), "predict")
        assert_finite(attempt(lambda: model.evaluate(x, y, verbose=0)), "evaluate")
    except Rejected:
        pass
    after = [snapshot(v) for v in (x, y, *fit_kwargs.values())]
    assert before == after, f"an input was modified: {inputs!r}"


@fuzz(1)
@given(data=st.data())
def test_layer_set_weights(data):
    draw = data.draw
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4),
                              layers.BatchNormalization(center=draw(st.booleans())),
                              layers.Dropout(0.3), layers.Dense(2)])
    layer = model.layers[draw(st.integers(0, 3))]
    shapes = [w.shape for w in layer.get_weights()]
    new = [draw(typed_array(s)) if draw(st.integers(0, 4)) else draw(typed_array((2,)))
           for s in shapes]
    if draw(st.integers(0, 5)) == 0:
        new = new[:-1] + new[-1:] * 2
    before = [snapshot(w) for w in new]
    old = model.get_weights()
    try:
        attempt(lambda: layer.set_weights(new))
        assert_finite(layer.get_weights(), "weights")
        assert_finite(attempt(lambda: model.predict(np.ones((2, 3)), verbose=0)), "predict")
    except Rejected:
        for a, b in zip(old, model.get_weights()):   # nothing copied unless all fit
            np.testing.assert_array_equal(a, b)
    assert before == [snapshot(w) for w in new], "the new weights were modified"


# ---------------------------------------------------------------------------
# Keras files of such models, damaged
# ---------------------------------------------------------------------------

def _saved_model(folder):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 2, 3))
    y = keras.utils.to_categorical(rng.integers(0, 3, 24), 3)
    model = keras.Sequential([
        keras.Input(shape=(2, 3)), layers.Flatten(),
        layers.Dense(5, activation="relu", kernel_regularizer=regularizers.L2(0.01)),
        layers.BatchNormalization(), layers.Dropout(0.2, seed=3),
        layers.Dense(4, activation="gelu"), layers.Activation("tanh"),
        layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Nadam(learning_rate=schedules.ExponentialDecay(
        0.01, 5, 0.9), clipnorm=1.0),
        loss=losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=["accuracy", metrics.AUC(num_thresholds=50)])
    model.fit(x, y, epochs=2, verbose=0)
    keras_path = os.path.join(folder, "model.keras")
    weights_path = os.path.join(folder, "model.weights.h5")
    model.save(keras_path)
    model.save_weights(weights_path)
    with open(keras_path, "rb") as f:
        keras_bytes = f.read()
    with open(weights_path, "rb") as f:
        weights_bytes = f.read()
    return Saved(keras=keras_bytes, weights=weights_bytes), x, y


@pytest.fixture(scope="module")
def saved_layers_model(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("fuzz-keras-layers"))
    return folder, _saved_model(folder)


def _zip_members(content):
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def _zip_of(members, declared_sizes=None):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in members.items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            archive.writestr(info, body)
    data = out.getvalue()
    if declared_sizes:                # overwrite the central directory's file sizes
        data = bytearray(data)
        at = data.rfind(b"PK\x01\x02")
        while at != -1:
            data[at + 24:at + 28] = (declared_sizes).to_bytes(4, "little")
            at = data.rfind(b"PK\x01\x02", 0, at)
        data = bytes(data)
    return data


@st.composite
def damaged_h5(draw, content):
    """The HDF5 bytes with a dataset retyped, reshaped, poisoned or removed."""
    h5py = pytest.importorskip("h5py")
    source = io.BytesIO(content)
    target = io.BytesIO()
    with h5py.File(source, "r") as src, h5py.File(target, "w") as out:
        names = []
        src.visit(lambda n: names.append(n) if isinstance(src[n], h5py.Dataset) else None)
        for key in src.attrs:
            out.attrs[key] = src.attrs[key]
        victim = draw(st.sampled_from(sorted(names)))
        kind = draw(st.sampled_from(["retype", "reshape", "nan", "drop", "text", "huge-int"]))
        for name in names:
            value = src[name][()]
            if name == victim:
                if kind == "retype":
                    value = np.asarray(value).astype(draw(st.sampled_from(
                        [np.int32, np.float16, np.int8, np.complex64])))
                elif kind == "reshape":
                    value = np.resize(np.asarray(value, dtype=np.float64),
                                      draw(st.sampled_from([(0,), (7,), (2, 2, 2), ()])))
                elif kind == "nan":
                    value = np.array(value, dtype=np.float64, ndmin=1)
                    value.reshape(-1)[0] = draw(st.sampled_from([np.nan, np.inf, 1e300]))
                elif kind == "drop":
                    continue
                elif kind == "text":
                    value = np.bytes_(b"abc")
                else:
                    value = np.int64(draw(st.sampled_from([-1, 2**62, 2**63 - 1])))
            out.create_dataset(name, data=value)
    return target.getvalue()


@st.composite
def damaged_keras_file(draw, content):
    members = _zip_members(content)
    kind = draw(st.sampled_from(["bytes", "json", "json", "h5", "h5", "truncate-member",
                                 "sizes", "drop-member"]))
    if kind == "bytes":
        return draw(byte_mutation(content))
    if kind == "json":
        members["config.json"] = mutate_json(draw, members["config.json"].decode()).encode()
    elif kind == "h5":
        members["model.weights.h5"] = draw(damaged_h5(members["model.weights.h5"]))
    elif kind == "truncate-member":
        name = draw(st.sampled_from(sorted(members)))
        members[name] = members[name][:draw(st.integers(0, max(0, len(members[name]) - 1)))]
    elif kind == "drop-member":
        del members[draw(st.sampled_from(sorted(members)))]
    else:
        return _zip_of(members, draw(st.sampled_from([2**31, 2**32 - 1, 10**9])))
    return _zip_of(members)


@fuzz(2)
@given(data=st.data())
def test_load_model_of_a_damaged_keras_file(data, saved_layers_model):
    folder, (saved, x, y) = saved_layers_model
    content = data.draw(damaged_keras_file(saved["keras"]))
    path = os.path.join(folder, "damaged.keras")
    with open(path, "wb") as f:
        f.write(content)
    try:
        model = attempt_load(keras.models.load_model, path)
        assert_finite(attempt(lambda: model.predict(x, verbose=0)), "predict")
        if model.compiled:
            assert_finite(attempt(lambda: model.evaluate(x, y, verbose=0)), "evaluate")
            attempt(lambda: model.fit(x, y, epochs=1, verbose=0))
    except Rejected:
        pass
    with open(path, "rb") as f:
        assert f.read() == content, "loading modified the file"


@fuzz(1)
@given(data=st.data())
def test_load_weights_of_a_damaged_weights_file(data, saved_layers_model):
    folder, (saved, x, y) = saved_layers_model
    content = data.draw(st.one_of(byte_mutation(saved["weights"]), damaged_h5(saved["weights"])))
    path = os.path.join(folder, "damaged.weights.h5")
    with open(path, "wb") as f:
        f.write(content)
    model = keras.models.load_model(os.path.join(folder, "model.keras"))
    before = model.get_weights()
    try:
        attempt_load(model.load_weights, path)
        assert_finite(model.get_weights(), "weights")
        assert_finite(attempt(lambda: model.predict(x, verbose=0)), "predict")
    except Rejected:
        for a, b in zip(before, model.get_weights()):   # nothing loaded unless all fit
            np.testing.assert_array_equal(a, b)
    with open(path, "rb") as f:
        assert f.read() == content, "loading modified the file"


def test_every_fuzz_test_has_a_share():
    fuzzed = {name for name, value in globals().items()
              if name.startswith("test_") and hasattr(value, "hypothesis")}
    assert set(SHARES) == fuzzed and sum(SHARES.values()) == TOTAL_SHARES, SHARES
