"""Callbacks (``keras.callbacks``): hooks called by ``fit`` at the start and
end of training, of every epoch and of every batch.

An epoch is one call into the compiled core. When some callback overrides a
batch-level hook (``on_train_batch_begin``/``end``, or the older
``on_batch_begin``/``end``), the core calls back into Python after every
batch; ``on_train_batch_end(b, logs)`` gets Keras's running ``loss`` and
accuracy over the epoch's batches so far, and ``on_train_batch_begin(b + 1)``
follows at once, between the same two batches. Setting
``self.model.stop_training = True`` in a batch hook ends the epoch after
that batch (``on_epoch_end`` still runs, with the logs so far). Code that
overrides no batch hook keeps the one-call epoch.

Example
-------
>>> from nnbook.keras.callbacks import Callback
>>> class Printer(Callback):
...     def on_epoch_end(self, epoch, logs=None):
...         print(epoch, round(logs['loss'], 2))
"""
import sys
import warnings

import numpy as np

from .._validation import check_bool, check_positive_int, check_real


class Callback:
    """Base class: override the hooks you need; ``self.model`` is the model being trained."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    # Keras's older names: the train_batch hooks call them, so overriding
    # either name works
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


# What a batch-level hook of fit may be overridden as (see overrides()).
_TRAIN_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                      "on_batch_end")


def overrides(callback, hook):
    """Whether `callback` does something in `hook` (a method other than
    Callback's, or a function set on the instance as LambdaCallback does)."""
    if hook in vars(callback):
        return True
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it.

    Attributes
    ----------
    history : dict of lists, e.g. {'loss': [...], 'accuracy': [...], 'val_loss': [...]}
    epoch : list of epoch indices
    model : the trained model

    Example
    -------
    >>> h = History(); h.on_train_begin(); h.on_epoch_end(0, {'loss': 0.5})
    >>> h.history
    {'loss': [0.5]}
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class EarlyStopping(Callback):
    """Stop training when a monitored value stops improving.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    min_delta : float, default 0
        A change smaller than this is not an improvement (its sign is ignored).
    patience : int >= 0, default 0
        Epochs without improvement before stopping.
    verbose : int, default 0
    mode : {'auto', 'min', 'max'}, default 'auto'
        'auto' maximizes names containing 'acc', minimizes the rest.
    baseline : float, optional
        Training stops unless the monitored value beats it within `patience` epochs.
    restore_best_weights : bool, default False
        When stopping, set the weights of the best epoch back.
    start_from_epoch : int, default 0

    Attributes
    ----------
    stopped_epoch : int (0 if training was not stopped)
    best, best_epoch

    Example
    -------
    >>> stop = EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"`monitor` must be the name of a logged value, e.g. 'val_loss'. "
                            f"Received: monitor={monitor!r}")
        if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or 'max'. "
                             f"Received: mode={mode!r}")
        self.monitor = monitor
        self.min_delta = abs(check_real(min_delta, "min_delta", keras_style=True))
        self.patience = check_positive_int(patience, "patience", minimum=0, keras_style=True)
        self.verbose = check_positive_int(verbose, "verbose", minimum=0, keras_style=True)
        self.baseline = (None if baseline is None
                         else check_real(baseline, "baseline", keras_style=True))
        self.restore_best_weights = check_bool(restore_best_weights, "restore_best_weights",
                                               keras_style=True)
        self.start_from_epoch = check_positive_int(start_from_epoch, "start_from_epoch",
                                                   minimum=0, keras_style=True)
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode

    def _better(self, value, reference):
        if self.mode == "max":
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -np.inf if self.mode == "max" else np.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping is conditioned on '{self.monitor}', which is not "
                          f"in the logs (available: {sorted(logs or {})})", RuntimeWarning,
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose > 0:
                    sys.stdout.write(f"Restoring model weights from the end of the best "
                                     f"epoch: {self.best_epoch + 1}.\n")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            sys.stdout.write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=f)``.

    Takes any of Callback's hooks by name (``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end``, ``on_train_begin(logs)``, ``on_train_end``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end``, and the
    older ``on_batch_begin``/``on_batch_end``, ...).

    Example
    -------
    >>> seen = []
    >>> cb = LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for hook, fn in hooks.items():
            if not hook.startswith("on_") or not callable(getattr(Callback, hook, None)):
                known = sorted(n for n in vars(Callback) if n.startswith("on_"))
                raise ValueError(f"LambdaCallback has no hook {hook!r}; the hooks are "
                                 f"{', '.join(known)}. Received: {hook}={fn!r}")
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"`{hook}` must be a function. Received: {hook}={fn!r}")
                setattr(self, hook, fn)


class CallbackList:
    """Calls each hook on every callback, in order (internal)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances. "
                                f"Received: {cb!r}")
            cb.set_model(model)
            cb.set_params(params)

    def wants_batches(self):
        """Whether any callback does something per training batch."""
        return any(overrides(cb, hook) for cb in self.callbacks for hook in _TRAIN_BATCH_HOOKS)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call
