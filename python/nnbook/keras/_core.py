"""The compiled network behind a Sequential model (a thin CoreNetwork subclass).

Keras's conventions are fixed here once: losses in their exact from-logits
form (eps=0) and no clipping of the logits (zmin=-inf).
"""
import numpy as np

from .. import _nncore
from .._network import CoreNetwork

# Keras's losses: no clipping of the logits, the exact loss from the logits,
# and a weighted batch's loss sum_i w_i l_i / m (its sum over batch size).
KERAS_SETTINGS = {"zmin": _nncore.NO_CLIP, "eps": 0.0, "weight_over_rows": True}


class KerasCore(CoreNetwork):
    """CoreNetwork with a switchable loss and optimizer.

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
        with self.lock.write():
            self.loss = loss
            self.settings.update(optimizer_settings)
            self.config = self._make_config()
            if reset or self.opt_state.size != self.config.optimizer_state_len():
                self.opt_state = self.config.initial_optimizer_state(self.dtype)
                self.step = 0
