"""``Sequential``: a stack of dense-network layers trained by the compiled core.

This module is the layer stack: layers, weights, config, summary and files.
Training (compile, fit, evaluate, predict) comes from ``trainer.Trainer``,
as a Keras ``Model`` takes it from Keras's ``Trainer``.

A model's weights live in one flat parameter vector owned by its
``KerasCore``; each layer's weights (``kernel``/``bias``, BatchNormalization's
``gamma``/``beta`` and moving statistics) are views into it. The layers
become the core's stages (see ``_stages``): a Dense with an activation
whose backward pass needs its input (gelu, silu) runs as a linear dense
stage plus an activation stage, and an ``Activation`` right after a linear
Dense runs inside it. Inputs of a multi-dimensional shape (``Input((28,
28))`` then ``Flatten()``) are passed to the core as rows of flat samples,
without a copy.

What it holds: the layers of ``nnbook.keras.layers`` only (Dense,
Activation, Dropout, BatchNormalization, Flatten and an optional ``Input``);
the model's output is flat; the cross-entropies need their matching output
activation, sigmoid (one unit, or several for multi-label targets) or
softmax (or ``from_logits=True`` with a linear output).

Example
-------
>>> from nnbook.keras import Sequential
>>> from nnbook.keras.layers import Dense
>>> model = Sequential([Dense(8, activation='relu', input_shape=(4,)), Dense(3)])
>>> model.count_params()
67
"""
import math

import numpy as np

from .._fit_lock import SerialFits
from .._validation import check_bool, check_dtype
from . import _stages, backend, saving
from . import layers as layers_module
from ._core import KerasCore
from .layers import Activation, BatchNormalization, Dense, Dropout, InputLayer, Layer
from .trainer import NotCompiledError, Trainer

__all__ = ["Sequential", "load_model", "NotCompiledError"]


class Sequential(Trainer, SerialFits):
    """A linear stack of layers (Dense, Activation, Dropout, BatchNormalization, Flatten).

    Parameters
    ----------
    layers : list of layers (optionally starting with ``Input``), optional
    name : str, optional
        Default 'sequential', 'sequential_1', ...
    dtype : {'float32', 'float64'}, optional
        The model's precision (nnbook extension); default ``backend.floatx()``.

    Attributes
    ----------
    layers : list of layers
    optimizer, loss : set by compile
    history : the History of the last fit
    stop_training : bool, set by a callback to stop fit after the current epoch

    Example
    -------
    >>> from nnbook.keras import Sequential
    >>> from nnbook.keras.layers import Dense
    >>> model = Sequential()
    >>> model.add(Dense(100, activation='sigmoid', input_shape=(784,)))
    >>> model.add(Dense(10, activation='softmax'))
    >>> model.count_params()
    79510
    """

    def __init__(self, layers=None, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        self.name = name or backend.unique_name("sequential")
        self.dtype = check_dtype(dtype or backend.floatx())
        self._layers = []
        self._input_shape = None      # one sample's shape, e.g. (784,) or (28, 28)
        self._core = None
        self._stages = []
        self._init_trainer()
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """A layer by its name or by its index in ``layers`` (give one of them).

        Example
        -------
        >>> model = Sequential([Dense(3, input_shape=(2,), name="hidden"), Dense(1)])
        >>> model.get_layer("hidden") is model.get_layer(index=0)
        True
        """
        if (name is None) == (index is None):
            raise ValueError(f"Provide either a layer name or layer index at `get_layer`. "
                             f"Received: name={name!r}, index={index!r}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"`index` must be an integer. Received: index={index!r}")
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"only has {len(self._layers)} layers.")
            return self._layers[index]
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            return self.get_layer(index=name)
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self._layers]}.")

    def add(self, layer):
        """Append a layer (or, first, an ``Input``); builds at once when the input shape is known."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError("An Input must be the first thing added to a Sequential model")
            self._input_shape = layer.sample_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be a layer of nnbook.keras.layers "
                            f"({', '.join(layers_module.SUPPORTED)}); nnbook is for dense "
                            f"networks. Received: layer={layer!r} of type {type(layer)}")
        if any(layer is l for l in self._layers):
            raise ValueError(f"Layer '{layer.name}' is already in this model")
        if any(layer.name == l.name for l in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. "
                             f"Name '{layer.name}' is already the name of a layer in this model.")
        declared = layer._declared_input_shape
        if declared is not None and not self._layers:
            if self._input_shape is not None and self._input_shape != declared:
                raise ValueError(f"Layer '{layer.name}' has input_shape={declared} but the "
                                 f"model's Input has shape={self._input_shape}")
            self._input_shape = declared
        if self._input_shape is not None:
            layer.compute_output_shape(self._output_shape_of(self._layers))  # raises early
        elif self._layers and layer.built and isinstance(self._layers[-1], Dense) \
                and layer.input_shape[1:] != (self._output_units,):
            raise ValueError(f"Layer '{layer.name}' was built for inputs of shape "
                             f"{layer.input_shape} but follows a layer with "
                             f"{self._output_units} units")
        self._layers.append(layer)
        self._core = None
        if self._buildable():
            self._build_core()

    def pop(self):
        """Remove the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        self._layers.pop()
        self._core = None
        if self._buildable():
            self._build_core()

    def build(self, input_shape=None):
        """Create the weights for inputs of ``input_shape`` ((None, *shape) or shape).

        Example
        -------
        >>> from nnbook.keras.layers import Flatten
        >>> model = Sequential([Flatten(), Dense(3)])
        >>> model.build((None, 4, 5)); model.count_params()
        63
        """
        if input_shape is not None:
            dims = tuple(input_shape) if not isinstance(input_shape, (int, np.integer)) \
                else (input_shape,)
            if dims and dims[0] is None:
                dims = dims[1:]
            try:
                shape = layers_module._check_shape(dims, "input_shape")
            except ValueError:
                raise ValueError(f"`input_shape` must be the shape of the inputs, e.g. "
                                 f"(None, 784). Received: input_shape={input_shape!r}") from None
            if self._input_shape is not None and shape != self._input_shape:
                raise ValueError(f"build() got input_shape={input_shape!r}, but the model "
                                 f"takes inputs of shape {(None,) + self._input_shape}")
            self._input_shape = shape
        if self._input_shape is None:
            raise ValueError("You must provide an `input_shape` argument: build((None, "
                             "features)), or give the first layer input_shape=(features,)")
        self._require_layers()
        self._build_core()

    @property
    def built(self):
        return self._core is not None

    def __setstate__(self, state):
        # a pickle holds the layers' weights as copies: make them views of the core again
        super().__setstate__(state)
        if self._core is not None:
            for i, stage in enumerate(self._stages):
                if stage.holds_weights:
                    stage.layer._bind(self._core, i)

    def _require_layers(self):
        if not self._layers:
            raise ValueError(f"Model '{self.name}' has no layers: add Dense layers with "
                             f"model.add(...) first")

    def _output_shape_of(self, layers):
        shape = self._input_shape
        for layer in layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def _buildable(self):
        """Whether the core can be made now: the input shape is known, the output
        is flat and some layer computes something (else wait for more layers)."""
        if self._input_shape is None or not self._layers:
            return False
        if len(self._output_shape_of(self._layers)) != 1:
            return False
        stages = self._plan()
        return bool(stages) and stages[-1].activation not in layers_module.NEEDING_INPUT

    def _plan(self):
        return _stages.plan(self._layers, self._input_shape, layers_module.NEEDING_INPUT)

    def _build_core(self):
        """(Re)create the core network; layers built before keep their weights."""
        out_shape = self._output_shape_of(self._layers)
        if len(out_shape) != 1:
            raise ValueError(f"The model's output has shape {(None,) + tuple(out_shape)}; "
                             f"nnbook's models output flat vectors: add Flatten() (and a "
                             f"Dense) after the layers on multi-dimensional inputs")
        shape = self._input_shape
        for layer in self._layers:
            layer.build(shape, self.dtype.name)
            shape = layer.compute_output_shape(shape)
        stages = self._plan()
        if not stages:
            raise ValueError(f"Model '{self.name}' computes nothing (its layers only reshape "
                             f"or pass their input on): add a Dense layer")
        last = stages[-1]
        if last.activation in layers_module.NEEDING_INPUT:
            raise ValueError(f"Layer '{last.layer.name}' ends the model with activation="
                             f"'{last.activation}', which nnbook runs only inside a model (its "
                             f"backward pass needs the layer's input, which the output does "
                             f"not keep): add a layer after it, e.g. Dense(units) for a linear "
                             f"output")
        logits = False
        if self.loss is not None and self._loss_fits_output():
            logits = self.loss.from_logits
            last = stages[-1]
            wanted = self.loss.core_output_activation(self._output_spec()[0])
            if last.kind in ("dense", "activation"):
                last.activation = wanted
            elif wanted != "linear":     # logits from a batchnorm/dropout stage
                stages.append(_stages.Stage("activation", last.width, last.layer, wanted))
        self._stages = stages
        settings = self._core_settings()
        sizes = [math.prod(self._input_shape)] + [s.width for s in stages]
        core = KerasCore(sizes, [s.activation for s in stages], self._core_loss(), self.dtype,
                         **settings)
        for i, stage in enumerate(stages):
            if stage.holds_weights:
                stage.layer._bind(core, i)
        self._core, self._core_logits = core, logits
        self._applied_optimizer = settings

    def _output_spec(self):
        """(activation, units or None, name) of what the model outputs: the last
        computing layer's activation ('linear' after batchnorm or dropout), its
        width (None while the input shape is unknown) and the last layer's name."""
        activation, units = "linear", None
        for layer in reversed(self._layers):
            if isinstance(layer, Dense) or (isinstance(layer, Activation)
                                            and layer.activation != "linear"):
                activation = layer.activation
                break
            if isinstance(layer, BatchNormalization) or (isinstance(layer, Dropout)
                                                         and layer.rate > 0):
                break       # no output activation after these
        if self._input_shape is not None:
            units = math.prod(self._output_shape_of(self._layers))
        else:
            for layer in reversed(self._layers):
                if isinstance(layer, Dense):
                    units = layer.units
                    break
        return activation, units, self._layers[-1].name

    @property
    def _output_units(self):
        return self._output_spec()[1]

    def _ensure_built(self, sample_shape):
        self._require_layers()
        if self._core is None:
            if self._input_shape is None:
                self._input_shape = tuple(sample_shape)
            self._build_core()

    def _require_built(self, what):
        if self._core is None:
            raise ValueError(f"This model has not yet been built, so {what} is not available. "
                             f"Build the model first by calling `build()`, by giving the first "
                             f"layer an `input_shape`, or by calling `fit()` on data.")

    def get_weights(self):
        """Copies of every layer's weights in Keras's order: [W0, b0, W1, b1, ...]
        for Dense layers (W only without bias), [gamma, beta, moving_mean,
        moving_variance] for a BatchNormalization (without gamma or beta when
        scale or center is off); layers without weights add nothing."""
        self._require_built("get_weights()")
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Copy new weights into the model (same order and shapes as get_weights)."""
        self._require_built("set_weights()")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"You called `set_weights(weights)` on model '{self.name}' with a "
                             f"weight list of length {len(weights)}, but the model was "
                             f"expecting {expected} weights.")
        at = 0
        for layer in self._layers:
            k = len(layer.weights)
            layer.set_weights(weights[at:at + k])
            at += k

    @property
    def weights(self):
        """Live views of every layer's weights."""
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    @property
    def trainable(self):
        """Whether any layer trains; setting it sets every layer's ``trainable``."""
        return any(layer.trainable for layer in self._layers) if self._layers else True

    @trainable.setter
    def trainable(self, value):
        value = check_bool(value, "trainable", keras_style=True)
        for layer in self._layers:
            layer.trainable = value

    def count_params(self):
        self._require_built("count_params()")
        return sum(layer.count_params() for layer in self._layers)

    @property
    def input_shape(self):
        """(None, *one sample's shape), e.g. (None, 784) or (None, 28, 28); None before known."""
        return (None,) + self._input_shape if self._input_shape else None

    @property
    def output_shape(self):
        self._require_layers()
        return self._layers[-1].output_shape

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        """Print the layer table in Keras's layout.

        Example
        -------
        >>> model.summary()                     # doctest: +SKIP
        Model: "sequential"
        _________________________________________________________________
        Layer (type)                 Output Shape              Param #
        =================================================================
        dense (Dense)                (None, 100)               78500
        ...
        """
        self._require_built("summary()")
        width = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        if positions[-1] <= 1:
            positions = [int(width * p) for p in positions]
        print_fn = print_fn or print

        def row(fields):
            line = ""
            for field, stop in zip(fields, positions):
                line = (line + str(field))[:stop]
                line += " " * (stop - len(line))
            return line

        lines = [f'Model: "{self.name}"', "_" * width,
                 row(["Layer (type)", "Output Shape", "Param #"]), "=" * width]
        for i, layer in enumerate(self._layers):
            label = f"{layer.name} ({type(layer).__name__})"
            if len(label) >= positions[0]:
                # too long for its column: the type goes on a line of its own, as Keras wraps it
                lines.append(row([layer.name, str(layer.output_shape), layer.count_params()]))
                lines.append(row([f"({type(layer).__name__})", "", ""]).rstrip())
            else:
                lines.append(row([label, str(layer.output_shape), layer.count_params()]))
            lines.append("=" * width if i == len(self._layers) - 1 else "_" * width)
        total = self.count_params()
        trainable = sum(w.size for w in self.trainable_weights)
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * width]
        for line in lines:
            print_fn(line)

    def get_config(self):
        """The architecture: name, dtype, input shape and each layer's class and config.

        Example
        -------
        >>> from nnbook.keras.layers import Flatten, Input
        >>> config = Sequential([Input((4, 5)), Flatten(), Dense(2)]).get_config()
        >>> config["input_shape"], [l["class_name"] for l in config["layers"]]
        ([4, 5], ['Flatten', 'Dense'])
        """
        shape = self._input_shape
        return {"name": self.name, "dtype": self.dtype.name,
                "input_shape": None if shape is None else list(shape),
                "input_dim": math.prod(shape) if shape is not None and len(shape) == 1 else None,
                "layers": [layers_module.serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config):
        """A new model from get_config() (also the older form: Dense configs and input_dim)."""
        model = cls(name=config["name"], dtype=config["dtype"])
        shape = config.get("input_shape") or config.get("input_dim")
        if shape:
            model.add(InputLayer(shape=shape))
        for layer_config in config["layers"]:
            model.add(layers_module.deserialize(layer_config))
        return model

    def save(self, filepath, overwrite=True, **kwargs):
        """Save architecture, weights, compile settings and optimizer state to one file.

        A name ending in ``.keras`` gets Keras 3's format, which real Keras
        loads with ``keras.models.load_model`` (needs h5py:
        ``pip install 'nnbook[keras-files]'``); any other name (``'m'``,
        ``'m.npz'``) gets nnbook's own .npz format (no pickle). Either is
        read back by ``nnbook.keras.models.load_model`` and ``nnbook.load``.

        Example
        -------
        >>> model.save('model.keras')                    # doctest: +SKIP
        """
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights (and optimizer state) in Keras's ``.weights.h5`` layout.

        Example
        -------
        >>> model.save_weights('model.weights.h5')       # doctest: +SKIP
        """
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by ``save_weights`` (here or in Keras), or from a ``.keras`` file.

        Example
        -------
        >>> model.load_weights('model.weights.h5')       # doctest: +SKIP
        """
        saving.load_weights(self, filepath)

    def __repr__(self):
        return f"<Sequential name={self.name!r}, {len(self._layers)} layers>"


def load_model(filepath, compile=True):
    """Load a model saved with ``Sequential.save``, or a Keras 3 ``.keras`` file.

    See nnbook.keras.saving for what a Keras file may hold.

    Example
    -------
    >>> from nnbook.keras.models import load_model
    >>> model = load_model('model.keras')                # doctest: +SKIP
    """
    return saving.load_model(filepath, compile=compile)
