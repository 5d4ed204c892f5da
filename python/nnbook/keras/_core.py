"""The compiled network behind a Sequential model (a thin CoreNetwork subclass).

Keras's conventions are fixed here once: losses in their exact from-logits
form (eps=0) and no clipping of the logits (zmin=-inf).
"""
import numpy as np

from .. import _nncore
from .._network import FORWARD_CHUNK, CoreNetwork

KERAS_SETTINGS = {"zmin": _nncore.NO_CLIP, "eps": 0.0}

# Batches of at most this many rows train with one BLAS thread. Measured on
# the 2-core machine (784-100-10, float32): at batch 32 a second OpenBLAS
# thread gains nothing when the machine is idle, and makes an epoch ~10x
# slower when another process holds a core (the threads spin-wait for each
# other on every small GEMM). Larger batches keep the user's thread count.
SINGLE_THREAD_ROWS = 64


class KerasCore(CoreNetwork):
    """CoreNetwork with a switchable loss and a one-pass forward + loss.

    Example
    -------
    >>> core = KerasCore([3, 2], ["softmax"], "mse", np.float32, has_bias=[True])
    >>> core.set_training("categorical_crossentropy", {"optimizer": "adam"})
    >>> core.opt_state.size == 2 * core.params.size
    True
    """

    def __init__(self, sizes, activations, loss, dtype, **settings):
        super().__init__(sizes, activations, loss, dtype, **KERAS_SETTINGS, **settings)

    def set_training(self, loss, optimizer_settings, reset=True):
        """Switch loss and optimizer; `reset` zeroes the optimizer state (a new optimizer)."""
        self.loss = loss
        self.settings.update(optimizer_settings)
        self.config = self._make_config()
        slots = self.config.optimizer_slots() * self.params.size
        if reset or self.opt_state.size != slots:
            self.opt_state = np.zeros(slots, self.dtype)
            self.step = 0

    def train_epoch(self, x, y, batch_size, perm=None):
        """One epoch in C (see CoreNetwork.train_epoch); small batches use one BLAS thread."""
        threads = _nncore.get_num_threads()
        if batch_size > SINGLE_THREAD_ROWS or threads == 1:
            return super().train_epoch(x, y, batch_size, perm)
        _nncore.set_num_threads(1)
        try:
            return super().train_epoch(x, y, batch_size, perm)
        finally:
            _nncore.set_num_threads(threads)

    def forward_loss(self, x, y, logits=False):
        """(outputs (n, units), sum of the loss terms) in one pass over x."""
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        rows = min(FORWARD_CHUNK, x.shape[0])
        loss = _nncore.forward(self.config, self.params, self._scratch(rows), rows, x, out,
                               logits, y)
        return out, loss
