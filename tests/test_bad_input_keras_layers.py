"""Bad input to the new nnbook.keras surface (layers, regularizers, metrics,
optimizers, losses, fit's weights): a clear ValueError/TypeError naming the
argument in Keras's words ("... Received: rate=1.5"), never a bare
OverflowError, AttributeError or IndexError, never a NumPy warning, never an
allocation from an unchecked size, never a silently wrong answer.

Each test here is the regression test of a bug found by
tests/test_fuzz_keras_layers.py."""
import warnings

import numpy as np
import pytest

from nnbook import keras
from nnbook.keras import layers, losses, metrics, optimizers, regularizers


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


@pytest.mark.parametrize("cls,argument", [(regularizers.L1, "l1"), (regularizers.L2, "l2"),
                                          (regularizers.L1L2, "l1")])
def test_regularizer_factor_beyond_float_range(cls, argument):
    # was: OverflowError from math.isfinite, naming nothing
    with pytest.raises(ValueError, match=rf"Received: {argument}=1000"):
        cls(10**400)


def test_regularizer_factor_fraction_accepted():
    from fractions import Fraction
    assert regularizers.L2(Fraction(1, 4)).l2 == 0.25


@pytest.mark.parametrize("kwargs,error,match", [
    ({"thresholds": 0.5}, TypeError, r"`thresholds` must be a list.*Received: thresholds=0.5"),
    ({"from_logits": "no"}, TypeError, r"Received: from_logits='no'"),
    # was: a 2**30-element Python list (the process killed for memory)
    ({"num_thresholds": 2**30}, ValueError, r"Received: num_thresholds=1073741824"),
])
def test_auc_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.AUC(**kwargs)


def test_auc_even_thresholds_unchanged():
    # the thresholds are now made with NumPy: the same values as (i + 1) / (T - 1)
    auc = metrics.AUC(num_thresholds=7)
    assert auc.thresholds.tolist() == [-1e-7] + [(i + 1) / 6 for i in range(5)] + [1 + 1e-7]


def test_auc_from_logits_with_huge_logits_is_finite_and_silent():
    # was: NumPy's "overflow encountered in exp" leaking out
    auc = metrics.AUC(from_logits=True)
    auc.update_state([0, 1, 1], [-1000.0, 0.5, 800.0])
    assert auc.result() == 1.0


@pytest.mark.parametrize("metric", [metrics.AUC, metrics.BinaryAccuracy, metrics.Precision])
@pytest.mark.parametrize("where", ["y_pred", "y_true", "sample_weight"])
def test_metrics_refuse_non_finite_values(metric, where):
    # was: NaN cast to an int bucket (a NumPy warning) or a silent 0.0
    args = {"y_true": [0.0, 1.0], "y_pred": [0.2, 0.7], "sample_weight": [1.0, 1.0]}
    args[where] = [np.nan, 1.0]
    before = list(args[where])
    with pytest.raises(ValueError, match=rf"{where} contains NaN or Inf"):
        metric().update_state(**args)
    assert np.isnan(args[where][0]) and args[where][1:] == before[1:]


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, (x[:, 0] > 0).astype(float)


def _model(units=1, activation="sigmoid"):
    keras.utils.set_random_seed(0)
    return keras.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                             layers.Dense(units, activation=activation)])


@pytest.mark.parametrize("shift,scale", [(0, 5), (-1, 1), (0.6, 1)])
def test_class_weight_on_labels_that_are_not_classes(shift, scale):
    # was: IndexError for a label of 5; a label of -1 silently took class 1's weight
    x, y = _data()
    y = y * scale + shift
    before = y.copy()
    model = _model(1, "linear")
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"`class_weight`.*must round to 0 or 1; y\[\d+\]"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    np.testing.assert_array_equal(y, before)


def test_class_weight_beyond_the_dtype_names_its_class():
    # was: NumPy's "overflow encountered in cast" (a float32 model), then inf weights
    x, y = _data()
    model = _model()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"class_weight holds 1e\+300 at index \[1\]"):
        model.fit(x, y, class_weight={1: 1e300}, verbose=0)


@pytest.mark.parametrize("loss_cls,units,activation", [
    (losses.BinaryCrossentropy, 1, "sigmoid"),
    (losses.CategoricalCrossentropy, 2, "softmax")])
def test_label_smoothing_leaves_the_metrics_on_the_labels(loss_cls, units, activation):
    # was: binary accuracy compared (y_pred > 0.5) with the smoothed targets
    # (0.05, 0.95), so it was 0.0 whatever the model did; Keras smooths inside
    # the loss only. With the weights fixed (lr 0), smoothing must not change
    # any metric.
    x, y = _data(60)
    y = y if units == 1 else keras.utils.to_categorical(y, 2)
    logs = []
    for smoothing in (0.0, 0.1):
        model = _model(units, activation)
        model.compile(optimizer="sgd", loss=loss_cls(label_smoothing=smoothing),
                      metrics=["binary_accuracy", "accuracy", "precision"])
        model.optimizer.learning_rate = 0.0        # the weights stay as they are
        history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, shuffle=False)
        logs.append({k: v for k, v in history.history.items() if "loss" not in k})
    assert logs[0] == logs[1]
    assert logs[1]["binary_accuracy"][0] > 0


def test_class_weight_uses_the_labels_before_smoothing():
    # label_smoothing=1 makes every smoothed target 0.5 (round -> class 0):
    # the weights must still follow the labels
    x, y = _data()
    for smoothing in (0.0, 1.0):
        model = _model()
        model.compile(optimizer="sgd", loss=losses.BinaryCrossentropy(label_smoothing=smoothing))
        model.optimizer.learning_rate = 0.0        # the weights stay as they are
        weighted = model.fit(x, y, class_weight={0: 0.0, 1: 1.0}, epochs=1, verbose=0,
                             batch_size=len(x), shuffle=False).history["loss"][0]
        # class 1's rows alone, weighted 1 (the class weights as sample weights)
        ones_only = model.evaluate(x, y, sample_weight=y, verbose=0)
        assert weighted == pytest.approx(ones_only, rel=1e-5), smoothing


@pytest.mark.parametrize("identifier,error,match", [
    ({"class_name": 5}, ValueError, r"Received: optimizer=\{'class_name': 5\}"),
    ({"class_name": "sgd", "config": [1]}, TypeError, r"Received: config=\[1\]"),
])
def test_optimizer_get_of_a_malformed_dict(identifier, error, match):
    # was: AttributeError: 'int' object has no attribute 'lower'
    with pytest.raises(error, match=match):
        optimizers.get(identifier)


def test_optimizer_get_of_a_dict_without_config():
    assert optimizers.get({"class_name": "Adam", "config": None}).learning_rate == 0.001


# -- .keras files whose JSON has a value of the wrong type -----------------------

def _saved_keras(tmp_path):
    pytest.importorskip("h5py")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)),
                              layers.Dense(4, kernel_regularizer=regularizers.L2(0.01)),
                              layers.BatchNormalization(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path / "m.keras"
    model.save(path)
    return path


def _rewrite_config(path, change):
    import json
    import zipfile
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)


def _dense(config):
    return config["config"]["layers"][1]["config"]


@pytest.mark.parametrize("change", [
    # each was an AttributeError or TypeError escaping load_model
    lambda c: _dense(c)["bias_initializer"].update(config=7),
    lambda c: _dense(c).update(dtype={"class_name": "DTypePolicy", "config": 3}),
    lambda c: _dense(c)["kernel_regularizer"].update(class_name=["L2"]),
    lambda c: c["config"]["layers"][1].update(class_name=["Dense"]),
    lambda c: c["compile_config"]["optimizer"].update(class_name=["Adam"]),
    lambda c: c["compile_config"].update(loss={"class_name": ["Huber"]}),
    lambda c: c["compile_config"].update(metrics=[{"class_name": ["AUC"]}]),
], ids=["initializer-config", "dtype-config", "regularizer-class", "layer-class",
        "optimizer-class", "loss-class", "metric-class"])
def test_keras_file_with_json_of_the_wrong_type(tmp_path, change):
    from nnbook import ModelFileError
    path = _saved_keras(tmp_path)
    _rewrite_config(path, change)
    try:
        model = keras.models.load_model(path)
    except ModelFileError as exc:
        assert "m.keras" in str(exc)
    else:          # an unknown initializer is replaced by the default, with a warning
        assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 2)


def test_weights_file_with_damaged_hdf5_structures(tmp_path):
    # h5py reports a damaged symbol table as RuntimeError: it escaped load_weights
    from nnbook import ModelFileError
    pytest.importorskip("h5py")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    data = bytearray(path.read_bytes())
    damaged = 0
    for signature in (b"SNOD", b"TREE", b"HEAP"):
        at = data.find(signature)
        while at != -1:
            data[at:at + 4] = b"XXXX"
            damaged += 1
            at = data.find(signature, at + 4)
    assert damaged
    path.write_bytes(bytes(data))
    before = model.get_weights()
    with pytest.raises(ModelFileError, match="m.weights.h5"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
