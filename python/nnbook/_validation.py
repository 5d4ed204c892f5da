"""Input checks done once, at the Python boundary, before arrays reach the core.

Every check names the argument, what was expected and what it got. Inputs are
never modified: conversion makes a new array only when the dtype or layout
has to change, and the core only reads inputs.
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class NotFittedError(ValueError, AttributeError):
    """Raised when predict/score/etc. is called before fit (as in scikit-learn)."""


def check_dtype(dtype):
    """The network precision: numpy.float32 or numpy.float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt}")
    return dt


def check_positive_int(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_real(value, name, minimum=None, strictly_positive=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if strictly_positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _as_numeric_array(a, name):
    if a is None:
        raise TypeError(f"{name} is required, got None")
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    return arr


def _check_finite(arr, name):
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = ", ".join(str(int(i)) for i in bad)
        raise ValueError(f"{name} contains NaN or Inf (first at index [{where}]); "
                         f"clean or impute the data first")


def as_matrix(x, name, dtype, n_features=None, fitted_with=None):
    """x as a C-contiguous (n, features) array of `dtype`, checked.

    n_features: the expected feature count, if fixed; fitted_with: says in
    the message that the count comes from fit.
    """
    arr = _as_numeric_array(x, name)
    if arr.ndim != 2:
        hint = " (reshape a single sample with x.reshape(1, -1), or flatten images first)"
        raise ValueError(f"{name} must be a 2-D array (samples, features), got {arr.ndim}-D "
                         f"with shape {arr.shape}{hint if arr.ndim in (1, 3) else ''}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples, shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 features, shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        if fitted_with:
            raise ValueError(f"{name} has {arr.shape[1]} features but the network was "
                             f"fitted with {n_features}")
        raise ValueError(f"{name} must have {n_features} features, got {arr.shape[1]}")
    _check_finite(arr, name)
    return np.ascontiguousarray(arr, dtype=dtype)


def as_binary_targets(y, name, n_rows, dtype, x_name="x"):
    """y as a (n, 1) column of 0/1 targets (accepts (n,) or (n, 1))."""
    arr = _as_numeric_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of 0/1 labels (or a column), "
                         f"got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} labels but {x_name} has {n_rows} samples")
    _check_finite(arr, name)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must hold binary targets in [0, 1], got values from "
                         f"{arr.min()} to {arr.max()}")
    return np.ascontiguousarray(arr, dtype=dtype).reshape(-1, 1)


def as_one_hot(y, name, n_rows, dtype, n_classes=None, x_name="x"):
    """y as (n, k) one-hot rows: each row has exactly one 1 and zeros elsewhere."""
    arr = _as_numeric_array(y, name)
    if arr.ndim != 2:
        hint = (" (encode integer labels with nnbook.datasets.one_hot or "
                "keras.utils.to_categorical)") if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be one-hot encoded, shape (samples, classes), got "
                         f"shape {arr.shape}{hint}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but {x_name} has {n_rows} samples")
    if n_classes is not None and arr.shape[1] != n_classes:
        raise ValueError(f"{name} has {arr.shape[1]} classes but the network was fitted "
                         f"with {n_classes}")
    if arr.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got {arr.shape[1]}")
    _check_finite(arr, name)
    ones = arr == 1
    if not (np.logical_or(ones, arr == 0).all() and (ones.sum(axis=1) == 1).all()):
        bad = int(np.argmax(~(np.logical_or(ones, arr == 0).all(axis=1)
                              & (ones.sum(axis=1) == 1))))
        raise ValueError(f"{name} is not one-hot: row {bad} is {arr[bad].tolist()}; every "
                         f"row must have exactly one 1 and 0 elsewhere")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_pair(x, y, x_name, y_name):
    """Both or neither of x_val / y_val."""
    if (x is None) != (y is None):
        given, missing = (x_name, y_name) if y is None else (y_name, x_name)
        raise ValueError(f"{given} was given without {missing}; pass both or neither")
