"""scikit-learn's per-epoch shuffles, drawn in C a chunk of epochs at a time.

scikit-learn keeps a running order of the sample indices and, each epoch,
shuffles it with its RandomState (one `permutation(n)`-worth of draws), so
epoch e visits order_e = order_{e-1}[perm_e]. The permutations come from the
core's copy of NumPy's legacy generator, several epochs per call (one call
costs far more than one permutation); draws a stopped fit did not use are
given back, so the RandomState (possibly the caller's, or NumPy's global
one) ends exactly where scikit-learn's would.
"""
import numpy as np

from .. import _nncore

# Permutation entries drawn per call (8 MiB of int64).
CHUNK_ENTRIES = 1 << 20


class EpochOrders:
    """Row orders for successive epochs, as scikit-learn's MLP draws them.

    Parameters
    ----------
    rng : numpy.random.RandomState
    n : int
        Rows in the training set.
    max_epochs : int
        Epochs this fit may run (caps how far ahead draws are made).

    Example
    -------
    >>> a, b = np.random.RandomState(0), np.random.RandomState(0)
    >>> orders = EpochOrders(a, 5, 3)
    >>> first, second = orders.next().copy(), orders.next()
    >>> orders.close()
    >>> bool((second == b.permutation(5)[b.permutation(5)]).all())
    True
    >>> a.randint(1000) == b.randint(1000)
    True
    """

    def __init__(self, rng, n, max_epochs):
        self.rng = rng
        self.n = n
        self.remaining = max_epochs
        self.order = np.arange(n, dtype=np.int64)
        self.chunk = np.empty((0, n), np.int64)
        self.used = 0
        self.state_before = None

    def next(self):
        """The next epoch's row order (int64, length n)."""
        if self.used == len(self.chunk):
            count = max(1, min(self.remaining, CHUNK_ENTRIES // max(self.n, 1)))
            # the generator's words in place where that works (1 us against
            # get_state's 85, a twentieth of a one-epoch fit on breast cancer)
            self.state_before = _nncore.legacy_state(self.rng)
            if self.state_before is None:
                self.state_before = self.rng.get_state()
            self.chunk = _nncore.legacy_permutations(self.rng, self.n, count)
            self.used = 0
        self.order = self.order[self.chunk[self.used]]
        self.used += 1
        self.remaining -= 1
        return self.order

    def close(self):
        """Give back the draws of epochs that were never run."""
        if self.state_before is not None and self.used < len(self.chunk):
            if isinstance(self.state_before, bytes):
                _nncore.set_legacy_state(self.rng, self.state_before)
            else:
                self.rng.set_state(self.state_before)
            _nncore.legacy_permutations(self.rng, self.n, self.used)
        self.chunk = self.chunk[:0]
        self.state_before = None
