"""Saved models: one .npz file per fitted book network, readable without pickle.

A file holds plain arrays only, so ``numpy.load(..., allow_pickle=False)``
reads it and loading can never run code:

==================  =====================================================
key                 content
==================  =====================================================
``nnbook_format``   int, the format version (:data:`FORMAT_VERSION`)
``class_name``      str, e.g. ``"MultiClassNetwork"``
``dtype``           str, ``"float32"`` or ``"float64"``
``hyperparameters`` str, JSON: learning_rate, l1, l2 (+ units, batch_size,
                    random_state where the class has them)
``sizes``           int64, input features then the units of every layer
``params``          the core's flat parameter vector (W_1, b_1, W_2, ...)
``losses``          float64, the training losses per epoch
``val_losses``      float64, the validation losses per epoch
``w_history``       SingleLayer only: the w copies, (epochs + 1, features)
``extra``           str, JSON: free metadata (the CLI records the data set)
==================  =====================================================

Loading rebuilds the network in the saved dtype and copies the parameters
bit for bit, so predictions and losses are identical to the saved network's.
"""
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import book

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_model", "load_model", "load", "read_extra"]

#: Version written by this nnbook; files with a larger number are refused.
FORMAT_VERSION = 1

#: The classes a file may name (the exact class is restored).
MODEL_CLASSES = {cls.__name__: cls for cls in (
    book.SingleLayer, book.DualLayer, book.RandomInitNetwork,
    book.MinibatchNetwork, book.MultiClassNetwork)}

# Constructor arguments beyond learning_rate/l1/l2, stored when present.
_OPTIONAL_HYPER = ("units", "batch_size", "random_state")


class ModelFileError(ValueError):
    """A model file that cannot be read: corrupt, foreign, too new or of another class."""


def _hyperparameters(model):
    hyper = {"learning_rate": model.lr, "l1": model.l1, "l2": model.l2}
    for name in _OPTIONAL_HYPER:
        if hasattr(model, name):
            hyper[name] = getattr(model, name)
    return hyper


def save_model(model, path, extra=None):
    """Write a fitted book network to ``path`` (one .npz, no pickle).

    Parameters
    ----------
    model : SingleLayer, DualLayer, RandomInitNetwork, MinibatchNetwork or MultiClassNetwork
        A fitted network.
    path : str or os.PathLike
        Written as given (no ``.npz`` is appended); replaced atomically.
    extra : dict, optional
        JSON-serialisable metadata kept in the file (see :func:`read_extra`).

    Raises
    ------
    NotFittedError
        If the network has no weights yet.
    TypeError
        If ``model`` is not one of the book's classes.

    Example
    -------
    >>> save_model(net, "model.npz", extra={"data": "breast-cancer"})  # doctest: +SKIP
    """
    name = type(model).__name__
    if MODEL_CLASSES.get(name) is not type(model):
        raise TypeError(f"save_model saves the book's classes ({', '.join(MODEL_CLASSES)}), "
                        f"got {name}")
    net = model._require_fitted()
    arrays = {
        "nnbook_format": np.array(FORMAT_VERSION, dtype=np.int64),
        "class_name": np.array(name),
        "dtype": np.array(np.dtype(model.dtype).name),
        "hyperparameters": np.array(json.dumps(_hyperparameters(model))),
        "sizes": np.array(net.sizes, dtype=np.int64),
        "params": net.params,
        "losses": np.asarray(model.losses, dtype=np.float64),
        "val_losses": np.asarray(model.val_losses, dtype=np.float64),
        "extra": np.array(json.dumps(extra or {})),
    }
    if type(model) is book.SingleLayer and model.w_history:
        arrays["w_history"] = np.stack([w.reshape(-1) for w in model.w_history])
    path = os.fspath(path)
    # Write next to the target, then rename: an interrupted save never
    # leaves a half-written file where a good model used to be.
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nnbook-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read_arrays(path):
    """Every array of the file, or ModelFileError naming the file and the cause."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"model file not found: {name}")
    try:
        with open(name, "rb") as f:
            magic = f.read(4)
    except OSError as exc:  # a folder, no permission, an I/O error
        raise ModelFileError(f"{name}: cannot read the model file ({exc.strerror or exc})") from exc
    if magic != b"PK\x03\x04":
        # np.load would call anything else "pickled data", which misleads
        raise ModelFileError(f"{name}: not an nnbook model file (not an .npz archive; "
                             f"it starts with {magic!r})")
    try:
        with np.load(name, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{name}: not an nnbook model file (a single .npy array, "
                                     f"expected an .npz written by save)")
            return {key: data[key] for key in data.files}
    except ModelFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as exc:
        # a cut zip is a BadZipFile, a damaged member a zlib/EOF error
        raise ModelFileError(f"{name}: unreadable or corrupt model file "
                             f"({type(exc).__name__}: {exc})") from exc


def _text(arrays, key, name):
    value = arrays.get(key)
    if value is None or value.dtype.kind != "U" or value.ndim != 0:
        raise ModelFileError(f"{name}: missing or malformed '{key}' entry")
    return str(value)


def _check_header(arrays, name):
    if "nnbook_format" not in arrays:
        raise ModelFileError(f"{name}: not an nnbook model file (no 'nnbook_format' entry)")
    version = arrays["nnbook_format"]
    if version.ndim != 0 or version.dtype.kind not in "iu":
        raise ModelFileError(f"{name}: malformed 'nnbook_format' entry")
    version = int(version)
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{name} was written in model format {version} by a newer nnbook; "
                             f"this nnbook reads formats up to {FORMAT_VERSION}: upgrade nnbook")
    if version < 1:
        raise ModelFileError(f"{name}: invalid model format version {version}")
    return version


def read_extra(path):
    """The ``extra`` metadata dict stored by :func:`save_model` (empty if none)."""
    arrays = _read_arrays(path)
    _check_header(arrays, os.fspath(path))
    try:
        return json.loads(_text(arrays, "extra", os.fspath(path)))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{os.fspath(path)}: malformed 'extra' entry ({exc})") from exc


def load_model(path, expected=None):
    """Read a network written by :func:`save_model` (or a class's ``save``).

    Parameters
    ----------
    path : str or os.PathLike
    expected : type, optional
        If given, the file must hold exactly this class.

    Returns
    -------
    The network, of the class named in the file, in the saved dtype, with
    its weights, hyperparameters, ``losses``/``val_losses`` (and
    ``w_history`` for SingleLayer) restored exactly.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ModelFileError
        If the file is corrupt, not an nnbook model, from a newer format
        version, or (with ``expected``) holds another class.

    Example
    -------
    >>> import nnbook
    >>> net = nnbook.load("model.npz")                     # doctest: +SKIP
    >>> net.predict(x)                                     # doctest: +SKIP
    """
    name = os.fspath(path)
    arrays = _read_arrays(name)
    _check_header(arrays, name)
    class_name = _text(arrays, "class_name", name)
    cls = MODEL_CLASSES.get(class_name)
    if cls is None:
        raise ModelFileError(f"{name} holds an unknown class {class_name!r}; this nnbook "
                             f"knows {', '.join(MODEL_CLASSES)}")
    if expected is not None and cls is not expected:
        raise ModelFileError(f"{name} holds a {class_name}, not a {expected.__name__}; load it "
                             f"with {class_name}.load or nnbook.load")
    try:
        hyper = json.loads(_text(arrays, "hyperparameters", name))
        dtype = np.dtype(_text(arrays, "dtype", name))
        model = cls(dtype=dtype, **hyper)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{name}: bad hyperparameters or dtype for {class_name} "
                             f"({exc})") from exc
    _restore(model, arrays, name)
    return model


def _restore(model, arrays, name):
    sizes = arrays.get("sizes")
    params = arrays.get("params")
    if sizes is None or params is None or sizes.ndim != 1 or len(sizes) < 2:
        raise ModelFileError(f"{name}: missing or malformed 'sizes'/'params' entries")
    sizes = [int(s) for s in sizes]
    if isinstance(model, book.DualLayer):
        ok = len(sizes) == 3 and sizes[1] == model.units
    else:
        ok = len(sizes) == 2 and sizes[1] == 1
    if not ok or min(sizes) < 1:
        raise ModelFileError(f"{name}: layer sizes {sizes} do not fit a "
                             f"{type(model).__name__}")
    if isinstance(model, book.MultiClassNetwork):
        model._n_classes = sizes[-1]
    net = model._build(sizes)
    if params.dtype != net.params.dtype or params.shape != net.params.shape:
        raise ModelFileError(f"{name}: 'params' has {params.size} {params.dtype} values, "
                             f"expected {net.params.size} {net.params.dtype} for sizes {sizes}")
    net.params[...] = params
    model.losses = [float(v) for v in arrays.get("losses", ())]
    model.val_losses = [float(v) for v in arrays.get("val_losses", ())]
    if type(model) is book.SingleLayer:
        history = arrays.get("w_history")
        model.w_history = ([] if history is None else
                           [row.reshape(-1, 1).astype(model.dtype) for row in history])


def load(path):
    """Read any saved book network, whatever its class (``nnbook.load``).

    Example
    -------
    >>> import nnbook
    >>> net = nnbook.load("model.npz")                     # doctest: +SKIP
    >>> type(net).__name__                                 # doctest: +SKIP
    'MultiClassNetwork'
    """
    return load_model(path)
