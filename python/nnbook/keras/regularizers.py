"""Weight and activity penalties (``keras.regularizers``): L1, L2 and L1L2.

A regularizer adds ``l1 * sum(|x|) + l2 * sum(x**2)`` to the loss (Keras's
form: no 1/2 on the L2 term). On a Dense layer, ``kernel_regularizer`` and
``bias_regularizer`` penalise its weights (only while the layer is
trainable, as in Keras), and ``activity_regularizer`` its output, divided by
the rows of the batch. The core computes the penalties and their gradients;
a regularizer here holds the two factors, and calling it on an array gives
Keras's penalty, for checking.

Names, as ``keras.regularizers.get`` takes them: 'l1' -> ``L1(0.01)``,
'l2' -> ``L2(0.01)``, 'l1_l2' -> ``L1L2(l1=0.01, l2=0.01)`` (the defaults
Keras documents for that string; Keras 3.15 itself refuses 'l1_l2'), and
'L1L2' / 'l1l2' -> ``L1L2()``, whose factors default to 0 as the class's do.
Factors are non-negative finite real numbers, kept exactly (Keras rounds
L1's factor to float32).

Example
-------
>>> import numpy as np
>>> from nnbook.keras import regularizers
>>> float(regularizers.L2(2.0)(np.ones((5, 5))))
50.0
>>> regularizers.get('l1_l2').get_config()
{'l1': 0.01, 'l2': 0.01}
"""
import numpy as np

from .._validation import check_real

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "deserialize"]


def _factor(value, name, default):
    """Keras's check of a penalty factor: a non-negative, finite real number."""
    if value is None:
        return default
    try:
        return check_real(value, name, minimum=0, keras_style=True)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}") from None


class Regularizer:
    """Base class: ``l1`` and ``l2`` factors, ``regularizer(x)`` the penalty on x.

    Example
    -------
    >>> L1L2(l1=0.1, l2=0.2).factors()
    (0.1, 0.2)
    """

    l1 = l2 = 0.0

    def factors(self):
        """(l1, l2): the penalty is l1 * sum|x| + l2 * sum x^2."""
        return self.l1, self.l2

    def __call__(self, x):
        arr = np.asarray(x)
        dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
        arr = arr.astype(dtype, copy=False)
        penalty = dtype.type(0)
        if self.l1:
            penalty += dtype.type(self.l1) * np.sum(np.abs(arr), dtype=dtype)
        if self.l2:
            penalty += dtype.type(self.l2) * np.sum(np.square(arr), dtype=dtype)
        return penalty

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, self.factors()))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0.

    Example
    -------
    >>> L1L2(l1=0.01, l2=0.01)
    L1L2(l1=0.01, l2=0.01)
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", 0.0)
        self.l2 = _factor(l2, "l2", 0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``, default l1=0.01.

    Example
    -------
    >>> float(L1(0.5)([-1.0, 2.0]))
    1.5
    """

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1", 0.01)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``, default l2=0.01.

    Example
    -------
    >>> float(L2(0.5)([-1.0, 2.0]))
    2.5
    """

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2", 0.01)

    def get_config(self):
        return {"l2": self.l2}


# Keras's lower-case aliases are the classes themselves.
l1, l2, l1_l2 = L1, L2, L1L2

_BY_CLASS = {cls.__name__: cls for cls in (L1, L2, L1L2)}
_BY_STRING = {"l1": L1, "l2": L2, "l1l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def serialize(regularizer):
    """``{'class_name': 'L2', 'config': {'l2': 0.01}}``, or None for None."""
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config):
    """The regularizer of a ``serialize`` result (Keras's dicts too)."""
    return get(config)


def get(identifier, argument="regularizer"):
    """A Regularizer (or None) from None, a name, a serialized dict or a Regularizer.

    Example
    -------
    >>> get('l2')
    L2(l2=0.01)
    >>> get({'class_name': 'L1', 'config': {'l1': 0.5}})
    L1(l1=0.5)
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_CLASS.get(identifier.get("class_name"))
        config = identifier.get("config") or {}
        if cls is not None and isinstance(config, dict):
            try:
                return cls(**config)
            except TypeError as exc:
                raise ValueError(f"Invalid `{argument}` config for {cls.__name__}: {exc}. "
                                 f"Received: {argument}={identifier!r}") from None
    if isinstance(identifier, str):
        if identifier == "l1_l2":
            return L1L2(l1=0.01, l2=0.01)
        if identifier in _BY_STRING:
            return _BY_STRING[identifier]()
    raise ValueError(f"Could not interpret regularizer identifier: expected None, 'l1', "
                     f"'l2', 'l1_l2' or a regularizer (regularizers.L1, L2, L1L2). "
                     f"Received: {argument}={identifier!r}")
