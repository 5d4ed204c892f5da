"""nnbook.keras models <-> Keras 3 files (``.keras``, ``.weights.h5``).

:mod:`nnbook.io.keras_format` reads and writes the files as plain data
(:class:`~nnbook.io.keras_format.KerasModel`); this module turns a
``Sequential`` into that data and back: each layer's config in Keras's keys,
the compile state (optimizer with its learning-rate schedule, loss, metrics)
and the optimizer's variables in Keras's layout.

What maps onto what:

- Layers: ``Dense`` (activations by name, ``kernel_regularizer``,
  ``bias_regularizer``, ``activity_regularizer`` as Keras's serialised
  ``L1``/``L2``/``L1L2``), ``Activation``, ``Dropout`` (rate, seed),
  ``BatchNormalization`` (momentum, epsilon, center, scale; its variables
  gamma, beta, moving_mean, moving_variance, the present ones only),
  ``Flatten``, and the ``InputLayer`` with any sample shape. ``trainable``
  is kept per layer.
- Optimizers: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam,
  with ``weight_decay`` and gradient clipping, and a learning rate that is a
  number or an ``ExponentialDecay``, ``PiecewiseConstantDecay`` or
  ``CosineDecay``. Their state goes into ``optimizer/vars`` as Keras keeps
  it: the iteration count, the learning rate (not with a schedule), each
  slot of each *trained* variable (a frozen layer's variables and the moving
  statistics have none), and Nadam's momentum-schedule product.
- Losses: every loss nnbook has, with ``from_logits``, ``label_smoothing``
  and Huber's ``delta`` (Keras 3.15 leaves ``delta`` out of the file it
  writes; nnbook writes it, and Keras reads it back).
- Metrics and weighted metrics: names as given, metric objects as Keras
  serialises them.

Keras stores its learning rate and L1 factors in float32 (0.01 is read back
as 0.009999999776482582); nnbook writes exact values into ``config.json``.
An initializer nnbook does not have (it only matters for re-initialising)
is replaced by the default, with a warning.

Example
-------
>>> from nnbook.keras import _keras_files
>>> data = _keras_files.to_keras(model)                  # doctest: +SKIP
>>> same = _keras_files.from_keras(data)                 # doctest: +SKIP
"""
import os
import warnings

import numpy as np

from ..io import keras_format
from ..io.npz import ModelFileError
from . import metrics as metrics_module

__all__ = ["to_keras", "from_keras", "save_weights", "load_weights"]

_obj = keras_format.keras_object

# --------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------

# Keras's optimizer settings nnbook does not implement, with the value that
# means "off"; a file setting any other value is refused.
_OPTIMIZER_OFF = {"use_ema": False, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}
_OPTIMIZER_IGNORED = ("name", "ema_momentum", "ema_overwrite_frequency")
# Settings every optimizer takes (None: off).
_COMMON = {"learning_rate": None, "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None}
# per class: Keras's own keys (with the value nnbook requires, if any)
_OPTIMIZER_KEYS = {
    "SGD": {"momentum": None, "nesterov": None},
    "Adam": {"beta_1": None, "beta_2": None, "epsilon": None, "amsgrad": False},
    "AdamW": {"beta_1": None, "beta_2": None, "epsilon": None, "amsgrad": False},
    "RMSprop": {"rho": None, "epsilon": None, "momentum": 0.0, "centered": False},
    "Adagrad": {"initial_accumulator_value": None, "epsilon": None},
    "Adadelta": {"rho": None, "epsilon": None},
    "Adamax": {"beta_1": None, "beta_2": None, "epsilon": None},
    "Nadam": {"beta_1": None, "beta_2": None, "epsilon": None},
}
# Keras's default optimizer names (its snake case of the class)
_DEFAULT_NAMES = {"SGD": "SGD", "RMSprop": "rmsprop", "AdamW": "adamw"}
_SCHEDULES = ("ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay")


def _schedule_to_keras(schedule):
    name = type(schedule).__name__
    config = dict(schedule.get_config())
    if name == "PiecewiseConstantDecay":
        # Keras compares boundaries with its integer step, cast to the step's type
        config["boundaries"] = [int(b) if float(b).is_integer() else b
                                for b in config["boundaries"]]
    if name == "CosineDecay":
        config.update(warmup_target=None, warmup_steps=0)
    return _obj("keras.optimizers.schedules", name, config)


def _optimizer_to_keras(optimizer):
    name = type(optimizer).__name__
    if name not in _OPTIMIZER_KEYS:
        raise ValueError(f"Saving a model compiled with a {name} optimizer in Keras's file "
                         f"layout is not supported (nnbook.keras's optimizers are: "
                         f"{', '.join(_OPTIMIZER_KEYS)}); save it as .npz")
    own = optimizer.get_config()
    default = _DEFAULT_NAMES.get(name, name.lower())
    config = {"name": default if optimizer.name == name else optimizer.name,
              **{k: None for k in _COMMON}, **_OPTIMIZER_OFF, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None}
    config.update(own)
    if optimizer._schedule is not None:
        config["learning_rate"] = _schedule_to_keras(optimizer._schedule)
    # the values Keras's classes have and nnbook's fix
    config.update({k: v for k, v in _OPTIMIZER_KEYS[name].items() if v is not None})
    return _obj("keras.optimizers", name, config)


class _CompileCheck:
    def __init__(self, path):
        self.path = path

    def fail(self, problem):
        raise ModelFileError(f"{self.path}: compile_config: {problem} (load it with "
                             f"compile=False to get the model without its training settings)")


def _schedule_from_keras(value, name, check):
    from . import schedules
    cls = value.get("class_name")
    if cls not in _SCHEDULES or value.get("registered_name") not in (None, cls):
        check.fail(f"the {name} optimizer's learning rate is a "
                   f"{value.get('registered_name') or cls} schedule; nnbook.keras has "
                   f"{', '.join(_SCHEDULES)}")
    config = value.get("config")
    if not isinstance(config, dict):
        check.fail(f"the {name} optimizer's {cls} schedule has no config")
    try:
        return schedules.deserialize({"class_name": cls, "config": config})
    except (TypeError, ValueError) as exc:
        check.fail(f"the {name} optimizer's {cls} schedule is invalid ({exc})")


def _optimizer_from_keras(spec, check):
    from . import optimizers
    if isinstance(spec, str):
        spec = {"class_name": {"sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW"}.get(
            spec.lower(), spec.lower().capitalize()), "config": {}}
    if not isinstance(spec, dict):
        check.fail(f"the optimizer is {spec!r}, not a serialised Keras optimizer")
    name = spec.get("class_name")
    keys = _OPTIMIZER_KEYS.get(name)
    if keys is None or spec.get("registered_name") not in (None, name):
        check.fail(f"the optimizer is a {spec.get('registered_name') or name}; nnbook.keras "
                   f"has {', '.join(_OPTIMIZER_KEYS)}")
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        check.fail(f"the {name} optimizer's config is not a JSON object")
    kwargs = {}
    for key, value in config.items():
        if key in _OPTIMIZER_IGNORED:
            continue
        if key in _OPTIMIZER_OFF:
            if value != _OPTIMIZER_OFF[key]:
                check.fail(f"the {name} optimizer sets {key}={value!r}, which nnbook.keras "
                           f"does not implement")
        elif key not in keys and key not in _COMMON:
            check.fail(f"the {name} optimizer has a setting {key!r} nnbook.keras does not know")
        elif keys.get(key) is not None:
            if value != keys[key]:
                check.fail(f"the {name} optimizer sets {key}={value!r}; nnbook.keras "
                           f"supports only {key}={keys[key]!r}")
        elif key == "learning_rate" and isinstance(value, dict):
            kwargs[key] = _schedule_from_keras(value, name, check)
        elif value is not None or key == "weight_decay":
            kwargs[key] = value
    if name != "AdamW" and kwargs.get("weight_decay", 0) is None:
        del kwargs["weight_decay"]
    try:
        return getattr(optimizers, name)(**kwargs)
    except (TypeError, ValueError) as exc:
        check.fail(f"the {name} optimizer's settings are invalid ({exc})")


def _trained(model):
    """(offset in the core's parameter vector, shape) of every trained weight, in
    model order: the variables Keras's optimizer keeps slots for."""
    params = model._core.params
    out = []
    for layer in model.layers:
        for key, weight in layer._weight_list():
            if layer.trainable and layer._learned(key):
                offset = (weight.ctypes.data - params.ctypes.data) // params.itemsize
                if not (weight.base is not None and 0 <= offset
                        and offset + weight.size <= params.size):
                    raise RuntimeError(f"weight {key} of layer '{layer.name}' is not a view "
                                       f"of the core's parameters")
                out.append((offset, weight.shape))
    return out


def _optimizer_state(model, optimizer_config):
    """The optimizer's variables in Keras's layout, from the core's state (None if
    the core keeps no such state yet)."""
    slots = keras_format.optimizer_slots(optimizer_config)
    scalars = keras_format.optimizer_scalars(optimizer_config)
    core = model._core
    size = core.params.size
    if len(slots) * size + len(scalars) > core.opt_state.size:
        return None
    arrays = [core.opt_state[s * size + offset:s * size + offset + int(np.prod(shape))]
              .reshape(shape).copy()
              for offset, shape in _trained(model) for s in range(len(slots))]
    extra = [float(v) for v in core.opt_state[len(slots) * size:
                                              len(slots) * size + len(scalars)]]
    rate = None if model.optimizer._schedule is not None \
        else float(model.optimizer.learning_rate)
    return keras_format.OptimizerState(int(core.step), rate, arrays, extra)


def _restore_optimizer(model, state, optimizer_config, path):
    """Copy Keras's optimizer variables into the core's state."""
    slots = keras_format.optimizer_slots(optimizer_config)
    scalars = keras_format.optimizer_scalars(optimizer_config)
    core = model._core
    size = core.params.size
    trained = _trained(model)
    if len(slots) * size + len(scalars) > core.opt_state.size \
            or len(state.slots) != len(slots) * len(trained) \
            or len(state.scalars) != len(scalars):
        warnings.warn(f"{path}: the saved optimizer state does not fit this model's "
                      f"optimizer; it starts afresh (the weights are loaded)", UserWarning,
                      stacklevel=4)
        return
    at = 0
    for offset, shape in trained:
        n = int(np.prod(shape))
        for s in range(len(slots)):
            start = s * size + offset
            core.opt_state[start:start + n] = state.slots[at].reshape(-1)
            at += 1
    core.opt_state[len(slots) * size:len(slots) * size + len(scalars)] = state.scalars
    core.step = int(state.iterations)
    model.optimizer.iterations = core.step


# --------------------------------------------------------------------------
# losses and metrics
# --------------------------------------------------------------------------

# Keras's loss classes nnbook has, with the settings each keeps in its config
_LOSS_SETTINGS = {
    "MeanSquaredError": (), "MeanAbsoluteError": (), "MeanAbsolutePercentageError": (),
    "Huber": ("delta",), "LogCosh": (), "KLDivergence": (), "Hinge": (), "SquaredHinge": (),
    "BinaryCrossentropy": ("from_logits", "label_smoothing"),
    "CategoricalCrossentropy": ("from_logits", "label_smoothing"),
    "SparseCategoricalCrossentropy": ("from_logits",),
}
# Keras's loss-config keys nnbook does not implement, with the value that means "off"
_LOSS_OFF = {"axis": -1, "reduction": "sum_over_batch_size", "ignore_class": None,
             "dtype": None}
# nnbook's loss names Keras knows under another name
_KERAS_LOSS_NAMES = {"huber_loss": "huber"}


def _loss_to_keras(loss):
    """Keras's name for a loss with default settings, else its serialised class."""
    cls = type(loss).__name__
    default = type(loss)()
    if loss.get_config() == default.get_config() and loss.name == default.name:
        return _KERAS_LOSS_NAMES.get(loss.name, loss.name)
    config = {"name": loss.name, "reduction": "sum_over_batch_size"}
    config.update(loss.get_config())
    if cls in ("BinaryCrossentropy", "CategoricalCrossentropy"):
        config["axis"] = -1
    if cls == "SparseCategoricalCrossentropy":
        config["ignore_class"] = None
    return _obj("keras.losses", cls, config)


def _loss_from_keras(spec, check):
    from . import losses
    if isinstance(spec, dict) and spec.get("class_name") == "function":
        spec = spec.get("config")
    if isinstance(spec, str):
        try:
            return losses.get(spec)
        except ValueError:
            check.fail(f"the loss {spec!r} is not one nnbook.keras has "
                       f"({', '.join(sorted(losses._BY_NAME))})")
    if not isinstance(spec, dict) or spec.get("class_name") not in _LOSS_SETTINGS \
            or spec.get("registered_name") not in (None, spec.get("class_name")):
        what = spec.get("registered_name") or spec.get("class_name") if isinstance(spec, dict) \
            else type(spec).__name__
        check.fail(f"the loss is a {what}; nnbook.keras has {', '.join(_LOSS_SETTINGS)} (one "
                   f"loss for one output)")
    cls = spec["class_name"]
    config = spec.get("config") or {}
    kwargs = {}
    for key, value in config.items():
        if key in _LOSS_SETTINGS[cls]:
            kwargs[key] = value
        elif key in _LOSS_OFF:
            if value != _LOSS_OFF[key] and not (key == "reduction" and value == "auto"):
                check.fail(f"the loss {cls} sets {key}={value!r}, which nnbook.keras does "
                           f"not implement")
        elif key == "name" and isinstance(value, str) and value:
            kwargs[key] = value
        elif key != "fn":
            check.fail(f"the loss {cls} has a setting {key!r} nnbook.keras does not know")
    try:
        return losses.get({"class_name": cls, "config": kwargs})
    except (TypeError, ValueError) as exc:
        check.fail(f"the loss's settings are invalid ({exc})")


_METRIC_CLASSES = {"BinaryAccuracy": "binary_accuracy",
                   "CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
                   "MeanSquaredError": "mse", "MeanAbsoluteError": "mae"}


def _metrics_from_keras(spec, check, key="metrics"):
    if spec is None:
        return []
    if not isinstance(spec, list):
        check.fail(f"{key} are {type(spec).__name__}; nnbook.keras takes one list for one "
                   f"output")
    names = []
    for metric in spec:
        if isinstance(metric, dict):
            if metric.get("class_name") == "function":
                metric = metric.get("config")
            elif metric.get("class_name") in _METRIC_CLASSES \
                    and not (metric.get("config") or {}).get("name"):
                metric = _METRIC_CLASSES[metric["class_name"]]
            elif metric.get("class_name") in metrics_module.CLASS_NAMES:
                names.append(metric)         # Precision, Recall, AUC, TopK...: with their config
                continue
        if not isinstance(metric, str):
            check.fail(f"the metric {metric!r} in {key} is not one nnbook.keras has "
                       f"({', '.join(metrics_module.KNOWN)})")
        names.append(metric)
    return names


def _compile_from_keras(model, config, state, path):
    check = _CompileCheck(path)
    try:
        _compile_checked(model, config, state, path, check)
    except (TypeError, AttributeError, KeyError) as exc:
        # a value of the wrong JSON type where a name or an object belongs
        # (a list as class_name, a number as config): the file is malformed
        check.fail(f"it is malformed ({type(exc).__name__}: {exc})")


def _compile_checked(model, config, state, path, check):
    if config.get("loss_weights"):
        check.fail(f"loss_weights is set ({config['loss_weights']!r}), which nnbook.keras "
                   f"does not implement (one loss for one output)")
    optimizer = _optimizer_from_keras(config.get("optimizer", "rmsprop"), check)
    loss = _loss_from_keras(config.get("loss"), check)
    metrics = _metrics_from_keras(config.get("metrics"), check)
    weighted = _metrics_from_keras(config.get("weighted_metrics"), check, "weighted_metrics")
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                      weighted_metrics=weighted or None)
    except (TypeError, ValueError) as exc:
        check.fail(f"nnbook.keras cannot train this model with it ({exc})")
    if state is not None:
        _restore_optimizer(model, state, config["optimizer"], path)


# --------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------

def _initializer_to_keras(value):
    from . import initializers
    spec = initializers.serialize(value)
    return _obj("keras.initializers", spec["class_name"], spec["config"])


def _regularizer_to_keras(value):
    if value is None:
        return None
    return _obj("keras.regularizers", type(value).__name__, value.get_config())


def _initializer(spec, argument, layer_name, path):
    """nnbook's initializer for Keras's serialised one, or the default with a warning."""
    from . import initializers
    if isinstance(spec, dict):
        config = spec.get("config") or {}
        config = {k: v for k, v in config.items() if v is not None
                  and k not in ("input_axes", "output_axes")} if isinstance(config, dict) \
            else config           # not a JSON object: initializers.get refuses it below
        spec = {"class_name": spec.get("class_name"), "config": config}
    try:
        return initializers.get(spec, argument)
    except (TypeError, ValueError):
        default = {"kernel_initializer": "glorot_uniform", "gamma_initializer": "ones",
                   "moving_variance_initializer": "ones"}.get(argument, "zeros")
        warnings.warn(f"{path}: layer {layer_name!r} has a {argument} nnbook does not have "
                      f"({spec!r}); the weights are loaded exactly, but re-initialising the "
                      f"layer would use {default}", UserWarning, stacklevel=6)
        return default


def _dense_to_keras(layer):
    config = {"name": layer.name, "trainable": layer.trainable, "units": layer.units,
              "activation": layer.activation, "use_bias": layer.use_bias,
              "kernel_initializer": _initializer_to_keras(layer.kernel_initializer),
              "bias_initializer": _initializer_to_keras(layer.bias_initializer),
              "kernel_regularizer": _regularizer_to_keras(layer.kernel_regularizer),
              "bias_regularizer": _regularizer_to_keras(layer.bias_regularizer),
              "kernel_constraint": None, "bias_constraint": None, "quantization_config": None}
    if layer.activity_regularizer is not None:   # Keras writes it only when set
        config["activity_regularizer"] = _regularizer_to_keras(layer.activity_regularizer)
    return config


def _dense_from_keras(config, path):
    from .layers import Dense
    name = config["name"]
    return Dense(config["units"], activation=keras_format.activation_name(config.get("activation")),
                 use_bias=config.get("use_bias", True),
                 kernel_initializer=_initializer(config.get("kernel_initializer"),
                                                 "kernel_initializer", name, path),
                 bias_initializer=_initializer(config.get("bias_initializer"),
                                               "bias_initializer", name, path),
                 kernel_regularizer=config.get("kernel_regularizer"),
                 bias_regularizer=config.get("bias_regularizer"),
                 activity_regularizer=config.get("activity_regularizer"),
                 trainable=config.get("trainable", True), name=name)


def _activation_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "activation": layer.activation}


def _activation_from_keras(config, path):
    from .layers import Activation
    return Activation(keras_format.activation_name(config.get("activation")),
                      trainable=config.get("trainable", True), name=config["name"])


def _dropout_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "rate": layer.rate,
            "seed": layer.seed, "noise_shape": None}


def _dropout_from_keras(config, path):
    from .layers import Dropout
    return Dropout(config["rate"], seed=config.get("seed"),
                   trainable=config.get("trainable", True), name=config["name"])


def _flatten_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "data_format": "channels_last"}


def _flatten_from_keras(config, path):
    from .layers import Flatten
    return Flatten(trainable=config.get("trainable", True), name=config["name"])


_BN_INITIALIZERS = ("beta_initializer", "gamma_initializer", "moving_mean_initializer",
                    "moving_variance_initializer")


def _batchnorm_to_keras(layer):
    config = {"name": layer.name, "trainable": layer.trainable, "axis": -1,
              "momentum": layer.momentum, "epsilon": layer.epsilon, "center": layer.center,
              "scale": layer.scale}
    config.update({k: _initializer_to_keras(getattr(layer, k)) for k in _BN_INITIALIZERS})
    config.update(beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                  gamma_constraint=None, synchronized=False)
    return config


def _batchnorm_from_keras(config, path):
    from .layers import BatchNormalization
    return BatchNormalization(
        momentum=config.get("momentum", 0.99), epsilon=config.get("epsilon", 1e-3),
        center=config.get("center", True), scale=config.get("scale", True),
        trainable=config.get("trainable", True), name=config["name"],
        **{k: _initializer(config.get(k), k, config["name"], path) for k in _BN_INITIALIZERS
           if config.get(k) is not None})


#: Keras class name -> (nnbook layer -> Keras config, Keras config -> nnbook layer);
#: keras_format.LAYER_FORMATS says how each looks in the file.
LAYERS = {"Dense": (_dense_to_keras, _dense_from_keras),
          "Activation": (_activation_to_keras, _activation_from_keras),
          "Dropout": (_dropout_to_keras, _dropout_from_keras),
          "Flatten": (_flatten_to_keras, _flatten_from_keras),
          "BatchNormalization": (_batchnorm_to_keras, _batchnorm_from_keras)}


def _check_keras_layers(model):
    """Refuse, naming it, a layer the Keras file layout here cannot hold."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in LAYERS or kind not in keras_format.LAYER_FORMATS:
            raise ValueError(f"Saving a model with a {kind} layer ('{layer.name}') in Keras's "
                             f"file layout (.keras, .weights.h5) is not supported (nnbook "
                             f"writes {', '.join(LAYERS)}); save it in nnbook's format instead "
                             f"(model.save('model.npz'))")


def _keras_layers(model):
    return [(type(layer).__name__, LAYERS[type(layer).__name__][0](layer))
            for layer in model.layers]


# --------------------------------------------------------------------------
# whole models
# --------------------------------------------------------------------------

def to_keras(model, optimizer_required=True):
    """The :class:`~nnbook.io.keras_format.KerasModel` of a built Sequential.

    An optimizer the .keras layout does not know is an error, unless
    optimizer_required is False (weights files): then it is left out."""
    model._require_built("save()")
    _check_keras_layers(model)
    layers = [keras_format.KerasLayer(kind, config, layer.get_weights())
              for (kind, config), layer in zip(_keras_layers(model), model.layers)]
    input_shape = model.input_shape[1:]
    compile_config, state = None, None
    if model.loss is not None:
        try:
            optimizer = _optimizer_to_keras(model.optimizer)
        except ValueError:
            if optimizer_required:
                raise
            return keras_format.KerasModel(model.name, model.dtype, input_shape, layers)
        weighted = [metrics_module.serialize(m) for m in model._metric_objects[1]]
        compile_config = {"optimizer": optimizer, "loss": _loss_to_keras(model.loss),
                          "loss_weights": None, "metrics": list(model._metric_names) or None,
                          "weighted_metrics": weighted or None, "run_eagerly": False,
                          "steps_per_execution": 1, "jit_compile": False}
        state = _optimizer_state(model, optimizer)
    return keras_format.KerasModel(model.name, model.dtype, input_shape, layers,
                                   compile_config, state)


def from_keras(keras_model, compile=True, path="<keras model>"):
    """A Sequential from a :class:`~nnbook.io.keras_format.KerasModel` (weights set)."""
    from .layers import InputLayer
    from .models import Sequential
    try:
        model = Sequential(name=keras_model.name, dtype=keras_model.dtype.name)
        model.add(InputLayer(shape=keras_model.input_shape))
        for layer in keras_model.layers:
            model.add(LAYERS[layer.class_name][1](layer.config, path))
        model.set_weights([w for layer in keras_model.layers for w in layer.weights])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the model cannot be rebuilt by nnbook.keras "
                             f"({exc})") from exc
    if compile and keras_model.compile_config:
        _compile_from_keras(model, keras_model.compile_config,
                            keras_model.optimizer_variables, path)
    return model


def save_weights(model, filepath, overwrite=True):
    """Write the weights (and optimizer state) in Keras's ``.weights.h5`` layout."""
    model._require_built("save_weights()")
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5` (Keras's weights file). "
                         f"Received: filepath={filepath}")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    keras_format.write_weights_file(filepath, to_keras(model, optimizer_required=False))


def load_weights(model, filepath):
    """Read weights (and optimizer state) from a ``.weights.h5`` or ``.keras`` file.

    The file must hold the weights of a model of this architecture; its
    shapes are checked before anything is read, and nothing of the model
    changes unless every array fits.
    """
    model._require_built("load_weights()")
    filepath = os.fspath(filepath)
    optimizer = None
    if model.loss is not None:
        try:
            optimizer = _optimizer_to_keras(model.optimizer)
        except ValueError:      # an optimizer the file layout does not know: weights only
            optimizer = None
    if filepath.endswith(".keras"):
        stored = keras_format.read_keras_file(filepath)
        shapes = [w.shape for layer in stored.layers for w in layer.weights]
        if shapes != [w.shape for w in model.weights]:
            raise ModelFileError(f"{filepath}: holds weights of shapes {shapes}, but the model "
                                 f"'{model.name}' has {[w.shape for w in model.weights]}")
        saved_optimizer = (stored.compile_config or {}).get("optimizer")
        if optimizer is None or not isinstance(saved_optimizer, dict) \
                or saved_optimizer.get("class_name") != optimizer["class_name"]:
            stored.optimizer_variables = None
    elif filepath.endswith(".weights.h5"):
        _check_keras_layers(model)
        stored = keras_format.read_weights_file(filepath, model.dtype, model.input_shape[1:],
                                                _keras_layers(model), optimizer)
    else:
        raise ValueError(f"The filename must end in `.weights.h5` or `.keras`. Received: "
                         f"filepath={filepath}")
    model.set_weights([w.astype(model.dtype, copy=False) for layer in stored.layers
                       for w in layer.weights])
    if optimizer is not None and stored.optimizer_variables is not None:
        _restore_optimizer(model, stored.optimizer_variables, optimizer, filepath)
