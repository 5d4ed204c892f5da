"""One model, many threads: fits take turns.

A fit rebuilds or retrains a model's network and its loss history; two
fits of one model running at once would interleave their epochs. Front
doors derive from SerialFits and decorate ``fit`` with ``serialised``;
predictions need no lock here, since the network they read is consistent
by itself (see ``_network.py``).
"""
import functools
import threading


class SerialFits:
    """A model with a re-entrant fit lock, left out of pickles and rebuilt."""

    @property
    def _fit_lock(self):
        lock = self.__dict__.get("_fit_lock_")
        if lock is None:
            # setdefault is atomic in CPython: two first callers get one lock
            lock = self.__dict__.setdefault("_fit_lock_", threading.RLock())
        return lock

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_fit_lock_", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)


def serialised(fit):
    """fit runs under the model's lock: two threads fitting one model take turns."""
    @functools.wraps(fit)
    def locked(self, *args, **kwargs):
        with self._fit_lock:
            return fit(self, *args, **kwargs)
    return locked
