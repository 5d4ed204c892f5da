"""The data sets the command line trains on: the book's two, or a user's .npz.

A user's ``.npz`` data file holds the arrays

* ``x_train`` (n, features) and ``y_train``: labels 0..k-1, shape (n,), or
  one-hot rows, shape (n, k);
* ``x_val`` and ``y_val``: the same for validation (optional for ``train``);
* optionally ``x_test``/``y_test`` and ``class_names`` (k strings).

Write one with ``numpy.savez("mydata.npz", x_train=..., y_train=..., x_val=...,
y_val=...)``. Labels are kept as integers here; :meth:`Data.targets` makes
the form a model wants (a 0/1 column or one-hot rows).
"""
import os
import time
import zipfile
import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import datasets

__all__ = ["DataError", "Data", "load_data", "BOOK_DATA"]

BOOK_DATA = ("fashion-mnist", "breast-cancer")

# scikit-learn's coding of the breast-cancer targets
BREAST_CANCER_CLASSES = ("malignant", "benign")


FASHION_DIR_HINT = ("On the command line, point at a folder holding them with --data-dir DIR "
                    "(nnbook reproduce: --data DIR).")


class DataError(Exception):
    """Data that cannot be loaded; the message says what to do."""


@dataclass
class Data:
    """One data set, split, with integer labels.

    Example
    -------
    >>> d = load_data("breast-cancer")
    >>> d.x_train.shape, d.n_classes
    ((364, 30), 2)
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: Optional[np.ndarray] = None
    y_val: Optional[np.ndarray] = None
    x_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None
    class_names: tuple = ()
    seconds: float = 0.0

    @property
    def n_classes(self):
        return len(self.class_names)

    def split(self, which):
        """(x, labels) of 'train', 'val' or 'test'; DataError if the file lacks it."""
        x, y = getattr(self, f"x_{which}"), getattr(self, f"y_{which}")
        if x is None:
            raise DataError(f"{self.name} has no {which} split (arrays x_{which}, y_{which})")
        return x, y

    def targets(self, labels, one_hot):
        """Labels as one-hot rows (multi-class models) or a float 0/1 vector."""
        if one_hot:
            return datasets.one_hot(labels, self.n_classes, self.x_train.dtype)
        if self.n_classes != 2:
            raise DataError(f"{self.name} has {self.n_classes} classes; the binary models "
                            f"(single, dual, randinit, minibatch) need 2: use --model multiclass")
        return labels.astype(self.x_train.dtype)


def load_data(spec, dtype=np.float64, fashion_dir=None):
    """Load 'fashion-mnist', 'breast-cancer' or a path to an .npz data file.

    Raises
    ------
    DataError
        Missing data (with the install hint) or a malformed file.
    """
    start = time.perf_counter()
    if spec == "fashion-mnist":
        data = _fashion(dtype, fashion_dir)
    elif spec == "breast-cancer":
        data = _breast_cancer(dtype)
    elif spec.endswith(".npz") or os.path.exists(spec):
        data = _npz(spec, dtype)
    else:
        raise DataError(f"unknown data {spec!r}: use fashion-mnist, breast-cancer or a path "
                        f"to an .npz file with x_train, y_train, x_val, y_val")
    data.seconds = time.perf_counter() - start
    return data


def _fashion(dtype, folder):
    try:
        s = datasets.fashion_mnist_split(folder, dtype=dtype)
    except FileNotFoundError as exc:
        raise DataError(f"{exc}\n{FASHION_DIR_HINT}") from exc
    except ValueError as exc:  # a corrupt IDX file: the message names it
        raise DataError(f"Fashion-MNIST is unreadable: {exc}") from exc
    return Data("fashion-mnist", s.x_train, s.y_train, s.x_val, s.y_val, s.x_test, s.y_test,
                tuple(datasets.FASHION_MNIST_CLASSES))


def _breast_cancer(dtype):
    try:
        s = datasets.breast_cancer_split()
    except ImportError as exc:
        raise DataError(str(exc)) from exc

    def cast(a):
        return np.ascontiguousarray(a, dtype=dtype)

    def labels(a):
        return a.astype(np.int64)

    return Data("breast-cancer", cast(s.x_train), labels(s.y_train), cast(s.x_val),
                labels(s.y_val), cast(s.x_test), labels(s.y_test), BREAST_CANCER_CLASSES)


def _npz(path, dtype):
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise DataError(f"{path}: expected an .npz archive of arrays, got a single array")
            arrays = {k: f[k] for k in f.files}
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: unreadable .npz data file ({exc})") from exc
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; a data file holds x_train, "
                        f"y_train and usually x_val, y_val (see `nnbook train --help`)")
    parts = {}
    for which in ("train", "val", "test"):
        x, y = arrays.get(f"x_{which}"), arrays.get(f"y_{which}")
        if (x is None) != (y is None):
            raise DataError(f"{path} has only one of x_{which}, y_{which}")
        if x is not None:
            parts[which] = (_features(x, f"x_{which}", path, dtype), _labels(y, f"y_{which}", path))
            if len(parts[which][0]) != len(parts[which][1]):
                raise DataError(f"{path}: x_{which} has {len(x)} rows but y_{which} has {len(y)}")
    k = int(max(labels.max() for _, labels in parts.values())) + 1
    names = arrays.get("class_names")
    if names is not None:
        names = tuple(str(n) for n in np.asarray(names).reshape(-1))
        if len(names) < k:
            raise DataError(f"{path}: class_names has {len(names)} names but labels go up to {k - 1}")
    else:
        names = tuple(str(i) for i in range(max(k, 2)))
    train, val, test = (parts.get(w, (None, None)) for w in ("train", "val", "test"))
    return Data(os.path.basename(path), *train, *val, *test, names)


def _features(x, key, path, dtype):
    if x.ndim > 2:  # images: flatten each to one row
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.dtype.kind not in "biuf":
        raise DataError(f"{path}: {key} must be a numeric (samples, features) array, "
                        f"got {x.dtype} with shape {x.shape}")
    return np.ascontiguousarray(x, dtype=dtype)


def _labels(y, key, path):
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows -> class indices
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(f"{path}: {key} is 2-D but not one-hot")
        return np.argmax(y, axis=1).astype(np.int64)
    y = y.reshape(-1)
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))) \
            or (y.size and y.min() < 0):
        raise DataError(f"{path}: {key} must hold class labels 0, 1, 2, ... (or one-hot rows)")
    return y.astype(np.int64)
