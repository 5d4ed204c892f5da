"""Saving and loading whole models in nnbook's own file format.

The file is a NumPy ``.npz`` archive (a zip) holding:

- ``config``: UTF-8 JSON, as uint8 bytes: format name and version, the
  architecture (``Sequential.get_config()``), the compile settings and the
  optimizer's step count;
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

from ..io import registry
from .._validation import INT32_MAX
from ..io.npz import ModelFileError, NpzReader, write_npz

__all__ = ["save_model", "load_model", "ModelFileError"]

FORMAT = registry.KERAS_FORMAT
VERSION = 1

# The core's limits: layer sizes are C ints, at most 32 layers.
_MAX_SIZE = INT32_MAX
_MAX_LAYERS = 32


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to ``filepath`` (exactly that name; no suffix is added).

    The write is atomic: a failed or interrupted save leaves the file that
    was there before untouched.
    """
    model._require_built("save()")
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
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
    if {"config.json", "model.weights.h5"} & set(reader.entries):
        reader.fail("a Keras 3 .keras file (config.json + model.weights.h5); nnbook.keras "
                    "reads only models saved by nnbook.keras's Sequential.save")
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
    """(dtype, shapes of get_weights()) from the config alone: nothing is built."""
    try:
        dtype = np.dtype(arch.get("dtype"))
    except TypeError:
        dtype = None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        reader.fail(f"config declares dtype {arch.get('dtype')!r}; expected float32 or float64")
    layers = _field(reader, arch, "layers", list, "model config")
    if not 1 <= len(layers) <= _MAX_LAYERS:
        reader.fail(f"config declares {len(layers)} layers; expected 1 .. {_MAX_LAYERS}")
    n_in = arch.get("input_dim")
    if n_in is None and isinstance(layers[0], dict):
        n_in = layers[0].get("input_dim")
    n_in = _size(reader, n_in, "input_dim")
    shapes = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            reader.fail(f"config layer {i} is a {type(layer).__name__}, not an object")
        units = _size(reader, layer.get("units"), f"layers[{i}].units")
        shapes.append((n_in, units))
        if layer.get("use_bias", True) is not False:
            shapes.append((units,))
        n_in = units
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

