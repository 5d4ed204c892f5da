"""Tests for nnbook.datasets: the IDX reader, the Fashion-MNIST look-up, the
book's splits and one_hot.

Everything except the last section runs on tiny files written here, with the
environment, the Debian folder constant and the home directory monkeypatched,
so the result does not depend on what the machine has installed. The
real-data tests skip (with a reason) when Fashion-MNIST is absent.
"""
import gzip
import os
import struct
import sys

import numpy as np
import pytest

from nnbook import datasets
from nnbook.datasets import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_CLASSES_KO,
    FASHION_MNIST_FILES,
    load_breast_cancer,
    load_fashion_mnist,
    one_hot,
    read_idx,
)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def idx_bytes(arr, type_byte=0x08, magic=b"\x00\x00"):
    """The IDX encoding of ``arr`` (written independently of the reader)."""
    arr = np.asarray(arr, dtype=np.uint8)
    header = magic + bytes([type_byte, arr.ndim])
    header += struct.pack(">%dI" % arr.ndim, *arr.shape)
    return header + arr.tobytes()


def write(path, data, gz):
    path = str(path)
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.write(data)
    return path


def make_fashion_folder(folder, n_train=3, n_test=2, gz=True, skip=None):
    """Write four tiny Fashion-MNIST-shaped IDX files into ``folder``.

    Pixel values equal n_train so a test can tell which folder was loaded.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(0)
    arrays = {
        "train_images": np.full((n_train, 28, 28), n_train, np.uint8),
        "train_labels": rng.randint(0, 10, n_train).astype(np.uint8),
        "test_images": np.full((n_test, 28, 28), n_train, np.uint8),
        "test_labels": rng.randint(0, 10, n_test).astype(np.uint8),
    }
    for key, name in FASHION_MNIST_FILES.items():
        if key == skip:
            continue
        if not gz:
            name = name[:-len(".gz")]
        write(os.path.join(folder, name), idx_bytes(arrays[key]), gz)
    return arrays


# --------------------------------------------------------------------------
# read_idx: valid files
# --------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_read_idx_labels_1d(tmp_path, gz):
    labels = np.array([9, 0, 0, 3, 255], dtype=np.uint8)
    name = "labels-idx1-ubyte" + (".gz" if gz else "")
    path = write(tmp_path / name, idx_bytes(labels), gz)
    out = read_idx(path)
    assert out.dtype == np.uint8
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, labels)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_read_idx_images_3d(tmp_path, gz):
    images = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2)
    name = "images-idx3-ubyte" + (".gz" if gz else "")
    path = write(tmp_path / name, idx_bytes(images), gz)
    out = read_idx(tmp_path / name)  # a Path works as well as a str
    assert out.shape == (4, 3, 2)
    np.testing.assert_array_equal(out, images)
    # Row-major order: the last axis varies fastest, as in the IDX spec.
    assert out[1, 0, 1] == 7
    assert path.endswith(name)


def test_read_idx_result_is_writable(tmp_path):
    path = write(tmp_path / "a.gz", idx_bytes(np.zeros((2, 2))), gz=True)
    out = read_idx(path)
    out[0, 0] = 1  # callers may normalise in place
    assert out[0, 0] == 1


def test_read_idx_detects_gzip_by_content(tmp_path):
    # A gzip file whose name lacks .gz is still read (the magic decides).
    path = write(tmp_path / "noext", idx_bytes([1, 2, 3]), gz=True)
    np.testing.assert_array_equal(read_idx(path), [1, 2, 3])


def test_read_idx_empty_dimension(tmp_path):
    path = write(tmp_path / "e", idx_bytes(np.zeros((0, 28, 28))), gz=False)
    assert read_idx(path).shape == (0, 28, 28)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


# --------------------------------------------------------------------------
# read_idx: corrupt and truncated files -> ValueError naming the file
# --------------------------------------------------------------------------

GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


def corrupt_cases():
    # (id, raw bytes before compression, fragment expected in the message)
    return [
        ("bad-magic", b"\x01\x00" + GOOD[2:], "magic"),
        ("bad-magic-2nd-byte", b"\x00\x07" + GOOD[2:], "magic"),
        ("type-float32", GOOD[:2] + b"\x0d" + GOOD[3:], "type byte 0x0d"),
        ("type-unknown", GOOD[:2] + b"\x42" + GOOD[3:], "type byte 0x42"),
        ("zero-dims", b"\x00\x00\x08\x00", "0 dimensions"),
        ("truncated-payload", GOOD[:-5], "truncated IDX payload"),
        ("truncated-dims", GOOD[:4 + 6], "truncated IDX header"),
        ("truncated-magic", GOOD[:3], "truncated IDX header"),
        ("empty", b"", "truncated IDX header"),
        ("extra-bytes", GOOD + b"\x00", "longer than the declared shape"),
        ("huge-declared-size",
         b"\x00\x00\x08\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 9)
         + b"\x00" * 10, "truncated IDX payload"),
    ]


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("data,fragment",
                         [c[1:] for c in corrupt_cases()],
                         ids=[c[0] for c in corrupt_cases()])
def test_read_idx_corrupt(tmp_path, gz, data, fragment):
    path = write(tmp_path / ("bad.gz" if gz else "bad"), data, gz)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    msg = str(info.value)
    assert path in msg
    assert fragment in msg


def test_read_idx_garbage_gzip(tmp_path):
    # Valid gzip magic, then garbage: the deflate stream is corrupt.
    path = tmp_path / "garbage.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "gzip" in str(info.value)


def test_read_idx_truncated_gzip_stream(tmp_path):
    # A download cut off half way: the compressed stream ends early.
    blob = gzip.compress(idx_bytes(np.arange(5000) % 251))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "gzip" in str(info.value)


def test_read_idx_bad_gzip_crc(tmp_path):
    # Flip the stored CRC-32: the data decompresses but fails its check.
    blob = bytearray(gzip.compress(idx_bytes([1, 2, 3])))
    blob[-8] ^= 0xFF
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


def test_read_idx_gz_name_but_not_gzip(tmp_path):
    path = write(tmp_path / "plain.gz", GOOD, gz=False)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert path in str(info.value)
    assert "not gzip" in str(info.value)


# --------------------------------------------------------------------------
# Fashion-MNIST look-up order (machine-independent)
# --------------------------------------------------------------------------

@pytest.fixture
def places(tmp_path, monkeypatch):
    """Point every look-up place into tmp_path; all start empty."""
    p = {
        "explicit": str(tmp_path / "explicit"),
        "env": str(tmp_path / "env"),
        "debian": str(tmp_path / "debian" / "fashion-mnist"),
        "globroot": str(tmp_path / "globroot"),
        "home": str(tmp_path / "home"),
    }
    p["keras"] = os.path.join(p["home"], ".keras", "datasets", "fashion-mnist")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", p["debian"])
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_GLOBS",
                        (os.path.join(p["globroot"], "*fashion*mnist*"),
                         os.path.join(p["globroot"], "*", "*fashion*mnist*")))
    monkeypatch.setenv("HOME", p["home"])  # expanduser("~") reads $HOME
    monkeypatch.delenv("NNBOOK_DATA", raising=False)
    return p


def loaded_marker(result):
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.shape[1:] == (28, 28) and x_test.shape[1:] == (28, 28)
    assert len(x_train) == len(y_train) and len(x_test) == len(y_test)
    return len(x_train)  # make_fashion_folder's n_train identifies a folder


def test_lookup_explicit_path_first(places, monkeypatch):
    make_fashion_folder(places["explicit"], n_train=1)
    make_fashion_folder(places["env"], n_train=2)
    make_fashion_folder(places["debian"], n_train=3)
    make_fashion_folder(places["keras"], n_train=4)
    monkeypatch.setenv("NNBOOK_DATA", places["env"])
    assert loaded_marker(load_fashion_mnist(places["explicit"])) == 1


def test_lookup_env_before_debian_and_keras(places, monkeypatch):
    make_fashion_folder(places["env"], n_train=2)
    make_fashion_folder(places["debian"], n_train=3)
    make_fashion_folder(places["keras"], n_train=4)
    monkeypatch.setenv("NNBOOK_DATA", places["env"])
    assert loaded_marker(load_fashion_mnist()) == 2


def test_lookup_env_fashion_mnist_subfolder(places, monkeypatch):
    sub = os.path.join(places["env"], "fashion-mnist")
    make_fashion_folder(sub, n_train=5)
    make_fashion_folder(places["debian"], n_train=3)
    monkeypatch.setenv("NNBOOK_DATA", places["env"])
    assert loaded_marker(load_fashion_mnist()) == 5


def test_lookup_env_without_files_falls_through(places, monkeypatch):
    os.makedirs(places["env"])
    make_fashion_folder(places["debian"], n_train=3)
    monkeypatch.setenv("NNBOOK_DATA", places["env"])
    assert loaded_marker(load_fashion_mnist()) == 3


def test_lookup_debian_before_keras(places):
    make_fashion_folder(places["debian"], n_train=3)
    make_fashion_folder(places["keras"], n_train=4)
    assert loaded_marker(load_fashion_mnist()) == 3


def test_lookup_debian_glob_fallback(places):
    # A renamed / nested package folder under the datasets root is found.
    nested = os.path.join(places["globroot"], "zalando", "fashion_mnist")
    make_fashion_folder(nested, n_train=6)
    make_fashion_folder(places["keras"], n_train=4)
    assert loaded_marker(load_fashion_mnist()) == 6


def test_lookup_keras_cache_last(places):
    make_fashion_folder(places["keras"], n_train=4)
    assert loaded_marker(load_fashion_mnist()) == 4


def test_lookup_unzipped_files(places):
    make_fashion_folder(places["debian"], n_train=7, gz=False)
    assert loaded_marker(load_fashion_mnist()) == 7


def test_lookup_skips_incomplete_folder(places, monkeypatch):
    make_fashion_folder(places["env"], n_train=2, skip="test_labels")
    make_fashion_folder(places["keras"], n_train=4)
    monkeypatch.setenv("NNBOOK_DATA", places["env"])
    assert loaded_marker(load_fashion_mnist()) == 4


def test_explicit_path_is_not_silently_replaced(places):
    # A wrong explicit folder is an error even though other places have data.
    make_fashion_folder(places["debian"], n_train=3)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(places["explicit"])
    msg = str(info.value)
    assert places["explicit"] in msg
    assert places["debian"] not in msg


def test_not_found_message(places, monkeypatch):
    monkeypatch.setenv("NNBOOK_DATA", places["env"])
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    msg = str(info.value)
    for folder in (places["env"], os.path.join(places["env"], "fashion-mnist"),
                   places["debian"], places["keras"]):
        assert folder in msg
    assert "sudo apt-get install dataset-fashion-mnist" in msg
    assert "NNBOOK_DATA" in msg and "path=" in msg
    # Places are listed in look-up order.
    assert msg.index(places["env"]) < msg.index(places["debian"]) \
        < msg.index(places["keras"])


def test_debian_constant_is_the_package_folder():
    # Found with `dpkg -L dataset-fashion-mnist` (Debian/Ubuntu package).
    assert datasets.DEBIAN_FASHION_MNIST_DIR == \
        "/usr/share/datasets/fashion-mnist"


def test_load_rejects_mismatched_counts(places):
    make_fashion_folder(places["debian"], n_train=3)
    path = os.path.join(places["debian"], FASHION_MNIST_FILES["train_labels"])
    write(path, idx_bytes(np.zeros(4)), gz=True)
    with pytest.raises(ValueError, match="3 images but .* 4 labels"):
        load_fashion_mnist()


def test_load_rejects_wrong_image_shape(places):
    make_fashion_folder(places["debian"], n_train=3)
    path = os.path.join(places["debian"], FASHION_MNIST_FILES["test_images"])
    write(path, idx_bytes(np.zeros((2, 27, 28))), gz=True)
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        load_fashion_mnist()


def test_class_names():
    assert len(FASHION_MNIST_CLASSES) == len(FASHION_MNIST_CLASSES_KO) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert FASHION_MNIST_CLASSES_KO[2] == "스웨터"
    assert FASHION_MNIST_CLASSES_KO[9] == "앵클 부츠"


# --------------------------------------------------------------------------
# breast cancer
# --------------------------------------------------------------------------

def test_load_breast_cancer_shapes():
    pytest.importorskip("sklearn")
    x, y = load_breast_cancer()
    assert x.shape == (569, 30) and x.dtype == np.float64
    assert y.shape == (569,) and y.dtype.kind == "i"
    assert set(np.unique(y)) == {0, 1}


def test_missing_sklearn_says_how_to_install(monkeypatch):
    # None in sys.modules makes `import sklearn...` raise ImportError.
    for mod in ("sklearn", "sklearn.datasets", "sklearn.model_selection",
                "sklearn.preprocessing"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r"pip install nnbook\[book\]"):
        load_breast_cancer()


def test_breast_cancer_split_sizes(cancer):
    assert cancer.x_train.shape == (364, 30)
    assert cancer.x_val.shape == (91, 30)
    assert cancer.x_test.shape == (114, 30)
    assert cancer.y_train.shape == (364,)
    assert cancer.y_val.shape == (91,)
    assert cancer.y_test.shape == (114,)
    for a in (cancer.x_train, cancer.y_train, cancer.x_val, cancer.y_val,
              cancer.x_test, cancer.y_test):
        assert a.dtype == np.float64


def test_breast_cancer_split_stratified(cancer):
    # 357 benign of 569: every part keeps that ratio to within one row.
    ratio = 357 / 569
    for y in (cancer.y_train, cancer.y_val, cancer.y_test):
        assert set(np.unique(y)) == {0.0, 1.0}
        assert abs(y.sum() - ratio * len(y)) <= 1
    assert cancer.y_train.sum() + cancer.y_val.sum() + cancer.y_test.sum() \
        == 357


def test_breast_cancer_split_standardised(cancer):
    np.testing.assert_allclose(cancer.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(cancer.x_train.std(axis=0), 1, rtol=1e-12)
    # Scaled with the training statistics only, so val is merely close.
    assert np.abs(cancer.x_val.mean(axis=0)).max() > 1e-6
    assert np.abs(cancer.x_val.mean(axis=0)).max() < 1


def test_breast_cancer_split_is_the_books(cancer):
    # Rebuild the chapter-6 code literally and compare.
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    x, y = load_breast_cancer()
    x_train_all, x_test, y_train_all, y_test = train_test_split(
        x, y, stratify=y, test_size=0.2, random_state=42)
    x_train, x_val, y_train, y_val = train_test_split(
        x_train_all, y_train_all, stratify=y_train_all, test_size=0.2,
        random_state=42)
    scaler = StandardScaler()
    scaler.fit(x_train)
    np.testing.assert_array_equal(cancer.x_train, scaler.transform(x_train))
    np.testing.assert_array_equal(cancer.x_val, scaler.transform(x_val))
    np.testing.assert_array_equal(cancer.y_val, y_val)
    np.testing.assert_array_equal(cancer.y_test, y_test)


# --------------------------------------------------------------------------
# one_hot
# --------------------------------------------------------------------------

def test_one_hot_basic():
    out = one_hot([0, 2, 1])
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert out.dtype == np.float64


def test_one_hot_num_classes_and_dtype():
    out = one_hot(np.array([1, 1], dtype=np.uint8), num_classes=4,
                  dtype=np.float32)
    assert out.shape == (2, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(axis=1), [1, 1])


def test_one_hot_accepts_column_whole_floats_and_bools():
    np.testing.assert_array_equal(one_hot([[1], [0]]), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0])),
                                  [[0, 1], [1, 0]])
    np.testing.assert_array_equal(one_hot([True, False]), [[0, 1], [1, 0]])


def test_one_hot_empty():
    assert one_hot([], num_classes=3).shape == (0, 3)
    with pytest.raises(ValueError, match="num_classes"):
        one_hot([])


def test_one_hot_does_not_modify_input():
    labels = np.array([2.0, 0.0])
    one_hot(labels)
    np.testing.assert_array_equal(labels, [2.0, 0.0])


@pytest.mark.parametrize("labels,kwargs,exc,fragment", [
    ([0, -1, 2], {}, ValueError, "non-negative"),
    ([0.0, 1.5], {}, ValueError, "non-integer label 1.5"),
    ([0.0, np.nan], {}, ValueError, "NaN"),
    (["a", "b"], {}, TypeError, "integers"),
    ([0, 3], {"num_classes": 3}, ValueError, "out of range"),
    ([0, 1], {"num_classes": 0}, ValueError, ">= 1"),
    ([0, 1], {"num_classes": 2.0}, TypeError, "int"),
    ([[0, 1], [1, 0]], {}, ValueError, "1-D"),
], ids=["negative", "fractional", "nan", "strings", "too-large",
        "zero-classes", "float-num-classes", "2d"])
def test_one_hot_errors(labels, kwargs, exc, fragment):
    with pytest.raises(exc, match=fragment):
        one_hot(labels, **kwargs)


# --------------------------------------------------------------------------
# Real Fashion-MNIST (skipped when the data is absent)
# --------------------------------------------------------------------------

def _real_or_skip():
    try:
        return load_fashion_mnist()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not installed (sudo apt-get install "
                    "dataset-fashion-mnist, or set NNBOOK_DATA)")


@pytest.fixture(scope="module")
def fashion():
    return _real_or_skip()


@pytest.fixture(scope="module")
def fashion_split(fashion):  # depends on `fashion` so it skips with it
    pytest.importorskip("sklearn")
    return datasets.fashion_mnist_split()


def test_real_fashion_shapes_and_dtypes(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8


def test_real_fashion_labels(fashion):
    (_, y_train), (_, y_test) = fashion
    # The data set is balanced: 6000 / 1000 images of each of the 10 classes.
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert FASHION_MNIST_CLASSES[y_train[0]] == "Ankle boot"  # the book's
    # first image


def test_real_fashion_split(fashion_split):
    s = fashion_split
    assert s.x_train.shape == (48000, 784) and s.x_train.dtype == np.float64
    assert s.x_val.shape == (12000, 784)
    assert s.x_test.shape == (10000, 784)
    assert s.y_train.shape == (48000,) and s.y_val.shape == (12000,)
    assert s.y_train_encoded.shape == (48000, 10)
    assert s.y_val_encoded.shape == (12000, 10)
    assert s.y_test_encoded.shape == (10000, 10)
    for x in (s.x_train, s.x_val, s.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    # Stratified: 4800 / 1200 of each class.
    np.testing.assert_array_equal(np.bincount(s.y_train), [4800] * 10)
    np.testing.assert_array_equal(np.bincount(s.y_val), [1200] * 10)
    np.testing.assert_array_equal(s.y_train_encoded.argmax(axis=1), s.y_train)
    np.testing.assert_array_equal(s.y_val_encoded.sum(axis=1), 1.0)


def test_real_fashion_split_float32(fashion, fashion_split):
    s32 = datasets.fashion_mnist_split(dtype=np.float32)
    assert s32.x_val.dtype == np.float32
    assert s32.y_val_encoded.dtype == np.float32
    # Same values as the book's float64 pixels rounded to float32.
    np.testing.assert_array_equal(s32.x_val,
                                  fashion_split.x_val.astype(np.float32))
