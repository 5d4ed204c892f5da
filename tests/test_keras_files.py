"""Keras 3 .keras and .weights.h5 files, both ways, against fixtures made by real Keras.

The fixtures in tests/fixtures/keras/ were made once by
scripts/make_keras_fixtures.py (its docstring says how): ``keras_*`` files
and predictions by Keras 3.15, ``nnbook_*`` files by nnbook and then loaded
by Keras, whose predictions are stored beside nnbook's. No TensorFlow here.

Float32 outputs are compared relative to the output's scale (a logit near 0
has no meaningful relative error): Keras's reading nnbook's files at 1e-6,
nnbook's reading Keras's at 1e-5; float64 at 1e-12.
"""
import io
import json
import os
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import nnbook  # noqa: E402
from nnbook import keras  # noqa: E402
from nnbook.keras.models import load_model  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "keras")


def fixture(name):
    return os.path.join(FIXTURES, name)


def arrays(name):
    with np.load(fixture(name + ".npz")) as f:
        return dict(f)


def assert_close(actual, expected, rtol32=1e-5):
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype
    rtol = rtol32 if expected.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


# --------------------------------------------------------------------------
# files written by real Keras
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, dtype, optimizer, settings, loss, metrics", [
    ("keras_chapter7", np.float32, "SGD", {"momentum": 0.0, "nesterov": False},
     ("CategoricalCrossentropy", False), ["accuracy"]),
    ("keras_dense_adam", np.float32, "Adam", {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
     ("SparseCategoricalCrossentropy", True), ["accuracy"]),
    ("keras_float64", np.float64, "RMSprop", {"rho": 0.9, "epsilon": 1e-7},
     ("SparseCategoricalCrossentropy", False), ["accuracy"]),
])
def test_keras_file_predicts_what_keras_predicted(name, dtype, optimizer, settings, loss,
                                                  metrics):
    data = arrays(name)
    for loader in (load_model, nnbook.load):
        model = loader(fixture(name + ".keras"))
        assert isinstance(model, keras.Sequential) and model.dtype == dtype
        assert_close(model.predict(data["x"], verbose=0), data["predictions"])
        assert type(model.optimizer).__name__ == optimizer
        for key, value in settings.items():
            assert getattr(model.optimizer, key) == pytest.approx(value, rel=1e-7)
        assert (type(model.loss).__name__, model.loss.from_logits) == loss
        assert model._metric_names == metrics
        assert model._core.step > 0   # Keras's iteration count came along


def test_chapter7_fixture_has_the_books_architecture():
    model = load_model(fixture("keras_chapter7.keras"))
    assert [(l.units, l.activation) for l in model.layers] == [(100, "sigmoid"),
                                                                (10, "softmax")]
    assert model.input_shape == (None, 784) and model.count_params() == 79510


def test_adam_state_is_read_so_training_resumes_where_keras_stopped():
    """One more unshuffled epoch in nnbook lands on the weights Keras reached."""
    data = arrays("keras_dense_adam")
    model = load_model(fixture("keras_dense_adam.keras"))
    model.fit(data["x_more"], data["y_more"], epochs=1, batch_size=32, shuffle=False, verbose=0)
    after = [data[f"weights_after_{i}"] for i in range(len(model.weights))]
    for mine, theirs in zip(model.get_weights(), after):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-6)
    fresh = load_model(fixture("keras_dense_adam.keras"), compile=False)
    fresh.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    fresh.fit(data["x_more"], data["y_more"], epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert max(np.abs(a - b).max() for a, b in zip(fresh.get_weights(), after)) > 1e-3


def test_compile_false_leaves_the_model_uncompiled():
    model = load_model(fixture("keras_chapter7.keras"), compile=False)
    assert model.loss is None and model.optimizer is None


@pytest.mark.parametrize("name, match", [
    ("refused_conv2d", "layer 1 ('conv2d') is a Conv2D"),
    ("refused_functional_branches", "functional model"),
    ("refused_custom_layer", "custom layer class 'fixtures>Scale'"),
])
def test_keras_files_nnbook_cannot_run_are_refused_by_name(name, match):
    path = fixture(name + ".keras")
    for loader in (load_model, nnbook.load):
        with pytest.raises(nnbook.ModelFileError) as info:
            loader(path)
        assert str(info.value).startswith(path) and match in str(info.value)
        assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------
# files written by nnbook, read by real Keras
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nnbook_chapter7", "nnbook_dense_adam", "nnbook_float64",
                                  "nnbook_issue9_stack", "nnbook_activations"])
def test_keras_predicted_what_nnbook_predicted(name):
    data = arrays(name)
    assert_close(data["keras_predictions"], data["nnbook_predictions"], rtol32=1e-6)
    again = load_model(fixture(name + ".keras"))
    # (the fixture's predictions came from the nnbook of its day: the same up
    # to the rounding of the GEMM kernels the core picks for the shapes)
    assert_close(again.predict(data["x"], verbose=0), data["nnbook_predictions"], rtol32=1e-6)


def test_keras_read_nnbooks_weights_file():
    data = arrays("nnbook_dense_adam")
    assert_close(data["keras_predictions_from_weights"], data["nnbook_predictions"], rtol32=1e-6)
    model = load_model(fixture("nnbook_dense_adam.keras"))
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(fixture("nnbook_dense_adam.weights.h5"))
    assert_close(model.predict(data["x"], verbose=0), data["nnbook_predictions"], rtol32=1e-6)


# --------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------

def _trained(dtype="float32", optimizer="adam"):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(5,)),
                              keras.layers.Dense(7, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")], dtype=dtype)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "mse"])
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(40, 5)), rng.integers(0, 3, 40), epochs=2, verbose=0)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_keras_file_round_trip_keeps_every_bit(tmp_path, dtype, optimizer):
    if optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    model = _trained(dtype, optimizer)
    path = tmp_path / "m.keras"
    model.save(path)
    again = load_model(path)
    for a, b in zip(again.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again._core.opt_state, model._core.opt_state)
    assert again._core.step == model._core.step
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert again._metric_names == ["accuracy", "mse"]
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]


def test_saving_twice_gives_the_same_bytes(tmp_path):
    model = _trained()
    model.save(tmp_path / "a.keras")
    model.save(tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()


def test_weights_file_round_trip_and_optimizer_state(tmp_path):
    model = _trained()
    model.save_weights(tmp_path / "w.weights.h5")
    other = _trained()
    other.set_weights([w + 1 for w in other.get_weights()])
    other._core.opt_state[...] = 0
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(other._core.opt_state, model._core.opt_state)
    other.load_weights(tmp_path / "w.weights.h5")     # a .keras file's weights too
    model.save(tmp_path / "m.keras")
    other.load_weights(tmp_path / "m.keras")


def test_weights_file_of_another_architecture_is_refused_untouched(tmp_path):
    model = _trained()
    model.save_weights(tmp_path / "w.weights.h5")
    keras.utils.set_random_seed(4)
    other = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(6),
                              keras.layers.Dense(3)])
    before = other.get_weights()
    with pytest.raises(nnbook.ModelFileError, match=r"shape \(5, 7\).*declares \(5, 6\)"):
        other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_npz_stays_the_default_and_names_choose_the_format(tmp_path):
    model = _trained()
    for name in ("m", "m.npz"):
        model.save(tmp_path / name)
        with zipfile.ZipFile(tmp_path / name) as z:
            assert "config.npy" in z.namelist()
        assert isinstance(nnbook.load(tmp_path / name), keras.Sequential)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "w.h5")


def test_without_h5py_saving_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"nnbook\[keras-files\]"):
        _trained().save(tmp_path / "m.keras")
    assert not os.path.exists(tmp_path / "m.keras")


# --------------------------------------------------------------------------
# bad files: ModelFileError naming the file, nothing allocated from declared sizes
# --------------------------------------------------------------------------

def _members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _edit_config(src, dst, edit):
    members = _members(src)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    _write(dst, members)
    return dst


def _dense(config, index=1):
    return config["config"]["layers"][index]["config"]


def _refused(path, match, loader=load_model):
    with pytest.raises(nnbook.ModelFileError) as info:
        loader(path)
    message = str(info.value)
    assert message.startswith(os.fspath(path)) and "\n" not in message, message
    assert match in message, message
    return message


SMALL = fixture("keras_dense_adam.keras")


def test_damaged_zip(tmp_path):
    data = open(SMALL, "rb").read()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    _refused(cut, "corrupt or truncated", nnbook.load)
    flipped = bytearray(data)
    at = data.index(b"\x89HDF") + 2000
    flipped[at:at + 64] = bytes(64)
    (tmp_path / "flipped.keras").write_bytes(bytes(flipped))
    with pytest.raises(nnbook.ModelFileError) as info:
        load_model(tmp_path / "flipped.keras")
    assert str(info.value).startswith(str(tmp_path / "flipped.keras"))


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_missing_member(tmp_path, member):
    members = _members(SMALL)
    del members[member]
    _write(tmp_path / "m.keras", members)
    _refused(tmp_path / "m.keras", f"missing {member}")


def test_unknown_layer(tmp_path):
    def edit(config):
        config["config"]["layers"][2]["class_name"] = "LSTM"
    _refused(_edit_config(SMALL, tmp_path / "m.keras", edit), "is a LSTM, which nnbook")


def test_mismatched_weight_shapes(tmp_path):
    def edit(config):
        _dense(config, 2)["units"] = 17
    _refused(_edit_config(SMALL, tmp_path / "m.keras", edit),
             "layers/dense_1/vars/0 holds shape (32, 16) but the config declares (32, 17)")


@pytest.mark.parametrize("units, match", [
    (2 ** 40, "expected an integer in 1 .. 2147483647"),
    (2 ** 31 - 1, "nnbook refuses files above"),
    (0, "expected an integer in 1"),
    ("many", "units='many'"),
])
def test_absurd_declared_sizes_allocate_nothing(tmp_path, units, match):
    def edit(config):
        _dense(config)["units"] = units
    path = _edit_config(SMALL, tmp_path / "m.keras", edit)
    tracemalloc.start()
    try:
        _refused(path, match)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


@pytest.mark.parametrize("edit, match", [
    (lambda c: _dense(c).update(activation="mish"), "activation 'mish'"),
    (lambda c: _dense(c).update(kernel_regularizer={"class_name": "OrthogonalRegularizer"}),
     "kernel_regularizer is OrthogonalRegularizer"),
    (lambda c: _dense(c).update(kernel_constraint={"class_name": "NonNeg"}),
     "kernel_constraint"),
    (lambda c: _dense(c).update(trainable="no"), "trainable is 'no'"),
    (lambda c: c["config"].update(dtype="mixed_float16"), "dtype is 'mixed_float16'"),
    (lambda c: c.update(class_name="Functional"), "functional model"),
    (lambda c: c["config"]["layers"][0]["config"].update(batch_shape=[None, 4, 5]),
     "put a Flatten layer before it"),
    (lambda c: c["config"].update(layers=[]), "lists no layers"),
])
def test_config_nnbook_cannot_run(tmp_path, edit, match):
    _refused(_edit_config(SMALL, tmp_path / "m.keras", edit), match)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["optimizer"]["config"].update(use_ema=True), "use_ema=True"),
    (lambda c: c["optimizer"].update(class_name="Lion"), "optimizer is a Lion"),
    (lambda c: c.update(loss="categorical_hinge"), "the loss 'categorical_hinge'"),
    (lambda c: c["optimizer"]["config"].update(
        learning_rate={"class_name": "InverseTimeDecay", "config": {}}),
     "InverseTimeDecay schedule"),
    (lambda c: c.update(loss={"class_name": "SparseCategoricalCrossentropy",
                              "config": {"ignore_class": 0}}), "ignore_class=0"),
])
def test_compile_state_nnbook_cannot_run_allows_compile_false(tmp_path, edit, match):
    path = _edit_config(SMALL, tmp_path / "m.keras", lambda c: edit(c["compile_config"]))
    message = _refused(path, match)
    assert "compile=False" in message
    assert load_model(path, compile=False).loss is None


def test_non_finite_weights(tmp_path):
    members = _members(SMALL)
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5:
        h5["layers/dense_1/vars/1"][3] = np.nan
    members["model.weights.h5"] = buffer.getvalue()
    _write(tmp_path / "m.keras", members)
    _refused(tmp_path / "m.keras", "layers/dense_1/vars/1 holds NaN or infinite values")


def test_not_a_zip_and_foreign_files(tmp_path):
    (tmp_path / "notes.keras").write_text("hello")
    with pytest.raises(nnbook.ModelFileError, match="notes.keras"):
        load_model(tmp_path / "notes.keras")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "w.weights.h5").write_text("not hdf5")
    model = _trained()
    _refused(tmp_path / "w.weights.h5", "not an HDF5 weights file", model.load_weights)


@pytest.mark.parametrize("name, settings", [("DualLayer", {"units": 4}),
                                            ("MultiClassNetwork", {"units": 4})])
def test_cli_exports_a_book_network_to_keras(tmp_path, name, settings):
    from nnbook.cli import main
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    y = np.eye(3)[labels] if name == "MultiClassNetwork" else (labels == 1).astype(float)
    net = getattr(nnbook, name)(**settings).fit(x, y, epochs=5)
    net.save(tmp_path / "net.npz")
    assert main(["export", str(tmp_path / "net.npz"), "--to", str(tmp_path / "net.keras")]) == 0
    model = nnbook.load(tmp_path / "net.keras")
    np.testing.assert_allclose(model.predict(x, verbose=0), net._net.forward(x), rtol=1e-12)
    assert model.optimizer.learning_rate == net.lr and model.dtype == np.float64


def test_a_dataset_declaring_a_huge_shape_is_refused_before_reading(tmp_path):
    """The HDF5 header may promise a terabyte; its shape is compared with the config first."""
    members = _members(SMALL)
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5:
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars"].create_dataset("0", shape=(2 ** 20, 2 ** 20), dtype="f4",
                                               chunks=(1, 16))   # nothing stored
    members["model.weights.h5"] = buffer.getvalue()
    _write(tmp_path / "m.keras", members)
    tracemalloc.start()
    try:
        _refused(tmp_path / "m.keras", "holds shape (1048576, 1048576) but the config "
                                       "declares (20, 32)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_cli_export_of_a_keras_file_without_h5py_is_a_user_error(tmp_path, capsys,
                                                                 monkeypatch):
    from nnbook.cli import main
    monkeypatch.setitem(sys.modules, "h5py", None)
    assert main(["export", SMALL, "--to", str(tmp_path / "m.keras")]) == 2
    assert "nnbook[keras-files]" in capsys.readouterr().err


def test_a_functional_chain_reads_like_a_sequential():
    data = arrays("keras_functional_chain")
    model = load_model(fixture("keras_functional_chain.keras"))
    assert [(l.units, l.activation) for l in model.layers] == [(6, "relu"), (3, "softmax")]
    assert_close(model.predict(data["x"], verbose=0), data["predictions"])
    assert type(model.optimizer).__name__ == "Adam" and model._core.step > 0
