"""Losses (``keras.losses``): which core loss to use, which output activation
it needs, and how to turn the user's labels into the core's target matrix.

The losses, with Keras 3's definitions (computed in the core; each sample's
loss is the mean over the output units, the batch's loss the mean over its
samples): ``mse``, ``mae``, ``mape`` (100 * mean |(y - p) / max(|y|, 1e-7)|),
``Huber(delta=1.0)``, ``log_cosh``, ``kl_divergence`` (y and p clipped to
[1e-7, 1], summed over the units), ``hinge`` and ``squared_hinge`` (0/1
labels become -1/+1), and the three cross-entropies. The regression losses
take any output activation.

``label_smoothing`` (BinaryCrossentropy, CategoricalCrossentropy, a real
number in [0, 1]) smooths the targets once, before training, with Keras's
formula: ``y * (1 - s) + 0.5 * s`` for binary targets and ``y * (1 - s) +
s / classes`` for categorical ones; accuracy is still taken against the
original labels.

The core fuses softmax + categorical cross-entropy and sigmoid + binary
cross-entropy and evaluates them from the logits (exact, stable for any
logit), so those losses require that output activation. With
``from_logits=True`` the last layer must be linear instead; the core then
applies the softmax/sigmoid inside the loss, and ``predict`` returns logits,
as in Keras.

Labels are checked when a model prepares them, naming the argument (``y``,
``y_val``): arrays of real numbers, finite, of the shape the loss needs,
and for ``mse`` within the range of the model's dtype. ``from_logits`` is
True or False.

Example
-------
>>> from nnbook.keras import losses
>>> losses.get('sparse_categorical_crossentropy').name
'sparse_categorical_crossentropy'
"""
import numpy as np

from .._validation import _as_numeric_array, _check_finite, _converted, check_bool, check_real
from .utils import class_labels


class Targets:
    """Labels prepared once per fit: ``core`` (n, units) for the core (smoothed
    with label_smoothing), ``truth`` for accuracy (int class labels, or a 0/1
    column), and ``labels`` (n, units), the targets before smoothing, which
    metrics and class weights are taken against (Keras smooths inside the
    loss only)."""

    def __init__(self, core, truth, labels=None):
        self.core, self.truth = core, truth
        self.labels = core if labels is None else labels

    def rows(self, index):
        """The targets of the rows `index` (a slice)."""
        return Targets(self.core[index], self.truth[index], self.labels[index])


def _rows(arr, argument, n_rows, x_argument):
    if arr.shape[0] != n_rows:
        raise ValueError(f"Data cardinality is ambiguous: {x_argument} has {n_rows} samples "
                         f"but {argument} has {arr.shape[0]}. Make sure all arrays contain "
                         f"the same number of samples.")


class Loss:
    """Base class; subclasses set ``name``, ``core_loss`` and ``needs``."""

    name = core_loss = needs = None
    accuracy = "categorical"
    label_smoothing = 0.0

    def __init__(self, from_logits=False, name=None):
        self.from_logits = check_bool(from_logits, "from_logits", keras_style=True)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        if name:
            self.name = name

    # -- the output layer --------------------------------------------------
    def check_output(self, activation, units, layer_name):
        """Raise if the model's output (its activation, its units or None while
        unknown, the last layer's name) cannot be trained with this loss by the core."""
        if self.needs is None:
            return
        want = "linear" if self.from_logits else self.needs
        if activation != want:
            how = ("with from_logits=True the last layer must output logits: use "
                   "activation=None" if self.from_logits else
                   f"use activation='{self.needs}' on the last layer")
            raise ValueError(f"loss='{self.name}' needs a {want} output, but the last layer "
                             f"'{layer_name}' has activation='{activation}': {how}"
                             f"{self._alternatives()}. Received: activation='{activation}'")

    def _alternatives(self):
        return " (or loss='mse', which works with any output activation)"

    def core_output_activation(self, activation):
        """The last activation the core applies (from_logits: inside the loss)."""
        return self.needs if self.from_logits else activation

    def core_settings(self):
        """The CoreNetwork settings this loss needs besides its name."""
        return {}

    # -- labels --------------------------------------------------------------
    def prepare(self, y, argument, n_rows, units, dtype, x_argument="x"):
        raise NotImplementedError

    def get_config(self):
        return {"from_logits": self.from_logits} if self.needs else {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _output_shaped(arr, argument, n_rows, units, dtype, x_argument):
    """Targets shaped like the model's output (samples, units), checked and converted."""
    if arr.ndim != 2 or arr.shape[1] != units:
        raise ValueError(f"`{argument}` must have shape (samples, {units}) to match the "
                         f"model's output (None, {units}). Received: "
                         f"{argument}.shape={arr.shape}")
    _rows(arr, argument, n_rows, x_argument)
    return _converted(arr, argument, dtype)


class _OutputShapedLoss(Loss):
    """A loss on targets shaped like the output (any output activation)."""

    def __init__(self, name=None):
        super().__init__(False, name)

    def prepare(self, y, argument, n_rows, units, dtype, x_argument="x"):
        arr = _as_numeric_array(y, argument)
        if arr.ndim == 1 and units == 1:
            arr = arr.reshape(-1, 1)
        core = _output_shaped(arr, argument, n_rows, units, dtype, x_argument)
        truth = core[:, 0] if units == 1 else np.argmax(core, axis=1)
        return Targets(core, truth)


class MeanSquaredError(_OutputShapedLoss):
    """mean over units of (output - y)^2, averaged over samples; any output activation."""

    name, core_loss = "mse", "mse"


class MeanAbsoluteError(_OutputShapedLoss):
    """mean over units of |output - y|.

    Example
    -------
    >>> get('mae').name
    'mean_absolute_error'
    """

    name = core_loss = "mean_absolute_error"


class MeanAbsolutePercentageError(_OutputShapedLoss):
    """100 * mean over units of |(y - output) / max(|y|, 1e-7)|."""

    name = core_loss = "mean_absolute_percentage_error"


class Huber(_OutputShapedLoss):
    """mean over units of 0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta),
    e = output - y.

    Parameters
    ----------
    delta : float > 0, default 1.0

    Example
    -------
    >>> Huber(delta=0.5).core_settings()
    {'huber_delta': 0.5}
    """

    name, core_loss = "huber_loss", "huber"

    def __init__(self, delta=1.0, name=None):
        super().__init__(name)
        self.delta = check_real(delta, "delta", strictly_positive=True, keras_style=True)

    def core_settings(self):
        return {"huber_delta": self.delta}

    def get_config(self):
        return {"delta": self.delta}


class LogCosh(_OutputShapedLoss):
    """mean over units of log(cosh(output - y))."""

    name = core_loss = "log_cosh"


class KLDivergence(_OutputShapedLoss):
    """sum over units of y log(y / p), y and p clipped to [1e-7, 1]."""

    name = core_loss = "kl_divergence"


class Hinge(_OutputShapedLoss):
    """mean over units of max(1 - y p, 0); labels 0/1 are taken as -1/+1."""

    name = core_loss = "hinge"


class SquaredHinge(_OutputShapedLoss):
    """mean over units of max(1 - y p, 0)^2; labels 0/1 are taken as -1/+1."""

    name = core_loss = "squared_hinge"


def _smoothing(value):
    """label_smoothing: a real number in [0, 1]."""
    smoothing = check_real(value, "label_smoothing", minimum=0, keras_style=True)
    if smoothing > 1:
        raise ValueError(f"`label_smoothing` must be in [0, 1]. "
                         f"Received: label_smoothing={value!r}")
    return smoothing


class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)), p = sigmoid(z), averaged over the output units.

    One sigmoid unit for two classes; several for multi-label targets (each
    unit its own yes/no), as in Keras.
    """

    name, core_loss, needs, accuracy = "binary_crossentropy", "binary_crossentropy", "sigmoid", "binary"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None):
        super().__init__(from_logits, name)
        self.label_smoothing = _smoothing(label_smoothing)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def _alternatives(self):
        return " (for several classes use a softmax output with categorical_crossentropy)"

    def prepare(self, y, argument, n_rows, units, dtype, x_argument="x"):
        arr = _as_numeric_array(y, argument)
        if units == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if units == 1 and arr.ndim != 1:
            raise ValueError(f"binary_crossentropy expects 0/1 labels of shape (samples,) or "
                             f"(samples, 1). Received: {argument}.shape={arr.shape}")
        if units > 1 and (arr.ndim != 2 or arr.shape[1] != units):
            raise ValueError(f"binary_crossentropy over {units} sigmoid units expects 0/1 "
                             f"targets of shape (samples, {units}). Received: "
                             f"{argument}.shape={arr.shape}")
        _rows(arr, argument, n_rows, x_argument)
        _check_finite(arr, argument)
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"binary_crossentropy expects targets in [0, 1]; `{argument}` "
                             f"has values from {arr.min()} to {arr.max()}")
        core = np.ascontiguousarray(arr, dtype=dtype).reshape(n_rows, units)
        truth = core[:, 0] if units == 1 else core
        labels = core
        if self.label_smoothing:
            s = self.label_smoothing
            core = core * (1.0 - s) + 0.5 * s
        return Targets(core, truth, labels)


class CategoricalCrossentropy(Loss):
    """-sum_k y_k log p_k, p = softmax(z); one-hot (or probability) targets."""

    name, core_loss, needs = "categorical_crossentropy", "categorical_crossentropy", "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None):
        super().__init__(from_logits, name)
        self.label_smoothing = _smoothing(label_smoothing)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def _smoothed(self, core):
        if not self.label_smoothing:
            return core
        s = self.label_smoothing
        return core * (1.0 - s) + s / core.shape[1]

    def check_output(self, activation, units, layer_name):
        super().check_output(activation, units, layer_name)
        if units is not None and units < 2:
            raise ValueError(f"loss='{self.name}' needs at least 2 output units (a softmax "
                             f"over one unit is always 1); for two classes use Dense(1, "
                             f"activation='sigmoid') with 'binary_crossentropy'. "
                             f"Received: units={units}")

    def _alternatives(self):
        return " (or loss='binary_crossentropy' for one sigmoid unit, or loss='mse')"

    def prepare(self, y, argument, n_rows, units, dtype, x_argument="x"):
        arr = _as_numeric_array(y, argument)
        if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1 and units > 1):
            raise ValueError(f"categorical_crossentropy expects one-hot labels of shape "
                             f"(samples, {units}), but `{argument}` has shape {arr.shape}, "
                             f"which looks like integer class labels. Use "
                             f"loss='sparse_categorical_crossentropy', or encode the labels "
                             f"with keras.utils.to_categorical({argument}). "
                             f"Received: {argument}.shape={arr.shape}")
        core = _output_shaped(arr, argument, n_rows, units, dtype, x_argument)
        return Targets(self._smoothed(core), np.argmax(core, axis=1), core)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer class labels (converted once to one-hot)."""

    name, accuracy = "sparse_categorical_crossentropy", "sparse"

    def __init__(self, from_logits=False, name=None):
        super().__init__(from_logits, 0.0, name)

    def get_config(self):
        return {"from_logits": self.from_logits}

    def prepare(self, y, argument, n_rows, units, dtype, x_argument="x"):
        arr = _as_numeric_array(y, argument)
        if arr.ndim == 2 and arr.shape[1] == units and units > 1:
            raise ValueError(f"sparse_categorical_crossentropy expects integer class labels "
                             f"of shape (samples,), but `{argument}` has shape {arr.shape}, "
                             f"which looks one-hot encoded. Use "
                             f"loss='categorical_crossentropy' for one-hot labels. "
                             f"Received: {argument}.shape={arr.shape}")
        labels = class_labels(arr, argument, num_classes=units)
        _rows(labels, argument, n_rows, x_argument)
        core = np.zeros((labels.size, units), dtype=dtype)
        core[np.arange(labels.size), labels] = 1
        return Targets(core, labels)


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence,
    "hinge": Hinge, "squared_hinge": SquaredHinge,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    """A Loss from a name or a Loss object.

    Example
    -------
    >>> get('categorical_crossentropy').needs
    'softmax'
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_CLASS:
        return _BY_CLASS[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        if identifier in _BY_CLASS:
            return _BY_CLASS[identifier]()
    if identifier is None:
        raise ValueError("No loss to compile with: pass loss= to compile(), one of "
                         f"{sorted(_BY_NAME)}. Received: loss=None")
    raise ValueError(f"Unknown loss function: expected one of {sorted(_BY_NAME)} or a loss "
                     f"object (losses.{', '.join(sorted(_BY_CLASS))}). "
                     f"Received: loss={identifier!r}")


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
