"""nnbook: the textbook's dense neural networks on a compiled C/BLAS core.

The book's classes (chapters 6-7) with the book's names and numbers:

>>> from nnbook import SingleLayer, DualLayer, RandomInitNetwork, MinibatchNetwork, MultiClassNetwork
"""
import os as _os
import warnings as _warnings

# NNBOOK_SMALL_GEMM (auto | always | never) picks the core's small-matrix
# kernels or OpenBLAS; the C core reads it once at load and treats any other
# value as auto, so say so here, where a warning can be raised.
if _os.environ.get("NNBOOK_SMALL_GEMM", "auto") not in ("auto", "always", "never"):
    _warnings.warn(f"NNBOOK_SMALL_GEMM must be one of auto, always, never; "
                   f"received {_os.environ['NNBOOK_SMALL_GEMM']!r}: using auto", RuntimeWarning)

from ._threads import get_num_threads, set_num_threads
from ._validation import NotFittedError
from .book import DualLayer, MinibatchNetwork, MultiClassNetwork, RandomInitNetwork, SingleLayer
from .io import ModelFileError, load, register_provider as _register_provider

_register_provider("Sequential", "nnbook.keras")  # nnbook.load imports nnbook.keras on demand

__version__ = "0.1.0"
__all__ = ["SingleLayer", "DualLayer", "RandomInitNetwork", "MinibatchNetwork",
           "MultiClassNetwork", "NotFittedError", "load", "ModelFileError", "get_num_threads", "set_num_threads"]
