"""nnbook: the textbook's dense neural networks on a compiled C/BLAS core."""
from ._nncore import get_num_threads, set_num_threads

__version__ = "0.1.0"
__all__ = ["get_num_threads", "set_num_threads"]
