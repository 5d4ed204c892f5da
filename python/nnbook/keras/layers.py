"""Layers of a dense network: ``Dense``, ``Activation``, ``Dropout``,
``BatchNormalization``, ``Flatten`` and ``Input``/``InputLayer``.

A layer checks its arguments in ``__init__``, creates its weights in
``build`` once its input shape is known, and then lives inside its model's
compiled network: its weights are views of the core's flat parameter
vector, so training moves them in place. The model turns its layers into
the core's *stages* (dense, batchnorm, dropout, activation): each layer says
which stages it needs (``_stages``), and binds its weights to the stage that
holds them (``_bind``).

What each layer does, as Keras 3 does it:

- ``Dense``: ``activation(x @ kernel + bias)``, with optional L1/L2
  ``kernel_regularizer``, ``bias_regularizer`` and ``activity_regularizer``
  (the activity penalty on the layer's output, divided by the batch's rows).
  Its input must be flat: on a multi-dimensional input (e.g. ``Input((28,
  28))``) Keras applies a Dense to the last axis only, which nnbook does not;
  add ``Flatten()`` first.
- ``Activation``: applies an activation by name. Right after a linear Dense
  it runs inside that Dense (the same numbers, one pass less).
- ``Dropout(rate)``: inverted dropout, active only while training: each unit
  is zeroed with probability ``rate`` and the kept ones are scaled by
  ``1 / (1 - rate)``; identity at inference. Reproducible from ``seed`` (or,
  without one, from nnbook.keras's generator, seeded by
  ``utils.set_random_seed``).
- ``BatchNormalization``: in training, normalises each feature with the
  batch mean and the biased batch variance, then scales by ``gamma`` and
  shifts by ``beta``; after each batch ``moving = moving * momentum + batch
  * (1 - momentum)``. At inference it uses the moving statistics, and so does
  a frozen layer (``trainable = False``) in training, as in Keras. The moving
  statistics are never trained. Normalises the last axis of a flat input.
- ``Flatten``: reshapes each sample to one vector (no computation).

Activations by name: ``ACTIVATIONS`` (linear, sigmoid, tanh, relu, softmax
and the further ones the core has, e.g. elu, selu, gelu, silu (alias
swish), leaky_relu, softplus, softsign, hard_sigmoid, exponential).

Arguments are checked where they are given, each error naming the argument:
``units`` and sizes are integers from 1 to 2**31 - 1 (the core's int),
flags are True or False, ``rate`` is a real number in [0, 1), and weights
passed to ``set_weights`` must have the layer's shapes and hold finite
numbers that fit its dtype. Layers nnbook does not have (``Conv2D``,
``LSTM``, ...) raise an error saying that nnbook is for dense networks.

Example
-------
>>> from nnbook.keras.layers import Dense
>>> layer = Dense(10, activation='softmax', input_shape=(784,))
>>> layer.units, layer.activation
(10, 'softmax')
"""
import math
import numbers

import numpy as np

from .. import _nncore
from .._validation import (INT32_MAX, as_parameter, check_bool, check_positive_int,
                           check_real, check_seed)
from . import backend, initializers, regularizers, utils
from ._stages import Stage

# Keras's other names for an activation the core has under one name.
_ACTIVATION_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
ACTIVATIONS = tuple(dict.fromkeys(list(_nncore.ACTIVATIONS) + [
    a for a, name in _ACTIVATION_ALIASES.items() if name in _nncore.ACTIVATIONS]))
# Activations whose backward pass needs their input: they run as a stage of
# their own after a linear dense stage.
NEEDING_INPUT = frozenset(getattr(_nncore, "ACTIVATIONS_NEEDING_INPUT", ()))

SUPPORTED = ("Input", "InputLayer", "Dense", "Activation", "Dropout", "BatchNormalization",
             "Flatten")


def _activation(value, argument="activation"):
    """The core's name of an activation given by name (None -> 'linear')."""
    name = "linear" if value is None else value
    if isinstance(name, str):
        name = _ACTIVATION_ALIASES.get(name, name)
        if name in _nncore.ACTIVATIONS:
            return name
    raise ValueError(f"Unknown activation: expected None or one of {list(ACTIVATIONS)}. "
                     f"Received: {argument}={value!r}")


def _check_shape(shape, argument):
    """A feature shape like (784,) or (28, 28) -> a tuple of ints (the batch axis
    excluded; a 2-tuple (None, 784) is taken as batch axis + features)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims and len(dims) == 2 and dims[0] is None:
        dims = dims[1:]             # a full shape with the batch axis, (None, 784)
    ok = bool(dims) and all(isinstance(d, numbers.Integral)
                            and not isinstance(d, (bool, np.bool_)) and d >= 1 for d in dims)
    if not ok or math.prod(dims) > INT32_MAX:
        raise ValueError(f"`{argument}` must be a tuple of positive integers, the shape of "
                         f"one sample without the batch axis, e.g. (784,) or (28, 28), with at "
                         f"most {INT32_MAX} values in all. Received: {argument}={shape!r}")
    return tuple(int(d) for d in dims)


def _shape_text(shape):
    return str((None,) + tuple(shape))


def _check_name(name):
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")
    return name


class Layer:
    """Base class: name, ``trainable``, shapes, weights and their config.

    Subclasses set ``_prefix`` (the automatic name), ``_weight_names`` and
    implement ``_create_weights``, ``compute_output_shape`` and ``_stages``.
    """

    _prefix = "layer"

    def __init__(self, name=None, trainable=True, input_shape=None):
        self.name = _check_name(name) or backend.unique_name(self._prefix)
        self.trainable = trainable
        self._declared_input_shape = (None if input_shape is None
                                      else _check_shape(input_shape, "input_shape"))
        self._input_shape = None
        self._weights = {}          # name -> array (the core's view once bound)
        self.built = False

    # -- trainable -----------------------------------------------------------
    @property
    def trainable(self):
        """False freezes the layer: fit leaves its weights (and their optimizer
        state) as they are, and summary() counts them as non-trainable."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = check_bool(value, "trainable", keras_style=True)

    # -- shapes ----------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        """The output shape of one sample for an input of `input_shape` (no batch axis)."""
        return tuple(input_shape)

    @property
    def input_shape(self):
        shape = self._input_shape or self._declared_input_shape
        return None if shape is None else (None,) + tuple(shape)

    @property
    def output_shape(self):
        if self._input_shape is None:
            raise ValueError(f"Layer '{self.name}' has no defined output shape yet: build "
                             f"its model first")
        return (None,) + tuple(self.compute_output_shape(self._input_shape))

    # -- weights ---------------------------------------------------------------
    def build(self, input_shape, dtype=None):
        """Create the weights for inputs of `input_shape` (one sample's shape)."""
        input_shape = _check_shape(input_shape, "input_shape")
        self.compute_output_shape(input_shape)      # raises on inputs the layer cannot take
        if self.built and input_shape != self._input_shape:
            if self._weights:
                raise ValueError(f"Layer '{self.name}' was built for inputs of shape "
                                 f"{_shape_text(self._input_shape)} and cannot take "
                                 f"{_shape_text(input_shape)}")
        if not self.built:
            self._weights = self._create_weights(input_shape, dtype or backend.floatx())
        self._input_shape = input_shape
        self.built = True

    def _create_weights(self, input_shape, dtype):
        return {}

    def _weight_shapes(self, input_shape):
        """The shapes of the weights on inputs of `input_shape`, in Keras's order."""
        return []

    def _weight_list(self):
        return [(k, w) for k, w in self._weights.items() if w is not None]

    @property
    def weights(self):
        """The layer's weights, live, in Keras's order."""
        return [w for _, w in self._weight_list()]

    @property
    def trainable_weights(self):
        return [w for k, w in self._weight_list() if self.trainable and self._learned(k)]

    @property
    def non_trainable_weights(self):
        return [w for k, w in self._weight_list() if not (self.trainable and self._learned(k))]

    def _learned(self, weight_name):
        """Whether the optimizer trains this weight (moving statistics are not)."""
        return True

    def get_weights(self):
        """Copies of the layer's weights, in Keras's order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy new values into the layer's weights (same order and shapes as get_weights).

        Each array must have the shape of the weight it replaces and hold
        finite numbers that fit the layer's dtype; nothing is copied unless
        all of them do.
        """
        current = self._weight_list()
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a "
                             f"weight list of length {len(weights)}, but the layer was "
                             f"expecting {len(current)} weights.")
        if current and not self.built:
            raise ValueError(f"Layer '{self.name}' has no weights yet: build the model first")
        checked = []
        for i, ((key, cur), new) in enumerate(zip(current, weights)):
            what = f"weights[{i}] ({key}) of layer '{self.name}'"
            checked.append(self._check_weight(key, as_parameter(new, what, cur.shape, cur.dtype,
                                                                exact=True), what))
        for (_, cur), new in zip(current, checked):
            cur[...] = new

    def _check_weight(self, key, value, what):
        return value

    def count_params(self):
        """The number of weights (trainable or not)."""
        if self._has_weights() and not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             f"the layer isn't built.")
        return sum(w.size for w in self.weights)

    def _has_weights(self):
        return False

    def _bind(self, core, stage):
        """Move the weights into the core's parameter vector at `stage`; keep views."""

    # -- core stages -----------------------------------------------------------
    def _stages(self, input_shape):
        """The core stages computing this layer on inputs of `input_shape`."""
        return []

    # -- serialization ---------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self._declared_input_shape is not None:
            config["input_shape"] = list(self._declared_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _unsupported(kwargs, cls, supported):
    if kwargs:
        raise TypeError(f"{cls} got unsupported keyword argument(s) {sorted(kwargs)}; "
                        f"nnbook.keras.layers.{cls} supports {', '.join(supported)}")


class InputLayer:
    """The input of a Sequential model: the shape of one sample.

    Parameters
    ----------
    shape : tuple of int, e.g. (784,) or (28, 28)
        A multi-dimensional shape must be flattened (``Flatten()``) before
        the first Dense.
    name : str, optional

    Example
    -------
    >>> from nnbook.keras import Sequential, Input
    >>> from nnbook.keras.layers import Dense, Flatten
    >>> model = Sequential([Input(shape=(4, 5)), Flatten(), Dense(2)])
    >>> model.count_params()
    42
    """

    def __init__(self, shape=None, name=None, input_shape=None, batch_size=None,
                 batch_shape=None):
        if shape is None:
            shape = input_shape
        if shape is None and batch_shape is not None:
            batch_shape = tuple(batch_shape)
            shape = batch_shape[1:] if batch_shape and batch_shape[0] is None else batch_shape
        self.sample_shape = _check_shape(shape, "shape")
        self.name = _check_name(name) or backend.unique_name("input_layer")
        self.shape = (None,) + self.sample_shape

    @property
    def input_dim(self):
        """The number of input features (all dimensions of a sample together)."""
        return math.prod(self.sample_shape)

    def __repr__(self):
        return f"<InputLayer name={self.name!r} shape={self.shape}>"


def Input(shape=None, name=None, batch_size=None, batch_shape=None):
    """``keras.Input(shape=(784,))``: an input declaration for Sequential.

    Example
    -------
    >>> Input(shape=(28, 28)).shape
    (None, 28, 28)
    """
    return InputLayer(shape=shape, name=name, batch_size=batch_size, batch_shape=batch_shape)


def _regularizer_pair(regularizer):
    return None if regularizer is None else regularizer.factors()


class Dense(Layer):
    """A fully connected layer: ``output = activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int > 0
    activation : str or None
        None means 'linear'; any name in ``ACTIVATIONS``.
    use_bias : bool, default True
    kernel_initializer : str or Initializer, default 'glorot_uniform'
        'glorot_uniform', 'glorot_normal', 'he_normal', 'he_uniform',
        'random_normal', 'random_uniform', 'zeros', 'ones'.
    bias_initializer : str or Initializer, default 'zeros'
    kernel_regularizer, bias_regularizer, activity_regularizer : optional
        ``regularizers.L1``, ``L2``, ``L1L2`` or 'l1', 'l2', 'l1_l2'. A
        weight's penalty counts only while the layer is trainable (Keras's
        rule); the activity penalty is on the layer's output (after its
        activation), divided by the rows of the batch.
    input_shape : tuple of one int, optional
        Only on a model's first layer: the number of input features.
    input_dim : int, optional
        Same as ``input_shape=(input_dim,)``.
    name : str, optional
        Default 'dense', 'dense_1', ...
    trainable : bool, default True

    Example
    -------
    >>> Dense(100, activation='sigmoid', input_shape=(784,)).input_dim
    784
    """

    _prefix = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, input_shape=None, input_dim=None, name=None,
                 trainable=True, **kwargs):
        _unsupported(kwargs, "Dense", ["units", "activation", "use_bias", "kernel_initializer",
                                       "bias_initializer", "kernel_regularizer",
                                       "bias_regularizer", "activity_regularizer",
                                       "input_shape", "input_dim", "name", "trainable"])
        if input_shape is not None and input_dim is not None:
            raise ValueError("Pass `input_shape` or `input_dim`, not both. Received: "
                             f"input_shape={input_shape!r}, input_dim={input_dim!r}")
        declared = input_shape if input_shape is not None else input_dim
        if declared is not None:
            argument = "input_shape" if input_shape is not None else "input_dim"
            shape = _check_shape(declared, argument)
            if len(shape) != 1:
                raise ValueError(self._flatten_message(shape, argument))
        super().__init__(name, trainable, declared)
        self.units = check_positive_int(units, "units", keras_style=True)
        self.activation = _activation(activation)
        self.use_bias = check_bool(use_bias, "use_bias", keras_style=True)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self.activity_regularizer = regularizers.get(activity_regularizer,
                                                     "activity_regularizer")

    @staticmethod
    def _flatten_message(shape, argument="input_shape"):
        return (f"Dense takes flat inputs of shape (None, features), but its input has shape "
                f"{_shape_text(shape)}. Keras would apply the Dense to the last axis only, "
                f"which nnbook does not: add Flatten() before the Dense (or give the model "
                f"input_shape=({math.prod(shape)},) and x.reshape(len(x), -1)). "
                f"Received: {argument}={tuple(shape)}")

    @property
    def input_dim(self):
        shape = self._input_shape or self._declared_input_shape
        return None if shape is None else shape[0]

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(self._flatten_message(input_shape))
        return (self.units,)

    def _has_weights(self):
        return True

    def _weight_shapes(self, input_shape):
        self.compute_output_shape(input_shape)
        return [(input_shape[0], self.units)] + ([(self.units,)] if self.use_bias else [])

    def _create_weights(self, input_shape, dtype):
        return {"kernel": self.kernel_initializer((input_shape[0], self.units), dtype),
                "bias": self.bias_initializer((self.units,), dtype) if self.use_bias else None}

    @property
    def kernel(self):
        """The weight matrix (input_dim, units), live; None before build."""
        return self._weights.get("kernel")

    @property
    def bias(self):
        """The bias (units,), live; None before build or without bias."""
        return self._weights.get("bias")

    def _stages(self, input_shape):
        self.compute_output_shape(input_shape)
        frozen = not self.trainable
        # a frozen layer's weight penalties do not count (Keras sums the
        # regularizers of trainable weights only)
        dense = Stage("dense", self.units, self, self.activation, has_bias=self.use_bias,
                      frozen=frozen,
                      kernel=None if frozen else _regularizer_pair(self.kernel_regularizer),
                      bias=None if frozen else _regularizer_pair(self.bias_regularizer))
        if self.activation not in NEEDING_INPUT:
            dense.activity = _regularizer_pair(self.activity_regularizer)
            return [dense]
        dense.activation = "linear"
        return [dense, Stage("activation", self.units, self, self.activation,
                             activity=_regularizer_pair(self.activity_regularizer))]

    def _bind(self, core, stage):
        kernel, bias = core.weight(stage), core.bias(stage)
        kernel[...] = self._weights["kernel"]
        if bias is not None:
            bias[...] = self._weights["bias"]
        self._weights = {"kernel": kernel, "bias": bias}

    def get_config(self):
        config = super().get_config()
        config.pop("input_shape", None)
        config.update({"units": self.units, "activation": self.activation,
                       "use_bias": self.use_bias,
                       "kernel_initializer": initializers.serialize(self.kernel_initializer),
                       "bias_initializer": initializers.serialize(self.bias_initializer),
                       "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                       "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                       "activity_regularizer": regularizers.serialize(
                           self.activity_regularizer),
                       "input_dim": self.input_dim})
        return config

    def __repr__(self):
        return f"<Dense name={self.name!r} units={self.units} activation={self.activation!r}>"


class Activation(Layer):
    """Applies an activation function by name.

    Parameters
    ----------
    activation : str
        Any name in ``ACTIVATIONS``. 'softmax' needs a flat input.
    name : str, optional

    Example
    -------
    >>> Activation('tanh').activation
    'tanh'
    """

    _prefix = "activation"

    def __init__(self, activation, name=None, trainable=True, input_shape=None, **kwargs):
        _unsupported(kwargs, "Activation", ["activation", "name", "trainable", "input_shape"])
        super().__init__(name, trainable, input_shape)
        self.activation = _activation(activation)

    def compute_output_shape(self, input_shape):
        if self.activation == "softmax" and len(input_shape) != 1:
            raise ValueError(f"Activation('softmax') needs a flat input (Keras's softmax runs "
                             f"over the last axis only): add Flatten() before it. Received: "
                             f"input shape {_shape_text(input_shape)}")
        return tuple(input_shape)

    def _stages(self, input_shape):
        if self.activation == "linear":
            return []
        return [Stage("activation", math.prod(self.compute_output_shape(input_shape)), self,
                      self.activation)]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class Dropout(Layer):
    """Inverted dropout while training; identity at inference.

    Parameters
    ----------
    rate : float in [0, 1)
        The fraction of units zeroed in each training batch; kept units are
        scaled by 1 / (1 - rate).
    noise_shape : None
        Only None (a mask per unit) is supported.
    seed : int or None
        The mask's seed. Without one it is drawn once from nnbook.keras's
        generator (``utils.set_random_seed``) when the layer is built.

    Example
    -------
    >>> Dropout(0.2, seed=1).rate
    0.2
    """

    _prefix = "dropout"

    def __init__(self, rate, noise_shape=None, seed=None, name=None, trainable=True,
                 input_shape=None, **kwargs):
        _unsupported(kwargs, "Dropout", ["rate", "noise_shape", "seed", "name", "trainable",
                                         "input_shape"])
        self.rate = check_real(rate, "rate", minimum=0, below=1, keras_style=True)
        if noise_shape is not None:
            raise ValueError(f"nnbook's Dropout draws one mask value per unit and does not "
                             f"support `noise_shape`; use noise_shape=None. "
                             f"Received: noise_shape={noise_shape!r}")
        self.noise_shape = None
        seed = check_seed(seed, "seed", keras_style=True)
        if isinstance(seed, np.random.RandomState):
            raise TypeError("`seed` must be None or an integer in [0, 2**32 - 1]. "
                            "Received: seed=RandomState(...)")
        self.seed = seed
        self._drawn_seed = None
        super().__init__(name, trainable, input_shape)

    def effective_seed(self):
        """The seed of this layer's masks: `seed`, or one drawn once from utils.generator()."""
        if self.seed is not None:
            return self.seed
        if self._drawn_seed is None:
            self._drawn_seed = int(utils.generator().integers(2**32))
        return self._drawn_seed

    def _stages(self, input_shape):
        if self.rate == 0:
            return []
        return [Stage("dropout", math.prod(input_shape), self, rate=self.rate)]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None}


class Flatten(Layer):
    """Reshapes each sample to one vector: (None, 28, 28) -> (None, 784).

    Example
    -------
    >>> Flatten().compute_output_shape((28, 28))
    (784,)
    """

    _prefix = "flatten"

    def __init__(self, data_format=None, name=None, trainable=True, input_shape=None,
                 **kwargs):
        _unsupported(kwargs, "Flatten", ["data_format", "name", "trainable", "input_shape"])
        if data_format not in (None, "channels_last"):
            raise ValueError(f"nnbook's Flatten keeps the samples' values in their order "
                             f"(data_format='channels_last'). Received: "
                             f"data_format={data_format!r}")
        super().__init__(name, trainable, input_shape)
        self.data_format = "channels_last"

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class BatchNormalization(Layer):
    """Batch normalization over the features of a flat input.

    Parameters
    ----------
    axis : -1
        The feature axis; nnbook normalises the last axis of a flat input.
    momentum : float in [0, 1], default 0.99
    epsilon : float > 0, default 1e-3
    center : bool, default True
        Learn a shift ``beta``.
    scale : bool, default True
        Learn a scale ``gamma``.
    beta_initializer, gamma_initializer, moving_mean_initializer,
    moving_variance_initializer : str or Initializer
        Defaults 'zeros', 'ones', 'zeros', 'ones'.
    trainable : bool, default True
        False freezes gamma and beta and normalises with the moving
        statistics in training too (Keras's rule for this layer).

    Weights, in Keras's order: gamma (with scale), beta (with center),
    moving_mean, moving_variance; the last two are never trainable.

    Example
    -------
    >>> from nnbook.keras import Sequential
    >>> model = Sequential([Dense(4, input_shape=(3,)), BatchNormalization(), Dense(2)])
    >>> [w.shape for w in model.layers[1].weights]
    [(4,), (4,), (4,), (4,)]
    """

    _prefix = "batch_normalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, trainable=True, input_shape=None, **kwargs):
        _unsupported(kwargs, "BatchNormalization",
                     ["axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
                      "gamma_initializer", "moving_mean_initializer",
                      "moving_variance_initializer", "name", "trainable", "input_shape"])
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral) \
                or axis != -1:
            raise ValueError(f"nnbook's BatchNormalization normalises the last axis of a flat "
                             f"input (axis=-1); other axes belong to image and sequence "
                             f"layers, which nnbook does not have. Received: axis={axis!r}")
        super().__init__(name, trainable, input_shape)
        self.axis = -1
        self.momentum = check_real(momentum, "momentum", minimum=0, keras_style=True)
        if self.momentum > 1:
            raise ValueError(f"`momentum` must be in [0, 1]. Received: momentum={momentum!r}")
        self.epsilon = check_real(epsilon, "epsilon", strictly_positive=True, keras_style=True)
        self.center = check_bool(center, "center", keras_style=True)
        self.scale = check_bool(scale, "scale", keras_style=True)
        self.beta_initializer = initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = initializers.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = initializers.get(moving_mean_initializer,
                                                        "moving_mean_initializer")
        self.moving_variance_initializer = initializers.get(moving_variance_initializer,
                                                            "moving_variance_initializer")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"BatchNormalization takes flat inputs of shape (None, features) "
                             f"in nnbook (Keras would normalise the last axis with statistics "
                             f"over the others): add Flatten() before it. Received: input "
                             f"shape {_shape_text(input_shape)}")
        return tuple(input_shape)

    def _has_weights(self):
        return True

    def _weight_shapes(self, input_shape):
        n = self.compute_output_shape(input_shape)
        return [n] * (int(self.scale) + int(self.center) + 2)

    def _create_weights(self, input_shape, dtype):
        n = (input_shape[0],)
        return {"gamma": self.gamma_initializer(n, dtype) if self.scale else None,
                "beta": self.beta_initializer(n, dtype) if self.center else None,
                "moving_mean": self.moving_mean_initializer(n, dtype),
                "moving_variance": self.moving_variance_initializer(n, dtype)}

    def _learned(self, weight_name):
        return weight_name in ("gamma", "beta")

    def _check_weight(self, key, value, what):
        if key == "moving_variance" and (value < 0).any():
            raise ValueError(f"{what} must not be negative (it is a variance); its smallest "
                             f"value is {value.min()}")
        return value

    @property
    def gamma(self):
        return self._weights.get("gamma")

    @property
    def beta(self):
        return self._weights.get("beta")

    @property
    def moving_mean(self):
        return self._weights.get("moving_mean")

    @property
    def moving_variance(self):
        return self._weights.get("moving_variance")

    def _stages(self, input_shape):
        width = self.compute_output_shape(input_shape)[0]
        return [Stage("batchnorm", width, self, has_bias=self.center, frozen=not self.trainable,
                      bn_momentum=self.momentum, bn_epsilon=self.epsilon, bn_scale=self.scale)]

    def _bind(self, core, stage):
        views = {"gamma": core.weight(stage) if self.scale else None,
                 "beta": core.bias(stage) if self.center else None,
                 "moving_mean": core.moving_mean(stage),
                 "moving_variance": core.moving_variance(stage)}
        for key, view in views.items():
            if view is not None:
                view = view.reshape(-1)
                view[...] = self._weights[key]
                views[key] = view
        self._weights = views

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer)}


#: class name -> class, for configs and saved files
LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, Activation, Dropout, Flatten,
                                                BatchNormalization)}


def deserialize(config):
    """A layer from ``{'class_name': ..., 'config': {...}}`` (a bare config is a Dense's).

    Example
    -------
    >>> deserialize({'class_name': 'Dropout', 'config': {'rate': 0.5}}).rate
    0.5
    """
    if isinstance(config, dict) and "class_name" in config:
        cls = LAYER_CLASSES.get(config["class_name"])
        if cls is None:
            raise ValueError(f"Unknown layer class {config['class_name']!r}: nnbook.keras has "
                             f"{', '.join(LAYER_CLASSES)}")
        return cls.from_config(dict(config.get("config") or {}))
    if not isinstance(config, dict):
        raise TypeError(f"A layer config must be a dict. Received: {config!r}")
    return Dense.from_config(config)


def serialize(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


class UnsupportedLayerError(ValueError):
    """A Keras layer nnbook does not have (nnbook builds dense networks)."""


# Keras 3 layers nnbook does not have: asking for one says so instead of an
# AttributeError (`from nnbook.keras.layers import Conv2D` shows this message).
_KERAS_ONLY = frozenset("""
Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose SeparableConv1D
SeparableConv2D DepthwiseConv1D DepthwiseConv2D Convolution1D Convolution2D Convolution3D
MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D
MaxPool1D MaxPool2D MaxPool3D AvgPool1D AvgPool2D AvgPool3D GlobalAveragePooling1D
GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D
GlobalMaxPooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalMaxPool1D GlobalMaxPool2D
LSTM GRU SimpleRNN RNN Bidirectional ConvLSTM1D ConvLSTM2D ConvLSTM3D TimeDistributed
LSTMCell GRUCell SimpleRNNCell StackedRNNCells Embedding MultiHeadAttention Attention
AdditiveAttention GroupQueryAttention LayerNormalization GroupNormalization
UnitNormalization RMSNormalization SpectralNormalization Reshape Permute RepeatVector
Cropping1D Cropping2D Cropping3D UpSampling1D UpSampling2D UpSampling3D ZeroPadding1D
ZeroPadding2D ZeroPadding3D Concatenate Add Subtract Multiply Average Maximum Minimum Dot
Lambda Masking EinsumDense Identity SpatialDropout1D SpatialDropout2D SpatialDropout3D
GaussianDropout GaussianNoise AlphaDropout ActivityRegularization LeakyReLU PReLU ReLU ELU
Softmax Rescaling Normalization Resizing CenterCrop RandomFlip RandomRotation RandomZoom
RandomCrop RandomContrast RandomTranslation TextVectorization StringLookup IntegerLookup
CategoryEncoding Discretization Hashing HashedCrossing
""".split())


def __getattr__(name):
    if name in _KERAS_ONLY:
        raise UnsupportedLayerError(
            f"nnbook.keras has no {name} layer: nnbook is for dense networks. Its layers are "
            f"{', '.join(SUPPORTED)} (activations by name, e.g. Activation('relu') or "
            f"Dense(..., activation='leaky_relu'), instead of activation layers)")
    raise AttributeError(f"module 'nnbook.keras.layers' has no attribute {name!r}")
