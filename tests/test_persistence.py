"""Saved models: exact round trips for every book class and dtype, and clear errors."""
import json
import zipfile

import numpy as np
import pytest

import nnbook
from nnbook import book, datasets
from nnbook.persistence import FORMAT_VERSION, ModelFileError, load_model, read_extra, save_model

from conftest import BOOK_CLASSES as CLASSES


@pytest.fixture
def split(cancer):
    return cancer


def _fitted(cls, dtype, split, epochs=7):
    if cls is book.MultiClassNetwork:
        y, yv = datasets.one_hot(split.y_train), datasets.one_hot(split.y_val)
        model = cls(units=6, batch_size=50, l2=0.01, dtype=dtype, random_state=3)
    else:
        y, yv = split.y_train, split.y_val
        model = cls(l1=0.001, l2=0.01, dtype=dtype)
    return model.fit(split.x_train, y, epochs=epochs, x_val=split.x_val, y_val=yv), yv


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_round_trip_is_exact(cls, dtype, split, tmp_path):
    model, yv = _fitted(cls, dtype, split)
    path = tmp_path / "model.npz"
    model.save(path)
    for loaded in (cls.load(path), nnbook.load(path)):
        assert type(loaded) is cls
        assert loaded.dtype == np.dtype(dtype)
        assert repr(loaded) == repr(model)
        np.testing.assert_array_equal(loaded._net.params, model._net.params)
        assert loaded._net.params.dtype == np.dtype(dtype)
        assert loaded.losses == model.losses and loaded.val_losses == model.val_losses
        np.testing.assert_array_equal(loaded.predict(split.x_val), model.predict(split.x_val))
        assert loaded.score(split.x_val, yv) == model.score(split.x_val, yv)
        assert loaded.reg_loss() == model.reg_loss()
        loaded.update_val_loss(split.x_val, yv)
        assert loaded.val_losses[-1] == model._val_loss(*model._validation_pair(
            split.x_val, yv, split.x_val.shape[1], model._fitted_classes()))
    if cls is book.SingleLayer:
        assert len(loaded.w_history) == len(model.w_history) == 8
        for a, b in zip(loaded.w_history, model.w_history):
            np.testing.assert_array_equal(a, b)


def test_loaded_model_trains_like_a_fresh_one(split, tmp_path):
    model, yv = _fitted(book.MinibatchNetwork, np.float64, split)
    model.save(tmp_path / "m.npz")
    again = book.MinibatchNetwork.load(tmp_path / "m.npz")
    again.fit(split.x_train, split.y_train, epochs=7, x_val=split.x_val, y_val=yv)
    assert again.losses == model.losses  # fit restarts from the seeded initial weights


def test_file_holds_plain_arrays_only(split, tmp_path):
    model, _ = _fitted(book.MultiClassNetwork, np.float32, split)
    path = tmp_path / "plain.npz"
    save_model(model, path, extra={"data": "breast-cancer"})
    with np.load(path, allow_pickle=False) as f:
        assert int(f["nnbook_format"]) == FORMAT_VERSION
        assert str(f["class_name"]) == "MultiClassNetwork" and str(f["dtype"]) == "float32"
        assert json.loads(str(f["hyperparameters"]))["units"] == 6
        assert all(f[k].dtype != object for k in f.files)
    assert read_extra(path) == {"data": "breast-cancer"}


def test_path_is_used_as_given(split, tmp_path):
    model, _ = _fitted(book.SingleLayer, np.float64, split, epochs=2)
    model.save(tmp_path / "model.bin")
    assert (tmp_path / "model.bin").exists() and not (tmp_path / "model.bin.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]  # no temporary left over


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(nnbook.NotFittedError, match="not fitted"):
        book.DualLayer().save(tmp_path / "x.npz")


def test_other_class_is_a_clear_error(split, tmp_path):
    model, _ = _fitted(book.RandomInitNetwork, np.float64, split, epochs=2)
    model.save(tmp_path / "r.npz")
    # a subclass relation does not make the files interchangeable
    for cls in (book.DualLayer, book.MinibatchNetwork, book.SingleLayer):
        with pytest.raises(ModelFileError, match="holds a RandomInitNetwork, not a " + cls.__name__):
            cls.load(tmp_path / "r.npz")


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del arrays[key]
    np.savez(path, **arrays)


def test_newer_format_version_is_refused(split, tmp_path):
    model, _ = _fitted(book.SingleLayer, np.float64, split, epochs=2)
    path = tmp_path / "new.npz"
    model.save(path)
    _rewrite(path, nnbook_format=np.array(FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="newer nnbook.*upgrade"):
        nnbook.load(path)


@pytest.mark.parametrize("change, message", [
    ({"nnbook_format": None}, "not an nnbook model file"),
    ({"class_name": np.array("Perceptron")}, "unknown class 'Perceptron'"),
    ({"params": np.zeros(3)}, "'params' has 3"),
    ({"sizes": np.array([30, 4, 1])}, "do not fit a DualLayer"),
    ({"hyperparameters": np.array("{not json")}, "bad hyperparameters"),
    ({"dtype": np.array("int8")}, "bad hyperparameters or dtype"),
])
def test_malformed_entries(change, message, split, tmp_path):
    model, _ = _fitted(book.DualLayer, np.float64, split, epochs=2)
    path = tmp_path / "bad.npz"
    model.save(path)
    _rewrite(path, **change)
    with pytest.raises(ModelFileError, match=message):
        nnbook.load(path)


def test_corrupt_and_foreign_files(split, tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        nnbook.load(garbage)

    model, _ = _fitted(book.DualLayer, np.float64, split, epochs=2)
    good = tmp_path / "good.npz"
    model.save(good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ModelFileError, match="corrupt"):
        nnbook.load(cut)

    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ModelFileError, match="not an"):
        nnbook.load(npy)

    with pytest.raises(FileNotFoundError, match="model file not found"):
        nnbook.load(tmp_path / "missing.npz")


def test_damaged_member_is_reported(split, tmp_path):
    model, _ = _fitted(book.DualLayer, np.float64, split, epochs=2)
    path = tmp_path / "damaged.npz"
    model.save(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("params.npy")
    # flip bytes inside the compressed params member: zlib or CRC must object
    start = info.header_offset + 30 + len(info.filename) + 20
    data[start:start + 16] = bytes(16)
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupt"):
        nnbook.load(path)


def test_folder_instead_of_a_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read the model file"):
        nnbook.load(tmp_path)
