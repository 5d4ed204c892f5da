"""Layers: ``Dense`` (the only computing layer) and ``Input``/``InputLayer``.

A Dense layer checks its arguments in ``__init__``, draws its weights in
``build`` once the input size is known, and then lives inside its model's
compiled network: ``kernel`` and ``bias`` are views of the core's flat
parameter vector, so training moves them in place.

Arguments are checked where they are given, each error naming the argument:
``units`` and the input size are integers from 1 to 2**31 - 1 (the core's
int), ``use_bias`` is True or False, and weights passed to ``set_weights``
must have the layer's shapes and hold finite numbers that fit its dtype.

Example
-------
>>> from nnbook.keras.layers import Dense
>>> layer = Dense(10, activation='softmax', input_shape=(784,))
>>> layer.units, layer.activation
(10, 'softmax')
"""
import numbers

import numpy as np

from .. import _nncore
from .._validation import INT32_MAX, as_parameter, check_bool, check_positive_int
from . import backend, initializers

ACTIVATIONS = tuple(_nncore.ACTIVATIONS)   # linear, sigmoid, tanh, relu, softmax


def _check_shape(shape, argument):
    """A 1-D feature shape like (784,) -> 784 (at most 2**31 - 1 features)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims and len(dims) == 2 and dims[0] is None:
        dims = dims[1:]             # a full shape with the batch axis, (None, 784)
    if not dims or len(dims) != 1 or not isinstance(dims[0], numbers.Integral) \
            or isinstance(dims[0], (bool, np.bool_)) or not 1 <= dims[0] <= INT32_MAX:
        raise ValueError(f"`{argument}` must be a tuple of one positive integer (at most "
                         f"{INT32_MAX}), the number of input features, e.g. (784,) (Dense layers take flat vectors: "
                         f"flatten images with x.reshape(len(x), -1)). Received: "
                         f"{argument}={shape!r}")
    return int(dims[0])


class InputLayer:
    """The input of a Sequential model: declares the number of features.

    Parameters
    ----------
    shape : tuple of one int, e.g. (784,)
    name : str, optional

    Example
    -------
    >>> from nnbook.keras import Sequential, Input
    >>> from nnbook.keras.layers import Dense
    >>> model = Sequential([Input(shape=(4,)), Dense(2)])
    """

    def __init__(self, shape=None, name=None, input_shape=None, batch_size=None):
        if shape is None:
            shape = input_shape
        self.input_dim = _check_shape(shape, "shape")
        self.name = name or backend.unique_name("input")
        self.shape = (None, self.input_dim)

    def __repr__(self):
        return f"<InputLayer name={self.name!r} shape={self.shape}>"


def Input(shape=None, name=None, batch_size=None):
    """``keras.Input(shape=(784,))``: an input declaration for Sequential."""
    return InputLayer(shape=shape, name=name, batch_size=batch_size)


class Dense:
    """A fully connected layer: ``output = activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int > 0
    activation : {None, 'linear', 'sigmoid', 'tanh', 'relu', 'softmax'}
        None means 'linear'.
    use_bias : bool, default True
    kernel_initializer : str or Initializer, default 'glorot_uniform'
        'glorot_uniform', 'glorot_normal', 'he_normal', 'he_uniform',
        'random_normal', 'random_uniform', 'zeros', 'ones'.
    bias_initializer : str or Initializer, default 'zeros'
    input_shape : tuple of one int, optional
        Only on a model's first layer: the number of input features.
    input_dim : int, optional
        Same as ``input_shape=(input_dim,)``.
    name : str, optional
        Default 'dense', 'dense_1', ...

    Example
    -------
    >>> Dense(100, activation='sigmoid', input_shape=(784,)).input_dim
    784
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, input_dim=None, name=None,
                 trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"Dense got unsupported keyword argument(s) {sorted(kwargs)}; "
                            f"nnbook.keras.layers.Dense supports units, activation, use_bias, "
                            f"kernel_initializer, bias_initializer, input_shape, input_dim, "
                            f"name and trainable")
        self.trainable = trainable
        self.units = check_positive_int(units, "units", keras_style=True)
        act = "linear" if activation is None else activation
        if not isinstance(act, str) or act.lower() not in ACTIVATIONS:
            raise ValueError(f"Unknown activation: expected None or one of {list(ACTIVATIONS)}. "
                             f"Received: activation={activation!r}")
        self.activation = act.lower()
        self.use_bias = check_bool(use_bias, "use_bias", keras_style=True)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        if input_shape is not None and input_dim is not None:
            raise ValueError("Pass `input_shape` or `input_dim`, not both. Received: "
                             f"input_shape={input_shape!r}, input_dim={input_dim!r}")
        self.input_dim = None
        if input_shape is not None:
            self.input_dim = _check_shape(input_shape, "input_shape")
        elif input_dim is not None:
            self.input_dim = _check_shape(input_dim, "input_dim")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")
        self.name = name or backend.unique_name("dense")
        self.built = False
        self._kernel = None
        self._bias = None

    @property
    def trainable(self):
        """False freezes the layer: fit leaves its weights (and their optimizer
        state) as they are, and summary() counts them as non-trainable."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = check_bool(value, "trainable", keras_style=True)

    @property
    def trainable_weights(self):
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.weights

    # -- weights -----------------------------------------------------------
    def build(self, input_dim, dtype=None):
        """Draw the initial kernel (input_dim, units) and bias (units,)."""
        input_dim = _check_shape(input_dim, "input_shape")
        if self.built:
            if input_dim != self._kernel.shape[0]:
                raise ValueError(f"Layer '{self.name}' was built for {self._kernel.shape[0]} "
                                 f"inputs and cannot take {input_dim}")
            return
        dtype = dtype or backend.floatx()
        self._kernel = self.kernel_initializer((input_dim, self.units), dtype)
        self._bias = self.bias_initializer((self.units,), dtype) if self.use_bias else None
        self.input_dim = input_dim
        self.built = True

    def _bind(self, kernel_view, bias_view):
        """Move the weights into the model's parameter vector and keep views of them."""
        kernel_view[...] = self._kernel
        if bias_view is not None:
            bias_view[...] = self._bias
        self._kernel, self._bias = kernel_view, bias_view

    @property
    def kernel(self):
        """The weight matrix (input_dim, units), live; None before build."""
        return self._kernel

    @property
    def bias(self):
        """The bias (units,), live; None before build or without bias."""
        return self._bias

    @property
    def weights(self):
        return [w for w in (self._kernel, self._bias) if w is not None]

    def get_weights(self):
        """Copies of [kernel, bias] (or [kernel] without bias)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy [kernel, bias] into the layer.

        Each array must have the shape of the weight it replaces and hold
        finite numbers that fit the layer's dtype; nothing is copied unless
        all of them do.
        """
        if not self.built:
            raise ValueError(f"Layer '{self.name}' has no weights yet: build the model first")
        current = self.weights
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a "
                             f"weight list of length {len(weights)}, but the layer was "
                             f"expecting {len(current)} weights.")
        checked = []
        for i, (cur, new) in enumerate(zip(current, weights)):
            what = f"weights[{i}] ({'kernel' if i == 0 else 'bias'}) of layer '{self.name}'"
            checked.append(as_parameter(new, what, cur.shape, cur.dtype, exact=True))
        for cur, new in zip(current, checked):
            cur[...] = new

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             f"the layer isn't built.")
        return sum(w.size for w in self.weights)

    @property
    def output_shape(self):
        return (None, self.units)

    @property
    def input_shape(self):
        return (None, self.input_dim) if self.input_dim is not None else None

    # -- serialization -----------------------------------------------------
    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "trainable": self.trainable,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "input_dim": self.input_dim}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<Dense name={self.name!r} units={self.units} activation={self.activation!r}>"
