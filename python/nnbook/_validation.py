"""Input checks done once, at the Python boundary, before anything reaches the core.

The one vocabulary of argument checks for the book's classes, nnbook.keras
and the CLI. Every check names the argument, says what was expected and
what it got, and raises TypeError for a value of the wrong kind and
ValueError for a value of the right kind out of range. Inputs are never
modified: conversion makes a new array only when the dtype or layout has to
change, and the core only reads inputs.

What the checks accept:

- integers (sizes, counts): Python or NumPy integers, not bools; sizes that
  reach the core must fit its 32-bit int (at most 2**31 - 1);
- real numbers (rates, penalties): any ``numbers.Real`` except bools,
  converted with ``float()`` (so ``fractions.Fraction`` and NumPy floats
  work), and finite;
- seeds: what scikit-learn's ``check_random_state`` accepts, except bools:
  None, an integer in [0, 2**32 - 1], or a ``numpy.random.RandomState``;
- arrays: anything NumPy turns into a rectangular array of real numbers or
  bools, with no NaN or Inf, and no value beyond the range of the dtype it
  is converted to (float64 data above 3.4e38 does not fit a float32 network).
"""
import numbers

import numpy as np

from . import _nncore
from ._threads import call_threads

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# The core counts rows, units and epochs in C ints.
INT32_MAX = 2**31 - 1
# numpy.random.RandomState takes seeds in [0, 2**32 - 1].
SEED_MAX = 2**32 - 1


class NotFittedError(ValueError, AttributeError):
    """Raised when predict/score/etc. is called before fit (as in scikit-learn)."""


def _shown(value, limit=80):
    """A short description of a received value for a message: its repr, cut, and its type."""
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    if isinstance(value, (bool, np.bool_, int, float, str, type(None))):
        return text
    return f"{text} of type {type(value).__name__}"


def _fail(error, name, expected, value, keras_style):
    """Raise `error` saying that `name` must be `expected` but is `value`.

    keras_style: the wording of Keras's own messages (``Received: name=...``),
    used by nnbook.keras; otherwise the book classes' ``name must be ..., got ...``.
    """
    if keras_style:
        raise error(f"`{name}` must be {expected}. Received: {name}={_shown(value)}")
    raise error(f"{name} must be {expected}, got {_shown(value)}")


def check_dtype(dtype):
    """The network precision: numpy.float32 or numpy.float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt}")
    return dt


def check_positive_int(value, name, minimum=1, maximum=INT32_MAX, keras_style=False):
    """`value` as a Python int in [minimum, maximum]; bools and non-integers refused.

    The default maximum is the core's int limit, so a size the core cannot
    hold is a ValueError naming the argument, not an OverflowError later.

    Example
    -------
    >>> check_positive_int(10, "units")
    10
    >>> check_positive_int(2**31, "units")
    Traceback (most recent call last):
    ...
    ValueError: units must be at most 2147483647 (the core counts in 32-bit integers), got 2147483648
    """
    if keras_style:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}")
    else:
        expected = f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(TypeError, name, expected, value, keras_style)
    if value < minimum:
        _fail(ValueError, name, expected, value, keras_style)
    if maximum is not None and value > maximum:
        _fail(ValueError, name, f"at most {maximum} (the core counts in 32-bit integers)",
              value, keras_style)
    return int(value)


def check_real(value, name, minimum=None, strictly_positive=False, below=None,
               keras_style=False):
    """`value` as a finite Python float, checked against the bounds given.

    Any numbers.Real but bool is accepted and converted with float()
    (fractions.Fraction, NumPy floats and ints); strings, complex numbers,
    None and arrays are a TypeError. minimum: inclusive lower bound;
    strictly_positive: > 0; below: exclusive upper bound.

    Example
    -------
    >>> from fractions import Fraction
    >>> check_real(Fraction(1, 10), "learning_rate", strictly_positive=True)
    0.1
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _fail(TypeError, name, "a real number", value, keras_style)
    try:
        number = float(value)
    except OverflowError:         # an int or Fraction beyond float's range
        _fail(ValueError, name, "a finite number", value, keras_style)
    except (TypeError, ValueError):
        _fail(TypeError, name, "a real number convertible by float()", value, keras_style)
    if not np.isfinite(number):
        _fail(ValueError, name, "finite", number, keras_style)
    low = "> 0" if strictly_positive else None if minimum is None else f">= {minimum}"
    if (strictly_positive and number <= 0) or (minimum is not None and number < minimum) \
            or (below is not None and number >= below):
        if below is not None and minimum is not None:
            expected = f"in [{minimum}, {below})"
        elif below is not None:
            expected = f"< {below}" if low is None else f"{low} and < {below}"
        else:
            expected = low
        _fail(ValueError, name, expected, number, keras_style)
    return number


def check_callable(value, name):
    """`value` if it is None or callable (a hook such as fit's callback)."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function (or None), got {_shown(value)}")
    return value


def check_bool(value, name, keras_style=False):
    """`value` as a bool: True/False (NumPy bools too), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(TypeError, name, "True or False", value, keras_style)
    return bool(value)


def check_seed(value, name="random_state", keras_style=False):
    """A seed as scikit-learn's check_random_state accepts it, bools refused.

    Returns None, a Python int in [0, 2**32 - 1], or the RandomState itself.
    Anything else (a negative or too large int, a float, a string, a
    numpy.random.Generator) raises here, naming `name`.

    Example
    -------
    >>> check_seed(42)
    42
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: random_state must be None, an integer in [0, 4294967295] or a numpy.random.RandomState, got -1
    """
    expected = f"None, an integer in [0, {SEED_MAX}] or a numpy.random.RandomState"
    if value is None or isinstance(value, np.random.RandomState):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(TypeError, name, expected, value, keras_style)
    if not 0 <= value <= SEED_MAX:
        _fail(ValueError, name, expected, value, keras_style)
    return int(value)


def check_random_state(value, name="random_state", reuse=None):
    """The numpy.random.RandomState for a seed (see check_seed).

    None gives a new RandomState seeded from the operating system (never
    NumPy's global state); an int a new RandomState(int); a RandomState is
    returned as it is, so draws continue its stream.

    reuse : RandomState made by an earlier call of the caller's, optional.
        For an int seed it is reseeded and returned instead of a new one:
        the same state as RandomState(int) (Gaussian cache cleared), for
        2 us instead of 150 (creating one seeds MT19937 from a SeedSequence
        first). Never pass a RandomState the user handed in.

    Example
    -------
    >>> check_random_state(42).normal() == np.random.RandomState(42).normal()
    True
    """
    value = check_seed(value, name)
    if isinstance(value, np.random.RandomState):
        return value
    if reuse is not None and value is not None:
        reuse.seed(value)
        return reuse
    return np.random.RandomState(value)


def _first_non_number(arr):
    """(True, the first element of an object array that is not a real number), or (False, None)."""
    for item in arr.flat:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
            return True, item
    return False, None


def _as_numeric_array(a, name):
    """`a` as an ndarray of real numbers or bools (no copy when it already is one)."""
    if a is None:
        raise TypeError(f"{name} is required, got None")
    if isinstance(a, (str, bytes, dict, set, frozenset)):
        raise TypeError(f"{name} must be an array of numbers, got a {type(a).__name__}")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as err:
        # NumPy's own words say what failed (ragged rows, a bad __array__)
        raise ValueError(f"{name} must be a rectangular array of numbers (every row the same "
                         f"length), got a {type(a).__name__} NumPy cannot convert: "
                         f"{err}") from None
    if arr.dtype == object:
        if arr.ndim == 0:
            raise TypeError(f"{name} must be an array of numbers, got a {type(a).__name__}")
        found, bad = _first_non_number(arr)
        if not found:
            raise TypeError(f"{name} must be an array of numbers that NumPy can store as "
                            f"numbers (integers beyond 64 bits cannot be), got dtype object")
        raise TypeError(f"{name} must be an array of numbers, got an element "
                        f"{_shown(bad)}")
    if arr.dtype.kind in "mM":
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype} "
                        f"(dates and time spans are not features)")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    return arr


# arrays of at least this many values are checked by the core, on its threads
CORE_FINITE_CHECK = 1 << 16


def _all_finite(arr):
    """Whether every value of a floating-point array is finite. False can
    also mean finite data whose sum overflows (the NumPy path below); the
    callers then look element by element."""
    if (arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous
            and arr.size >= CORE_FINITE_CHECK):
        # Fashion-MNIST's 37.6 million values: 12 ms (float32) and 19 ms
        # (float64) for NumPy's sum, the bulk of a fit's set-up
        return _nncore.array_is_finite(arr.reshape(-1), call_threads())
    # the sum is NaN or infinite whenever an element is, and one reduction
    # costs about half of isfinite's mask; a sum that overflows on finite
    # data sends the caller to the element check
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(arr, axis=None)))


def _check_finite(arr, name, hint="clean or impute the data first"):
    if not np.issubdtype(arr.dtype, np.floating):
        return
    if _all_finite(arr):
        return
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = ", ".join(str(int(i)) for i in bad)
        raise ValueError(f"{name} contains NaN or Inf (first at index [{where}]); {hint}")


def _converted(arr, name, dtype, hint="clean or impute the data first"):
    """arr as a C-contiguous array of `dtype`, refusing NaN/Inf and values `dtype` cannot hold.

    A narrowing cast (float64 -> float32) is checked on its result, which
    costs one pass and catches exactly the values that would become inf;
    other casts cannot overflow and are checked on the input. A 0-d input
    stays 0-d (np.ascontiguousarray would make it 1-d).
    """
    dtype = np.dtype(dtype)
    narrowing = arr.dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize
    if not narrowing:
        _check_finite(arr, name, hint)
        return np.asarray(arr, dtype=dtype, order="C")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(arr, dtype=dtype, order="C")
    if not _all_finite(out) and not np.isfinite(out).all():
        _check_finite(arr, name, hint)
        bad = tuple(np.argwhere(~np.isfinite(out))[0])
        where = ", ".join(str(int(i)) for i in bad)
        raise ValueError(f"{name} holds {float(arr[bad]):.6g} at index [{where}], beyond the "
                         f"range of the network's {dtype.name} (largest magnitude "
                         f"{float(np.finfo(dtype).max):.6g}); rescale it (e.g. standardize "
                         f"the features) or use a float64 network")
    return out


def as_array(a, name, dtype, hint="clean or impute the data first"):
    """`a` of any shape as a C-contiguous array of `dtype`: numbers only, finite, in range."""
    return _converted(_as_numeric_array(a, name), name, dtype, hint)


def as_parameter(value, name, shape, dtype, exact=False):
    """A new value for a weight or bias of `shape`: numbers, finite, in range for `dtype`.

    Accepts the exact shape, a scalar (set every entry), or the same values
    with length-1 axes added or dropped ((3,) for a (3, 1) column); refuses a
    transposed matrix or any other shape of the same size. exact: only the
    exact shape (Keras's set_weights).

    Example
    -------
    >>> as_parameter([1, 2, 3], "w", (3, 1), np.float64).shape
    (3, 1)
    """
    arr = _as_numeric_array(value, name)
    shape = tuple(shape)
    scalar = arr.ndim == 0
    squeezed = tuple(d for d in arr.shape if d != 1)
    if arr.shape != shape and (exact or (not scalar
                                         and squeezed != tuple(d for d in shape if d != 1))):
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    arr = _converted(arr, name, dtype, "weights must be finite numbers")
    return np.broadcast_to(arr.reshape(() if scalar else shape), shape)
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
    return _converted(arr, name, dtype)


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
