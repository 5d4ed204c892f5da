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

What a Keras file can hold and how it maps onto nnbook.keras is
:mod:`nnbook.keras._keras_files`'s job: every layer nnbook.keras has
(Dense with its regularizers, Activation, Dropout, BatchNormalization,
Flatten, inputs of any shape), every optimizer and learning-rate schedule
with its state, every loss and metric. What nnbook cannot run (a Conv2D, a
custom layer, a functional graph that branches, a constraint, an optimizer
or schedule nnbook lacks) is a ``ModelFileError`` naming the layer or field;
when only the training settings are the problem, ``compile=False`` loads
the model without them.

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

import numpy as np

from ..io import keras_format, registry
from .._validation import INT32_MAX
from ..io.npz import ModelFileError, NpzReader, write_npz
from ._keras_files import from_keras, load_weights, save_weights, to_keras

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


registry.register_model_class("Sequential", _load)
registry.register_keras_file_loader(lambda path: load_model(path))

