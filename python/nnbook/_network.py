"""CoreNetwork: one dense network's buffers, handed to the C core.

Holds the flat parameter vector (layer by layer: W_l then b_l), the
optimizer state and the scratch buffer, and calls the core for whole epochs
and batched forward passes. Both the book's classes and nnbook.keras are
thin layers over it. Arrays passed in must already be validated (dtype,
contiguity, shape): see _validation.
"""
import numpy as np

from . import _nncore

# The book's guards: sigmoid/softmax inputs clipped below at -100, and
# loss values taken on a clipped to [1e-10, 1 - 1e-10].
BOOK_ZMIN = -100.0
BOOK_EPS = 1e-10

# Scratch rows for forward passes (prediction, validation loss).
FORWARD_CHUNK = 1024


class CoreNetwork:
    """A dense network on the compiled core.

    Parameters
    ----------
    sizes : list of int
        Input features, then the units of every layer.
    activations : list of str
        One per layer: 'linear', 'sigmoid', 'tanh', 'relu' or 'softmax'.
    loss : str
        'binary_crossentropy' (sigmoid output), 'categorical_crossentropy'
        (softmax output) or 'mse'.
    dtype : numpy.float32 or numpy.float64
    **settings
        has_bias, zmin, eps, l1, l2, optimizer, learning_rate, momentum,
        beta1, beta2, epsilon, rho, nesterov (see nncore.h, nn_config).

    Example
    -------
    >>> net = CoreNetwork([2, 3, 1], ["sigmoid", "sigmoid"], "binary_crossentropy", np.float64)
    >>> net.weight(0).shape, net.bias(1).shape
    ((2, 3), (1,))
    """

    def __init__(self, sizes, activations, loss, dtype, **settings):
        self.dtype = np.dtype(dtype)
        self.sizes = [int(s) for s in sizes]
        self.activations = list(activations)
        self.loss = loss
        self.settings = dict(settings)
        self.config = self._make_config()
        self.params = np.zeros(self.config.param_count(), dtype=self.dtype)
        self.offsets = self.config.param_offsets()
        self.step = 0
        self.last_correct = 0
        self.opt_state = np.zeros(self.config.optimizer_slots() * self.params.size, self.dtype)
        self._work = np.empty(0, self.dtype)

    def _make_config(self):
        return _nncore.CoreConfig(self.sizes, self.activations, loss=self.loss, **self.settings)

    @property
    def n_layers(self):
        return len(self.activations)

    def weight(self, layer):
        """View of W_l, shape (sizes[l], sizes[l+1]); writing to it changes the network."""
        start = self.offsets[layer][0]
        n_in, n_out = self.sizes[layer], self.sizes[layer + 1]
        return self.params[start:start + n_in * n_out].reshape(n_in, n_out)

    def bias(self, layer):
        """View of b_l, shape (sizes[l+1],), or None for a layer without bias."""
        start = self.offsets[layer][1]
        if start < 0:
            return None
        return self.params[start:start + self.sizes[layer + 1]]

    def weights(self):
        """Views of every weight matrix (the penalty applies to these only)."""
        return [self.weight(l) for l in range(self.n_layers)]

    @staticmethod
    def threads():
        """Threads the core may split a batch across: the BLAS's thread count
        (nnbook.set_num_threads / threadpoolctl), at most MAX_THREADS."""
        return max(1, min(_nncore.get_num_threads(), _nncore.MAX_THREADS))

    def _scratch(self, rows, threads, gather):
        # gather: rows copied in by a permutation; without it the data is
        # read in place and the scratch needs no room for a batch copy
        need = self.config.workspace_len(rows, threads, gather)
        if self._work.size < need:
            self._work = np.empty(need, self.dtype)
        return self._work

    def train_epoch(self, x, y, batch_size, perm=None):
        """One epoch in C; returns the sum of the batches' loss terms.

        x (n, sizes[0]) and y (n, sizes[-1]) in self.dtype, C-contiguous;
        perm: int64 row order or None for the rows in order. Afterwards
        `last_correct` holds the rows predicted right during the epoch, each
        before its batch's update (Keras's running accuracy times n).
        """
        n = x.shape[0]
        rows = min(batch_size, n)
        threads = self.threads()
        work = self._scratch(rows, threads, perm is not None)
        order = np.empty(0, np.int64) if perm is None else np.ascontiguousarray(perm, np.int64)
        loss, self.step, self.last_correct = _nncore.train_epoch(
            self.config, self.params, self.opt_state, work, rows, threads, x, y, order, rows,
            self.step)
        return loss

    def train_epochs(self, x, y, batch_size, n_epochs, perms=None, val=None):
        """n_epochs epochs in one C call (no Python between epochs).

        perms: (n_epochs, n) int64 row orders, or None for the rows in order;
        val: (x_val, y_val) or None. Returns (loss_sums, penalties,
        val_loss_sums or None), one entry per epoch; the penalty and the
        validation loss are taken after each epoch.
        """
        n = x.shape[0]
        rows = min(batch_size, n)
        threads = self.threads()
        work = self._scratch(rows, threads, perms is not None)
        orders = (np.empty((0, 0), np.int64) if perms is None
                  else np.ascontiguousarray(perms, np.int64))
        if val is None:
            x_val = np.empty((0, self.sizes[0]), self.dtype)
            y_val = np.empty((0, self.sizes[-1]), self.dtype)
        else:
            x_val, y_val = val
        loss_sums = np.empty(n_epochs)
        penalties = np.empty(n_epochs)
        val_sums = np.empty(n_epochs if val is not None else 0)
        correct = np.empty(n_epochs, np.int64)
        self.step = _nncore.train_epochs(self.config, self.params, self.opt_state, work, rows,
                                         threads, x, y, orders, n_epochs, rows, x_val, y_val,
                                         self.step, loss_sums, penalties, val_sums, correct)
        return loss_sums, penalties, (val_sums if val is not None else None)

    def snapshot(self):
        """A copy of the training state (parameters, optimizer state, step)."""
        return self.params.copy(), self.opt_state.copy(), self.step

    def restore(self, state):
        """Return to a snapshot()."""
        params, opt_state, step = state
        self.params[...] = params
        self.opt_state[...] = opt_state
        self.step = step

    def forward(self, x, logits=False):
        """Output activations (or logits) for every row of x, shape (n, sizes[-1])."""
        return self.forward_loss(x, None, logits)[0]

    def loss_sum(self, x, y):
        """Sum of the loss terms over all rows (no penalty)."""
        return self._forward(x, None, False, y)

    def forward_loss(self, x, y, logits=False):
        """(outputs (n, sizes[-1]), sum of the loss terms against y, or 0.0 without y)."""
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        return out, self._forward(x, out, logits, y)

    def _forward(self, x, out, logits, y):
        rows = min(FORWARD_CHUNK, x.shape[0])
        threads = self.threads()
        none = np.empty((0, self.sizes[-1]), self.dtype)
        return _nncore.forward(self.config, self.params, self._scratch(rows, threads, False), rows,
                               threads, x, none if out is None else out, logits,
                               none if y is None else y)

    def penalty(self):
        """l1 * sum|W| + l2/2 * sum W^2 over the weight matrices."""
        return _nncore.network_penalty(self.config, self.params)
