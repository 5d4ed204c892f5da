"""Model files under damage and attack: every load failure is a ModelFileError naming the
file, nothing large is allocated before the headers are checked, and saves are atomic.

Book files and nnbook.keras files are both mutated (truncated, bytes flipped, members
dropped, headers rewritten, huge shapes declared, NaN weights) and must either load or
raise ``nnbook.ModelFileError`` whose message starts with the path.
"""
import copy
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import nnbook
from nnbook import book, keras
from nnbook.io import npz as npz_io
from nnbook.persistence import load_model, read_extra, save_model

RNG = np.random.default_rng(7)
X = RNG.normal(size=(60, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(np.float64)


# --------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------

def _book_file(tmp_path, name="book.npz", cls=book.DualLayer, **kwargs):
    if cls is book.MultiClassNetwork:
        labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
        model = cls(units=5, batch_size=16, **kwargs).fit(X, np.eye(3)[labels], epochs=3)
    else:
        model = cls(**kwargs).fit(X, Y, epochs=3)
    path = tmp_path / name
    save_model(model, path, extra={"data": "toy"})
    return model, path


def _keras_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.layers.Dense(5, activation="relu", input_shape=(4,)),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X.astype(np.float32), Y.astype(np.int64), epochs=2, verbose=0)
    return model


def _keras_file(tmp_path, name="model.npz"):
    model = _keras_model()
    path = tmp_path / name
    model.save(path)
    return model, path


def _members(path):
    """name -> the raw bytes of every zip member (the .npy bytes, header included)."""
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _write_members(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def _npy_header(shape, descr="<f8", data=b""):
    """A .npy member whose header declares ``shape`` but stores only ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                   "shape": shape})
    return buffer.getvalue() + data


def _rewrite(path, **arrays):
    """Replace (or with None drop) members given as arrays or raw bytes."""
    members = _members(path)
    for key, value in arrays.items():
        name = key + ".npy"
        if value is None:
            members.pop(name)
        else:
            members[name] = value if isinstance(value, bytes) else _npy(value)
    _write_members(path, members)


def _keras_config(path):
    with np.load(path, allow_pickle=False) as f:
        return json.loads(f["config"].tobytes().decode("utf-8"))


def _config_bytes(config):
    return np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)


def _refused(path, loader=nnbook.load, match=None):
    """Load ``path``: it must fail with a ModelFileError that names the file."""
    with pytest.raises(nnbook.ModelFileError) as info:
        loader(path)
    message = str(info.value)
    assert message.startswith(os.fspath(path)), message
    assert "\n" not in message
    if match is not None:
        assert match in message, message
    return message


def _peak_mib(call):
    """(result or exception, peak MiB allocated while running call); numpy reports to tracemalloc."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - returned to the test to check
            result = exc
        return result, tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def _refused_without_allocating(path, loader, *words):
    """``loader(path)`` raises ModelFileError naming the file and ``words``, peaking under 16 MiB."""
    result, peak = _peak_mib(lambda: loader(path))
    assert isinstance(result, nnbook.ModelFileError), result
    for word in (str(path),) + words:
        assert word in str(result), str(result)
    assert peak < 16, peak


# --------------------------------------------------------------------------
# round trips still hold
# --------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [book.SingleLayer, book.DualLayer, book.MultiClassNetwork])
def test_book_round_trip_through_nnbook_load(cls, tmp_path):
    model, path = _book_file(tmp_path, cls=cls)
    loaded = nnbook.load(path)
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded._net.params, model._net.params)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_keras_round_trip_and_nnbook_load_finds_sequential(tmp_path):
    model, path = _keras_file(tmp_path)
    for loaded in (keras.models.load_model(path), nnbook.load(path)):
        assert isinstance(loaded, keras.Sequential)
        for a, b in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(loaded.predict(X.astype(np.float32), verbose=0),
                                      model.predict(X.astype(np.float32), verbose=0))


def test_nnbook_load_imports_nnbook_keras_on_demand(tmp_path):
    """io never imports a front door: nnbook.load reaches nnbook.keras through the registry."""
    _, path = _keras_file(tmp_path)
    code = textwrap.dedent(f"""
        import sys, nnbook
        assert "nnbook.keras" not in sys.modules
        model = nnbook.load({os.fspath(path)!r})
        print(type(model).__module__, type(model).__name__)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["nnbook.keras.models", "Sequential"]


def test_io_imports_no_front_door():
    """Arrows point down: nnbook.io's modules import only each other, stdlib and numpy."""
    import ast
    import nnbook.io
    folder = os.path.dirname(nnbook.io.__file__)
    for name in os.listdir(folder):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, (name, node.module)  # nothing from nnbook above io
                assert not (node.module or "").startswith("nnbook"), (name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("nnbook") for a in node.names), name


# --------------------------------------------------------------------------
# damaged files: truncation, flipped bytes, dropped members
# --------------------------------------------------------------------------

def _mutants(data, step):
    """Truncations and single-byte flips of ``data`` every ``step`` bytes."""
    for cut in range(0, len(data), step):
        yield f"cut at {cut}", data[:cut]
    for at in range(0, len(data), step):
        flipped = bytearray(data)
        flipped[at] ^= 0xFF
        yield f"byte {at} flipped", bytes(flipped)


@pytest.mark.parametrize("kind", ["book", "keras"])
def test_every_mutation_loads_or_is_a_model_file_error(kind, tmp_path):
    if kind == "book":
        _, good = _book_file(tmp_path)
        loaders = (nnbook.load, book.DualLayer.load)
    else:
        _, good = _keras_file(tmp_path)
        loaders = (nnbook.load, keras.models.load_model)
    data = good.read_bytes()
    bad = tmp_path / "mutant.npz"
    refused = 0
    for what, mutant in _mutants(data, max(1, len(data) // 150)):
        bad.write_bytes(mutant)
        for load in loaders:
            try:
                model = load(bad)
            except nnbook.ModelFileError as exc:
                refused += 1
                assert str(exc).startswith(str(bad)), (what, str(exc))
                continue
            # a flip the format does not notice (a timestamp, a file-name byte) must
            # still give a working model with finite outputs
            out = model.predict(X.astype(np.float32) if kind == "keras" else X)
            assert np.all(np.isfinite(np.asarray(out, dtype=np.float64))), what
    assert refused > 200


@pytest.mark.parametrize("member", ["nnbook_format", "class_name", "dtype", "hyperparameters",
                                    "sizes", "params"])
def test_book_file_missing_a_required_member(member, tmp_path):
    _, path = _book_file(tmp_path)
    _rewrite(path, **{member: None})
    _refused(path)
    _refused(path, book.DualLayer.load)


@pytest.mark.parametrize("member", ["losses", "val_losses", "extra"])
def test_book_file_without_an_optional_member_loads(member, tmp_path):
    model, path = _book_file(tmp_path)
    _rewrite(path, **{member: None})
    np.testing.assert_array_equal(nnbook.load(path).predict(X), model.predict(X))


@pytest.mark.parametrize("member", ["config", "weight_0", "weight_3"])
def test_keras_file_missing_a_member(member, tmp_path):
    _, path = _keras_file(tmp_path)
    _rewrite(path, **{member: None})
    _refused(path, keras.models.load_model)


def test_bare_npy_and_foreign_files(tmp_path):
    npy = tmp_path / "weights.npy"
    np.save(npy, np.zeros(3))
    for loader in (nnbook.load, keras.models.load_model, book.DualLayer.load, read_extra):
        _refused(npy, loader, match="single .npy array")
    text = tmp_path / "notes.keras"
    text.write_text("some notes")
    _refused(text, keras.models.load_model, match="not a model saved by nnbook.keras")
    real_keras = tmp_path / "real.keras"
    _write_members(real_keras, {"metadata.json": b"{}", "config.json": b"{}",
                                "model.weights.h5": b"\x89HDF"})
    _refused(real_keras, keras.models.load_model, match="Keras 3 .keras file")
    _refused(tmp_path, match="directory")
    with pytest.raises(FileNotFoundError, match="not found"):
        nnbook.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------------
# rewritten entries
# --------------------------------------------------------------------------

@pytest.mark.parametrize("change, match", [
    ({"nnbook_format": np.array(99)}, "newer nnbook"),
    ({"nnbook_format": np.array(1.5)}, "'nnbook_format' has dtype float64"),
    ({"class_name": np.array(7)}, "'class_name' should be text"),
    ({"hyperparameters": np.array("[0.1, 0, 0]")}, "should be a JSON object, got a list"),
    ({"hyperparameters": np.array('{"units": 10, "lr": 1}')}, "unknown lr"),
    ({"hyperparameters": np.array('{"units": "ten"}')}, "bad hyperparameters"),
    ({"hyperparameters": np.frombuffer(b"\xff\xfe{}", np.uint8)}, "not UTF-8"),
    ({"dtype": np.array("object")}, "bad hyperparameters or dtype"),
    ({"dtype": np.array("float32")}, "'params' has"),
    ({"sizes": np.array([4, 2 ** 31, 1])}, "do not fit a DualLayer"),
    ({"sizes": np.array([4, 10, 1, 1])}, "do not fit a DualLayer"),
    ({"sizes": np.array([4.0, 10.0, 1.0])}, "'sizes' has dtype float64"),
    ({"sizes": np.array([-4, 10, 1])}, "do not fit"),
    ({"params": np.zeros(3)}, "'params' has 3"),
    ({"params": np.zeros((8, 8))}, "'params' has 64"),
    ({"params": np.array(["a"] * 61)}, "'params' has 61"),
    ({"losses": np.array(["x"])}, "'losses' has dtype"),
])
def test_book_file_bad_entries(change, match, tmp_path):
    _, path = _book_file(tmp_path)
    _rewrite(path, **change)
    _refused(path, match=match)


def test_other_front_doors_files_name_their_class(tmp_path):
    _, book_path = _book_file(tmp_path)
    _rewrite(book_path, class_name=np.array("Sequential"))
    _refused(book_path, book.DualLayer.load, match="unknown class 'Sequential'")
    _refused(book_path, match="not a model saved by nnbook.keras")
    _, keras_path = _keras_file(tmp_path)
    _refused(keras_path, book.DualLayer.load, match="holds a Sequential (nnbook.keras), not a "
                                                    "DualLayer")
    _refused(keras_path, read_extra, match="not a book network")


def test_nan_and_inf_weights_are_refused(tmp_path):
    model, path = _book_file(tmp_path)
    for bad in (np.nan, np.inf, -np.inf):
        params = model._net.params.copy()
        params[5] = bad
        _rewrite(path, params=params)
        _refused(path, match="NaN or infinite")
    model, path = _book_file(tmp_path, "single.npz", cls=book.SingleLayer)
    history = np.stack([w.reshape(-1) for w in model.w_history])
    history[1, 2] = np.nan
    _rewrite(path, w_history=history)
    _refused(path, match="'w_history' holds 1 NaN")


def test_keras_nan_weights_are_refused(tmp_path):
    model, path = _keras_file(tmp_path)
    kernel = model.get_weights()[2].copy()
    kernel[0, 0] = np.nan
    _rewrite(path, weight_2=kernel)
    _refused(path, keras.models.load_model, match="NaN or infinite")


def test_extra_must_be_a_json_object(tmp_path):
    _, path = _book_file(tmp_path)
    _rewrite(path, extra=np.array('["data", "toy"]'))
    _refused(path, read_extra, match="'extra' should be a JSON object, got a list")
    _rewrite(path, extra=np.array("{broken"))
    _refused(path, read_extra, match="not valid JSON")


def test_object_arrays_are_never_unpickled(tmp_path, monkeypatch):
    _, path = _book_file(tmp_path)
    # a member that would need pickle: its header says dtype object
    _rewrite(path, params=_npy_header((61,), "|O", b"\x80\x04N."))
    import pickle
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    _refused(path, match="pickle")


@pytest.mark.parametrize("config_change, match", [
    (lambda c: c.update(version=3), "newer nnbook"),
    (lambda c: c.update(format="other"), "not a model saved by nnbook.keras"),
    (lambda c: c.update(model=[1, 2]), "'model' is missing or not a dict"),
    (lambda c: c["model"].pop("layers"), "'layers' is missing"),
    (lambda c: c["model"].update(dtype="object"), "declares dtype 'object'"),
    (lambda c: c["model"]["layers"][0]["config"].update(units=2 ** 31), "units=2147483648"),
    (lambda c: c["model"]["layers"][0]["config"].update(units="5"), "units='5'"),
    (lambda c: c["model"]["layers"][0]["config"].update(activation="gelu2"), "cannot be rebuilt"),
    (lambda c: c["model"]["layers"][0]["config"].update(bogus=1), "cannot be rebuilt"),
    (lambda c: c["model"]["layers"].append(7), "not an object"),
    (lambda c: c.update(compile={"loss": "nope", "optimizer": "sgd", "metrics": []}),
     "compile settings are invalid"),
    (lambda c: c.update(compile=[1]), "'compile' is a list"),
    (lambda c: c.update(optimizer_step=-3), "'optimizer_step'"),
])
def test_keras_config_errors(config_change, match, tmp_path):
    _, path = _keras_file(tmp_path)
    config = _keras_config(path)
    config_change(config)
    _rewrite(path, config=_config_bytes(config))
    _refused(path, keras.models.load_model, match=match)


def _json_paths(node, prefix=()):
    """The path (keys and indices) of every value inside a JSON document."""
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _json_paths(value, prefix + (i,))


ODD_JSON_VALUES = [None, -1, 0, 2 ** 70, 1.5, float("nan"), "x", "", [], {}, [1], {"a": 1}, True]


def _with_value(document, path, value):
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def test_every_keras_config_value_replaced_loads_or_is_a_model_file_error(tmp_path):
    """Each value of the config in turn becomes null, a huge int, a string, a list, ...:
    load_model must then work or raise ModelFileError (no KeyError, AttributeError, ...)."""
    _, path = _keras_file(tmp_path)
    config = _keras_config(path)
    tried = 0
    for where in list(_json_paths(config)):
        for value in ODD_JSON_VALUES:
            _rewrite(path, config=_config_bytes(_with_value(config, where, value)))
            tried += 1
            try:
                keras.models.load_model(path)
            except nnbook.ModelFileError as exc:
                assert str(exc).startswith(str(path)), (where, value, str(exc))
    assert tried > 300


def test_every_hyperparameter_replaced_loads_or_is_a_model_file_error(tmp_path):
    _, path = _book_file(tmp_path, cls=book.MultiClassNetwork)
    with np.load(path, allow_pickle=False) as f:
        hyper = json.loads(str(f["hyperparameters"]))
    for where in list(_json_paths(hyper)):
        for value in ODD_JSON_VALUES:
            _rewrite(path, hyperparameters=np.array(json.dumps(_with_value(hyper, where, value))))
            try:
                nnbook.load(path)
            except nnbook.ModelFileError as exc:
                assert str(exc).startswith(str(path)), (where, value, str(exc))


@pytest.mark.parametrize("raw, match", [
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b'"a string"', "should be a JSON object, got a string"),
    (b"[" * 100000 + b"]" * 100000, "JSON"),
])
def test_keras_config_that_is_not_a_json_object(raw, match, tmp_path):
    _, path = _keras_file(tmp_path)
    _rewrite(path, config=np.frombuffer(raw, np.uint8))
    _refused(path, keras.models.load_model, match=match)


# --------------------------------------------------------------------------
# declared sizes are checked before anything is allocated
# --------------------------------------------------------------------------

def test_header_declaring_a_trillion_elements(tmp_path):
    _, path = _book_file(tmp_path)
    _rewrite(path, params=_npy_header((10 ** 12,), "<f8", bytes(64)))
    _refused_without_allocating(path, nnbook.load, "declares shape (1000000000000,)")


def test_header_declaring_more_than_is_stored(tmp_path):
    _, path = _book_file(tmp_path)
    _rewrite(path, params=_npy_header((12000 * 12000,), "<f8", bytes(8 * 61)))
    _refused_without_allocating(path, nnbook.load, "declares shape (144000000,)",
                                "stores 488 bytes")


def test_size_limit_is_configurable(tmp_path, monkeypatch):
    model, path = _book_file(tmp_path)
    monkeypatch.setattr(npz_io, "MAX_ELEMENTS", 50)
    _refused(path, match="NNBOOK_MAX_ELEMENTS")
    monkeypatch.setattr(npz_io, "MAX_ELEMENTS", 10 ** 6)
    np.testing.assert_array_equal(nnbook.load(path).predict(X), model.predict(X))


def test_environment_sets_the_size_limit():
    code = ("import nnbook.io.npz as n; print(n.MAX_ELEMENTS)")
    env = dict(os.environ, NNBOOK_MAX_ELEMENTS="1234")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.stdout.strip() == "1234", out.stderr


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    """Zeros compress ~1000:1: a small file declaring a 72 MB network is refused unread."""
    path = tmp_path / "bomb.npz"
    n_in = units = 3000
    count = n_in * units + 2 * units + 1  # sizes [3000, 3000, 1]: 72 MB of float64
    _, good = _book_file(tmp_path)
    members = _members(good)
    members["sizes.npy"] = _npy(np.array([n_in, units, 1]))
    members["hyperparameters.npy"] = _npy(np.array(json.dumps(
        {"learning_rate": 0.1, "l1": 0.0, "l2": 0.0, "units": units})))
    members["params.npy"] = _npy(np.zeros(count))
    _write_members(path, members)
    assert path.stat().st_size < 1 << 20
    _refused_without_allocating(path, nnbook.load, "zip bomb")


def test_keras_config_declaring_a_huge_layer_allocates_nothing(tmp_path):
    """A 60000-unit Dense on 60000 inputs (14 GB of weights) in a small file."""
    _, path = _keras_file(tmp_path)
    config = _keras_config(path)
    config["model"]["input_shape"] = [60000]
    config["model"]["layers"][0]["config"].update(units=60000, input_dim=60000)
    _rewrite(path, config=_config_bytes(config))
    assert path.stat().st_size < 8192
    _refused_without_allocating(path, keras.models.load_model,
                                "'weight_0' holds shape (4, 5)", "(60000, 60000)")


# --------------------------------------------------------------------------
# atomic saves
# --------------------------------------------------------------------------

def _interrupt_mid_write(monkeypatch, error):
    """Make the archive writer stop half-way through the second member with ``error``."""
    real = np.lib.format.write_array
    calls = []

    def write_array(f, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"\x93NUMPY half a member")
            raise error
        return real(f, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError(28, "No space left on device"),
                                   MemoryError()], ids=["ctrl-c", "disk-full", "memory"])
@pytest.mark.parametrize("kind", ["book", "keras"])
def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(kind, error, tmp_path,
                                                                 monkeypatch):
    model, path = _book_file(tmp_path, "m.npz") if kind == "book" else \
        _keras_file(tmp_path, "m.npz")
    before = path.read_bytes()
    _interrupt_mid_write(monkeypatch, error)
    with pytest.raises(type(error)) as info:
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    if isinstance(error, OSError):
        message = str(info.value)
        assert message.startswith(f"cannot save {path}:") and "nnbook-partial" not in message
        assert "no space left" in message and info.value.errno == 28


def test_failed_rename_removes_the_temporary(tmp_path, monkeypatch):
    model, path = _book_file(tmp_path, "m.npz")
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_temporary_is_named_for_its_target_and_not_hidden(tmp_path, monkeypatch):
    model, path = _book_file(tmp_path, "m.npz")
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(src), real(src, dst)))
    model.save(path)
    (temporary,) = seen
    name = os.path.basename(temporary)
    assert os.path.dirname(temporary) == str(tmp_path)
    assert name.startswith("m.npz.nnbook-partial-") and not name.startswith(".")


@pytest.mark.parametrize("kind", ["book", "keras"])
def test_save_onto_a_directory_or_into_a_missing_one(kind, tmp_path):
    model = _book_file(tmp_path)[0] if kind == "book" else _keras_model()
    folder = tmp_path / "adir"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=f"cannot save to {folder}: it is a directory"):
        model.save(folder)
    missing = tmp_path / "nodir" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        model.save(missing)
    assert str(info.value).startswith(f"cannot save {missing}: the folder")
    assert "nnbook-partial" not in str(info.value)


def test_save_without_write_permission_names_the_target(tmp_path, monkeypatch):
    model, _ = _book_file(tmp_path)
    target = tmp_path / "ro" / "m.npz"
    target.parent.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(kwargs["dir"], "tmpxyz"))

    monkeypatch.setattr(npz_io.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as info:
        model.save(target)
    assert str(info.value) == f"cannot save {target}: no permission to write in {target.parent}"


@pytest.mark.skipif(os.name != "posix", reason="chmod and SIGKILL")
def test_save_into_a_read_only_directory(tmp_path):
    model, _ = _book_file(tmp_path)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions do not stop writes")
        with pytest.raises(PermissionError, match=f"cannot save {folder / 'm.npz'}: no permission"):
            model.save(folder / "m.npz")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_killed_saves_never_leave_a_broken_model(tmp_path):
    """SIGKILL a process that saves over and over: the file is always a whole model."""
    path = tmp_path / "m.npz"
    code = textwrap.dedent(f"""
        import numpy as np, sys, nnbook
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 50)); y = np.eye(3)[rng.integers(0, 3, 200)]
        m = nnbook.MultiClassNetwork(units=200).fit(x, y, epochs=1)
        m.save({str(path)!r})
        print("ready", flush=True)
        while True:
            m.save({str(path)!r})
    """)
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        model = nnbook.load(path)
        assert model._net.params.size == 50 * 200 + 200 + 200 * 3 + 3
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m.npz"]
        assert all(name.startswith("m.npz.nnbook-partial-") for name in leftovers), leftovers
        for name in leftovers:
            os.remove(tmp_path / name)


def test_keras_overwrite_false_keeps_the_file(tmp_path):
    model, path = _keras_file(tmp_path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------
# the reader itself
# --------------------------------------------------------------------------

def test_reader_handles_byte_order_memory_order_and_text(tmp_path):
    path = tmp_path / "arrays.npz"
    big_endian = np.arange(6, dtype=">f8").reshape(2, 3)
    fortran = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    np.savez(path, big=big_endian, fortran=fortran, text=np.array("héllo"),
             raw=np.frombuffer("{\"a\": 1}".encode(), np.uint8), empty=np.zeros((0, 3)))
    with npz_io.NpzReader(path) as f:
        big = f.array("big", kinds="f")
        assert big.dtype == np.float64 and big.dtype.isnative
        np.testing.assert_array_equal(big, big_endian)
        np.testing.assert_array_equal(f.array("fortran"), fortran)
        assert f.text("text") == "héllo" and f.json("raw") == {"a": 1}
        assert f.array("empty").shape == (0, 3)
        into = np.empty((2, 3))
        assert f.array("big", out=into) is into
        np.testing.assert_array_equal(into, big_endian)
        with pytest.raises(nnbook.ModelFileError, match="expected"):
            f.array("big", out=np.empty(6))  # the wrong shape is refused, not reshaped
        with pytest.raises(nnbook.ModelFileError, match="'fortran' has dtype int32, expected floats"):
            f.array("fortran", kinds="f")


@pytest.mark.parametrize("version, readable", [((1, 0), True), ((2, 0), True), ((3, 0), False)])
def test_npy_header_versions(version, readable, tmp_path):
    array = np.arange(4.0)
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (4,)}
    if version == (3, 0):
        buffer.write(np.lib.format.magic(3, 0) + (16).to_bytes(4, "little") +
                     b"{'descr': '<f8'}")
    else:
        getattr(np.lib.format, f"write_array_header_{version[0]}_0")(buffer, header)
    buffer.write(array.tobytes())
    path = tmp_path / "v.npz"
    _write_members(path, {"w.npy": buffer.getvalue()})
    if readable and version in npz_io._HEADER_READERS:
        with npz_io.NpzReader(path) as f:
            np.testing.assert_array_equal(f.array("w"), array)
    else:
        with pytest.raises(nnbook.ModelFileError, match="version"):
            npz_io.NpzReader(path)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_file_gets_ordinary_permissions(tmp_path):
    model, path = _book_file(tmp_path, "m.npz")
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    path.chmod(0o640)
    model.save(path)
    assert path.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its permissions


def test_a_model_seeded_with_a_random_state_object_saves(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    net = nnbook.MinibatchNetwork(random_state=np.random.RandomState(3)).fit(x, y, epochs=2)
    net.save(tmp_path / "m.npz")
    back = nnbook.load(tmp_path / "m.npz")
    assert back.random_state is None
    np.testing.assert_array_equal(back.predict(x), net.predict(x))
