"""CoreNetwork: one dense network's buffers, handed to the C core.

Holds the flat parameter vector (layer by layer: W_l then b_l), the
optimizer state and the training scratch buffer, and calls the core for
whole epochs and batched forward passes. Both the book's classes and
nnbook.keras are thin layers over it. Arrays passed in must already be
validated (dtype, contiguity, shape): see _validation.

Threads: any number of threads may run forward passes on one network at
once; each pass gets its own scratch memory. Training takes the network's
lock exclusively, so a forward pass sees the parameters before or after a
training call, never halfway through one. Every call's thread count is an
argument (nnbook.get_num_threads() by default) and never changes a result.

Interrupts: the core calls back into Python between batches (about every
CHECK_SECONDS, or after every batch when a batch callback is given). Ctrl-C
there raises KeyboardInterrupt within that time; the parameters are those
after the last completed batch, and the exception carries the completed
epochs' results (see train_epochs).
"""
import threading
from contextlib import contextmanager

import numpy as np

from . import _nncore
from ._threads import call_threads

# The book's guards: sigmoid/softmax inputs clipped below at -100, and
# loss values taken on a clipped to [1e-10, 1 - 1e-10].
BOOK_ZMIN = -100.0
BOOK_EPS = 1e-10

# Rows per chunk of a forward pass (prediction, evaluation, validation loss);
# fixed, so every pass over the same rows computes the same bits.
FORWARD_CHUNK = 1024

# Seconds between the core's calls back into Python (signals, progress).
CHECK_SECONDS = 0.05


class _ParamsLock:
    """Many readers (forward passes) or one writer (training) at a time.

    Re-entrant for the writer's own thread, so a callback run from inside a
    training call may predict. Waiting writers go before new readers.
    """

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = None
        self._depth = 0
        self._waiting = 0

    @contextmanager
    def read(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                mine = True
            else:
                mine = False
                while self._writer is not None or self._waiting:
                    self._cond.wait()
                self._readers += 1
        try:
            yield
        finally:
            if not mine:
                with self._cond:
                    self._readers -= 1
                    if not self._readers:
                        self._cond.notify_all()

    @contextmanager
    def write(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()


def _hook(callback, interval=None):
    """The core's hook: every batch with a callback (unless an interval is
    given), else every CHECK_SECONDS for signals alone."""
    if interval is None:
        interval = 0.0 if callback is not None else CHECK_SECONDS
    return _nncore.BatchHook(callback, interval)


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
        self.state_offsets = self.config.state_offsets()
        self.step = 0
        self.last_correct = 0
        self.last_counts = np.zeros(len(_nncore.COUNTS), np.int64)
        self.opt_state = self.config.initial_optimizer_state(self.dtype)
        self._work = np.empty(0, self.dtype)
        self.lock = _ParamsLock()

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["lock"], state["_work"], state["config"], state["offsets"]
        state.pop("state_offsets", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.config = self._make_config()
        self.offsets = self.config.param_offsets()
        self.state_offsets = self.config.state_offsets()
        self._work = np.empty(0, self.dtype)
        self.lock = _ParamsLock()

    def _make_config(self):
        return _nncore.CoreConfig(self.sizes, self.activations, loss=self.loss, **self.settings)

    @property
    def n_layers(self):
        return len(self.activations)

    def kind(self, layer):
        """What stage `layer` is: 'dense', 'batchnorm', 'dropout' or 'activation'."""
        kinds = self.settings.get("kinds")
        return "dense" if kinds is None else kinds[layer]

    def weight(self, layer):
        """View of W_l, shape (sizes[l], sizes[l+1]), or of a batch-normalization
        stage's gamma (sizes[l+1],) (None without one); writing to it changes
        the network."""
        start = self.offsets[layer][0]
        n_in, n_out = self.sizes[layer], self.sizes[layer + 1]
        if self.kind(layer) != "dense":
            return None if start < 0 else self.params[start:start + n_out]
        return self.params[start:start + n_in * n_out].reshape(n_in, n_out)

    def bias(self, layer):
        """View of b_l (or a batch-normalization stage's beta), shape
        (sizes[l+1],), or None for a stage without one."""
        start = self.offsets[layer][1]
        if start < 0:
            return None
        return self.params[start:start + self.sizes[layer + 1]]

    def _statistics(self, layer):
        start, n = self.state_offsets[layer], self.sizes[layer + 1]
        if start < 0:
            raise ValueError(f"stage {layer} is a {self.kind(layer)} stage, not batchnorm")
        return self.params[start:start + 2 * n].reshape(2, n)

    def moving_mean(self, layer):
        """View of a batch-normalization stage's moving mean (sizes[l+1],)."""
        return self._statistics(layer)[0]

    def moving_variance(self, layer):
        """View of a batch-normalization stage's moving variance (sizes[l+1],)."""
        return self._statistics(layer)[1]

    def weights(self):
        """Views of every dense weight matrix (the book's penalty applies to these only)."""
        return [self.weight(l) for l in range(self.n_layers) if self.kind(l) == "dense"]

    def _train_scratch(self, batch_size, threads, gather, fwd_rows):
        # only ever used under the write lock: one training call at a time
        need = self.config.workspace_len(batch_size, threads, gather, fwd_rows)
        if self._work.size < need:
            self._work = np.empty(need, self.dtype)
        return self._work

    def train_epoch(self, x, y, batch_size, perm=None, callback=None, threads=None,
                    callback_interval=None, sample_weight=None):
        """One epoch in C; returns the sum of the batches' loss terms.

        x (n, sizes[0]) and y (n, sizes[-1]) in self.dtype, C-contiguous;
        perm: int64 row order or None for the rows in order. Afterwards
        `last_correct` holds the rows predicted right during the epoch, each
        before its batch's update (Keras's running accuracy times n).
        callback: see train_epochs; if it stops the epoch, StopIteration is
        raised.
        """
        perms = None if perm is None else np.asarray(perm, np.int64).reshape(1, -1)
        loss_sums, _, _ = self.train_epochs(x, y, batch_size, 1, perms, None, callback, threads,
                                            sample_weight, callback_interval)
        if not len(loss_sums):
            raise StopIteration("a batch callback stopped the epoch")
        return loss_sums[0]

    def train_epochs(self, x, y, batch_size, n_epochs, perms=None, val=None, callback=None,
                     threads=None, sample_weight=None, callback_interval=None,
                     metric_counts=True):
        """n_epochs epochs in one C call (no Python between epochs).

        perms: (n_epochs, n) int64 row orders, or None for the rows in order;
        val: (x_val, y_val) or None. Returns (loss_sums, penalties,
        val_loss_sums or None), one entry per completed epoch; the penalty
        and the validation loss are taken after each epoch.

        callback(progress), if given, runs after every batch with progress =
        (epoch, batch, batches, rows, loss_sum, correct, counts) of the current
        epoch (or every callback_interval seconds, when given); a truthy
        return stops training after that batch, and the arrays then hold
        only the completed epochs. KeyboardInterrupt (or an
        exception from the callback) stops it likewise and is re-raised
        carrying ``nnbook_completed`` = the three arrays of the completed
        epochs; `last_correct` and `step` follow the parameters, which are
        those after the last completed batch.

        sample_weight (n values in self.dtype, or None): each batch's loss is
        the weighted mean of its rows' losses (the penalty's gradient divided
        by the batch's weight sum), and loss_sums/penalties hold that mean
        times the batch's rows.

        metric_counts=False: the core forms no metric counts (a pass over
        every batch's outputs that only Keras's metrics read); `last_counts`
        and `last_correct` stay as they were and progress reports zeros.
        """
        n = x.shape[0]
        rows = min(batch_size, n)
        threads = call_threads() if threads is None else threads
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
        counts = np.zeros((n_epochs if metric_counts else 0, self.config.counts_len()), np.int64)
        hook = _hook(callback, callback_interval)
        with self.lock.write():
            work = self._train_scratch(rows, threads, perms is not None,
                                       min(FORWARD_CHUNK, x_val.shape[0]))
            self.step, done = _nncore.train_epochs(
                self.config, self.params, self.opt_state, work, threads, x, y, orders, n_epochs,
                rows, x_val, y_val, self.step, loss_sums, penalties, val_sums, counts, hook,
                FORWARD_CHUNK, sample_weight)
        if done and metric_counts:
            self.last_correct = int(counts[done - 1, 0])
            self.last_counts = counts[done - 1].copy()
        completed = (loss_sums[:done], penalties[:done],
                     val_sums[:done] if val is not None else None)
        if hook.error is not None:
            hook.error.nnbook_completed = completed
            raise hook.error
        return completed

    def snapshot(self):
        """A copy of the training state (parameters, optimizer state, step)."""
        with self.lock.read():
            return self.params.copy(), self.opt_state.copy(), self.step

    def restore(self, state):
        """Return to a snapshot()."""
        params, opt_state, step = state
        with self.lock.write():
            self.params[...] = params
            self.opt_state[...] = opt_state
            self.step = step

    def forward(self, x, logits=False):
        """Output activations (or logits) for every row of x, shape (n, sizes[-1]).

        Raises ValueError when an output is not finite: the inputs are too
        large for the weights (or the weights diverged), and any class or
        value read from such an output would be garbage.
        """
        out = self.forward_loss(x, None, logits)[0]
        if not np.isfinite(out).all():
            bad = int(np.count_nonzero(~np.isfinite(out).all(axis=1)))
            raise ValueError(f"the network's outputs are not finite for {bad} of {len(out)} "
                             f"rows of x: the inputs are too large for its weights (or the "
                             f"weights diverged); scale the inputs as they were in training")
        return out

    def loss_sum(self, x, y):
        """Sum of the loss terms over all rows (no penalty)."""
        return self._forward(x, None, False, y)

    def forward_loss(self, x, y, logits=False, sample_weight=None):
        """(outputs (n, sizes[-1]), sum of the loss terms against y, or 0.0 without y).

        One code path for every forward pass (prediction, evaluation, the
        validation loss in training): the same rows give the same bits.
        sample_weight (n values in self.dtype): the sum is sum_i w_i l_i.
        """
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        return out, self._forward(x, out, logits, y, sample_weight=sample_weight)

    def _forward(self, x, out, logits, y, threads=None, sample_weight=None):
        rows = min(FORWARD_CHUNK, x.shape[0])
        threads = call_threads() if threads is None else threads
        none = np.empty((0, self.sizes[-1]), self.dtype)
        # a scratch of its own: forward passes may run in many threads at once
        work = np.empty(self.config.forward_workspace_len(rows, threads), self.dtype)
        with self.lock.read():
            return _nncore.forward(self.config, self.params, work, FORWARD_CHUNK, threads, x,
                                   none if out is None else out, logits,
                                   none if y is None else y, _hook(None), sample_weight)

    def penalty(self):
        """l1 * sum|W| + l2/2 * sum W^2 over the weight matrices."""
        with self.lock.read():
            return _nncore.network_penalty(self.config, self.params)
