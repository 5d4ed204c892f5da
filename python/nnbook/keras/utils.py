"""Helpers of ``keras.utils``: one-hot encoding and the random seed.

All randomness of nnbook.keras (initial weights, the per-epoch shuffle) comes
from one private ``numpy.random.Generator``; NumPy's global state is never
touched. Without ``set_random_seed`` it is seeded from the OS, so runs
differ, as in Keras.

Example
-------
>>> from nnbook.keras.utils import to_categorical
>>> to_categorical([0, 2, 1])
array([[1., 0., 0.],
       [0., 0., 1.],
       [0., 1., 0.]], dtype=float32)
"""
import numbers

import numpy as np

_GENERATOR = np.random.default_rng()


def set_random_seed(seed):
    """Seed nnbook.keras's random generator (initializers and shuffles).

    Parameters
    ----------
    seed : int >= 0

    Example
    -------
    >>> set_random_seed(42)
    """
    global _GENERATOR
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"Expected `seed` to be a non-negative integer. Received: seed={seed!r}")
    _GENERATOR = np.random.default_rng(int(seed))


def generator():
    """The shared numpy Generator (internal)."""
    return _GENERATOR


def class_labels(y, name, num_classes=None):
    """y as a 1-D int64 vector of class indices, checked; accepts (n,) or (n, 1)."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must hold integer class labels, shape (samples,). "
                         f"Received: {name}.shape={arr.shape}")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"`{name}` must hold integer class labels. Received: dtype={arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"`{name}` contains NaN or Inf")
        if (arr != np.round(arr)).any():
            raise ValueError(f"`{name}` must hold whole-number class labels; found "
                             f"{arr[arr != np.round(arr)][0]}")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"`{name}` has a negative class label: {labels.min()}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(f"`{name}` has class label {labels.max()}, but there are only "
                         f"{num_classes} classes (labels must be in 0..{num_classes - 1})")
    return labels


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels.

    Parameters
    ----------
    y : array_like of int, shape (n,) or (n, 1)
    num_classes : int, optional
        Default ``max(y) + 1``.
    dtype : default 'float32'

    Returns
    -------
    ndarray, shape (n, num_classes)

    Example
    -------
    >>> to_categorical([1, 0], num_classes=3)
    array([[0., 1., 0.],
           [1., 0., 0.]], dtype=float32)
    """
    if num_classes is not None:
        if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, numbers.Integral) \
                or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive integer. "
                             f"Received: num_classes={num_classes!r}")
        num_classes = int(num_classes)
    labels = class_labels(y, "y", num_classes)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out
