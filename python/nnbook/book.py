"""The textbook's networks (chapters 6-7), on the compiled core.

Names, signatures, attributes and numbers follow the book (docs/semantics.md):
SingleLayer -> DualLayer -> RandomInitNetwork -> MinibatchNetwork, and
MultiClassNetwork. `fit` runs the epochs in C: all in one call (up to a
memory bound on the row orders), or, with a callback, as many per call as
take about CHUNK_SECONDS (SingleLayer: one, for its w_history); the book's
step-by-step methods (forpass, backprop, training, gen_batch, ...) remain
for learners who call them by hand, and compute with the same kernels.

Differences from the printed code, all deliberate:
- randomness comes from numpy.random.RandomState(random_state), never from
  NumPy's global state (the book calls np.random.seed(42));
- x_val/y_val are optional; fit returns self and restarts losses;
- softmax subtracts the row maximum (same values, no overflow);
- MultiClassNetwork's output-bias gradient is taken per class (the printed
  np.sum(err) sums over the classes too, which is always 0, so b2 never
  learned there).

What the arguments accept (checked at the call, each error naming the
argument; inputs are never modified):
- learning_rate > 0, l1 >= 0, l2 >= 0: real numbers (fractions.Fraction and
  NumPy scalars too), finite;
- units, batch_size, epochs, m, n_features, n_classes: integers (not bools)
  up to 2**31 - 1, the core's int;
- random_state: None (seeded by the OS), an integer in [0, 2**32 - 1] or a
  numpy.random.RandomState (whose stream is then used and advanced), as
  scikit-learn's check_random_state; checked in __init__ and again when
  the network draws from it;
- x, x_val, z, err: arrays of real numbers (NaN/Inf refused), 2-D where
  the method needs rows; float64 values too large for a float32 network
  are refused, not turned into inf;
- assigned weights (w, b, w1, b1, w2, b2): finite numbers of the
  attribute's shape.
Hyper-parameters set as attributes after __init__ are checked again when
the network is (re)built, at fit or init_weights.
"""
import numbers
import time
import warnings
import weakref

import numpy as np

from . import _nncore
from ._fit_lock import SerialFits, serialised
from ._network import BOOK_EPS, BOOK_ZMIN, CoreNetwork
from ._validation import (NotFittedError, _as_numeric_array, as_array, as_binary_targets,
                          as_matrix, as_one_hot, as_parameter, check_dtype, check_pair,
                          check_callable, check_positive_int, check_random_state, check_real,
                          check_seed)

__all__ = ["SingleLayer", "DualLayer", "RandomInitNetwork", "MinibatchNetwork",
           "MultiClassNetwork", "NotFittedError"]


# With a callback, fit runs epochs in C in chunks of about this many seconds:
# long enough that Python's per-epoch overhead vanishes for small networks,
# short enough that the callback stays live. Without one, nothing in Python
# needs to see an epoch end (Ctrl-C is checked between batches in C), so the
# chunks are as long as MAX_CHUNK_INDICES allows: a 500-epoch breast-cancer
# fit made three calls instead of one, each with its own set-up.
CHUNK_SECONDS = 0.05
# row orders of one chunk are held at once: at most this many indices (16 MiB)
MAX_CHUNK_INDICES = 1 << 21


def _epoch_chunks(epochs, n_rows, live):
    """Yield chunk sizes summing to `epochs`: the memory bound's, or, when
    `live` (a callback watches), sized from the time the last chunk took."""
    max_epochs = max(1, MAX_CHUNK_INDICES // n_rows)
    done, size = 0, 1 if live else max_epochs
    while done < epochs:
        size = min(size, epochs - done)
        start = time.perf_counter()
        yield size
        per_epoch = (time.perf_counter() - start) / size
        done += size
        if live:
            size = int(min(max_epochs, max(1, CHUNK_SECONDS / max(per_epoch, 1e-9))))


def _empty(dtype, ndim=1):
    return np.empty((0,) * ndim, dtype)


def _parameter(layer, kind, name):
    """A book attribute (w1, b2, ...) that is a live view into the core's parameters.

    A single output bias is shown 0-d, like the book's scalar b2 = 0.
    Assigning copies the values in, so `net.w1 = ...` and `net.w1 -= ...`
    both reach the core. An assigned value must have the attribute's shape
    (or be a scalar, or the same vector with length-1 axes added or
    dropped) and hold finite numbers that fit the network's dtype.
    """
    def view(self):
        net = self._net
        if net is None:
            return None
        if kind == "w":
            return net.weight(layer)
        bias = net.bias(layer)
        return bias.reshape(()) if bias.size == 1 and layer == net.n_layers - 1 else bias

    def assign(self, value):
        self._require_fitted()
        current = view(self)
        current[...] = as_parameter(value, name, current.shape, self.dtype)

    return property(view, assign, doc=f"The book's {name}, a view of the core's parameters.")


class _BookNetwork(SerialFits):
    """What every book class shares: the core network, views, bookkeeping."""

    _output_activation = "sigmoid"
    _loss = "binary_crossentropy"

    def __init__(self, learning_rate, l1, l2, dtype):
        self.lr = check_real(learning_rate, "learning_rate", strictly_positive=True)
        self.l1 = check_real(l1, "l1", minimum=0)
        self.l2 = check_real(l2, "l2", minimum=0)
        self.dtype = check_dtype(dtype)
        self.losses = []
        self.val_losses = []
        self._net = None

    def _check_hyperparameters(self):
        """Check (again) what may have been set as attributes since __init__."""
        self.lr = check_real(self.lr, "learning_rate", strictly_positive=True)
        self.l1 = check_real(self.l1, "l1", minimum=0)
        self.l2 = check_real(self.l2, "l2", minimum=0)
        self.dtype = check_dtype(self.dtype)

    # -- construction ------------------------------------------------------
    def _build(self, sizes):
        self._check_hyperparameters()
        activations = ["sigmoid"] * (len(sizes) - 2) + [self._output_activation]
        self._net = CoreNetwork(sizes, activations, self._loss, self.dtype,
                                zmin=BOOK_ZMIN, eps=BOOK_EPS, l1=self.l1, l2=self.l2,
                                optimizer="sgd", learning_rate=self.lr)
        return self._net

    def _require_fitted(self):
        if self._net is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit "
                                 f"(or init_weights) first")
        return self._net

    @property
    def learning_rate(self):
        """Alias of the book's `lr`."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value):
        self.lr = check_real(value, "learning_rate", strictly_positive=True)

    # -- input checks ------------------------------------------------------
    def _n_features(self):
        return self._require_fitted().sizes[0]

    def _x(self, x, name="x"):
        return as_matrix(x, name, self.dtype, n_features=self._n_features(), fitted_with=True)

    def _targets(self, y, name, n_rows, n_classes=None, x_name="x"):
        """y checked and shaped for the core: a 0/1 column here, one-hot rows for multi-class."""
        return as_binary_targets(y, name, n_rows, self.dtype, x_name=x_name)

    def _fitted_classes(self):
        return None

    def _validation_pair(self, x_val, y_val, n_features, n_classes=None):
        check_pair(x_val, y_val, "x_val", "y_val")
        if x_val is None:
            return None
        xv = as_matrix(x_val, "x_val", self.dtype, n_features=n_features)
        return xv, self._targets(y_val, "y_val", xv.shape[0], n_classes, x_name="x_val")

    # -- the book's methods ------------------------------------------------
    def activation(self, z):
        """Sigmoid, with z clipped below at -100 as in the book.

        z : array of real numbers, any shape (NaN/Inf refused)
        """
        zs = _as_numeric_array(z, "z")
        flat = as_array(zs, "z", self.dtype).reshape(1, -1)
        out = np.empty_like(flat)
        if flat.size:
            _nncore.activation_forward(out, flat, "sigmoid", BOOK_ZMIN)
        return out.reshape(zs.shape)

    sigmoid = activation

    def reg_loss(self):
        """l1 * sum|W| + l2/2 * sum W^2 over the weight matrices (not the biases)."""
        net = self._require_fitted()
        return float(sum(_nncore.l1_l2_penalty_forward(w.reshape(-1), self.l1, self.l2)
                         for w in net.weights()))

    def _val_loss(self, xv, yv):
        return (self._net.loss_sum(xv, yv) + self.reg_loss()) / xv.shape[0]

    def update_val_loss(self, x_val, y_val):
        """Append (validation loss + penalty) / len(x_val) to val_losses."""
        xv, yv = self._validation_pair(x_val, y_val, self._n_features(), self._fitted_classes())
        self.val_losses.append(self._val_loss(xv, yv))

    def _record_epoch(self, epoch, loss_sum, n, val):
        self._record(epoch, loss_sum, self.reg_loss(), n,
                     None if val is None else self._net.loss_sum(*val),
                     None if val is None else val[0].shape[0])

    def _record(self, epoch, loss_sum, penalty, n, val_sum, n_val):
        """Book-keeping of one epoch: losses[e] = (loss terms + penalty) / n, likewise val."""
        loss = (loss_sum + penalty) / n
        self.losses.append(loss)
        if val_sum is not None:
            self.val_losses.append((val_sum + penalty) / n_val)
        if not np.isfinite(loss) and not self._warned:
            self._warn_diverged(epoch, loss, stacklevel=4)

    def _warn_diverged(self, epoch, loss, stacklevel):
        self._warned = True
        warnings.warn(f"{type(self).__name__}: the training loss became {loss} at epoch "
                      f"{epoch}; training diverged (try a smaller learning_rate)",
                      RuntimeWarning, stacklevel=stacklevel)

    def _record_chunk(self, first_epoch, loss_sums, penalties, val_sums, n, val):
        """_record for each epoch of a chunk the core completed, as whole arrays:
        the same float64 operations per epoch (so the same values, NumPy
        float64 scalars in the lists), without a Python call per epoch."""
        if not len(loss_sums):
            return
        losses = (loss_sums + penalties) / n
        self.losses.extend(losses)
        if val is not None:
            self.val_losses.extend((val_sums + penalties) / val[0].shape[0])
        if not self._warned:
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                self._warn_diverged(first_epoch + int(bad[0]), losses[bad[0]], stacklevel=3)

    def _notify(self, callback, epoch):
        # Python loops over epochs only (the epoch itself runs in C), so a
        # per-epoch hook costs one call; progress bars live in the caller.
        logs = {"loss": self.losses[-1]}
        if len(self.val_losses) == len(self.losses):
            logs["val_loss"] = self.val_losses[-1]
        return callback(epoch, logs) is True

    def save(self, path):
        """Write the fitted network to one .npz file (no pickle); see nnbook.persistence.

        Example
        -------
        >>> net.save("model.npz")                          # doctest: +SKIP
        >>> type(net).load("model.npz").score(x, y)        # doctest: +SKIP
        """
        from .persistence import save_model
        save_model(self, path)

    @classmethod
    def load(cls, path):
        """Read a network written by `save`; the file must hold this class.

        Use `nnbook.load(path)` to get whatever class the file holds.
        """
        from .persistence import load_model
        return load_model(path, expected=cls)

    def _start_fit(self):
        self.losses = []
        self.val_losses = []
        self._warned = False

    def _logits(self, x):
        return self._require_fitted().forward(self._x(x), logits=True)

    def predict(self, x):
        """Boolean column: True where the output logit z > 0 (a > 0.5).

        x : (samples, features) array of real numbers: finite, the fitted
        feature count, and within the range of the network's dtype.
        """
        return self._logits(x) > 0

    def score(self, x, y):
        """Accuracy: mean(predict(x) == y as a column)."""
        xs = self._x(x)
        ys = self._targets(y, "y", xs.shape[0], self._fitted_classes())
        return float(np.mean((self._net.forward(xs, logits=True) > 0) == ys))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_args())
        return f"{type(self).__name__}({args})"

    def _repr_args(self):
        return [("learning_rate", self.lr), ("l1", self.l1), ("l2", self.l2)]


class SingleLayer(_BookNetwork):
    """Logistic regression as a one-neuron network, trained by full-batch gradient descent.

    Parameters
    ----------
    learning_rate : float, default 0.1
    l1, l2 : float, default 0
        Penalty l1*sum|w| + l2/2*sum w^2, added to the loss and its gradient.
    dtype : numpy.float64 (default, the book's) or numpy.float32

    Attributes
    ----------
    w : (n_features, 1) array, starts at ones
    b : 0-d array, starts at 0
    w_history : list of w copies, at the start and after every epoch
    losses, val_losses : per-epoch (loss + penalty) / rows

    Example
    -------
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> layer = SingleLayer(learning_rate=0.1).fit(x, y, epochs=500)
    >>> layer.score(x, y)
    1.0
    """

    def __init__(self, learning_rate=0.1, l1=0, l2=0, dtype=np.float64):
        super().__init__(learning_rate, l1, l2, dtype)
        self.w_history = []

    w = _parameter(0, "w", "w")
    b = _parameter(0, "b", "b")

    def _init_single(self, n_features):
        net = self._build([n_features, 1])
        net.weight(0)[...] = 1.0

    def forpass(self, x):
        """z = x . w + b, shape (m, 1).

        x : (m, features) array of real numbers, finite, fitting the network's dtype
        """
        net = self._require_fitted()
        xs = self._x(x)
        z = np.empty((xs.shape[0], 1), self.dtype)
        _nncore.dense_forward(z, xs, net.weight(0), net.bias(0), "linear")
        return z

    def backprop(self, x, err):
        """(w_grad, b_grad) = (x^T err / m, sum(err) / m).

        x : (m, features) numbers; err : the error terms a - y, (m, 1) or
        (m,) finite numbers (None, NaN or Inf raise, naming err)
        """
        net = self._require_fitted()
        xs = self._x(x)
        dout = self._scaled_error(err, xs.shape[0], 1)
        w_grad = np.empty_like(net.weight(0))
        b_grad = np.empty(1, self.dtype)
        _nncore.dense_backward(_empty(self.dtype, 2), w_grad, b_grad, dout, xs, net.weight(0))
        return w_grad, float(b_grad[0])

    def _scaled_error(self, err, m, units):
        """err / m as an (m, units) array; err must be finite numbers of that shape
        ((m,) too for one output unit)."""
        e = as_array(err, "err", self.dtype, hint="err = a - y must be finite")
        if e.shape != (m, units) and not (units == 1 and e.shape == (m,)):
            raise ValueError(f"err must have shape ({m}, {units}), got {e.shape}")
        return np.ascontiguousarray(e.reshape(m, units) / m)

    @serialised
    def fit(self, x, y, epochs=100, x_val=None, y_val=None, *, callback=None):
        """Full-batch gradient descent for `epochs` epochs; returns self.

        callback : callable, optional
            Called as ``callback(epoch, logs)`` after every epoch, with
            ``logs = {"loss": ..., "val_loss": ...}`` (val_loss only with
            x_val); returning True stops training after that epoch.
        """
        epochs = check_positive_int(epochs, "epochs", minimum=0)
        check_callable(callback, "callback")
        xs = as_matrix(x, "x", self.dtype)
        ys = self._targets(y, "y", xs.shape[0])
        val = self._validation_pair(x_val, y_val, xs.shape[1])
        self._init_single(xs.shape[1])
        self._start_fit()
        self.w_history = [self.w.copy()]
        n = xs.shape[0]
        for epoch in range(epochs):
            loss_sum = self._net.train_epoch(xs, ys, batch_size=n)
            self.w_history.append(self.w.copy())
            self._record_epoch(epoch, loss_sum, n, val)
            if callback is not None and self._notify(callback, epoch):
                break
        return self


class DualLayer(SingleLayer):
    """Two layers: `units` sigmoid neurons, then one sigmoid output; full batch.

    Parameters
    ----------
    units : int, default 10
    learning_rate : float, default 0.1
    l1, l2 : float, default 0
    dtype : numpy.float64 (default) or numpy.float32

    Attributes
    ----------
    w1 (n_features, units), b1 (units,), w2 (units, 1), b2 (0-d): start at
    ones/zeros/ones/0 (RandomInitNetwork draws w1, w2 from N(0, 1)).
    a1 : the hidden activations of the last forpass.

    Example
    -------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> net = DualLayer(units=4).fit(x, np.array([0, 1, 1, 1]), epochs=10)
    >>> len(net.losses)
    10
    """

    def __init__(self, units=10, learning_rate=0.1, l1=0, l2=0, dtype=np.float64):
        # like the book's DualLayer, set up from scratch: no w, b or w_history
        _BookNetwork.__init__(self, learning_rate, l1, l2, dtype)
        self.units = check_positive_int(units, "units")
        self.a1 = None

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        self.units = check_positive_int(self.units, "units")

    def _repr_args(self):
        return [("units", self.units)] + super()._repr_args()

    w = b = None  # the book's DualLayer has w1/b1/w2/b2 instead

    w1 = _parameter(0, "w", "w1")
    b1 = _parameter(0, "b", "b1")
    w2 = _parameter(1, "w", "w2")
    b2 = _parameter(1, "b", "b2")

    def _outputs(self):
        return 1

    @serialised
    def init_weights(self, n_features):
        """w1 = ones, b1 = zeros, w2 = ones, b2 = 0 (the book's DualLayer)."""
        n_features = check_positive_int(n_features, "n_features")
        net = self._build([n_features, self.units, self._outputs()])
        net.weight(0)[...] = 1.0
        net.weight(1)[...] = 1.0

    def forpass(self, x):
        """z2 = sigmoid(x . w1 + b1) . w2 + b2; keeps a1 for backprop."""
        net = self._require_fitted()
        xs = self._x(x)
        m = xs.shape[0]
        self.a1 = np.empty((m, self.units), self.dtype)
        _nncore.dense_forward(self.a1, xs, net.weight(0), net.bias(0), "sigmoid", BOOK_ZMIN)
        z2 = np.empty((m, net.sizes[-1]), self.dtype)
        _nncore.dense_forward(z2, self.a1, net.weight(1), net.bias(1), "linear")
        return z2

    def backprop(self, x, err):
        """Gradients of the mean loss, from err = a - y and the a1 of the last forpass.

        Returns (w1_grad, b1_grad, w2_grad, b2_grad); the hidden error is
        (err . w2^T) * a1 * (1 - a1), with w2 as it was in the forward pass.
        err must be finite numbers of shape (m, outputs) ((m,) for one
        output); None, NaN or Inf raise, naming err.
        """
        net = self._require_fitted()
        xs = self._x(x)
        m, k = xs.shape[0], net.sizes[-1]
        if self.a1 is None or self.a1.shape != (m, self.units):
            raise ValueError("backprop needs the a1 of a forpass on the same x: call forpass(x) first")
        dout = self._scaled_error(err, m, k)
        w2_grad = np.empty_like(net.weight(1))
        b2_grad = np.empty(k, self.dtype)
        hidden = np.empty((m, self.units), self.dtype)
        _nncore.dense_backward(hidden, w2_grad, b2_grad, dout, self.a1, net.weight(1))
        _nncore.activation_backward(hidden, hidden, self.a1, "sigmoid")
        w1_grad = np.empty_like(net.weight(0))
        b1_grad = np.empty(self.units, self.dtype)
        _nncore.dense_backward(_empty(self.dtype, 2), w1_grad, b1_grad, hidden, xs, net.weight(0))
        return w1_grad, b1_grad, w2_grad, (b2_grad if k > 1 else float(b2_grad[0]))

    def _output(self, z):
        return self.activation(z)

    def training(self, x, y, m):
        """One gradient step on (x, y), penalty divided by m; returns a before the step.

        x : (m, features) numbers; y : (m,) or (m, 1) 0/1 targets (finite,
        not None); m : integer in [1, 2**31 - 1]
        """
        net = self._require_fitted()
        xs = self._x(x)
        ys = self._targets(y, "y", xs.shape[0], self._fitted_classes())
        m = check_positive_int(m, "m")
        z = self.forpass(xs)
        a = self._output(z)
        w1_grad, b1_grad, w2_grad, b2_grad = self.backprop(xs, a - ys)
        grads = np.empty_like(net.params)
        for layer, (gw, gb) in enumerate([(w1_grad, b1_grad), (w2_grad, b2_grad)]):
            w_start, b_start = net.offsets[layer]
            gw = gw.reshape(-1)
            _nncore.l1_l2_penalty_backward(gw, net.weight(layer).reshape(-1),
                                           self.l1, self.l2, 1.0 / m)
            grads[w_start:w_start + gw.size] = gw
            gb = np.atleast_1d(gb)
            grads[b_start:b_start + gb.size] = gb
        _nncore.sgd_update(net.params, grads, self.lr)
        return a

    def _epoch_orders(self, n, n_epochs):
        """(batch_size, row orders (n_epochs, n) or None) for the next epochs: full batch, in order."""
        return n, None

    def _prepare_rng(self):
        pass

    @serialised
    def fit(self, x, y, epochs=100, x_val=None, y_val=None, *, callback=None):
        """Train for `epochs` epochs, run in the core in chunks. Returns self.

        callback : callable, optional
            ``callback(epoch, logs)`` after every epoch (see SingleLayer.fit);
            returning True stops training. With a callback, epochs run in C
            in chunks of about CHUNK_SECONDS, so the callback sees every
            epoch; a stop keeps exactly the epochs up to it.
        """
        epochs = check_positive_int(epochs, "epochs", minimum=0)
        check_callable(callback, "callback")
        xs = as_matrix(x, "x", self.dtype)
        n, n_features = xs.shape
        ys = self._targets(y, "y", n)
        val = self._validation_pair(x_val, y_val, n_features, ys.shape[1])
        # inputs are all checked: only now is the network (re)initialised
        self._prepare_rng()
        self._init_for(n_features, ys.shape[1])
        self._start_fit()
        done = 0
        net = self._net
        for chunk in _epoch_chunks(epochs, n, live=callback is not None):
            batch_size, perms = self._epoch_orders(n, chunk)
            if callback is not None:
                before = net.snapshot()
            try:
                # the book's classes report no metric counts
                loss_sums, penalties, val_sums = net.train_epochs(xs, ys, batch_size, chunk,
                                                                  perms, val, metric_counts=False)
            except BaseException as stop:
                # Ctrl-C (or a signal handler's error) between two batches: keep
                # the epochs of this chunk that completed, then let it propagate
                self._record_chunk(done, *getattr(stop, "nnbook_completed", ((), (), None)),
                                   n, val)
                raise
            if callback is None:
                self._record_chunk(done, loss_sums, penalties, val_sums, n, val)
            for e in range(chunk if callback is not None else 0):
                self._record_chunk(done + e, loss_sums[e:e + 1], penalties[e:e + 1],
                                   None if val is None else val_sums[e:e + 1], n, val)
                if self._notify(callback, done + e):
                    if e + 1 < chunk:
                        # the chunk ran past the stop: redo only the epochs up to it
                        net.restore(before)
                        net.train_epochs(xs, ys, batch_size, e + 1,
                                         None if perms is None else perms[:e + 1], None,
                                         metric_counts=False)
                    return self
            done += chunk
        return self

    def _init_for(self, n_features, n_outputs):
        self.init_weights(n_features)


# RandomStates that book models made, kept after the models are collected
# for new models to reseed (2 us) instead of creating their own (about 140
# us, a third of a one-epoch breast-cancer fit's set-up). Never one a user
# handed in: only models' own streams come here, once nothing else can draw
# from them. At most _SPARE_LIMIT are kept.
_SPARE_RANDOM_STATES = []
_SPARE_LIMIT = 8


def _keep_spare_random_state(rng):
    if len(_SPARE_RANDOM_STATES) < _SPARE_LIMIT:
        _SPARE_RANDOM_STATES.append(rng)


class RandomInitNetwork(DualLayer):
    """DualLayer whose w1 then w2 are drawn from N(0, 1) by RandomState(random_state).

    Parameters
    ----------
    units, learning_rate, l1, l2, dtype : as DualLayer
    random_state : None, int in [0, 2**32 - 1] or numpy.random.RandomState, default 42
        What scikit-learn's check_random_state accepts (bools excepted).
        Unlike scikit-learn, which checks it at fit, a bad value raises here
        in __init__ (and again at fit if it was changed since). An int gives
        the book's draws; a RandomState is drawn from directly, advancing its
        stream; None seeds from the operating system (NumPy's global state is
        never used).

    Example
    -------
    >>> net = RandomInitNetwork(units=3)
    >>> net.init_weights(2)
    >>> net.w1.shape, net.w2.shape
    ((2, 3), (3, 1))
    """

    def __init__(self, units=10, learning_rate=0.1, l1=0, l2=0, dtype=np.float64,
                 random_state=42):
        super().__init__(units, learning_rate, l1, l2, dtype)
        self.random_state = check_seed(random_state, "random_state")

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        self.random_state = check_seed(self.random_state, "random_state")

    def _repr_args(self):
        return super()._repr_args() + [("random_state", self.random_state)]

    def _draw_weights(self, rng, n_features):
        net = self._build([n_features, self.units, self._outputs()])
        net.weight(0)[...] = rng.normal(0, 1, (n_features, self.units))
        net.weight(1)[...] = rng.normal(0, 1, (self.units, self._outputs()))

    @serialised
    def init_weights(self, n_features):
        """w1 ~ N(0,1) (n_features, units), then w2 ~ N(0,1); biases zero."""
        n_features = check_positive_int(n_features, "n_features")
        rng, own = self._take_rng()
        self._draw_weights(rng, n_features)
        self._give_back_rng(rng, own)

    def _take_rng(self):
        """(check_random_state(random_state), whether this model made it).

        An int seed reseeds a RandomState this model made and no longer
        uses, if it has one, instead of creating one: 2 us against 150
        (MT19937 seeds itself from a SeedSequence first). A fit needs two
        streams, the weights' then the batches'; the weights' is handed on
        to the batches, so a fit creates one RandomState, a refit none. A
        new model takes one that a collected model made (_SPARE_RANDOM_STATES),
        when there is one.
        """
        spare = self.__dict__.pop("_spare_rng", None)
        fresh = spare is None
        if fresh and isinstance(self.random_state, numbers.Integral):
            try:
                spare = _SPARE_RANDOM_STATES.pop()
            except IndexError:
                pass
        rng = check_random_state(self.random_state, reuse=spare)
        own = rng is not self.random_state
        if fresh and own:
            # back to the pool when this model is collected
            weakref.finalize(self, _keep_spare_random_state, rng).atexit = False
        return rng, own

    def _give_back_rng(self, rng, own):
        """Keep a RandomState this model made for the next _take_rng (one
        handed in as random_state is never reseeded: own is False)."""
        if own:
            self._spare_rng = rng


class MinibatchNetwork(RandomInitNetwork):
    """RandomInitNetwork trained on mini-batches of `batch_size` rows.

    Each epoch a stream seeded afresh at fit (the state of a new
    RandomState(random_state)) draws one permutation of the rows; batches are
    consecutive slices of it, the last one shorter.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> x = rng.normal(size=(100, 3)); y = (x[:, 0] > 0).astype(float)
    >>> net = MinibatchNetwork(units=5, batch_size=16).fit(x, y, epochs=50)
    >>> net.score(x, y) > 0.9
    True
    """

    def __init__(self, units=10, batch_size=32, learning_rate=0.1, l1=0, l2=0,
                 dtype=np.float64, random_state=42):
        super().__init__(units, learning_rate, l1, l2, dtype, random_state)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self._rng = None          # the batches' stream (gen_batch continues it after fit)
        self._rng_own = False     # whether this model made _rng (else the user's random_state)

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        self.batch_size = check_positive_int(self.batch_size, "batch_size")

    def _repr_args(self):
        args = super()._repr_args()
        return args[:1] + [("batch_size", self.batch_size)] + args[1:]

    def _prepare_rng(self):
        if self._rng is not None:
            self._give_back_rng(self._rng, self.__dict__.get("_rng_own", False))
        self._rng = None

    def _batch_rng(self):
        if self._rng is None:
            self._rng, self._rng_own = self._take_rng()
        return self._rng

    def _epoch_orders(self, n, n_epochs):
        # the same orders as n_epochs calls of rng.permutation(n), drawn in C
        return self.batch_size, _nncore.legacy_permutations(self._batch_rng(), n, n_epochs)

    def gen_batch(self, x, y):
        """Yield (x_batch, y_batch) slices of one random permutation of the rows.

        x : (samples, features) array of real numbers (the fitted feature
            count once fitted); y : (samples,) or (samples, k) numbers.
        Both are checked here, at the call; the permutation is drawn when
        the first batch is asked for, as in the book's generator.
        """
        n_features = self._net.sizes[0] if self._net is not None else None
        xs = as_matrix(x, "x", self.dtype, n_features=n_features, fitted_with=True)
        ys = as_array(y, "y", self.dtype)
        if ys.ndim not in (1, 2):
            raise ValueError(f"y must be a 1-D or 2-D array (one row per sample), got shape "
                             f"{ys.shape}")
        if ys.shape[0] != xs.shape[0]:
            raise ValueError(f"x has {xs.shape[0]} samples but y has {ys.shape[0]}")
        return self._batches(xs, ys)

    def _batches(self, x, y):
        indexes = self._batch_rng().permutation(len(x))
        x, y = x[indexes], y[indexes]
        for start in range(0, len(x), self.batch_size):
            yield x[start:start + self.batch_size], y[start:start + self.batch_size]


class MultiClassNetwork(MinibatchNetwork):
    """Sigmoid hidden layer, softmax output, cross-entropy loss, mini-batches.

    y is one-hot, shape (n, classes). One RandomState(random_state) stream
    draws w1, then w2 (units, classes), then one permutation per epoch.
    predict returns the argmax of the logits; score compares with argmax(y).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> x = rng.normal(size=(90, 2)); labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    >>> y = np.eye(3)[labels]
    >>> net = MultiClassNetwork(units=8, batch_size=16).fit(x, y, epochs=100)
    >>> net.score(x, y) > 0.8
    True
    """

    _output_activation = "softmax"
    _loss = "categorical_crossentropy"

    def __init__(self, units=10, batch_size=32, learning_rate=0.1, l1=0, l2=0,
                 dtype=np.float64, random_state=42):
        super().__init__(units, batch_size, learning_rate, l1, l2, dtype, random_state)
        self._n_classes = None

    def _outputs(self):
        return self._n_classes

    def _targets(self, y, name, n_rows, n_classes=None, x_name="x"):
        return as_one_hot(y, name, n_rows, self.dtype, n_classes=n_classes, x_name=x_name)

    def _fitted_classes(self):
        return self._n_classes

    def softmax(self, z):
        """Row-wise softmax of z clipped below at -100 (stable: the row max is subtracted).

        z : (samples, classes) array of real numbers (NaN/Inf refused)
        """
        zs = as_array(z, "z", self.dtype)
        if zs.ndim != 2:
            raise ValueError(f"z must be 2-D (samples, classes), got shape {zs.shape}")
        out = np.empty_like(zs)
        if zs.size:
            _nncore.activation_forward(out, zs, "softmax", BOOK_ZMIN)
        return out

    def _output(self, z):
        return self.softmax(z)

    @serialised
    def init_weights(self, n_features, n_classes):
        """w1 ~ N(0,1), then w2 ~ N(0,1) (units, n_classes), from the network's one stream."""
        n_features = check_positive_int(n_features, "n_features")
        self._n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self._draw_weights(self._batch_rng(), n_features)

    def _init_for(self, n_features, n_outputs):
        self.init_weights(n_features, n_outputs)

    def training(self, x, y):
        """One gradient step on the batch (x, y); returns softmax(z) before the step.

        x : (m, features) numbers; y : (m, classes) one-hot rows. The
        penalty's gradient is divided by m, the batch's rows.
        """
        xs = self._x(x)
        return super().training(xs, y, xs.shape[0])

    def predict(self, x):
        """Class index per row: argmax of the output logits."""
        return np.argmax(self._logits(x), axis=1)

    def score(self, x, y):
        """Accuracy: mean(predict(x) == argmax(y))."""
        xs = self._x(x)
        ys = self._targets(y, "y", xs.shape[0], self._fitted_classes())
        pred = np.argmax(self._net.forward(xs, logits=True), axis=1)
        return float(np.mean(pred == np.argmax(ys, axis=1)))


# nnbook.load finds these classes through nnbook.io's registry
from . import persistence as _persistence  # noqa: E402  (needs the classes above)
_persistence.register(SingleLayer, DualLayer, RandomInitNetwork, MinibatchNetwork, MultiClassNetwork)
