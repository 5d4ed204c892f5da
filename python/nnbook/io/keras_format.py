"""Keras 3 model files: ``.keras`` archives and ``.weights.h5`` weight files.

The layout, as Keras 3 (3.15) writes it:

``m.keras``, a zip of three members
    ``metadata.json``  ``{"keras_version": ..., "date_saved": ...}``;
    ``config.json``    the model serialised: ``{"module": "keras", "class_name":
                       "Sequential", "config": {"name", "dtype", "layers": [...]},
                       "compile_config": {...}}``; every layer is
                       ``{"module", "class_name", "config", "registered_name",
                       "build_config"}`` and the first is an ``InputLayer``
                       whose ``batch_shape`` is ``[null, features, ...]``
                       (e.g. ``[null, 28, 28]`` before a ``Flatten``);
    ``model.weights.h5`` HDF5: layer ``k`` of class ``C`` keeps its variables in
                       the datasets ``layers/<c>/vars/0``, ``1``, ... where ``<c>``
                       is the class in snake case, numbered among the layers of
                       that class (``dense``, ``dense_1``, ``batch_normalization``,
                       ...; never the layer's own name; a layer without variables,
                       such as ``flatten``, has an empty group). A Dense keeps
                       kernel, bias; a BatchNormalization gamma (with scale), beta
                       (with center), moving_mean, moving_variance. The optimizer
                       keeps ``optimizer/vars/0`` (the iteration count), ``1``
                       (the learning rate, absent when it is a schedule), then
                       its slots, for each *trained* variable in model order one
                       dataset per slot (Adam: momentum, velocity; not a frozen
                       layer's variables, never the moving statistics), then
                       Nadam's momentum-schedule product.
``x.weights.h5``
    The same HDF5 file on its own (``model.save_weights``).

This module turns such files into plain data (:class:`KerasModel`: a
config, arrays per layer, the optimizer's variables) and back. It knows the
file layout and which Keras layers nnbook can run (:data:`LAYER_FORMATS`,
keyed by Keras class name); building nnbook objects from that data is the
front door's job (``nnbook.keras.saving``), so ``io`` imports no front door.

Reading checks before it allocates, like the ``.npz`` reader: the zip and
its members are looked at first (a damaged zip, a missing member, a member
that would inflate like a zip bomb); ``config.json`` (at most
:data:`MAX_CONFIG_BYTES`) must describe a ``Sequential`` (or a functional
model that is one chain of layers) of known layers
whose declared sizes are C ints and whose weights hold at most
``nnbook.io.npz.MAX_ELEMENTS`` elements in all; only then is the HDF5 file
opened, and every dataset's shape is compared with what the config declares
before it is read. Weights holding NaN or infinity are refused. Every
problem is :class:`~nnbook.io.npz.ModelFileError` (a ``ValueError``) whose
message starts with the file's path and names the layer or field.

h5py is an optional dependency: ``pip install 'nnbook[keras-files]'``.

Example
-------
>>> from nnbook.io import keras_format
>>> model = keras_format.read_keras_file("m.keras")      # doctest: +SKIP
>>> [layer.class_name for layer in model.layers]         # doctest: +SKIP
['Dense', 'Dense']
"""
import io
import json
import math
import numbers
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import npz
from .npz import ModelFileError, write_atomically

__all__ = ["KerasModel", "KerasLayer", "LAYER_FORMATS", "read_keras_file", "write_keras_file",
           "read_weights_file", "write_weights_file", "is_keras_archive", "require_h5py",
           "optimizer_slots", "optimizer_scalars", "OptimizerState", "MAX_CONFIG_BYTES", "KERAS_VERSION"]

#: The Keras release whose file layout nnbook writes (and was checked against).
KERAS_VERSION = "3.15.1"
#: config.json and metadata.json may be at most this large.
MAX_CONFIG_BYTES = 16 << 20
CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
#: Layer sizes are C ints in nnbook's core.
INT32_MAX = int(np.iinfo(np.int32).max)
#: Model precisions nnbook runs.
DTYPES = ("float32", "float64")


def require_h5py(what="read or write Keras files"):
    """The h5py module, or ImportError saying which extra installs it."""
    try:
        import h5py
    except ImportError:
        raise ImportError(f"h5py is needed to {what} (.keras, .weights.h5): install it with "
                          f"pip install 'nnbook[keras-files]'") from None
    return h5py


# --------------------------------------------------------------------------
# the data a file holds
# --------------------------------------------------------------------------

@dataclass
class KerasLayer:
    """One layer: its Keras class, its config (Keras's keys) and its variables."""

    class_name: str
    config: dict
    weights: list = field(default_factory=list)

    @property
    def name(self):
        return self.config.get("name")


@dataclass
class KerasModel:
    """A Sequential model as a Keras file holds it.

    name : the model's name; dtype : numpy.dtype (float32 or float64);
    input_shape : features per sample, without the batch axis, e.g. (784,);
    layers : list of KerasLayer (InputLayer excluded);
    compile_config : Keras's compile_config dict, or None when not compiled;
    optimizer_variables : :class:`OptimizerState`, or None.
    """

    name: str
    dtype: np.dtype
    input_shape: tuple
    layers: list
    compile_config: dict = None
    optimizer_variables: list = None


# --------------------------------------------------------------------------
# the layers nnbook runs: Keras class name -> how its config and variables look
# --------------------------------------------------------------------------

class _LayerFormat:
    """What the file layout says about one Keras layer class.

    ``group``: the snake-case name of the class in the HDF5 file.
    ``output_shape(check, config, input_shape)`` validates the config (via
    ``check``, a :class:`_Check`) and returns the output shape;
    ``weight_shapes(config, input_shape)`` the shapes of its variables in
    Keras's order; ``trainable_flags(config)`` which of them Keras's
    optimizer keeps state for (the trained ones: not a frozen layer's, never
    BatchNormalization's moving statistics).
    """

    class_name = group = None
    # config keys that must hold these values (features nnbook does not run)
    required = {}

    def output_shape(self, check, config, input_shape):
        return tuple(input_shape)

    def weight_shapes(self, config, input_shape):
        return []

    def trainable_flags(self, config, input_shape):
        return [config.get("trainable", True)] * len(self.weight_shapes(config, input_shape))


#: Activations nnbook's core runs, by Keras's names (swish = silu, hard_swish =
#: hard_silu); tests check that this is nnbook.keras.layers.ACTIVATIONS.
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "softmax", "exponential", "elu", "selu",
               "gelu", "swish", "silu", "leaky_relu", "softplus", "softsign", "hard_sigmoid",
               "hard_silu", "hard_swish")
#: Keras's regularizer classes nnbook runs, with their factors.
REGULARIZERS = {"L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2")}
REGULARIZER_KEYS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")


def _check_activation(check, config):
    activation = activation_name(config.get("activation"))
    if activation not in ACTIVATIONS:
        check.fail(f"its activation {config.get('activation')!r} is not one nnbook runs "
                   f"({', '.join(ACTIVATIONS)})")
    return activation


def _check_regularizer(check, value, key):
    """None, or Keras's serialised L1, L2 or L1L2 with non-negative finite factors."""
    if value is None:
        return
    if isinstance(value, str):
        value = {"class_name": {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}.get(value, value),
                 "config": {}}
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str) \
            or value.get("class_name") not in REGULARIZERS \
            or value.get("registered_name") not in (None, value.get("class_name")) \
            or value.get("module") not in (None, "keras.regularizers"):
        what = (value.get("registered_name") or value.get("class_name")
                if isinstance(value, dict) else repr(value))
        check.fail(f"its {key} is {what}; nnbook runs the regularizers "
                   f"{', '.join(REGULARIZERS)}")
    config = value.get("config") or {}
    if not isinstance(config, dict):
        check.fail(f"its {key}'s config is not a JSON object")
    factors = REGULARIZERS[value["class_name"]]
    for name, factor in config.items():
        if name not in factors:
            check.fail(f"its {key} ({value['class_name']}) has a setting {name!r} nnbook "
                       f"does not know ({', '.join(factors)})")
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) \
                or not math.isfinite(factor) or factor < 0:
            check.fail(f"its {key} sets {name}={factor!r}; expected a non-negative number")


def _check_bool(check, config, key, default):
    value = config.get(key, default)
    if not isinstance(value, bool):
        check.fail(f"{key} is {value!r}, not true or false")
    return value


def _check_real(check, config, key, default, low, high, high_open=False, low_open=False):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < low or (low_open and value == low) \
            or value > high or (high_open and value == high):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        check.fail(f"{key} is {value!r}; expected a number in {interval}")
    return value


def _flat(check, input_shape, what):
    if len(input_shape) != 1:
        check.fail(f"its input has shape {_shape_text(input_shape)}; nnbook's {what} takes "
                   f"flat vectors: put a Flatten layer before it")


class _DenseFormat(_LayerFormat):
    class_name, group = "Dense", "dense"
    required = {"kernel_constraint": None, "bias_constraint": None, "lora_rank": None,
                "quantization_config": None}

    def output_shape(self, check, config, input_shape):
        _flat(check, input_shape, "Dense")
        check.size(config.get("units"), "units")
        _check_activation(check, config)
        _check_bool(check, config, "use_bias", True)
        for key in REGULARIZER_KEYS:
            _check_regularizer(check, config.get(key), key)
        return (config["units"],)

    def weight_shapes(self, config, input_shape):
        units = config["units"]
        return [(input_shape[0], units)] + ([(units,)] if config.get("use_bias", True) else [])


class _ActivationFormat(_LayerFormat):
    class_name, group = "Activation", "activation"

    def output_shape(self, check, config, input_shape):
        if _check_activation(check, config) == "softmax":
            _flat(check, input_shape, "softmax")
        return tuple(input_shape)


class _DropoutFormat(_LayerFormat):
    class_name, group = "Dropout", "dropout"
    required = {"noise_shape": None}

    def output_shape(self, check, config, input_shape):
        _check_real(check, config, "rate", None, 0, 1, high_open=True)
        seed = config.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                 or not 0 <= seed < 2 ** 32):
            check.fail(f"seed is {seed!r}; expected null or an integer in [0, 2**32 - 1]")
        return tuple(input_shape)


class _FlattenFormat(_LayerFormat):
    class_name, group = "Flatten", "flatten"

    def output_shape(self, check, config, input_shape):
        if config.get("data_format") not in (None, "channels_last"):
            check.fail(f"data_format is {config.get('data_format')!r}; nnbook's Flatten keeps "
                       f"the values in their order (channels_last)")
        return (math.prod(input_shape),)


class _BatchNormalizationFormat(_LayerFormat):
    class_name, group = "BatchNormalization", "batch_normalization"
    required = {"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None, "renorm": False}

    def output_shape(self, check, config, input_shape):
        _flat(check, input_shape, "BatchNormalization")
        axis = config.get("axis", -1)
        if isinstance(axis, list) and len(axis) == 1:
            axis = axis[0]
        if axis not in (-1, 1) or isinstance(axis, bool):
            check.fail(f"axis is {config.get('axis')!r}; nnbook normalises the last axis of a "
                       f"flat input (-1)")
        _check_real(check, config, "momentum", 0.99, 0, 1)
        _check_real(check, config, "epsilon", 1e-3, 0, math.inf, low_open=True)
        _check_bool(check, config, "center", True)
        _check_bool(check, config, "scale", True)
        return tuple(input_shape)

    def weight_shapes(self, config, input_shape):
        n = (input_shape[0],)
        return [n] * (int(config.get("scale", True)) + int(config.get("center", True)) + 2)

    def trainable_flags(self, config, input_shape):
        learned = int(config.get("scale", True)) + int(config.get("center", True))
        return [config.get("trainable", True)] * learned + [False, False]


#: Keras class name -> its format; a class missing here is refused by name.
LAYER_FORMATS = {f.class_name: f for f in (_DenseFormat(), _FlattenFormat(),
                                           _ActivationFormat(), _DropoutFormat(),
                                           _BatchNormalizationFormat())}


def activation_name(value):
    """'relu' from 'relu' or Keras's serialised function {'config': 'relu', ...}; None -> 'linear'."""
    if value is None:
        return "linear"
    if isinstance(value, dict) and isinstance(value.get("config"), str):
        value = value["config"]
    return value.lower() if isinstance(value, str) else value


def optimizer_slots(optimizer_config):
    """Keras's per-variable slots of an optimizer, in its order, from its serialised form.

    None for an optimizer nnbook does not have.

    Example
    -------
    >>> optimizer_slots({"class_name": "Adam", "config": {}})
    ['momentum', 'velocity']
    """
    name = optimizer_config.get("class_name")
    config = optimizer_config.get("config") or {}
    if name == "SGD":
        return ["momentum"] if config.get("momentum", 0.0) else []
    if name in ("Adam", "AdamW"):
        return ["momentum", "velocity"] + (["velocity_hat"] if config.get("amsgrad") else [])
    if name == "RMSprop":
        return (["velocity"] + (["momentum"] if config.get("momentum", 0.0) else [])
                + (["average_gradient"] if config.get("centered") else []))
    return {"Adagrad": ["accumulator"], "Adadelta": ["accumulated_grad", "accumulated_delta_var"],
            "Adamax": ["momentum", "norm"], "Nadam": ["momentum", "velocity"]}.get(name)


def optimizer_scalars(optimizer_config):
    """Keras's scalar variables after an optimizer's slots (Nadam: its momentum-schedule
    product ``u_product``)."""
    return ["u_product"] if optimizer_config.get("class_name") == "Nadam" else []


def has_rate_variable(optimizer_config):
    """Whether Keras keeps the learning rate as a variable (not with a schedule)."""
    return not isinstance((optimizer_config.get("config") or {}).get("learning_rate"), dict)


@dataclass
class OptimizerState:
    """An optimizer's variables as Keras stores them in ``optimizer/vars``.

    iterations : int, the updates made; learning_rate : float, or None with a
    schedule (then Keras keeps no such variable); slots : arrays, for each
    trained variable in model order one per slot (:func:`optimizer_slots`);
    scalars : floats after them (:func:`optimizer_scalars`).
    """

    iterations: int
    learning_rate: float
    slots: list
    scalars: list = field(default_factory=list)


def _shape_text(shape):
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


class _Check:
    """Raise ModelFileError '<path>: <where>: <problem>' (one vocabulary for every check)."""

    def __init__(self, path, where=""):
        self.path, self.where = path, where

    def at(self, where):
        return _Check(self.path, where)

    def fail(self, problem):
        prefix = f"{self.where}: " if self.where else ""
        raise ModelFileError(f"{self.path}: {prefix}{problem}")

    def size(self, value, what):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or not 1 <= value <= INT32_MAX:
            self.fail(f"declares {what}={value!r}; expected an integer in 1 .. {INT32_MAX}")
        return int(value)

    def mapping(self, value, what):
        if not isinstance(value, dict):
            self.fail(f"{what} is a {type(value).__name__}, not a JSON object")
        return value


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------

def is_keras_archive(path):
    """True if ``path`` is a zip holding ``config.json`` (a Keras 3 ``.keras`` file)."""
    try:
        with zipfile.ZipFile(os.fspath(path)) as archive:
            return CONFIG in archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        # NotImplementedError: zipfile's answer to a damaged "zip version" field
        return False


def _open_archive(path, check):
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        check.fail("cannot read the model file: it is a directory")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        check.fail(f"cannot read the model file ({exc.strerror or exc})")
    if magic != b"PK\x03\x04":
        check.fail(f"not a Keras .keras file (not a zip archive: "
                   f"{'empty' if not magic else f'starts with {magic!r}'})")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        check.fail(f"corrupt or truncated .keras archive ({exc})")
    infos = archive.infolist()
    if len(infos) > npz.MAX_MEMBERS:
        archive.close()
        check.fail(f"holds {len(infos)} members; a .keras file has a handful")
    names = {info.filename for info in infos}
    missing = [m for m in (CONFIG, WEIGHTS) if m not in names]
    if missing:
        archive.close()
        hint = (" (an nnbook .npz archive? read it with nnbook.load)"
                if any(n.endswith(".npy") for n in names) else "")
        check.fail(f"not a complete Keras .keras file: missing {' and '.join(missing)}{hint}")
    for info in infos:
        if info.flag_bits & 0x1:
            archive.close()
            check.fail(f"member {info.filename} is encrypted")
        if info.file_size > npz.LARGE_MEMBER_BYTES and \
                info.file_size > npz.MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            archive.close()
            check.fail(f"member {info.filename} inflates {info.compress_size:,} bytes to "
                       f"{info.file_size:,} (more than {npz.MAX_COMPRESSION_RATIO} times); "
                       f"refused as a likely zip bomb")
    return archive


def _read_json(archive, member, check):
    info = archive.getinfo(member)
    if info.file_size > MAX_CONFIG_BYTES:
        check.fail(f"{member} declares {info.file_size:,} bytes; nnbook reads at most "
                   f"{MAX_CONFIG_BYTES:,}")
    try:
        with archive.open(info) as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as exc:
        check.fail(f"{member} is corrupt ({type(exc).__name__}: {exc})")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        check.fail(f"{member} is not UTF-8 text ({exc})")
    except json.JSONDecodeError as exc:
        check.fail(f"{member} is not valid JSON ({exc})")
    except RecursionError:
        check.fail(f"{member} is JSON nested too deeply")


def _dtype_name(value):
    """'float32' from a DTypePolicy dict or a plain name; None if absent."""
    if isinstance(value, dict):
        config = value.get("config")
        value = config.get("name") if isinstance(config, dict) else None
    return value


def parse_model_config(config, check):
    """Validate a Sequential's config; returns (name, dtype, input_shape, layers, compile).

    Nothing is allocated from declared sizes here: this only reads JSON.
    """
    check.mapping(config, "config.json")
    class_name = config.get("class_name")
    if class_name is None:
        check.fail("a Keras 3 .keras file whose config.json describes no model (it has no "
                   "'class_name')")
    functional = class_name in ("Functional", "Model") and \
        config.get("registered_name") in (None, class_name)
    if not functional and (class_name != "Sequential"
                           or config.get("registered_name") not in (None, "Sequential")):
        what = config.get("registered_name") or class_name
        check.fail(f"holds a {what!r} model; nnbook reads Keras Sequential models (and "
                   f"functional models that are a chain of layers) only")
    body = check.mapping(config.get("config"), "the model's 'config'")
    layer_configs = body.get("layers")
    if not isinstance(layer_configs, list) or not layer_configs:
        check.fail("the model's config lists no layers")
    if functional:
        layer_configs = _chain(layer_configs, body, check)
    dtype = _dtype_name(body.get("dtype")) or "float32"
    input_shape = None
    first = layer_configs[0]
    if isinstance(first, dict) and first.get("class_name") == "InputLayer":
        layer_configs = layer_configs[1:]
        inner = check.mapping(first.get("config"), "the InputLayer's config")
        input_shape = _batch_shape(check.at("InputLayer"),
                                   inner.get("batch_shape", inner.get("batch_input_shape")))
        dtype = _dtype_name(body.get("dtype")) or _dtype_name(inner.get("dtype")) or dtype
    if input_shape is None:
        build = body.get("build_input_shape") or (config.get("build_config") or {}).get(
            "input_shape")
        if build is None:
            check.fail("the model declares no input shape (it was saved before it was built)")
        input_shape = _batch_shape(check.at("build_input_shape"), build)
    if dtype not in DTYPES:
        check.fail(f"the model's dtype is {dtype!r}; nnbook runs float32 and float64 models")
    if not layer_configs:
        check.fail("the model has no layers after its InputLayer")
    layers, shape, total = [], input_shape, 0
    for index, layer in enumerate(layer_configs, start=1):
        where = check.at(f"layer {index}")
        where.mapping(layer, "the layer")
        name = layer.get("class_name")
        if not isinstance(name, str):
            where.fail(f"its class_name is {name!r}, not a layer class name")
        inner = where.mapping(layer.get("config"), "its 'config'")
        label = f"layer {index} ({inner.get('name')!r}, a {name})"
        where = check.at(label)
        registered = layer.get("registered_name")
        fmt = LAYER_FORMATS.get(name)
        if registered not in (None, name) or (layer.get("module") not in (None, "keras.layers")
                                              and fmt is not None):
            check.fail(f"layer {index} ({inner.get('name')!r}) is a custom layer class "
                       f"{registered or name!r}; nnbook runs only Keras's built-in "
                       f"{', '.join(['InputLayer'] + list(LAYER_FORMATS))}")
        if fmt is None:
            check.fail(f"layer {index} ({inner.get('name')!r}) is a {name}, which nnbook "
                       f"cannot run yet; nnbook runs "
                       f"{', '.join(['InputLayer'] + list(LAYER_FORMATS))}")
        layer_dtype = _dtype_name(inner.get("dtype")) or dtype
        if layer_dtype != dtype:
            where.fail(f"its dtype is {layer_dtype!r} but the model's is {dtype!r}; nnbook "
                       f"runs one precision per model")
        _check_bool(where, inner, "trainable", True)
        for key, value in fmt.required.items():
            if inner.get(key, value) != value:
                where.fail(f"it sets {key}={inner[key]!r}, which nnbook does not support "
                           f"(expected {value!r})")
        out = fmt.output_shape(where, inner, shape)
        shapes = fmt.weight_shapes(inner, shape)
        total += sum(math.prod(s) for s in shapes)
        if total > npz.MAX_ELEMENTS:
            where.fail(f"the weights declared so far hold {total:,} elements; nnbook refuses "
                       f"files above {npz.MAX_ELEMENTS:,} (set NNBOOK_MAX_ELEMENTS to raise "
                       f"the limit)")
        layers.append((fmt, inner, shape, shapes))
        shape = out
    compile_config = config.get("compile_config") or None
    if compile_config is not None:
        check.mapping(compile_config, "compile_config")
    return body.get("name") or "sequential", np.dtype(dtype), input_shape, layers, compile_config


def _history(node_arg):
    """The (layer name, node, tensor) a functional layer's input comes from, or None."""
    if isinstance(node_arg, dict) and node_arg.get("class_name") == "__keras_tensor__":
        history = (node_arg.get("config") or {}).get("keras_history")
        if isinstance(history, list) and len(history) == 3:
            return tuple(history)
    return None


def _endpoint(value, what, check):
    """A functional model's single input or output layer name from [name, 0, 0] or [[...]]."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)):
        check.fail(f"holds a functional model with several {what}s ({value!r}); nnbook runs "
                   f"one input and one output")
    return value[0]


def _chain(layer_configs, body, check):
    """A functional model's layers in order, if they form one chain; else ModelFileError.

    Keras keeps each layer's inputs in ``inbound_nodes``: a chain has one
    input layer, and every other layer is called once on the previous one.
    """
    first = _endpoint(body.get("input_layers"), "input", check)
    last = _endpoint(body.get("output_layers"), "output", check)
    by_name, after = {}, {}
    for layer in layer_configs:
        if not isinstance(layer, dict):
            check.fail("a functional model's layer is not a JSON object")
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        by_name[name] = layer
        if name == first:
            continue
        nodes = layer.get("inbound_nodes")
        args = nodes[0].get("args") if isinstance(nodes, list) and len(nodes) == 1 \
            and isinstance(nodes[0], dict) else None
        sources = [_history(a) for a in args] if isinstance(args, list) else []
        if len(sources) != 1 or sources[0] is None or (nodes[0].get("kwargs") or {}):
            check.fail(f"holds a functional model whose graph branches or merges (layer "
                       f"{name!r} of class {layer.get('class_name')} is not called once on "
                       f"one layer's output); nnbook runs a chain of layers only")
        source = sources[0][0]
        if source in after:
            check.fail(f"holds a functional model whose graph branches (the output of "
                       f"{source!r} feeds {after[source]!r} and {name!r}); nnbook runs a "
                       f"chain of layers only")
        after[source] = name
    ordered, name = [], first
    while name is not None:
        if name not in by_name or len(ordered) > len(layer_configs):
            check.fail(f"holds a functional model whose layers do not form one chain (at "
                       f"{name!r})")
        ordered.append(by_name[name])
        name = after.get(name)
    if len(ordered) != len(layer_configs) or ordered[-1] is not by_name.get(last):
        check.fail("holds a functional model whose layers do not form one chain from its "
                   "input to its output")
    if ordered[0].get("class_name") != "InputLayer":
        check.fail(f"holds a functional model whose input {first!r} is not an InputLayer")
    return ordered


def _batch_shape(check, value):
    if not isinstance(value, (list, tuple)) or len(value) < 2 or value[0] is not None:
        check.fail(f"declares the input shape {value!r}; expected [null, features, ...]")
    return tuple(check.size(d, "an input dimension") for d in value[1:])


def read_keras_file(path):
    """Read a Keras 3 ``.keras`` file holding a Sequential nnbook can run.

    Returns
    -------
    KerasModel

    Raises
    ------
    FileNotFoundError
        There is no such file.
    ModelFileError
        Anything wrong with the file, or a layer nnbook cannot run (named).
    ImportError
        h5py is missing (the message names the extra to install).

    Example
    -------
    >>> model = read_keras_file("m.keras")                   # doctest: +SKIP
    """
    path = os.fspath(path)
    check = _Check(path)
    with _open_archive(path, check) as archive:
        config = _read_json(archive, CONFIG, check)
        name, dtype, input_shape, layers, compile_config = parse_model_config(config, check)
        h5py = require_h5py("read a Keras file")
        try:
            with archive.open(WEIGHTS) as member, h5py.File(member, "r") as h5:
                return _read_h5(h5, check.at(WEIGHTS), name, dtype, input_shape, layers,
                                compile_config)
        except ModelFileError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, zipfile.BadZipFile, zlib.error,
                EOFError) as exc:
            check.fail(f"{WEIGHTS} is not a readable HDF5 file ({type(exc).__name__}: {exc})")


def read_weights_file(path, dtype, input_shape, layers, optimizer_config=None):
    """Read a ``.weights.h5`` file for a model of known architecture.

    ``layers``: [(Keras class name, config dict)] of the model that will
    receive the weights; returns a :class:`KerasModel` with its weights.
    """
    path = os.fspath(path)
    check = _Check(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if os.path.isdir(path):
        check.fail("cannot read the weights file: it is a directory")
    h5py = require_h5py("read a .weights.h5 file")
    described, shape = [], tuple(input_shape)
    for class_name, config in layers:
        fmt = LAYER_FORMATS[class_name]
        described.append((fmt, config, shape, fmt.weight_shapes(config, shape)))
        shape = fmt.output_shape(check, config, shape)
    compile_config = {"optimizer": optimizer_config} if optimizer_config else None
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                check.fail("not an HDF5 weights file (Keras writes .weights.h5 files in HDF5)")
        with h5py.File(path, "r") as h5:
            return _read_h5(h5, check, None, np.dtype(dtype), shape, described, compile_config)
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        check.fail(f"not a readable HDF5 file ({type(exc).__name__}: {exc})")


def _groups(layers):
    """The HDF5 group of each layer: dense, dense_1, ... numbered per class."""
    seen, names = {}, []
    for fmt, *_ in layers:
        count = seen.get(fmt.group, 0)
        seen[fmt.group] = count + 1
        names.append(fmt.group if count == 0 else f"{fmt.group}_{count}")
    return names


def _read_h5(h5, check, name, dtype, input_shape, layers, compile_config):
    out = []
    for (fmt, config, _, shapes), group in zip(layers, _groups(layers)):
        where = f"layers/{group}/vars"
        arrays = _read_vars(h5, where, shapes, dtype, check,
                            f"layer {config.get('name')!r} ({fmt.class_name})")
        out.append(KerasLayer(fmt.class_name, config, arrays))
    optimizer_variables = None
    if compile_config and isinstance(compile_config.get("optimizer"), dict) \
            and "optimizer/vars" in h5:
        trained = [shape for fmt, config, shape_in, shapes in layers
                   for shape, flag in zip(shapes, fmt.trainable_flags(config, shape_in))
                   if flag]
        optimizer_variables = _read_optimizer(h5, check, compile_config["optimizer"], trained,
                                              dtype)
    return KerasModel(name, dtype, input_shape, out, compile_config, optimizer_variables)


def _dataset(h5, key, check, what):
    node = h5.get(key)
    if node is None:
        check.fail(f"missing the {what} ({key})")
    if not hasattr(node, "shape") or not hasattr(node, "dtype"):
        check.fail(f"{key} is not a dataset")
    return node


def _read_array(node, key, shape, dtype, check, what):
    """One dataset, its shape and dtype checked before anything is allocated."""
    if tuple(node.shape) != tuple(shape):
        check.fail(f"{what}: {key} holds shape {tuple(node.shape)} but the config declares "
                   f"{tuple(shape)}")
    if node.dtype.kind != "f":
        check.fail(f"{what}: {key} holds {node.dtype}, expected floats")
    raw = np.empty(shape, node.dtype.newbyteorder("="))
    if raw.size:
        node.read_direct(raw)
    if not np.isfinite(raw).all():
        check.fail(f"{what}: {key} holds NaN or infinite values; nnbook refuses non-finite "
                   f"weights")
    value = raw.astype(dtype, copy=False)
    if not np.isfinite(value).all():
        check.fail(f"{what}: {key} holds values too large for {dtype}")
    return value


def _read_vars(h5, where, shapes, dtype, check, what):
    group = h5.get(where)
    if group is None and not shapes:
        return []
    if group is None or not hasattr(group, "keys"):
        check.fail(f"missing the weights of {what} (group {where})")
    keys = sorted(group.keys(), key=lambda k: (len(k), k))
    expected = [str(i) for i in range(len(shapes))]
    if keys != expected:
        check.fail(f"{what} has {len(keys)} variable(s) in {where}, but its config declares "
                   f"{len(shapes)}")
    return [_read_array(_dataset(h5, f"{where}/{k}", check, what), f"{where}/{k}", s, dtype,
                        check, what) for k, s in zip(expected, shapes)]


def _read_optimizer(h5, check, optimizer_config, trained_shapes, dtype):
    """An :class:`OptimizerState` from ``optimizer/vars``: the iteration count, the
    learning rate (unless a schedule), each trained variable's slots, the scalars."""
    slots = optimizer_slots(optimizer_config)
    group = h5["optimizer/vars"]
    count = len(group.keys())
    if slots is None:   # an optimizer nnbook does not have: the front door refuses it
        return None
    rate_variable = has_rate_variable(optimizer_config)
    scalars = optimizer_scalars(optimizer_config)
    expected = 1 + rate_variable + len(slots) * len(trained_shapes) + len(scalars)
    if count != expected:
        warnings.warn(f"{check.path}: the saved state of the {optimizer_config.get('class_name')} "
                      f"optimizer has {count} variables where nnbook expects {expected}; the "
                      f"optimizer starts afresh (the weights are loaded)", UserWarning,
                      stacklevel=4)
        return None
    what = "the optimizer"
    iteration = _dataset(h5, "optimizer/vars/0", check, "optimizer's iteration count")
    if iteration.shape != () or iteration.dtype.kind not in "iu":
        check.fail(f"optimizer/vars/0 (the iteration count) holds shape {iteration.shape} of "
                   f"{iteration.dtype}, expected one integer")
    step = int(iteration[()])
    if not 0 <= step < 2 ** 62:
        check.fail(f"optimizer/vars/0 (the iteration count) is {step}; expected >= 0")

    def read(index, shape, as_dtype):
        key = f"optimizer/vars/{index}"
        return _read_array(_dataset(h5, key, check, what), key, shape, as_dtype, check, what)

    rate = float(read(1, (), np.float64)) if rate_variable else None
    index = 1 + rate_variable
    arrays = []
    for shape in trained_shapes:
        for _ in slots:
            arrays.append(read(index, shape, dtype))
            index += 1
    values = []
    for _ in scalars:
        values.append(float(read(index, (), dtype)))
        index += 1
    return OptimizerState(step, rate, arrays, values)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------

def keras_object(module, class_name, config, **extra):
    """Keras's serialised form of a built-in object."""
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None, **extra}


def dtype_policy(dtype):
    return keras_object("keras", "DTypePolicy", {"name": np.dtype(dtype).name})


def layer_config(class_name, config, dtype, input_shape):
    """A layer's entry in config.json: ``config`` holds the class's own keys."""
    full = {"name": config["name"], "trainable": True, "dtype": dtype_policy(dtype)}
    full.update({k: v for k, v in config.items() if k != "name"})
    return keras_object("keras.layers", class_name, full,
                        build_config={"input_shape": [None, *input_shape]})


def model_config(model):
    """config.json's content for a :class:`KerasModel` (layers' configs in Keras's keys)."""
    dtype = np.dtype(model.dtype).name
    layers = [keras_object("keras.layers", "InputLayer",
                           {"batch_shape": [None, *model.input_shape], "dtype": dtype,
                            "sparse": False, "ragged": False, "name": "input_layer",
                            "optional": False})]
    shape = tuple(model.input_shape)
    for layer in model.layers:
        fmt = LAYER_FORMATS[layer.class_name]
        layers.append(layer_config(layer.class_name, layer.config, dtype, shape))
        shape = fmt.output_shape(_Check("<model>"), layer.config, shape)
    body = {"name": model.name, "trainable": True, "dtype": dtype_policy(dtype),
            "layers": layers, "build_input_shape": [None, *model.input_shape]}
    return keras_object("keras", "Sequential", body,
                        build_config={"input_shape": [None, *model.input_shape]},
                        compile_config=model.compile_config or {})


def _h5_bytes(model, h5py):
    """The weights file's bytes (HDF5 in memory; no timestamps, so saves are repeatable)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", track_order=True) as h5:
        h5.create_group("layers")
        groups = _groups([(LAYER_FORMATS[l.class_name],) for l in model.layers])
        for layer, group in zip(model.layers, groups):
            variables = h5.create_group(f"layers/{group}").create_group("vars")
            variables.attrs["name"] = layer.name
            for i, value in enumerate(layer.weights):
                variables.create_dataset(str(i), data=np.asarray(value), track_times=False)
        state = model.optimizer_variables
        if state is not None:
            variables = h5.create_group("optimizer").create_group("vars")
            variables.attrs["name"] = (model.compile_config["optimizer"]["config"]
                                       .get("name", "optimizer"))
            values = [np.int64(state.iterations)]
            if state.learning_rate is not None:
                values.append(np.float32(state.learning_rate))   # Keras keeps it in float32
            values += list(state.slots)
            values += [np.asarray(v, model.dtype) for v in state.scalars]
            for i, value in enumerate(values):
                variables.create_dataset(str(i), data=np.asarray(value), track_times=False)
        h5.create_group("vars").attrs["name"] = model.name
    return buffer.getvalue()


def _zip_member(archive, name, data):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED   # as Keras writes them
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def write_keras_file(path, model):
    """Write ``model`` (a :class:`KerasModel`) as a Keras 3 ``.keras`` file, atomically.

    The same model gives the same bytes: no dates are stored.

    Example
    -------
    >>> write_keras_file("m.keras", model)                   # doctest: +SKIP
    """
    h5py = require_h5py("save a .keras file")
    config = json.dumps(model_config(model)).encode("utf-8")
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "saved_by": "nnbook"}).encode("utf-8")
    weights = _h5_bytes(model, h5py)

    def write(f):
        with zipfile.ZipFile(f, "w") as archive:
            _zip_member(archive, METADATA, metadata)
            _zip_member(archive, CONFIG, config)
            _zip_member(archive, WEIGHTS, weights)
    write_atomically(path, write, "model.keras")


def write_weights_file(path, model):
    """Write the weights (and optimizer state) of ``model`` as ``.weights.h5``, atomically.

    Example
    -------
    >>> write_weights_file("m.weights.h5", model)            # doctest: +SKIP
    """
    h5py = require_h5py("save a .weights.h5 file")
    data = _h5_bytes(model, h5py)
    write_atomically(path, lambda f: f.write(data), "model.weights.h5")
