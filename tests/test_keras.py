"""nnbook.keras: the chapter-7 Keras API on the compiled core.

Gradient parity against nnbook.reference (the NumPy mirror of the core) and
central differences, Keras defaults, History/validation/callbacks, saving,
summary text, misuse errors, and a short real Fashion-MNIST run.
"""
import dataclasses
import io
import itertools
import math
import os
import re

import numpy as np
import pytest

import nnbook
from nnbook import _nncore as core
from nnbook import keras, reference
from nnbook.keras import Sequential, callbacks, initializers, losses, optimizers, utils
from nnbook.keras.layers import Dense


@pytest.fixture(autouse=True)
def _seeded():
    utils.set_random_seed(1234)
    keras.backend.clear_session()


def _data(n=37, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    labels = rng.integers(0, classes, n)
    return x, labels


def _targets(loss, labels, classes):
    if loss == "categorical_crossentropy":
        return utils.to_categorical(labels, classes)
    if loss == "sparse_categorical_crossentropy":
        return labels
    if loss == "binary_crossentropy":
        return (labels > 0).astype(float)
    return utils.to_categorical(labels, classes) * 0.8 + 0.1     # mse: real-valued targets


def _model(hidden, loss, classes=3, dtype="float64", features=5, use_bias=True):
    if loss == "binary_crossentropy":
        out = Dense(1, activation="sigmoid")
    elif loss == "mse":
        out = Dense(classes, activation="tanh")
    else:
        out = Dense(classes, activation="softmax")
    return Sequential([Dense(4, activation=hidden, input_shape=(features,), use_bias=use_bias),
                       out], dtype=dtype)


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(learning_rate=0.1),
    "momentum": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.01),
    "adagrad": lambda: optimizers.Adagrad(learning_rate=0.1),
    "adadelta": lambda: optimizers.Adadelta(learning_rate=1.0),
    "adamax": lambda: optimizers.Adamax(learning_rate=0.01),
    "nadam": lambda: optimizers.Nadam(learning_rate=0.01),
    "adamw": lambda: optimizers.AdamW(learning_rate=0.01, weight_decay=0.05),
    "sgd-decay": lambda: optimizers.SGD(
        learning_rate=optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5),
        weight_decay=0.01),
}
LOSSES = ["mse", "binary_crossentropy", "categorical_crossentropy",
          "sparse_categorical_crossentropy"]
HIDDEN = ["linear", "sigmoid", "tanh", "relu"]


def _spec(model):
    """The reference NetworkSpec of a compiled model (same core settings)."""
    layers = model.layers
    return reference.NetworkSpec(
        sizes=[model.input_shape[1]] + [l.units for l in layers],
        activations=[l.activation for l in layers],
        has_bias=[l.use_bias for l in layers],
        loss=model.loss.core_loss, zmin=-np.inf, eps=0.0,
        **model.optimizer.core_settings())


def _flat(weights):
    return np.concatenate([w.ravel() for w in weights])


# ---------------------------------------------------------------------------
# gradient parity
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("hidden,loss,opt", list(itertools.product(HIDDEN, LOSSES, OPTIMIZERS)))
def test_one_epoch_equals_numpy_reference(hidden, loss, opt):
    x, labels = _data()
    y = _targets(loss, labels, 3)
    model = _model(hidden, loss, use_bias=(hidden != "linear"))
    model.compile(optimizer=OPTIMIZERS[opt](), loss=loss)
    start = _flat(model.get_weights())
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    y_core = utils.to_categorical(labels, 3).astype(float) if loss.startswith("sparse") \
        else np.asarray(y, float).reshape(len(x), -1)
    params, _, step, loss_sum = reference.network_train_epoch(
        _spec(model), start, x, y_core, batch_size=8)
    assert step == math.ceil(37 / 8)
    np.testing.assert_allclose(_flat(model.get_weights()), params, rtol=1e-10, atol=1e-12)
    assert history.history["loss"][0] == pytest.approx(loss_sum / len(x), rel=1e-10)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_chapter_7_model_under_sgd_equals_numpy_reference(threads):
    # Keras's default optimizer on the book's 784-100-10 model: the first
    # layer's weight is wide enough that the core takes its SGD step inside
    # the product forming its gradient (CoreConfig.folds_first_weight)
    x, labels = _data(n=80, features=784, classes=10, seed=3)
    y = utils.to_categorical(labels, 10)
    model = Sequential([Dense(100, activation="sigmoid", input_shape=(784,)),
                        Dense(10, activation="softmax")], dtype="float64")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    start = _flat(model.get_weights())
    folds = core.CoreConfig(**dataclasses.asdict(_spec(model))).folds_first_weight(32)
    assert folds == (os.environ.get("NNBOOK_SMALL_GEMM") != "always")
    before = nnbook.get_num_threads()
    nnbook.set_num_threads(threads)
    try:
        history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    finally:
        nnbook.set_num_threads(before)
    params, state, step, losses = start, None, 0, []
    for _ in range(2):
        params, state, step, loss_sum = reference.network_train_epoch(
            _spec(model), params, x, y, batch_size=32, opt_state=state, step=step)
        losses.append(loss_sum / len(x))
    np.testing.assert_allclose(_flat(model.get_weights()), params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-10)


@pytest.mark.parametrize("hidden,loss", list(itertools.product(["sigmoid", "tanh", "linear"],
                                                               LOSSES)))
def test_sgd_step_is_minus_lr_times_finite_difference_gradient(hidden, loss):
    x, labels = _data(n=11)
    y = _targets(loss, labels, 3)
    model = _model(hidden, loss)
    lr = 1e-3
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss=loss)
    start = model.get_weights()
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)   # one full-batch step
    grad = (_flat(start) - _flat(model.get_weights())) / lr

    def mean_loss(flat):
        weights, at = [], 0
        for w in start:
            weights.append(flat[at:at + w.size].reshape(w.shape))
            at += w.size
        model.set_weights(weights)
        return model.evaluate(x, y, verbose=0)

    p0, h = _flat(start), 1e-6
    numeric = np.array([(mean_loss(p0 + h * e) - mean_loss(p0 - h * e)) / (2 * h)
                        for e in np.eye(p0.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_float32_model_matches_float64_closely():
    x, labels = _data()
    y = utils.to_categorical(labels, 3)
    results = []
    for dtype in ("float32", "float64"):
        utils.set_random_seed(7)
        model = _model("tanh", "categorical_crossentropy", dtype=dtype)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(x, y, epochs=3, verbose=0)
        results.append(model.predict(x, verbose=0))
    assert results[0].dtype == np.float32 and results[1].dtype == np.float64
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-5)


def test_set_floatx_selects_float64():
    keras.backend.set_floatx("float64")
    try:
        model = Sequential([Dense(2, input_shape=(3,))])
        assert model.get_weights()[0].dtype == np.float64
    finally:
        keras.backend.set_floatx("float32")
    assert Sequential([Dense(2, input_shape=(3,))]).get_weights()[0].dtype == np.float32


def test_large_logits_give_finite_exact_losses():
    model = Sequential([Dense(2, activation="softmax", input_shape=(1,))], dtype="float64")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.set_weights([np.array([[1000.0, -1000.0]]), np.zeros(2)])
    # logits (1000, -1000) for the wrong class: the loss is exactly 2000
    assert model.evaluate(np.ones((1, 1)), np.array([[0.0, 1.0]]), verbose=0) == \
        pytest.approx(2000.0)


# ---------------------------------------------------------------------------
# Keras defaults
# ---------------------------------------------------------------------------

def test_keras_defaults_batch_32_and_sgd_lr():
    x, labels = _data(n=100)
    model = _model("sigmoid", "sparse_categorical_crossentropy", dtype="float32")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(model.optimizer, optimizers.SGD)
    assert model.optimizer.learning_rate == 0.01
    assert model.optimizer.momentum == 0.0 and model.optimizer.nesterov is False
    model.fit(x, labels, epochs=2, verbose=0)
    assert model._core.step == 2 * math.ceil(100 / 32)
    assert optimizers.Adam().get_config() == {"learning_rate": 0.001, "beta_1": 0.9,
                                              "beta_2": 0.999, "epsilon": 1e-7}
    assert optimizers.RMSprop().get_config() == {"learning_rate": 0.001, "rho": 0.9,
                                                 "epsilon": 1e-7}


def test_glorot_uniform_kernel_and_zero_bias_by_default():
    layer_model = Sequential([Dense(300, input_shape=(500,))])
    kernel, bias = layer_model.get_weights()
    assert kernel.dtype == np.float32 and kernel.shape == (500, 300)
    limit = math.sqrt(6 / (500 + 300))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert kernel.var() == pytest.approx(limit ** 2 / 3, rel=0.03)
    assert abs(kernel.mean()) < 0.01 * limit
    assert not bias.any()


@pytest.mark.parametrize("name,std", [("he_normal", math.sqrt(2 / 400)),
                                      ("random_normal", 0.05), ("zeros", 0.0)])
def test_other_initializers(name, std):
    kernel = Sequential([Dense(200, input_shape=(400,), kernel_initializer=name)]).get_weights()[0]
    assert kernel.std() == pytest.approx(std, rel=0.03, abs=1e-12)
    if name == "he_normal":      # truncated at two standard deviations
        assert np.abs(kernel).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_initializer_objects_with_seed_repeat():
    init = initializers.GlorotUniform(seed=3)
    a = Sequential([Dense(4, input_shape=(3,), kernel_initializer=init)]).get_weights()[0]
    b = Sequential([Dense(4, input_shape=(3,), kernel_initializer=init)]).get_weights()[0]
    np.testing.assert_array_equal(a, b)


def test_set_random_seed_makes_runs_repeat():
    x, labels = _data()
    runs = []
    for _ in range(2):
        utils.set_random_seed(5)
        model = _model("relu", "sparse_categorical_crossentropy")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, labels, epochs=3, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_shuffle_draws_a_fresh_permutation_every_epoch():
    x, labels = _data(n=64)
    y = utils.to_categorical(labels, 3)
    utils.set_random_seed(3)
    model = _model("tanh", "categorical_crossentropy")
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy")
    start = _flat(model.get_weights())
    model.fit(x, y, epochs=2, verbose=0)
    # the same draws by hand: the initializers' draws, then one permutation per epoch
    rng = np.random.default_rng(3)
    rng.uniform(size=5 * 4), rng.uniform(size=4 * 3)
    spec, params, state, step = _spec(model), start, None, 0
    for _ in range(2):
        params, state, step, _ = reference.network_train_epoch(
            spec, params, x, y, perm=rng.permutation(64), batch_size=32, opt_state=state,
            step=step)
    np.testing.assert_allclose(_flat(model.get_weights()), params, rtol=1e-10)


# ---------------------------------------------------------------------------
# History, validation, callbacks
# ---------------------------------------------------------------------------

def test_history_keys_lengths_and_model():
    x, labels = _data(n=50)
    y = utils.to_categorical(labels, 3)
    model = _model("sigmoid", "categorical_crossentropy")
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=4, validation_data=(x[:10], y[:10]), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    assert history.model is model and model.history is history
    assert all(0 <= a <= 1 for a in history.history["accuracy"])
    # val metrics are those of evaluate() after the last epoch
    loss, acc = model.evaluate(x[:10], y[:10], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss)
    assert history.history["val_accuracy"][-1] == pytest.approx(acc)
    # training accuracy: a forward pass over the training data after the epoch
    assert history.history["accuracy"][-1] == pytest.approx(model.evaluate(x, y, verbose=0)[1])

    again = model.fit(x, y, epochs=6, initial_epoch=4, verbose=0)
    assert again.epoch == [4, 5] and set(again.history) == {"loss", "accuracy"}


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, labels = _data(n=40)
    y = utils.to_categorical(labels, 3)
    utils.set_random_seed(11)
    model = _model("tanh", "categorical_crossentropy")
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    start = model.get_weights()
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x[30:], y[30:], verbose=0)[0])

    # the same training on the first 30 rows, with the same shuffles
    utils.set_random_seed(11)
    twin = _model("tanh", "categorical_crossentropy")
    twin.compile(optimizer="sgd", loss="categorical_crossentropy")
    twin.set_weights(start)
    twin.fit(x[:30], y[:30], epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Feed(callbacks.Callback):
    """Writes a scripted value into the logs and keeps every epoch's weights."""

    def __init__(self, values):
        super().__init__()
        self.values, self.weights = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def test_early_stopping_stops_and_restores_best_weights():
    x, labels = _data()
    model = _model("relu", "sparse_categorical_crossentropy")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    feed = _Feed([3.0, 2.0, 1.0, 1.5, 2.5, 0.5, 0.1])
    stop = callbacks.EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = model.fit(x, labels, epochs=7, callbacks=[feed, stop], verbose=0)
    assert history.epoch == [0, 1, 2, 3, 4]
    assert model.stop_training and stop.stopped_epoch == 4 and stop.best_epoch == 2
    for a, b in zip(model.get_weights(), feed.weights[2]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_on_val_loss_modes():
    assert callbacks.EarlyStopping().mode == "min"
    assert callbacks.EarlyStopping(monitor="val_accuracy").mode == "max"
    x, labels = _data()
    model = _model("relu", "sparse_categorical_crossentropy")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    feed = _Feed([0.5, 0.5, 0.5001])
    stop = callbacks.EarlyStopping(monitor="score", min_delta=0.01, patience=1)
    model.fit(x, labels, epochs=3, callbacks=[feed, stop], verbose=0)
    assert stop.stopped_epoch == 1       # 0.5 is no improvement by min_delta


def test_callback_hooks_and_learning_rate_change():
    x, labels = _data()
    events = []

    class Spy(callbacks.Callback):
        def on_train_begin(self, logs=None): events.append("begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"e{epoch}")
        def on_epoch_end(self, epoch, logs=None):
            events.append(sorted(logs))
            self.model.optimizer.learning_rate = 0.0      # freezes the next epochs
        def on_train_end(self, logs=None): events.append("end")

    model = _model("tanh", "sparse_categorical_crossentropy")
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["acc"])
    spy = Spy()
    model.fit(x, labels, epochs=1, callbacks=[spy], verbose=0)
    frozen = model.get_weights()
    model.fit(x, labels, epochs=2, callbacks=[spy], verbose=0)
    assert events[:4] == ["begin", "e0", ["acc", "loss"], "end"]
    assert spy.model is model
    for a, b in zip(frozen, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# saving, weights, summary, shapes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".keras", ".npz", ""])
def test_save_load_round_trip(tmp_path, suffix):
    x, labels = _data()
    model = Sequential([Dense(6, activation="relu", input_shape=(5,)),
                        Dense(4, activation="tanh", use_bias=False,
                              kernel_initializer="he_normal"),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, labels, epochs=2, verbose=0)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    assert path.exists()
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.metrics_names == ["loss", "accuracy"]
    assert isinstance(loaded.optimizer, optimizers.Adam)
    # the optimizer state came along: training continues identically
    model.fit(x, labels, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, labels, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a model saved by nnbook.keras"):
        keras.models.load_model(bad)


def test_get_and_set_weights_copy():
    model = _model("relu", "mse")
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(5, 4), (4,), (4, 3), (3,)]
    weights[0][...] = 7
    assert not (model.get_weights()[0] == 7).any()        # a copy
    new = [np.full_like(w, i) for i, w in enumerate(weights)]
    model.set_weights(new)
    new[0][...] = -1
    assert (model.layers[0].kernel == 0).all()            # copied in
    with pytest.raises(ValueError, match="expecting 4 weights"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([weights[0].T] + weights[1:])


SUMMARY = """\
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
dense (Dense)                (None, 100)               78500
_________________________________________________________________
dense_1 (Dense)              (None, 10)                1010
=================================================================
Total params: 79,510
Trainable params: 79,510
Non-trainable params: 0
_________________________________________________________________"""


def test_summary_of_the_chapter_7_model(capsys):
    model = Sequential()
    model.add(Dense(100, activation="sigmoid", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.summary()
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert printed == SUMMARY.splitlines()
    assert model.count_params() == 79510


def test_unbuilt_model_learns_its_input_size_at_fit():
    model = Sequential([Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x, labels = _data(features=7)
    model.fit(x, labels % 2, epochs=1, verbose=0)
    assert model.input_shape == (None, 7) and model.count_params() == 7 * 3 + 3 + 3 + 1
    built = Sequential([Dense(3)])
    built.build((None, 9))
    assert built.get_weights()[0].shape == (9, 3)
    deep = Sequential([keras.Input(shape=(4,))] + [Dense(5, activation="tanh") for _ in range(6)]
                      + [Dense(2, activation="softmax")])
    deep.compile(optimizer="sgd", loss="categorical_crossentropy")
    deep.fit(np.ones((3, 4)), np.eye(2)[[0, 1, 0]], verbose=0)
    assert len(deep.layers) == 7


def test_evaluate_and_predict_shapes():
    x, labels = _data()
    model = _model("relu", "sparse_categorical_crossentropy", dtype="float32")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(x, labels, verbose=0)
    assert isinstance(loss, float)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, labels, verbose=0)
    assert model.evaluate(x, labels, verbose=0, return_dict=True) == {"loss": loss,
                                                                      "accuracy": acc}
    probs = model.predict(x, verbose=0)
    assert probs.shape == (37, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert acc == pytest.approx(np.mean(probs.argmax(axis=1) == labels))
    assert model.predict(x[:1], verbose=0).shape == (1, 3)


def test_accuracy_variant_follows_the_loss():
    x, labels = _data()
    binary = (labels > 0).astype(float)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(5,))])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, binary, verbose=0)
    p = model.predict(x, verbose=0)[:, 0]
    assert acc == pytest.approx(np.mean((p > 0.5) == binary))
    assert model.evaluate(x, binary[:, None], verbose=0)[0] == pytest.approx(loss)


def test_sparse_and_categorical_train_identically():
    x, labels = _data()
    results = []
    for loss, y in (("sparse_categorical_crossentropy", labels),
                    ("categorical_crossentropy", utils.to_categorical(labels, 3))):
        utils.set_random_seed(21)
        model = _model("sigmoid", loss)
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        results.append((model.fit(x, y, epochs=3, verbose=0).history, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_from_logits_trains_like_the_softmax_model_and_predicts_logits():
    x, labels = _data()
    outs = []
    for activation, loss in (("softmax", "sparse_categorical_crossentropy"),
                             (None, losses.SparseCategoricalCrossentropy(from_logits=True))):
        utils.set_random_seed(2)
        model = Sequential([Dense(4, activation="tanh", input_shape=(5,)),
                            Dense(3, activation=activation)], dtype="float64")
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        model.fit(x, labels, epochs=2, verbose=0)
        outs.append((model.get_weights(), model.predict(x, verbose=0)))
    for a, b in zip(outs[0][0], outs[1][0]):
        np.testing.assert_array_equal(a, b)
    logits = outs[1][1]
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(axis=1, keepdims=True), outs[0][1],
                               rtol=1e-12)


def test_to_categorical():
    np.testing.assert_array_equal(utils.to_categorical([2, 0]), [[0, 0, 1], [1, 0, 0]])
    assert utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert utils.to_categorical([1]).dtype == np.float32
    with pytest.raises(ValueError, match="only 2 classes"):
        utils.to_categorical([0, 2], num_classes=2)


# ---------------------------------------------------------------------------
# progress output
# ---------------------------------------------------------------------------

def test_progress_lines(capsys):
    x, labels = _data(n=70)
    model = _model("relu", "sparse_categorical_crossentropy")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, validation_data=(x, labels))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"3/3 \[={30}\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - "
                        r"accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}",
                        lines[1]), lines[1]
    model.fit(x, labels, epochs=1, verbose=2, batch_size=10)
    lines = capsys.readouterr().out.splitlines()     # Keras 3: no "Epoch 1/1" header
    assert re.fullmatch(r"7/7 - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - \d+s/epoch - "
                        r"\d+(us|ms|s)/step", lines[0]), lines[0]
    model.fit(x, labels, epochs=1, verbose=0)
    model.evaluate(x, labels, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_redraws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    line = keras.progress.ProgressLine(5, verbose=1, stream=stream)
    line.begin()
    line.finish({"loss": 1.0})
    assert stream.getvalue().startswith("0/5 [" + "." * 30 + "]\r5/5 [" + "=" * 30 + "]")


# ---------------------------------------------------------------------------
# misuse
# ---------------------------------------------------------------------------

def _compiled(loss="categorical_crossentropy", last="softmax"):
    model = Sequential([Dense(4, activation="relu", input_shape=(5,)), Dense(3, activation=last)])
    model.compile(optimizer="sgd", loss=loss)
    return model


def test_fit_and_evaluate_before_compile():
    model = _model("relu", "mse")
    x, labels = _data()
    for call in (lambda: model.fit(x, labels), lambda: model.evaluate(x, labels)):
        with pytest.raises(RuntimeError, match=r"compile\(\)"):
            call()
    assert model.predict(x, verbose=0).shape == (37, 3)     # predict needs no compile


@pytest.mark.parametrize("loss,last,advice", [
    ("categorical_crossentropy", "sigmoid", "activation='softmax'"),
    ("sparse_categorical_crossentropy", "relu", "activation='softmax'"),
    ("binary_crossentropy", "softmax", "activation='sigmoid'"),
])
def test_loss_that_does_not_match_the_output_activation(loss, last, advice):
    model = Sequential([Dense(3, activation=last, input_shape=(5,))])
    with pytest.raises(ValueError, match=advice) as info:
        model.compile(optimizer="sgd", loss=loss)
    assert f"Received: activation='{last}'" in str(info.value)


def test_mse_works_with_any_output():
    for act in ("linear", "sigmoid", "tanh", "relu", "softmax"):
        _compiled("mse", act)


def test_binary_crossentropy_over_several_units_is_keras_multilabel():
    """Loss = mean over samples and units; its gradient, by finite differences;
    'accuracy' = categorical (argmax) accuracy, as Keras 3 picks it for
    several output units whatever the loss, each batch before its update."""
    from nnbook.keras import optimizers
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5))
    y = (rng.random((24, 3)) < 0.4).astype(float)
    model = Sequential([Dense(4, activation="tanh", input_shape=(5,)),
                        Dense(3, activation="sigmoid")], dtype="float64")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    p = model.predict(x, verbose=0)
    bce = np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(bce, rel=1e-10)
    assert acc == pytest.approx(np.mean(p.argmax(1) == y.argmax(1)))

    weights = model.get_weights()
    numeric = []
    for index in [(0, 0), (3, 1), (2, 2)]:
        for sign in (1, -1):
            w = [a.copy() for a in weights]
            w[2][index] += sign * 1e-6
            model.set_weights(w)
            numeric.append(model.evaluate(x, y, verbose=0)[0])
    model.set_weights(weights)
    history = model.fit(x, y, batch_size=24, epochs=1, shuffle=False, verbose=0)
    step = (weights[2] - model.get_weights()[2]) / 0.1
    for i, index in enumerate([(0, 0), (3, 1), (2, 2)]):
        fd = (numeric[2 * i] - numeric[2 * i + 1]) / 2e-6
        assert step[index] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert history.history["accuracy"][0] == pytest.approx(np.mean(p.argmax(1) == y.argmax(1)))
    with pytest.raises(ValueError, match=r"targets of shape \(samples, 3\)"):
        model.fit(x, y[:, 0], verbose=0)


def test_integer_labels_with_categorical_crossentropy():
    x, labels = _data()
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy.*to_categorical"):
        _compiled().fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="one-hot encoded"):
        _compiled("sparse_categorical_crossentropy").fit(x, utils.to_categorical(labels),
                                                         verbose=0)
    with pytest.raises(ValueError, match=r"shape \(samples, 3\)"):
        _compiled().fit(x, utils.to_categorical(labels, 4), verbose=0)
    with pytest.raises(ValueError, match="only 3 classes"):
        _compiled("sparse_categorical_crossentropy").fit(x, labels + 1, verbose=0)


def test_input_shape_mismatch():
    model = Sequential([Dense(10, activation="softmax", input_shape=(784,))])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"expected shape=\(None, 784\), found shape=\(2, 783\)"):
        model.fit(np.zeros((2, 783)), np.eye(10)[:2], verbose=0)
    with pytest.raises(ValueError, match=r"reshape\(len\(x\), -1\)"):
        model.predict(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="input_shape"):
        Dense(3, input_shape=(28, 28))


@pytest.mark.parametrize("make,pattern", [
    (lambda: Dense(3, activation="mish"), r"Unknown activation.*'relu'.*Received: activation='mish'"),
    (lambda: Dense(3, kernel_initializer="orthogonal"), r"glorot_uniform.*Received: kernel_initializer='orthogonal'"),
    (lambda: Dense(0), r"Received: units=0"),
    (lambda: Dense(-2), r"positive integer"),
    (lambda: Dense(2.5), r"Received: units=2.5"),
    (lambda: _compiled(loss="categorical_hinge"), r"Unknown loss.*categorical_crossentropy.*Received: loss='categorical_hinge'"),
    (lambda: _compiled().compile(optimizer="adabelief", loss="mse"), r"'adam'.*Received: optimizer='adabelief'"),
    (lambda: _compiled().compile(optimizer="sgd", loss="mse", metrics=["f1_score"]), r"Unknown metric.*'accuracy'"),
    (lambda: optimizers.SGD(learning_rate=-1), r"learning_rate"),
])
def test_bad_arguments(make, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


def test_bad_data():
    model = _compiled("sparse_categorical_crossentropy")
    x, labels = _data()
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or Inf"):
        model.fit(bad, labels, verbose=0)
    y = utils.to_categorical(labels, 3)
    y[0, 0] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or Inf"):
        _compiled().fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 5)), labels[:0], verbose=0)
    with pytest.raises(ValueError, match="37 samples but y has 36"):
        model.fit(x, labels[:36], verbose=0)
    with pytest.raises(ValueError, match="x_val"):
        model.fit(x, labels, validation_data=(x[:, :4], labels), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, labels, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, labels, batch_size=0, verbose=0)


def test_inputs_are_never_modified():
    x, labels = _data()
    for xs in (x, x.astype(np.float32)):
        y = utils.to_categorical(labels, 3)
        x0, y0 = xs.copy(), y.copy()
        model = _compiled()
        model.fit(xs, y, epochs=2, validation_split=0.2, verbose=0)
        model.evaluate(xs, y, verbose=0)
        model.predict(xs, verbose=0)
        np.testing.assert_array_equal(xs, x0)
        np.testing.assert_array_equal(y, y0)


def test_diverging_training_warns_and_records_nan():
    x, labels = _data()
    model = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dense(3)])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e30), loss="mse")
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = model.fit(x * 1e10, utils.to_categorical(labels, 3), epochs=3, verbose=0)
    assert not np.isfinite(history.history["loss"][-1])


# ---------------------------------------------------------------------------
# the book's chapter-7 workflow, short, on the real data
# ---------------------------------------------------------------------------

def test_chapter_7_workflow_two_epochs_on_fashion_mnist():
    from nnbook import datasets
    try:
        split = datasets.fashion_mnist_split(dtype=np.float32)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed")
    utils.set_random_seed(42)
    model = Sequential()
    model.add(Dense(100, activation="sigmoid", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(split.x_train, split.y_train_encoded, epochs=2, verbose=0,
                        validation_data=(split.x_val, split.y_val_encoded))
    loss, accuracy = model.evaluate(split.x_val, split.y_val_encoded, verbose=0)
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)
    assert accuracy > 0.75
    assert history.history["loss"][1] < history.history["loss"][0]


def test_keras_dataset_loader_delegates_to_nnbook_datasets():
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed")
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8


def test_training_accuracy_is_the_running_accuracy_before_each_update():
    """One full batch, no shuffle: the epoch's accuracy is the model's before its one step."""
    from nnbook.keras import Sequential
    from nnbook.keras.layers import Dense
    from nnbook.keras.utils import set_random_seed
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    set_random_seed(1)
    model = Sequential([Dense(4, activation="tanh", input_shape=(3,)),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=40, epochs=1, shuffle=False, verbose=0)
    assert history.history["accuracy"][0] == pytest.approx(before)
