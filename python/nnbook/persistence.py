"""Saved book networks: one .npz file per network, readable without pickle.

This module turns the book's classes into arrays and back; reading and
writing the archive itself (atomic saves, header checks before allocation,
no pickle) is :mod:`nnbook.io.npz`'s job. A file holds:

==================  =====================================================
key                 content
==================  =====================================================
``nnbook_format``   int, the format version (:data:`FORMAT_VERSION`)
``class_name``      str, e.g. ``"MultiClassNetwork"``
``dtype``           str, ``"float32"`` or ``"float64"``
``hyperparameters`` str, JSON object: learning_rate, l1, l2 (+ units,
                    batch_size, random_state where the class has them)
``sizes``           int64, input features then the units of every layer
``params``          the core's flat parameter vector (W_1, b_1, W_2, ...),
                    in ``dtype``; every value finite
``losses``          float64, the training losses per epoch
``val_losses``      float64, the validation losses per epoch
``w_history``       SingleLayer only: the w copies, (epochs + 1, features)
``extra``           str, JSON object: free metadata (the CLI records the
                    data set)
==================  =====================================================

Loading checks ``sizes`` against the class (a hidden layer of ``units``
units, one output or at least two classes, every size a C ``int``) and
against the stored ``params`` header before the network is built, then reads
the parameters straight into the new network: bit for bit the saved ones,
with no second copy of a large model in memory.

Example
-------
>>> import nnbook, numpy as np, os, tempfile
>>> x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]); y = np.array([1, 0, 1, 0])
>>> net = nnbook.SingleLayer().fit(x, y, epochs=3)
>>> path = os.path.join(tempfile.mkdtemp(), "single.npz")
>>> save_model(net, path, extra={"data": "toy"})
>>> again = nnbook.load(path)
>>> bool((again.w == net.w).all()), read_extra(path)
(True, {'data': 'toy'})
"""
import json

import numpy as np

from .io import registry
from ._validation import INT32_MAX
from .io.npz import ModelFileError, NpzReader, write_npz

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_model", "load_model", "load", "read_extra",
           "register"]

#: Version written by this nnbook; files with a larger number are refused.
FORMAT_VERSION = 1

#: The book classes a file may name (filled by :func:`register` when
#: nnbook.book is imported; the exact class is restored).
MODEL_CLASSES = {}

# Constructor arguments beyond learning_rate/l1/l2, stored when present.
_OPTIONAL_HYPER = ("units", "batch_size", "random_state")
_HYPER = ("learning_rate", "l1", "l2") + _OPTIONAL_HYPER

# Layer sizes are C ints in the core.
_MAX_SIZE = INT32_MAX


def register(*classes):
    """Make ``classes`` (the book's) loadable by name, by ``nnbook.load`` too."""
    for cls in classes:
        MODEL_CLASSES[cls.__name__] = cls
        registry.register_model_class(cls.__name__, _load_book)


def _hyperparameters(model):
    hyper = {"learning_rate": model.lr, "l1": model.l1, "l2": model.l2}
    for name in _OPTIONAL_HYPER:
        if hasattr(model, name):
            hyper[name] = getattr(model, name)
    # a RandomState object is not data a file can hold (it would need
    # pickle); the loaded model's draws come from a fresh seed, None
    if isinstance(hyper.get("random_state"), np.random.RandomState):
        hyper["random_state"] = None
    return hyper


def save_model(model, path, extra=None):
    """Write a fitted book network to ``path`` (one .npz, no pickle).

    Parameters
    ----------
    model : SingleLayer, DualLayer, RandomInitNetwork, MinibatchNetwork or MultiClassNetwork
        A fitted network.
    path : str or os.PathLike
        Written as given (no ``.npz`` is appended); replaced atomically: a
        failed or interrupted save leaves the previous file as it was.
    extra : dict, optional
        JSON-serialisable metadata kept in the file (see :func:`read_extra`).

    Raises
    ------
    NotFittedError
        If the network has no weights yet.
    TypeError
        If ``model`` is not one of the book's classes, or ``extra`` is not a dict.
    OSError
        If the file cannot be written; the message names ``path``.

    Example
    -------
    >>> save_model(net, "model.npz", extra={"data": "breast-cancer"})  # doctest: +SKIP
    """
    name = type(model).__name__
    if MODEL_CLASSES.get(name) is not type(model):
        raise TypeError(f"save_model saves the book's classes ({', '.join(MODEL_CLASSES)}), "
                        f"got {name}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of JSON-serialisable metadata, got "
                        f"{type(extra).__name__}")
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
    if getattr(model, "w_history", None):
        arrays["w_history"] = np.stack([w.reshape(-1) for w in model.w_history])
    write_npz(path, arrays)


def _check_version(reader):
    version = int(reader.array("nnbook_format", kinds="iu", ndim=0))
    if version > FORMAT_VERSION:
        reader.fail(f"written in model format {version} by a newer nnbook; this nnbook reads "
                    f"formats up to {FORMAT_VERSION}: upgrade nnbook")
    if version < 1:
        reader.fail(f"invalid model format version {version}")


def read_extra(path):
    """The ``extra`` metadata dict stored by :func:`save_model` (empty if none).

    Example
    -------
    >>> read_extra("model.npz")                            # doctest: +SKIP
    {'data': 'breast-cancer', 'model': 'dual', 'class_names': ['malignant', 'benign']}
    """
    with NpzReader(path) as reader:
        if "nnbook_format" not in reader:
            reader.fail("not a book network saved by nnbook (no 'nnbook_format' entry)")
        _check_version(reader)
        if "extra" not in reader:
            return {}
        return reader.json("extra", kind=dict)


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
        version, too large, holds non-finite weights, or (with ``expected``)
        holds another class.

    Example
    -------
    >>> import nnbook
    >>> net = nnbook.load("model.npz")                     # doctest: +SKIP
    >>> net.predict(x)                                     # doctest: +SKIP
    """
    if expected is None:
        return registry.load(path)
    with NpzReader(path) as reader:
        return _load_book(reader, expected)


def load(path):
    """Read any saved nnbook model, whatever its class (``nnbook.load``)."""
    return registry.load(path)


def _load_book(reader, expected=None):
    if "nnbook_format" not in reader:
        if expected is not None and "config" in reader:
            other = registry.class_name_of(reader)  # e.g. an nnbook.keras model
            reader.fail(f"holds a {other} (nnbook.keras), not a {expected.__name__}; load it "
                        f"with nnbook.load or nnbook.keras.models.load_model")
        reader.fail("not a book network saved by nnbook (no 'nnbook_format' entry)")
    _check_version(reader)
    class_name = reader.text("class_name")
    cls = MODEL_CLASSES.get(class_name)
    if cls is None:
        reader.fail(f"holds an unknown class {class_name!r}; the book's classes are "
                    f"{', '.join(MODEL_CLASSES)}")
    if expected is not None and cls is not expected:
        raise ModelFileError(f"{reader.path} holds a {class_name}, not a {expected.__name__}; "
                             f"load it with {class_name}.load or nnbook.load")
    model = _construct(reader, cls)
    _restore(model, reader)
    return model


def _construct(reader, cls):
    try:
        hyper = reader.json("hyperparameters", kind=dict)
    except ModelFileError as exc:
        problem = str(exc).removeprefix(f"{reader.path}: ")
        reader.fail(f"bad hyperparameters or dtype for {cls.__name__} ({problem})")
    unknown = sorted(set(hyper) - set(_HYPER))
    if unknown:
        reader.fail(f"bad hyperparameters or dtype for {cls.__name__} (unknown "
                    f"{', '.join(unknown)})")
    dtype_name = reader.text("dtype")
    try:
        return cls(dtype=np.dtype(dtype_name), **hyper)
    except (TypeError, ValueError, OverflowError) as exc:
        reader.fail(f"bad hyperparameters or dtype for {cls.__name__} ({exc})")


def _checked_sizes(model, reader):
    """The layer sizes, checked against the class and the core's int range (nothing built)."""
    sizes = [int(s) for s in reader.array("sizes", kinds="iu", ndim=1)]
    hidden = hasattr(model, "units")
    expected = 3 if hidden else 2
    ok = len(sizes) == expected and all(1 <= s <= _MAX_SIZE for s in sizes)
    if ok and hidden:
        ok = sizes[1] == model.units
    if ok:
        ok = sizes[-1] >= 2 if hasattr(model, "_n_classes") else sizes[-1] == 1
    if not ok:
        reader.fail(f"layer sizes {sizes} do not fit a {type(model).__name__}"
                    + (f" with units={model.units}" if hidden else "")
                    + (f" (each size must be 1 .. {_MAX_SIZE})" if sizes and
                       not all(1 <= s <= _MAX_SIZE for s in sizes) else ""))
    return sizes


def _restore(model, reader):
    sizes = _checked_sizes(model, reader)
    # Python ints: a hostile size cannot overflow this count
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    stored = reader.member("params")
    dtype = np.dtype(model.dtype)
    if stored.shape != (count,) or stored.dtype.newbyteorder("=") != dtype:
        reader.fail(f"'params' has {stored.size} {stored.dtype} values in shape {stored.shape}, "
                    f"expected {count} {dtype} values for sizes {sizes}")
    history = None
    if hasattr(model, "w_history") and "w_history" in reader:
        shape = reader.shape("w_history")
        if len(shape) != 2 or shape[1] != sizes[0]:
            reader.fail(f"'w_history' has shape {shape}, expected (epochs + 1, {sizes[0]})")
        history = reader.array("w_history", kinds="f", finite=True)
    losses = [float(v) for v in _optional(reader, "losses")]
    val_losses = [float(v) for v in _optional(reader, "val_losses")]
    if hasattr(model, "_n_classes"):
        model._n_classes = sizes[-1]
    net = model._build(sizes)
    reader.array("params", out=net.params, finite=True)
    model.losses, model.val_losses = losses, val_losses
    if hasattr(model, "w_history"):
        model.w_history = ([] if history is None else
                           [row.reshape(-1, 1).astype(model.dtype) for row in history])


def _optional(reader, key):
    if key not in reader:
        return np.empty(0)
    return reader.array(key, kinds="fiu", ndim=1)

