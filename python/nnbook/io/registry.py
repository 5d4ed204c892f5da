"""Which class a model file holds, and who can rebuild it: ``nnbook.load``.

``io`` never imports a front door (the book classes, ``nnbook.keras``).
Instead each front door registers, when it is imported, a loader per class
name: a function that takes an open :class:`~nnbook.io.npz.NpzReader` and
returns the model. A front door that is not imported yet can be named as the
provider of a class, and is imported the first time a file needs it.

A Keras 3 ``.keras`` file (a zip holding ``config.json``) is recognised by its
content and handed to the loader ``nnbook.keras`` registers for such files.

An .npz model file names its class in one of two layouts:

* book networks: a ``class_name`` text array beside ``nnbook_format``;
* ``nnbook.keras`` models: a ``config`` JSON whose ``format`` is
  ``"nnbook.keras"``; the class is ``Sequential``.

Example
-------
>>> import nnbook
>>> net = nnbook.load("model.npz")                       # doctest: +SKIP
"""
import importlib
import os

from .keras_format import is_keras_archive
from .npz import ModelFileError, NpzReader

__all__ = ["register_model_class", "register_provider", "register_keras_file_loader",
           "class_name_of", "load"]

_LOADERS = {}
_PROVIDERS = {}
_KERAS_FILE_LOADER = []   # [loader(path)], filled by nnbook.keras

KERAS_FORMAT = "nnbook.keras"


def register_model_class(name, loader):
    """Let :func:`load` rebuild files holding class ``name`` with ``loader(reader)``."""
    _LOADERS[name] = loader


def register_provider(name, module):
    """Name the module that registers class ``name`` when imported (imported on demand)."""
    _PROVIDERS[name] = module


def register_keras_file_loader(loader):
    """Let :func:`load` read Keras 3 ``.keras`` files with ``loader(path)``."""
    _KERAS_FILE_LOADER[:] = [loader]


def class_name_of(reader):
    """The class a model file holds, from its layout; ModelFileError if it names none."""
    if "nnbook_format" in reader:
        return reader.text("class_name")
    if "config" in reader:
        config = reader.json("config")
        if config.get("format") == KERAS_FORMAT:
            return "Sequential"
    reader.fail("not an nnbook model file (no 'nnbook_format' or 'config' entry)")


def _loader(name, path):
    if name not in _LOADERS and name in _PROVIDERS:
        importlib.import_module(_PROVIDERS[name])
    loader = _LOADERS.get(name)
    if loader is None:
        known = ", ".join(sorted(set(_LOADERS) | set(_PROVIDERS)))
        raise ModelFileError(f"{path} holds an unknown class {name!r}; this nnbook knows "
                             f"{known}")
    return loader


def load(path):
    """Read any nnbook model file, whatever its class (``nnbook.load``).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by a book network's ``save`` or by ``Sequential.save``,
        or a Keras 3 ``.keras`` file (read by ``nnbook.keras``).

    Returns
    -------
    The model, of the class the file names, with its weights restored exactly.

    Raises
    ------
    FileNotFoundError
        There is no such file.
    ModelFileError
        Anything wrong with the file; the message starts with its path.

    Example
    -------
    >>> import nnbook
    >>> net = nnbook.load("model.npz")                     # doctest: +SKIP
    >>> type(net).__name__                                 # doctest: +SKIP
    'MultiClassNetwork'
    """
    if is_keras_archive(path):
        if not _KERAS_FILE_LOADER:   # nnbook.keras registers it when imported
            importlib.import_module(_PROVIDERS["Sequential"])
        return _KERAS_FILE_LOADER[0](path)
    with NpzReader(path) as reader:
        return _loader(class_name_of(reader), os.fspath(path))(reader)
