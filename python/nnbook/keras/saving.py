"""Saving and loading whole models: nnbook's own ``.npz`` and Keras 3's ``.keras``.

Which format is chosen by the name when saving, by the content when loading:

- ``model.save('m.keras')`` writes the zip Keras 3 writes (``metadata.json``,
  ``config.json``, ``model.weights.h5``; see :mod:`nnbook.io.keras_format`),
  which ``keras.models.load_model`` reads; ``load_model`` reads such files
  written by real Keras 3, for a Sequential of the layers nnbook runs (or a
  functional model that is one chain of them, rebuilt as a Sequential), with
  the compile state (optimizer with its hyper-parameters and its moment
  vectors, loss, metrics). Needs h5py (``pip install 'nnbook[keras-files]'``).
- ``model.save_weights('w.weights.h5')`` / ``load_weights`` use Keras's HDF5
  layout of the same variables.
- Any other name (``'m'``, ``'m.npz'``) gets nnbook's own format, below.

Keras files and nnbook.keras differ in a few places, all checked on
loading, each refusal a ``ModelFileError`` naming the layer or field:
layers other than Dense, Flatten, Activation, Dropout and
BatchNormalization (and the ``InputLayer``), activations the core does not
run, regularizers other than L1/L2/L1L2 and any constraint, a Dense on a
multi-dimensional input (Keras's Dense on the last axis), optimizers other
than SGD/Adam/RMSprop or with weight decay or EMA (gradient clipping is
kept), learning-rate schedules, losses other than mse and the three
cross-entropies (with label smoothing or another reduction), metrics other
than accuracy/mse/mae. Keras stores its learning rate in float32 (0.01 is
read back as 0.009999999776482582); nnbook writes its exact value into
``config.json``. A weight initializer nnbook does not have (it only matters
for re-initialising) is replaced by the default, with a warning. Keras
keeps optimizer slots only for the weights it trains (not for moving
statistics, nor for a frozen layer's weights), and so do these files.

nnbook's own file is a NumPy ``.npz`` archive (a zip) holding:

- ``config``: UTF-8 JSON, as uint8 bytes: format name and version, the
  architecture (``Sequential.get_config()``: the input's shape and every
  layer's class and config), the compile settings and the optimizer's step
  count;
- ``weight_0``, ``weight_1``, ...: the arrays of ``get_weights()``, in the
  model's dtype, every value finite;
- ``optimizer_state``: the optimizer's moment vectors, so training resumes
  where it stopped.

Reading and writing the archive (atomic saves; every header checked before
anything is allocated; never unpickles) is :mod:`nnbook.io.npz`'s job. Here,
the architecture in ``config`` is checked against the stored weights' shapes
before the model is built, so a small file declaring a huge layer fails at
once, and every failure is ``nnbook.ModelFileError`` naming the file.

Example
-------
>>> model.save('model.keras')                                # doctest: +SKIP
>>> same = nnbook.keras.models.load_model('model.keras')     # doctest: +SKIP
"""
import json
import numbers
import os
import warnings

import numpy as np

from ..io import keras_format, registry
from .._validation import INT32_MAX
from ..io.npz import ModelFileError, NpzReader, write_npz
from . import metrics as metrics_module

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "ModelFileError"]

FORMAT = registry.KERAS_FORMAT
# 2: layers as {"class_name", "config"} and the input's shape (any layer of
# nnbook.keras.layers); 1: Dense configs and input_dim (still read).
VERSION = 2

# The core's limits: sizes are C ints, at most 32 stages (a Flatten or an
# Activation folded into its Dense takes none, a Dense(gelu) two): the
# layer count is bounded here, the stage count by the core when the model
# is rebuilt.
_MAX_SIZE = INT32_MAX
_MAX_LAYERS = 64


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to ``filepath`` (exactly that name; no suffix is added).

    A name ending in ``.keras`` gets Keras 3's format, any other nnbook's
    ``.npz``. The write is atomic: a failed or interrupted save leaves the
    file that was there before untouched.
    """
    model._require_built("save()")
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    if filepath.endswith(".keras"):
        keras_format.write_keras_file(filepath, to_keras(model))
        return
    from . import losses, optimizers
    compiled = None
    if model.loss is not None:
        compiled = {"loss": losses.serialize(model.loss),
                    "optimizer": optimizers.serialize(model.optimizer),
                    "metrics": list(model._metric_names)}
    config = {"format": FORMAT, "version": VERSION, "model": model.get_config(),
              "compile": compiled, "optimizer_step": int(model._core.step)}
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays["optimizer_state"] = model._core.opt_state
    arrays["config"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    write_npz(filepath, arrays, compress=False)


def load_model(filepath, compile=True):
    """Read a model written by ``Sequential.save``.

    Parameters
    ----------
    filepath : str or os.PathLike
    compile : bool, default True
        Restore the loss, optimizer (with its state) and metrics.

    Returns
    -------
    Sequential

    Raises
    ------
    FileNotFoundError
        There is no such file.
    nnbook.ModelFileError
        Anything wrong with the file (a ``ValueError``; the message starts
        with the file's path).

    Example
    -------
    >>> from nnbook.keras.models import load_model
    >>> model = load_model('model.keras')                    # doctest: +SKIP
    """
    if keras_format.is_keras_archive(filepath):
        return from_keras(keras_format.read_keras_file(filepath), compile, os.fspath(filepath))
    with NpzReader(filepath, foreign="not a model saved by nnbook.keras") as reader:
        return _load(reader, compile)


def _load(reader, compile=True):
    if "config" not in reader:
        _not_ours(reader)
    config = reader.json("config")
    if config.get("format") != FORMAT:
        reader.fail(f"not a model saved by nnbook.keras (format {config.get('format')!r})")
    version = config.get("version")
    if not isinstance(version, int) or version < 1:
        reader.fail(f"invalid format version {version!r}")
    if version > VERSION:
        reader.fail(f"written in format version {version} by a newer nnbook; this nnbook "
                    f"reads up to {VERSION}: upgrade nnbook")
    arch = _field(reader, config, "model", dict)
    dtype, shapes = _weight_shapes(reader, arch)
    weights = _weights(reader, dtype, shapes)
    state = None
    if "optimizer_state" in reader:
        state = reader.array("optimizer_state", kinds="f", ndim=1, finite=True)
    from . import models
    try:
        model = models.Sequential.from_config(arch)
        model.build()
        model.set_weights(weights)
    except (TypeError, ValueError, KeyError) as exc:
        reader.fail(f"the saved architecture cannot be rebuilt ({type(exc).__name__}: {exc})")
    compiled = config.get("compile")
    if compile and compiled is not None:
        _compile(reader, model, compiled, config, state)
    return model


def _not_ours(reader):
    members = {"config.json", "model.weights.h5"}
    if members & set(reader.entries):
        missing = " and ".join(sorted(members - set(reader.entries)))
        reader.fail(f"not a complete Keras .keras file: missing {missing}")
    reader.fail("not a model saved by nnbook.keras (no 'config' entry)")


def _field(reader, mapping, key, kind, where="config"):
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        reader.fail(f"{where} field '{key}' is missing or not a {kind.__name__} "
                    f"(got {type(value).__name__})")
    return value


def _size(reader, value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 1 <= value <= _MAX_SIZE:
        reader.fail(f"config declares {what}={value!r}; expected an integer in 1 .. {_MAX_SIZE}")
    return int(value)


def _weight_shapes(reader, arch):
    """(dtype, shapes of get_weights()) from the config alone: layers are
    made from their configs (which checks every argument) but not built, so
    nothing is allocated from the declared sizes."""
    from . import layers as layers_module
    try:
        dtype = np.dtype(arch.get("dtype"))
    except TypeError:
        dtype = None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        reader.fail(f"config declares dtype {arch.get('dtype')!r}; expected float32 or float64")
    configs = _field(reader, arch, "layers", list, "model config")
    if not 1 <= len(configs) <= _MAX_LAYERS:
        reader.fail(f"config declares {len(configs)} layers; expected 1 .. {_MAX_LAYERS}")
    declared = arch.get("input_shape") or arch.get("input_dim")
    if declared is None and isinstance(configs[0], dict):
        declared = (configs[0].get("config") or {}).get("input_dim") \
            if "class_name" in configs[0] else configs[0].get("input_dim")
    if isinstance(declared, (int, bool)) or declared is None:
        declared = [_size(reader, declared, "input_dim")]
    try:
        shape = layers_module._check_shape(declared, "input_shape")
    except ValueError as exc:
        reader.fail(f"config declares an invalid input shape ({exc})")
    shapes = []
    for i, config in enumerate(configs):
        if not isinstance(config, dict):
            reader.fail(f"config layer {i} is a {type(config).__name__}, not an object")
        try:
            layer = layers_module.deserialize(config)
            shapes += layer._weight_shapes(shape)
            shape = layer.compute_output_shape(shape)
        except (TypeError, ValueError) as exc:
            reader.fail(f"config layer {i} cannot be rebuilt ({type(exc).__name__}: {exc})")
    return dtype, shapes


def _weights(reader, dtype, shapes):
    stored = sorted(k for k in reader.keys if k.startswith("weight_"))
    expected = [f"weight_{i}" for i in range(len(shapes))]
    if sorted(expected) != stored:
        reader.fail(f"holds {len(stored)} weight arrays but its architecture needs "
                    f"{len(shapes)} ({', '.join(expected)})")
    for key, shape in zip(expected, shapes):
        member = reader.member(key)
        if member.shape != shape or member.dtype.newbyteorder("=") != dtype:
            reader.fail(f"'{key}' holds shape {member.shape} of {member.dtype}, but the "
                        f"architecture needs {shape} of {dtype}")
    return [reader.array(key, kinds="f", finite=True) for key in expected]


def _compile(reader, model, compiled, config, state):
    if not isinstance(compiled, dict):
        reader.fail(f"config field 'compile' is a {type(compiled).__name__}, not an object")
    try:
        model.compile(optimizer=compiled["optimizer"], loss=compiled["loss"],
                      metrics=compiled["metrics"])
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        reader.fail(f"the saved compile settings are invalid ({type(exc).__name__}: {exc})")
    if state is not None and state.size == model._core.opt_state.size:
        step = config.get("optimizer_step", 0)
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2 ** 62:
            reader.fail(f"config field 'optimizer_step' is {step!r}; expected an integer >= 0")
        model._core.opt_state[...] = state
        model._core.step = step


# --------------------------------------------------------------------------
# Keras 3 files: nnbook.keras objects <-> nnbook.io.keras_format.KerasModel
# --------------------------------------------------------------------------

# Keras's optimizer settings nnbook does not implement, with the value that
# means "off"; a file setting any other value is refused.
_OPTIMIZER_OFF = {"weight_decay": None, "use_ema": False, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}
_OPTIMIZER_IGNORED = ("name", "ema_momentum", "ema_overwrite_frequency")
# Gradient clipping: every optimizer takes it (None: off).
_CLIPPING = {"clipnorm": None, "global_clipnorm": None, "clipvalue": None}
# per class: Keras's keys nnbook takes (with the value nnbook requires, if any)
_OPTIMIZER_KEYS = {"SGD": {"learning_rate": None, "momentum": None, "nesterov": None,
                           **_CLIPPING},
                   "Adam": {"learning_rate": None, "beta_1": None, "beta_2": None,
                            "epsilon": None, "amsgrad": False, **_CLIPPING},
                   "RMSprop": {"learning_rate": None, "rho": None, "epsilon": None,
                               "momentum": 0.0, "centered": False, **_CLIPPING}}
# Keras's loss classes nnbook runs (nnbook.keras.losses has the same names), and
# the settings nnbook does not implement, with the value that means "off".
_LOSS_CLASSES = ("MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
                 "Huber", "LogCosh", "KLDivergence", "Hinge", "SquaredHinge",
                 "BinaryCrossentropy", "CategoricalCrossentropy",
                 "SparseCategoricalCrossentropy")
_LOSS_OFF = {"axis": -1, "reduction": "sum_over_batch_size", "ignore_class": None,
             "dtype": None}
_LOSS_IGNORED = ("name",)
_METRIC_CLASSES = {"BinaryAccuracy": "binary_accuracy",
                   "CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
                   "MeanSquaredError": "mse", "MeanAbsoluteError": "mae"}


def _keras_initializer(value):
    from . import initializers
    spec = initializers.serialize(value)
    return keras_format.keras_object("keras.initializers", spec["class_name"], spec["config"])


def _keras_regularizer(value):
    from . import regularizers
    spec = regularizers.serialize(value)
    return None if spec is None else keras_format.keras_object(
        "keras.regularizers", spec["class_name"], spec["config"])


def _regularizer(spec):
    from . import regularizers
    if spec is None:
        return None
    return regularizers.get({"class_name": spec["class_name"], "config": spec["config"]})


def _dense_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "units": layer.units,
            "activation": layer.activation, "use_bias": layer.use_bias,
            "kernel_initializer": _keras_initializer(layer.kernel_initializer),
            "bias_initializer": _keras_initializer(layer.bias_initializer),
            "kernel_regularizer": _keras_regularizer(layer.kernel_regularizer),
            "bias_regularizer": _keras_regularizer(layer.bias_regularizer),
            **({"activity_regularizer": _keras_regularizer(layer.activity_regularizer)}
               if layer.activity_regularizer is not None else {}),
            "kernel_constraint": None, "bias_constraint": None, "quantization_config": None}


def _initializer(spec, argument, layer_name, path):
    """nnbook's initializer for Keras's serialised one, or the default with a warning."""
    from . import initializers
    if isinstance(spec, dict):
        config = {k: v for k, v in (spec.get("config") or {}).items() if v is not None
                  and k not in ("input_axes", "output_axes")}
        spec = {"class_name": spec.get("class_name"), "config": config}
    try:
        return initializers.get(spec, argument)
    except (TypeError, ValueError):
        default = {"kernel_initializer": "glorot_uniform", "gamma_initializer": "ones",
                   "moving_variance_initializer": "ones"}.get(argument, "zeros")
        warnings.warn(f"{path}: layer {layer_name!r} has a {argument} nnbook does not have "
                      f"({spec!r}); the weights are loaded exactly, but re-initialising the "
                      f"layer would use {default}", UserWarning, stacklevel=5)
        return default


def _dense_from_keras(config, path):
    from .layers import Dense
    return Dense(config["units"], activation=keras_format.activation_name(config.get("activation")),
                 use_bias=config.get("use_bias", True),
                 kernel_initializer=_initializer(config.get("kernel_initializer"),
                                                 "kernel_initializer", config["name"], path),
                 bias_initializer=_initializer(config.get("bias_initializer"),
                                               "bias_initializer", config["name"], path),
                 kernel_regularizer=_regularizer(config.get("kernel_regularizer")),
                 bias_regularizer=_regularizer(config.get("bias_regularizer")),
                 activity_regularizer=_regularizer(config.get("activity_regularizer")),
                 trainable=config.get("trainable", True), name=config["name"])


def _flatten_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "data_format": "channels_last"}


def _flatten_from_keras(config, path):
    from .layers import Flatten
    return Flatten(name=config["name"], trainable=config.get("trainable", True))


def _activation_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "activation": layer.activation}


def _activation_from_keras(config, path):
    from .layers import Activation
    return Activation(keras_format.activation_name(config.get("activation")),
                      name=config["name"], trainable=config.get("trainable", True))


def _dropout_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "rate": layer.rate,
            "seed": layer.seed, "noise_shape": None}


def _dropout_from_keras(config, path):
    from .layers import Dropout
    return Dropout(config["rate"], seed=config.get("seed"), name=config["name"],
                   trainable=config.get("trainable", True))


_BN_INITIALIZERS = ("beta_initializer", "gamma_initializer", "moving_mean_initializer",
                    "moving_variance_initializer")


def _batchnorm_to_keras(layer):
    return {"name": layer.name, "trainable": layer.trainable, "axis": -1,
            "momentum": layer.momentum, "epsilon": layer.epsilon, "center": layer.center,
            "scale": layer.scale,
            **{key: _keras_initializer(getattr(layer, key)) for key in _BN_INITIALIZERS},
            "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
            "gamma_constraint": None, "synchronized": False, "renorm": False,
            "renorm_clipping": None, "renorm_momentum": 0.99}


def _batchnorm_from_keras(config, path):
    from .layers import BatchNormalization
    return BatchNormalization(
        momentum=config.get("momentum", 0.99), epsilon=config.get("epsilon", 1e-3),
        center=config.get("center", True), scale=config.get("scale", True),
        **{key: _initializer(config.get(key), key, config["name"], path)
           for key in _BN_INITIALIZERS},
        trainable=config.get("trainable", True), name=config["name"])


#: Keras class name -> (nnbook layer -> Keras config, Keras config -> nnbook layer);
#: keras_format.LAYER_FORMATS checks the configs read.
LAYERS = {"Dense": (_dense_to_keras, _dense_from_keras),
          "Flatten": (_flatten_to_keras, _flatten_from_keras),
          "Activation": (_activation_to_keras, _activation_from_keras),
          "Dropout": (_dropout_to_keras, _dropout_from_keras),
          "BatchNormalization": (_batchnorm_to_keras, _batchnorm_from_keras)}


def _optimizer_to_keras(optimizer):
    name = type(optimizer).__name__
    # what the .keras layout below knows; the rest keeps to nnbook's .npz
    if name not in _OPTIMIZER_KEYS or optimizer._schedule is not None \
            or optimizer.weight_decay is not None:
        what = (f"{name}" + (" with a learning-rate schedule" if optimizer._schedule else "")
                + (" with weight_decay" if optimizer.weight_decay is not None else ""))
        raise ValueError(f"Saving a model compiled with {what} as a .keras file is not "
                         f"supported yet (SGD, Adam and RMSprop with a constant rate are); "
                         f"save it as .npz, or save_weights to .weights.h5")
    config = {"name": optimizer.name.lower() if name != "RMSprop" else "rmsprop",
              **_OPTIMIZER_OFF, **_CLIPPING, **optimizer.get_config(), "ema_momentum": 0.99,
              "ema_overwrite_frequency": None}
    if name == "Adam":
        config["amsgrad"] = False
    if name == "RMSprop":
        config.update(momentum=0.0, centered=False)
    return keras_format.keras_object("keras.optimizers", name, config)


def _loss_to_keras(loss):
    """Keras's string for a plain mse or cross-entropy, else the serialised class."""
    cls, config = type(loss).__name__, loss.get_config()
    if cls in ("MeanSquaredError", "BinaryCrossentropy", "CategoricalCrossentropy",
               "SparseCategoricalCrossentropy") and not any(config.values()):
        return loss.name
    extra = ({"axis": -1} if cls in ("BinaryCrossentropy", "CategoricalCrossentropy") else
             {"ignore_class": None} if cls == "SparseCategoricalCrossentropy" else {})
    name = "mean_squared_error" if cls == "MeanSquaredError" else loss.name
    return keras_format.keras_object("keras.losses", cls, {
        "name": name, "reduction": "sum_over_batch_size", **config, **extra})


def _trained_weights(model):
    """(start in the core's parameter vector, shape) of every weight the optimizer
    trains, in model order: Keras keeps optimizer slots for these only (not for
    moving statistics, nor for the weights of a frozen layer)."""
    params = model._core.params
    out = []
    for layer in model.layers:
        for key, weight in layer._weight_list():
            if layer.trainable and layer._learned(key):
                start = (weight.__array_interface__["data"][0]
                         - params.__array_interface__["data"][0]) // params.itemsize
                out.append((int(start), weight.shape))
    return out


def _optimizer_variables(model, optimizer_config):
    """[iterations, learning_rate, slots...] in Keras's order, from the core's state."""
    slots = keras_format.optimizer_slots(optimizer_config)
    core = model._core
    size = core.params.size
    if len(slots) * size > core.opt_state.size:   # the core keeps no such slot (never trained)
        return None
    values = [int(core.step), float(model.optimizer.learning_rate)]
    for offset, shape in _trained_weights(model):
        n = int(np.prod(shape))
        for s in range(len(slots)):
            start = s * size + offset
            values.append(core.opt_state[start:start + n].reshape(shape).copy())
    return values


def to_keras(model, optimizer_required=True):
    """The :class:`~nnbook.io.keras_format.KerasModel` of a built Sequential.

    An optimizer the .keras layout does not know is an error, unless
    optimizer_required is False (weights files): then it is left out."""
    model._require_built("save()")
    layers = []
    for layer in model.layers:
        to, _ = LAYERS[type(layer).__name__]
        layers.append(keras_format.KerasLayer(type(layer).__name__, to(layer),
                                              layer.get_weights()))
    compile_config, variables = None, None
    if model.loss is not None:
        try:
            optimizer = _optimizer_to_keras(model.optimizer)
        except ValueError:
            if optimizer_required:
                raise
            return keras_format.KerasModel(model.name, model.dtype, model.input_shape[1:],
                                           layers, None, None)
        compile_config = {"optimizer": optimizer, "loss": _loss_to_keras(model.loss),
                          "loss_weights": None, "metrics": list(model._metric_names) or None,
                          "weighted_metrics": None, "run_eagerly": False,
                          "steps_per_execution": 1, "jit_compile": False}
        variables = _optimizer_variables(model, optimizer)
    return keras_format.KerasModel(model.name, model.dtype, model.input_shape[1:], layers,
                                   compile_config, variables)


class _CompileCheck:
    def __init__(self, path):
        self.path = path

    def fail(self, problem):
        raise ModelFileError(f"{self.path}: compile_config: {problem} (load it with "
                             f"compile=False to get the model without its training settings)")


def _optimizer_from_keras(spec, check):
    from . import optimizers
    if isinstance(spec, str):
        spec = {"class_name": spec, "config": {}}
    if not isinstance(spec, dict):
        check.fail(f"the optimizer is {spec!r}, not a serialised Keras optimizer")
    name = spec.get("class_name")
    keys = _OPTIMIZER_KEYS.get(name)
    if keys is None or spec.get("registered_name") not in (None, name):
        check.fail(f"the optimizer is a {spec.get('registered_name') or name}; nnbook.keras "
                   f"has {', '.join(_OPTIMIZER_KEYS)}")
    config = spec.get("config") or {}
    kwargs = {}
    for key, value in config.items():
        if key in _OPTIMIZER_IGNORED:
            continue
        if key in _OPTIMIZER_OFF:
            if value != _OPTIMIZER_OFF[key]:
                check.fail(f"the {name} optimizer sets {key}={value!r}, which nnbook.keras "
                           f"does not implement")
        elif key not in keys:
            check.fail(f"the {name} optimizer has a setting {key!r} nnbook.keras does not know")
        elif keys[key] is not None:
            if value != keys[key]:
                check.fail(f"the {name} optimizer sets {key}={value!r}; nnbook.keras "
                           f"supports only {key}={keys[key]!r}")
        elif key == "learning_rate" and isinstance(value, dict):
            check.fail(f"the {name} optimizer's learning rate is a schedule "
                       f"({value.get('class_name')}); nnbook.keras takes a number (use a "
                       f"LearningRateScheduler callback)")
        elif key not in _CLIPPING or value is not None:
            kwargs[key] = value
    try:
        return getattr(optimizers, name)(**kwargs)
    except (TypeError, ValueError) as exc:
        check.fail(f"the {name} optimizer's settings are invalid ({exc})")


def _loss_from_keras(spec, check):
    from . import losses
    if isinstance(spec, dict) and spec.get("class_name") == "function":
        spec = spec.get("config")
    if isinstance(spec, str):
        try:
            return losses.get(spec)
        except ValueError:
            check.fail(f"the loss {spec!r} is not one nnbook.keras has (classes "
                       f"{', '.join(_LOSS_CLASSES)})")
    if not isinstance(spec, dict) or spec.get("class_name") not in _LOSS_CLASSES \
            or spec.get("registered_name") not in (None, spec.get("class_name")):
        what = spec.get("registered_name") or spec.get("class_name") if isinstance(spec, dict) \
            else type(spec).__name__
        check.fail(f"the loss is a {what}; nnbook.keras has {', '.join(_LOSS_CLASSES)} (one "
                   f"loss for one output)")
    config = spec.get("config") or {}
    for key, off in _LOSS_OFF.items():
        if key in config and config[key] != off and not (key == "reduction" and
                                                         config[key] == "auto"):
            check.fail(f"the loss {spec['class_name']} sets {key}={config[key]!r}, which "
                       f"nnbook.keras does not implement")
    kwargs = {k: v for k, v in config.items() if k not in _LOSS_OFF and k not in _LOSS_IGNORED}
    try:
        return losses.get({"class_name": spec["class_name"], "config": kwargs})
    except (TypeError, ValueError) as exc:
        check.fail(f"the loss's settings are invalid ({exc})")


def _metrics_from_keras(spec, check):
    if spec is None:
        return []
    if not isinstance(spec, list):
        check.fail(f"metrics are {type(spec).__name__}; nnbook.keras takes one list for one "
                   f"output")
    names = []
    for metric in spec:
        if isinstance(metric, dict):
            if metric.get("class_name") == "function":
                metric = metric.get("config")
            elif metric.get("class_name") in _METRIC_CLASSES:
                metric = _METRIC_CLASSES[metric["class_name"]]
            elif metric.get("class_name") in metrics_module.CLASS_NAMES:
                names.append(metric)         # Precision, Recall, AUC, TopK...: with their config
                continue
        if not isinstance(metric, str):
            check.fail(f"the metric {metric!r} is not one nnbook.keras has (accuracy, "
                       f"binary/categorical/sparse_categorical_accuracy, mse, mae)")
        names.append(metric)
    return names


def _compile_from_keras(model, config, variables, path):
    check = _CompileCheck(path)
    for key in ("loss_weights", "weighted_metrics"):
        if config.get(key):
            check.fail(f"{key} is set ({config[key]!r}), which nnbook.keras does not implement")
    optimizer = _optimizer_from_keras(config.get("optimizer", "rmsprop"), check)
    loss = _loss_from_keras(config.get("loss"), check)
    metrics = _metrics_from_keras(config.get("metrics"), check)
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except (TypeError, ValueError) as exc:
        check.fail(f"nnbook.keras cannot train this model with it ({exc})")
    if variables is not None:
        _restore_optimizer(model, variables)


def _restore_optimizer(model, variables):
    """Copy Keras's [iterations, learning_rate, slots...] into the core's state."""
    core = model._core
    step, slot_arrays = variables[0], variables[2:]
    trained = _trained_weights(model)
    n_slots = len(slot_arrays) // max(len(trained), 1)
    size = core.params.size
    if n_slots * size > core.opt_state.size or n_slots * len(trained) != len(slot_arrays):
        return
    at = 0
    for offset, shape in trained:
        n = int(np.prod(shape))
        for s in range(n_slots):
            start = s * size + offset
            core.opt_state[start:start + n] = slot_arrays[at].reshape(-1)
            at += 1
    core.step = int(step)


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


def _keras_layers(model):
    return [(type(layer).__name__, LAYERS[type(layer).__name__][0](layer))
            for layer in model.layers]


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
    elif filepath.endswith(".weights.h5"):
        stored = keras_format.read_weights_file(filepath, model.dtype, model.input_shape[1:],
                                                _keras_layers(model), optimizer)
    else:
        raise ValueError(f"The filename must end in `.weights.h5` or `.keras`. Received: "
                         f"filepath={filepath}")
    model.set_weights([w.astype(model.dtype, copy=False) for layer in stored.layers
                       for w in layer.weights])
    if optimizer is not None and stored.optimizer_variables is not None:
        _restore_optimizer(model, stored.optimizer_variables)


registry.register_model_class("Sequential", _load)
registry.register_keras_file_loader(lambda path: load_model(path))

