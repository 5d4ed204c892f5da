"""Keras 3 files with the issue-9 layers, optimizers, schedules and losses, both ways.

Fixtures in tests/fixtures/keras/ come from scripts/make_keras_fixtures.py (its
docstring says how it was run, with Keras 3.15.1): ``keras_issue9_stack`` and
``keras_opt_*`` were written by Keras (``predictions`` by Keras; for
``keras_opt_*`` also Keras's weights after one more unshuffled epoch from the
saved state, ``weights_after_<i>``); ``nnbook_issue9_stack``,
``nnbook_activations`` and ``nnbook_opt_*`` were written by nnbook and read by
Keras, which stored its predictions (``keras_predictions``) and, for
``nnbook_opt_*``, its weights after one more epoch from nnbook's saved
optimizer state (``keras_weights_after_<i>``). No TensorFlow here.
"""
import warnings
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import nnbook  # noqa: E402
from nnbook import keras  # noqa: E402
from nnbook.keras.models import load_model  # noqa: E402

from test_keras_files import arrays, assert_close, fixture  # noqa: E402  (shared readers)

OPTIMIZERS = {"adagrad": "Adagrad", "adadelta": "Adadelta", "adamax": "Adamax",
              "nadam": "Nadam", "adamw": "AdamW", "sgd_exponential": "SGD",
              "adam_piecewise": "Adam", "rmsprop_cosine": "RMSprop"}
SCHEDULES = {"sgd_exponential": "ExponentialDecay", "adam_piecewise": "PiecewiseConstantDecay",
             "rmsprop_cosine": "CosineDecay"}


def test_the_issue9_stack_written_by_keras_predicts_what_keras_predicted():
    data = arrays("keras_issue9_stack")
    for loader in (load_model, nnbook.load):
        model = loader(fixture("keras_issue9_stack.keras"))
        assert [type(l).__name__ for l in model.layers] == [
            "Flatten", "Dense", "BatchNormalization", "Dropout", "Dense", "Activation", "Dense"]
        assert model.input_shape == (None, 6, 6)
        assert_close(model.predict(data["x"], verbose=0), data["predictions"])
        dense, bn, dropout = model.layers[1], model.layers[2], model.layers[3]
        assert dense.kernel_regularizer == keras.regularizers.L2(0.01)
        assert (bn.momentum, bn.epsilon, bn.center, bn.scale) == (0.99, 0.001, True, True)
        assert dropout.rate == 0.3 and model.layers[5].activation == "relu"
        # compile state: Adam with Keras's step count and moments, the loss, the metric
        assert type(model.optimizer).__name__ == "Adam" and model._core.step == 8
        assert model.loss.name == "sparse_categorical_crossentropy"
        assert model._metric_names == ["accuracy"]
        assert np.abs(model._core.opt_state).max() > 0
        model.fit(data["x"], np.arange(20) % 3, epochs=1, verbose=0)   # and it trains


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_keras_optimizer_state_is_read_so_training_resumes_where_keras_stopped(name):
    """One more unshuffled epoch in nnbook lands on the weights Keras reached."""
    data = arrays(f"keras_opt_{name}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no "optimizer starts afresh"
        model = load_model(fixture(f"keras_opt_{name}.keras"))
    assert type(model.optimizer).__name__ == OPTIMIZERS[name]
    schedule = model.optimizer._schedule
    assert type(schedule).__name__ == SCHEDULES.get(name, "NoneType")
    assert model._core.step == 12
    assert_close(model.predict(data["x"], verbose=0), data["predictions"])
    model.fit(data["x_more"], data["y_more"], epochs=1, batch_size=16, shuffle=False,
              verbose=0)
    after = [data[f"weights_after_{i}"] for i in range(len(model.weights))]
    for mine, theirs in zip(model.get_weights(), after):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=2e-6)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_keras_resumed_from_nnbooks_optimizer_state(name):
    """Keras continued nnbook's file one epoch; nnbook, continuing the same file, agrees."""
    data = arrays(f"nnbook_opt_{name}")
    assert_close(data["keras_predictions"], data["nnbook_predictions"], rtol32=1e-6)
    model = load_model(fixture(f"nnbook_opt_{name}.keras"))
    before = model.get_weights()
    model.fit(data["x_more"], data["y_more"], epochs=1, batch_size=16, shuffle=False,
              verbose=0)
    after = [data[f"keras_weights_after_{i}"] for i in range(len(model.weights))]
    moved = 0.0
    for mine, theirs, start in zip(model.get_weights(), after, before):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=2e-6)
        moved = max(moved, np.abs(theirs - start).max())
    assert moved > 1e-3                          # the epoch did move the weights


def test_a_fresh_optimizer_would_not_land_there():
    """The resumed runs above depend on the state read: without it they miss by far."""
    data = arrays("keras_opt_nadam")
    model = load_model(fixture("keras_opt_nadam.keras"), compile=False)
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=0.01),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    model.fit(data["x_more"], data["y_more"], epochs=1, batch_size=16, shuffle=False,
              verbose=0)
    after = [data[f"weights_after_{i}"] for i in range(len(model.weights))]
    assert max(np.abs(a - b).max() for a, b in zip(model.get_weights(), after)) > 1e-3


def test_nadam_keeps_its_momentum_product_and_label_smoothing():
    model = load_model(fixture("keras_opt_nadam.keras"))
    assert model.loss.label_smoothing == pytest.approx(0.1)
    u = np.prod([0.9 * (1 - 0.5 * 0.96 ** k) for k in range(1, 13)])
    assert model._core.opt_state[-1] == pytest.approx(u, rel=1e-6)


def _issue9_model(dtype="float32", optimizer=None, loss=None):
    keras.utils.set_random_seed(3)
    L, reg = keras.layers, keras.regularizers
    model = keras.Sequential([
        keras.Input(shape=(4, 5)), L.Flatten(),
        L.Dense(7, kernel_regularizer=reg.L2(0.02), bias_regularizer="l1",
                activity_regularizer=reg.L1L2(l1=0.001, l2=0.003)),
        L.BatchNormalization(momentum=0.9, epsilon=0.01, center=False), L.Dropout(0.25, seed=4),
        L.Dense(6, activation="selu"), L.Activation("softsign"),
        L.BatchNormalization(scale=False), L.Dense(3, activation="softmax")], dtype=dtype)
    model.layers[4].trainable = False       # the Dense(selu)
    model.compile(optimizer=optimizer or keras.optimizers.Nadam(clipvalue=0.5),
                  loss=loss or keras.losses.CategoricalCrossentropy(label_smoothing=0.2),
                  metrics=["accuracy", keras.metrics.Precision(thresholds=0.4)],
                  weighted_metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(40, 4, 5)), np.eye(3)[rng.integers(0, 3, 40)], epochs=2,
              verbose=0)
    return model


def _same_model(a, b, configs=True):
    assert [type(l).__name__ for l in a.layers] == [type(l).__name__ for l in b.layers]
    if configs:
        assert [l.get_config() for l in a.layers] == [l.get_config() for l in b.layers]
    for x, y in zip(a.get_weights(), b.get_weights()):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a._core.opt_state, b._core.opt_state)
    assert a._core.step == b._core.step


SCHEDULE_MAKERS = {
    "ExponentialDecay": lambda: keras.optimizers.schedules.ExponentialDecay(
        0.01, decay_steps=3, decay_rate=0.7, staircase=True),
    "PiecewiseConstantDecay": lambda: keras.optimizers.schedules.PiecewiseConstantDecay(
        [2, 5], [0.01, 0.005, 0.001]),
    "CosineDecay": lambda: keras.optimizers.schedules.CosineDecay(0.02, 9, alpha=0.05),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.Adagrad(learning_rate=0.02, initial_accumulator_value=0.2),
    lambda: keras.optimizers.Adadelta(learning_rate=0.5, rho=0.9, global_clipnorm=1.0),
    lambda: keras.optimizers.Adamax(weight_decay=0.01),
    lambda: keras.optimizers.Nadam(clipnorm=0.3),
    lambda: keras.optimizers.AdamW(weight_decay=0.02),
    lambda: keras.optimizers.SGD(learning_rate=SCHEDULE_MAKERS["ExponentialDecay"](),
                                 momentum=0.5),
    lambda: keras.optimizers.Adam(learning_rate=SCHEDULE_MAKERS["PiecewiseConstantDecay"]()),
    lambda: keras.optimizers.RMSprop(learning_rate=SCHEDULE_MAKERS["CosineDecay"]()),
])
def test_every_layer_and_optimizer_round_trips_every_bit(tmp_path, dtype, optimizer):
    model = _issue9_model(dtype, optimizer())
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    _same_model(model, again)
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert again.loss.get_config() == model.loss.get_config()
    assert again._metric_names == model._metric_names
    assert [type(m).__name__ if not isinstance(m, str) else m
            for m in again._metric_objects[1]] == ["accuracy"]
    np.testing.assert_array_equal(again.predict(np.ones((3, 4, 5)), verbose=0),
                                  model.predict(np.ones((3, 4, 5)), verbose=0))
    # and the two continue identically
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 4, 5)), np.eye(3)[rng.integers(0, 3, 16)]
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    again.fit(x, y, epochs=1, shuffle=False, verbose=0)
    _same_model(model, again)


@pytest.mark.parametrize("loss", [
    keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    keras.losses.Huber(delta=0.3), "mae", "mape", "log_cosh", "kl_divergence", "hinge",
    "squared_hinge", "huber", keras.losses.MeanSquaredError(name="my_mse"),
])
def test_every_loss_round_trips(tmp_path, loss):
    keras.utils.set_random_seed(1)
    logits = getattr(loss, "from_logits", False)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(
        1, activation=None if logits else "sigmoid")])
    model.compile(optimizer="sgd", loss=loss)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    assert type(again.loss) is type(model.loss)
    assert again.loss.get_config() == model.loss.get_config()
    assert again.loss.name == model.loss.name


def test_weights_file_of_the_issue9_layers(tmp_path):
    model = _issue9_model()
    model.save_weights(tmp_path / "w.weights.h5")
    other = _issue9_model()
    other.set_weights([w * 0 + 0.5 for w in other.get_weights()])
    other._core.opt_state[...] = 0
    other.load_weights(tmp_path / "w.weights.h5")
    _same_model(model, other, configs=False)
    with h5py.File(tmp_path / "w.weights.h5", "r") as h5:
        assert sorted(h5["layers"]) == ["activation", "batch_normalization",
                                        "batch_normalization_1", "dense", "dense_1", "dense_2",
                                        "dropout", "flatten"]
        assert len(h5["layers/batch_normalization/vars"]) == 3     # center=False: no beta
        # Nadam: iteration, rate, 2 slots per trained variable, the momentum product;
        # the frozen Dense (2 variables) and the moving statistics have none
        trained = 2 + 1 + 1 + 2       # dense, bn gamma, bn_1 beta, dense_2
        assert len(h5["optimizer/vars"]) == 2 + 2 * trained + 1


def test_the_file_layer_knows_every_activation_nnbook_runs():
    from nnbook.io import keras_format
    assert set(keras_format.ACTIVATIONS) == set(keras.layers.ACTIVATIONS)


def test_multi_dimensional_input_is_written_as_keras_writes_it(tmp_path):
    import json
    _issue9_model().save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        config = json.loads(z.read("config.json"))
    layers = config["config"]["layers"]
    assert layers[0]["config"]["batch_shape"] == [None, 4, 5]
    assert layers[1]["class_name"] == "Flatten"
    assert layers[2]["config"]["kernel_regularizer"] == {
        "module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.02},
        "registered_name": None}
    assert layers[5]["config"]["trainable"] is False
    assert config["compile_config"]["loss"]["config"]["label_smoothing"] == 0.2


@pytest.mark.parametrize("edit, match", [
    (lambda layers: layers[3]["config"].update(renorm=True), "renorm=True"),
    (lambda layers: layers[3]["config"].update(axis=2), "axis is 2"),
    (lambda layers: layers[3]["config"].update(momentum=1.5), "momentum is 1.5"),
    (lambda layers: layers[4]["config"].update(rate=1.0), "rate is 1.0"),
    (lambda layers: layers[4]["config"].update(noise_shape=[None, 1]), "noise_shape"),
    (lambda layers: layers[1]["config"].update(data_format="channels_first"), "channels_last"),
    (lambda layers: layers[6]["config"].update(activation="relu6"), "activation 'relu6'"),
    (lambda layers: layers[2]["config"].update(
        activity_regularizer={"class_name": "L2", "config": {"l2": -1}}), "l2=-1"),
    (lambda layers: layers.pop(1), "put a Flatten layer before it"),
])
def test_issue9_layers_nnbook_cannot_run_are_refused_by_name(tmp_path, edit, match):
    import json
    src = fixture("keras_issue9_stack.keras")
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config["config"]["layers"])
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(nnbook.ModelFileError) as info:
        load_model(tmp_path / "m.keras")
    assert str(info.value).startswith(str(tmp_path / "m.keras")) and match in str(info.value)
