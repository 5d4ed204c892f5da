"""How many threads nnbook's core calls use.

The count is nnbook's own setting, handed to the core as an argument of
every call: it is never a setting of the BLAS that another call, another
thread or another library could observe, and it never changes a result (the
core's row blocking and its order of sums do not depend on it; see
``nnbook/_network.py``). The vendored OpenBLAS itself always runs on one
thread, since the core splits each batch across its own threads.

The default is the first of ``NNBOOK_NUM_THREADS``, ``OMP_NUM_THREADS`` (as
joblib and job schedulers set it) or the cores this process may run on.
"""
import os
import threading

from ._nncore import MAX_THREADS

_ENV_VARS = ("NNBOOK_NUM_THREADS", "OMP_NUM_THREADS")
_lock = threading.Lock()
_setting = None


def _from_environment():
    for var in _ENV_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_num_threads(n):
    """Set how many threads nnbook's core calls use (results never depend on it).

    Parameters
    ----------
    n : int >= 1
        Calls use at most this many threads (and at most 16). The core's
        worker threads are started by the first call that needs them and
        then kept for later calls; a worker that ran a call waits about
        100 microseconds for the next one before it sleeps, and workers
        beyond a later, smaller count sleep until a call needs them.

    Example
    -------
    >>> import nnbook
    >>> before = nnbook.get_num_threads()
    >>> nnbook.set_num_threads(1)
    >>> nnbook.get_num_threads()
    1
    >>> nnbook.set_num_threads(before)
    """
    global _setting
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
        raise TypeError(f"n must be an integer >= 1, got {n!r}")
    n = int(n.__index__())
    if n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n}")
    with _lock:
        _setting = n


def get_num_threads():
    """The thread count set by set_num_threads (or the default, see the module)."""
    global _setting
    with _lock:
        if _setting is None:
            _setting = _from_environment()
        return _setting


def call_threads():
    """The thread count for one core call: get_num_threads(), at most the core's maximum."""
    return max(1, min(get_num_threads(), MAX_THREADS))
