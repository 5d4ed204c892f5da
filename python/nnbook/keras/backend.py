"""Session-wide settings, as in ``keras.backend``: the default float type and
the layer-name counters.

Example
-------
>>> from nnbook.keras import backend
>>> backend.floatx()
'float32'
"""
import collections

from .._validation import check_dtype

_FLOATX = "float32"
_NAME_COUNTS = collections.Counter()


def floatx():
    """The float type new models use: 'float32' (Keras's default) or 'float64'."""
    return _FLOATX


def set_floatx(value):
    """Set the float type of models created from now on.

    Parameters
    ----------
    value : {'float32', 'float64'}

    Example
    -------
    >>> set_floatx('float64'); set_floatx('float32')
    """
    global _FLOATX
    try:
        _FLOATX = check_dtype(value).name
    except TypeError:
        raise ValueError(f"Unknown `floatx` value: expected 'float32' or 'float64'. "
                         f"Received: value={value!r}") from None


def unique_name(prefix):
    """'dense', then 'dense_1', 'dense_2', ... (Keras's automatic names)."""
    count = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session():
    """Restart the automatic layer and model names ('dense', 'sequential', ...)."""
    _NAME_COUNTS.clear()
