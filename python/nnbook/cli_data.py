"""The data sets the command line trains on: the book's two, or a user's .npz.

A user's ``.npz`` data file holds the arrays

* ``x_train`` (n, features) and ``y_train``: labels 0..k-1, shape (n,), or
  one-hot rows, shape (n, k);
* ``x_val`` and ``y_val``: the same for validation (optional for ``train``);
* optionally ``x_test``/``y_test`` and ``class_names`` (k strings).

Write one with ``numpy.savez("mydata.npz", x_train=..., y_train=..., x_val=...,
y_val=...)``. Labels are kept as integers here; :meth:`Data.targets` makes
the form a model wants (a 0/1 column or one-hot rows).

The file is read by :mod:`nnbook.io.npz` (never unpickled; sizes checked
before anything is allocated) and refused with a :class:`DataError` naming
it when: it is a folder or not an .npz archive; ``x_train``/``y_train`` are
missing or empty; features hold NaN or infinity, or overflow the chosen
dtype; ``x_val``/``x_test`` have another width than ``x_train``; labels are
not whole numbers >= 0, exceed :data:`MAX_LABEL`, or would make more
classes than there are training rows (without ``class_names``).
"""
import math
import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import datasets
from .io.npz import NpzReader

__all__ = ["DataError", "Data", "load_data", "BOOK_DATA"]

BOOK_DATA = ("fashion-mnist", "breast-cancer")

# Labels are class numbers; a label this large is a mistake (one-hot rows for
# it would not fit in memory), not a class.
MAX_LABEL = 2 ** 20

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
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory; --data takes fashion-mnist, breast-cancer or an "
                        f".npz data file (a folder of Fashion-MNIST files goes to --data-dir)")
    if not os.path.exists(path):
        raise DataError(f"data file not found: {path}")
    with NpzReader(path, error=DataError, what="data file",
                   foreign="not an .npz data file of arrays") as f:
        missing = [k for k in ("x_train", "y_train") if k not in f]
        if missing:
            f.fail(f"lacks {', '.join(missing)}; a data file holds x_train, y_train and usually "
                   f"x_val, y_val (see `nnbook train --help`)")
        parts = {}
        for which in ("train", "val", "test"):
            x_key, y_key = f"x_{which}", f"y_{which}"
            if (x_key in f) != (y_key in f):
                f.fail(f"has only one of {x_key}, {y_key}")
            if x_key in f:
                parts[which] = (_features(f, x_key, dtype), _labels(f, y_key))
                if len(parts[which][0]) != len(parts[which][1]):
                    f.fail(f"{x_key} has {len(parts[which][0])} rows but {y_key} has "
                           f"{len(parts[which][1])}")
        _check_widths(f, parts)
        names = tuple(str(n) for n in f.array("class_names", kinds="US").reshape(-1)) \
            if "class_names" in f else None
        k = _class_count(f, parts, names)
    if names is None:
        names = tuple(str(i) for i in range(max(k, 2)))
    train, val, test = (parts.get(w, (None, None)) for w in ("train", "val", "test"))
    return Data(os.path.basename(path), *train, *val, *test, names)


def _features(f, key, dtype):
    shape = f.shape(key)
    if len(shape) < 2 or shape[0] == 0 or math.prod(shape[1:]) == 0:
        f.fail(f"{key} must be a (samples, features) array with at least one row and one "
               f"feature, got shape {shape}")
    x = f.array(key, kinds="biuf")
    x = x.reshape(len(x), -1)  # images: flatten each to one row
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        f.fail(f"{key} holds NaN or infinite values (first in row {row}); clean or impute "
               f"the data first")
    with np.errstate(over="ignore"):
        cast = np.ascontiguousarray(x, dtype=dtype)
    if not np.isfinite(cast).all():
        f.fail(f"{key} has values beyond the range of {np.dtype(dtype).name}; use --dtype "
               f"float64 or rescale the features")
    return cast


def _labels(f, key):
    y = f.array(key, kinds="biuf")
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows -> class indices
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            f.fail(f"{key} is 2-D but not one-hot rows")
        return np.argmax(y, axis=1).astype(np.int64)
    y = y.reshape(-1)
    if y.size and y.dtype.kind == "f" and not np.isfinite(y).all():
        f.fail(f"{key} holds NaN or infinite labels; labels are 0, 1, 2, ...")
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))) \
            or (y.size and y.min() < 0):
        f.fail(f"{key} must hold class labels 0, 1, 2, ... (or one-hot rows)")
    if y.size and y.max() > MAX_LABEL:
        f.fail(f"{key} holds the label {y.max():.0f}; labels are class numbers 0 .. k-1, at "
               f"most {MAX_LABEL}")
    return y.astype(np.int64)


def _check_widths(f, parts):
    width = parts["train"][0].shape[1]
    for which in ("val", "test"):
        if which in parts and parts[which][0].shape[1] != width:
            f.fail(f"x_{which} has {parts[which][0].shape[1]} features per row but x_train "
                   f"has {width}")


def _class_count(f, parts, names):
    """k, the number of classes: the highest label + 1, no more than the training rows."""
    highest = max(((int(labels.max()), f"y_{w}") for w, (_, labels) in parts.items()),
                  key=lambda t: t[0])
    k = highest[0] + 1
    if names is not None and len(names) < k:
        f.fail(f"class_names has {len(names)} names but {highest[1]} has labels up to "
               f"{k - 1}")
    n_train = len(parts["train"][1])
    if names is None and k > max(2, n_train):
        f.fail(f"{highest[1]} holds the label {k - 1}, which would make {k} classes from "
               f"{n_train} training rows; labels must be class numbers 0 .. k-1")
    return k
