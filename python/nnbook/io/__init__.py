"""Model and data files: nnbook's .npz format (see :mod:`nnbook.io.npz`).

:mod:`nnbook.io.npz` reads and writes the archives safely (atomic writes;
headers checked before anything is allocated; never unpickles);
:mod:`nnbook.io.registry` maps the class a file names to the front door that
rebuilds it, so ``nnbook.load`` works without ``io`` importing any front door.
"""
from .npz import ModelFileError, NpzReader, write_npz
from .registry import class_name_of, load, register_model_class, register_provider

__all__ = ["ModelFileError", "NpzReader", "write_npz", "load",
           "register_model_class", "register_provider", "class_name_of"]
