"""Helpers of ``keras.utils``: one-hot encoding and the random seed.

All randomness of nnbook.keras (initial weights, the per-epoch shuffle) comes
from one private ``numpy.random.Generator``; NumPy's global state is never
touched. Without ``set_random_seed`` it is seeded from the OS, so runs
differ, as in Keras.

Seeds (``set_random_seed``, the initializers' ``seed``) are accepted as
scikit-learn's ``check_random_state`` accepts them, bools excepted: None, an
integer in [0, 2**32 - 1], or a ``numpy.random.RandomState``; anything else
raises at once, naming the argument.

Example
-------
>>> from nnbook.keras.utils import to_categorical
>>> to_categorical([0, 2, 1])
array([[1., 0., 0.],
       [0., 0., 1.],
       [0., 1., 0.]], dtype=float32)
"""
import numpy as np

from .._validation import (_as_numeric_array, _check_finite, check_positive_int, check_seed)

_GENERATOR = np.random.default_rng()


def generator_for(seed, name="seed"):
    """A new numpy Generator for a seed, checked (see the module docstring).

    An int gives ``default_rng(seed)``; None fresh entropy from the OS; a
    RandomState seeds the Generator with four 32-bit words drawn from it,
    so the same RandomState state gives the same Generator and its stream
    advances, as when scikit-learn is handed a RandomState.

    Example
    -------
    >>> generator_for(7).random() == np.random.default_rng(7).random()
    True
    """
    seed = check_seed(seed, name, keras_style=True)
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**32, size=4, dtype=np.uint64))
    return np.random.default_rng(seed)


def set_random_seed(seed):
    """Seed nnbook.keras's random generator (initializers and shuffles).

    Parameters
    ----------
    seed : int in [0, 2**32 - 1], numpy.random.RandomState or None
        None reseeds from the operating system; anything else (a negative
        int, a float, a string, a bool) raises here.

    Example
    -------
    >>> set_random_seed(42)
    """
    global _GENERATOR
    _GENERATOR = generator_for(seed)


def generator():
    """The shared numpy Generator (internal)."""
    return _GENERATOR


def class_labels(y, name, num_classes=None):
    """y as a 1-D int64 vector of class indices, checked; accepts (n,) or (n, 1)."""
    arr = _as_numeric_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must hold integer class labels, shape (samples,). "
                         f"Received: {name}.shape={arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        _check_finite(arr, name)
        if (arr != np.round(arr)).any():
            raise ValueError(f"`{name}` must hold whole-number class labels; found "
                             f"{arr[arr != np.round(arr)][0]}")
        if arr.size and np.abs(arr).max() > 2**62:
            # beyond this a cast to int64 wraps around: no class index is this large
            raise ValueError(f"`{name}` has class label {np.abs(arr).max():.6g}, far beyond "
                             f"any number of classes")
    elif arr.dtype == np.uint64 and arr.size and arr.max() > 2**62:
        raise ValueError(f"`{name}` has class label {arr.max()}, far beyond any number of "
                         f"classes")
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
        num_classes = check_positive_int(num_classes, "num_classes", keras_style=True)
    labels = class_labels(y, "y", num_classes)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out
