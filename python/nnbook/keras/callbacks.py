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
from . import progress


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


# The batch-level hooks of fit ('train'), evaluate and validation ('test')
# and predict (see overrides()).
_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def overrides(callback, hook):
    """Whether `callback` does something in `hook` (a method other than
    Callback's, or a function set on the instance as LambdaCallback does).

    ProgbarLogger's own batch hooks do not count: the live bar is redrawn
    from the core's timed calls, not after every batch."""
    if hook in vars(callback):
        return True
    base = ProgbarLogger if isinstance(callback, ProgbarLogger) else Callback
    return getattr(type(callback), hook, None) is not getattr(base, hook)


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
    """Calls each hook on every callback, in order (internal).

    Attributes
    ----------
    history : the History among the callbacks, or None
    progbar : the ProgbarLogger among the callbacks, or None
    """

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances. "
                                f"Received: {cb!r}")
            cb.set_model(model)
            cb.set_params(params)
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self.progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)),
                            None)

    def wants_batches(self, mode="train"):
        """Whether any callback does something per batch of `mode`
        ('train', 'test' or 'predict')."""
        return any(overrides(cb, hook) for cb in self.callbacks for hook in _BATCH_HOOKS[mode])

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call


def configure(callbacks, model, verbose, epochs, steps, add_history=False):
    """The CallbackList of one fit/evaluate/predict call, as Keras 3 builds it:
    the callbacks passed, then a History (fit; unless one is passed, which is
    then the one filled), then a ProgbarLogger when verbose is not 0 (unless
    one is passed). History follows the others, so it records what they add
    to the logs, and the bar shows it too.

    Example
    -------
    >>> cbs = configure(None, None, verbose=1, epochs=2, steps=5, add_history=True)
    >>> [type(cb).__name__ for cb in cbs.callbacks]
    ['History', 'ProgbarLogger']
    """
    if callbacks is None:
        callbacks = []
    elif isinstance(callbacks, Callback):
        callbacks = [callbacks]
    elif not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"`callbacks` must be a list of keras.callbacks.Callback instances. "
                        f"Received: callbacks={callbacks!r}")
    callbacks = list(callbacks)
    if add_history and not any(isinstance(cb, History) for cb in callbacks):
        callbacks.append(History())
    if verbose and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
        callbacks.append(ProgbarLogger())
    return CallbackList(callbacks, model, {"verbose": verbose, "epochs": epochs,
                                           "steps": steps})


class ProgbarLogger(Callback):
    """Prints the progress bar and the logs: what ``verbose`` 1 and 2 show.

    ``fit``, ``evaluate`` and ``predict`` add one when ``verbose`` is not 0
    (and none is passed), as Keras 3 does. In ``fit`` it prints ``Epoch
    i/n`` (when n > 1) and one line per epoch; the validation pass inside
    fit is silent. On a terminal with verbose=1 the bar is live: the core
    calls it about every ``progress.LIVE_SECONDS`` while an epoch runs (not
    after every batch, so it keeps the one-call epoch). Through a pipe each
    epoch is one clean line.

    Example
    -------
    >>> from nnbook.keras.callbacks import ProgbarLogger
    >>> bar = ProgbarLogger()
    >>> # model.fit(x, y, epochs=3, verbose=0, callbacks=[bar])  # still prints: verbose 1
    """

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.line = None
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = 1 if params.get("verbose") == "auto" else params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    @property
    def live(self):
        """Whether the current bar is redrawn while it runs (verbose=1 on a terminal)."""
        return self.line is not None and self.line.live

    def _start(self):
        self.line = progress.ProgressLine(self.target or 0, self.verbose)
        self.line.begin()

    def _update(self, batch, logs):
        if self.line is not None:
            self.line.update(batch + 1, logs or {})

    def _finish(self, logs):
        if self.line is not None:
            self.line.finish(logs or {})
            self.line = None

    def on_train_begin(self, logs=None):
        # inside fit, the validation pass is silent
        self._called_in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and self.epochs > 1:
            progress.epoch_header(epoch, self.epochs)
        self._start()

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._start()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._start()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)        # the outputs are not shown

    def on_predict_end(self, logs=None):
        self._finish({})


def _monitor_mode(monitor, mode, owner):
    """'min' or 'max' for a monitored value, as Keras decides 'auto'."""
    if not isinstance(monitor, str):
        raise TypeError(f"`monitor` must be the name of a logged value, e.g. 'val_loss'. "
                        f"Received: monitor={monitor!r}")
    if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
    return mode


def _learning_rate(model, owner):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{owner} needs a compiled model whose optimizer has a learning_rate")
    return float(optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's running loss is NaN or infinite.

    It watches every batch, so the core calls back after each one.

    Example
    -------
    >>> stop = TerminateOnNaN()
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            sys.stdout.write(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write every epoch's logs to a CSV file: ``epoch`` then the logs' keys, sorted.

    Parameters
    ----------
    filename : str or os.PathLike
    separator : str, default ','
    append : bool, default False
        Add to an existing file (without repeating its header) instead of replacing it.

    Example
    -------
    >>> logger = CSVLogger("training.csv")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        import os
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"`filename` must be a path. Received: filename={filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"`separator` must be one character. Received: separator={separator!r}")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = check_bool(append, "append", keras_style=True)
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        import csv
        import os
        header_written = (self.append and os.path.exists(self.filename)
                          and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="",
                          encoding="utf-8")
        self._writer = None
        self._header_written = header_written
        self._csv = csv

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = self._csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys,
                                                delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: logs.get(k, "NA") for k in self.keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> new lr`` (or ``schedule(epoch)``), epoch 0-based.
    verbose : int, default 0

    The epoch's logs gain ``learning_rate``.

    Example
    -------
    >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.5)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be a function of the epoch. "
                            f"Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = check_positive_int(verbose, "verbose", minimum=0, keras_style=True)

    def on_epoch_begin(self, epoch, logs=None):
        lr = _learning_rate(self.model, "LearningRateScheduler")
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:          # a schedule of the epoch alone (the older form)
            lr = self.schedule(epoch)
        if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.floating,
                                                                   np.integer)):
            raise ValueError(f'The output of the "schedule" function should be a float. '
                             f"Got: {lr!r}")
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            sys.stdout.write(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning "
                             f"rate to {float(lr)}.\n")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` stops improving.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    factor : float in (0, 1), default 0.1
    patience : int, default 10
        Epochs without improvement before the rate is reduced.
    verbose : int, default 0
    mode : {'auto', 'min', 'max'}, default 'auto'
    min_delta : float, default 1e-4
        An improvement must beat the best value by more than this.
    cooldown : int, default 0
        Epochs to wait after a reduction before counting again.
    min_lr : float, default 0
        The rate is never reduced below this.

    The epoch's logs gain ``learning_rate`` (the rate the epoch ran with).

    Example
    -------
    >>> reduce = ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=2)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        self.mode = _monitor_mode(monitor, mode, "ReduceLROnPlateau")
        self.monitor = monitor
        self.factor = check_real(factor, "factor", keras_style=True)
        if self.factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        if self.factor <= 0:
            raise ValueError(f"`factor` must be in (0, 1). Received: factor={factor}")
        self.patience = check_positive_int(patience, "patience", minimum=0, keras_style=True)
        self.verbose = check_positive_int(verbose, "verbose", minimum=0, keras_style=True)
        self.min_delta = abs(check_real(min_delta, "min_delta", keras_style=True))
        self.cooldown = check_positive_int(cooldown, "cooldown", minimum=0, keras_style=True)
        self.min_lr = check_real(min_lr, "min_lr", minimum=0, keras_style=True)
        self._reset()

    def _reset(self):
        self.best = np.inf if self.mode == "min" else -np.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        old_lr = _learning_rate(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = old_lr
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: "
                          f"{','.join(logs)}.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and old_lr > self.min_lr:
                new_lr = max(old_lr * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    sys.stdout.write(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                                     f"learning rate to {new_lr}.\n")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class ModelCheckpoint(Callback):
    """Save the model (or its weights) during training.

    Parameters
    ----------
    filepath : str
        May hold ``{epoch}`` (1-based) and any logged value, formatted as
        ``str.format`` does, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.npz"``.
        A whole model is written as ``Sequential.save`` writes it (``.npz``,
        or ``.keras``); ``save_weights_only=True`` needs ``.weights.h5``.
    monitor : str, default 'val_loss'
    verbose : int, default 0
    save_best_only : bool, default False
        Save only when `monitor` improves on the best value so far.
    save_weights_only : bool, default False
    mode : {'auto', 'min', 'max'}, default 'auto'
    save_freq : 'epoch' or int, default 'epoch'
        An int saves every that many batches (then the core calls back after
        every batch).
    initial_value_threshold : float, optional
        The best value to beat at the start (with save_best_only).

    Example
    -------
    >>> ckpt = ModelCheckpoint("best.npz", monitor="val_loss", save_best_only=True)
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        import os
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"`filepath` must be a path. Received: filepath={filepath!r}")
        self.filepath = os.fspath(filepath)
        self.mode = _monitor_mode(monitor, mode, "ModelCheckpoint")
        self.monitor = monitor
        self.verbose = check_positive_int(verbose, "verbose", minimum=0, keras_style=True)
        self.save_best_only = check_bool(save_best_only, "save_best_only", keras_style=True)
        self.save_weights_only = check_bool(save_weights_only, "save_weights_only",
                                            keras_style=True)
        if self.save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(f"When using `save_weights_only=True` in `ModelCheckpoint`, the "
                             f"filepath provided must end in `.weights.h5` (Keras weights "
                             f"format). Received: filepath={self.filepath}")
        if not self.save_weights_only and not self.filepath.endswith((".keras", ".npz")):
            raise ValueError(f"The filepath provided must end in `.keras` (Keras model format) "
                             f"or `.npz` (nnbook's). Received: filepath={self.filepath}")
        if save_freq != "epoch":
            save_freq = check_positive_int(save_freq, "save_freq", keras_style=True)
            # only then does this callback watch batches (see overrides())
            self.on_train_batch_end = self._batch_end
        self.save_freq = save_freq
        self.initial_value_threshold = (None if initial_value_threshold is None else
                                        check_real(initial_value_threshold,
                                                   "initial_value_threshold", keras_style=True))
        self._batches = 0
        self._epoch = 0
        self.best = None

    def on_train_begin(self, logs=None):
        if self.initial_value_threshold is not None:
            self.best = self.initial_value_threshold
        else:
            self.best = np.inf if self.mode == "min" else -np.inf

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, logs, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _improved(self, current):
        return current < self.best if self.mode == "min" else current > self.best

    def _save(self, epoch, logs, batch=None):
        logs = dict(logs or {})
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=batch, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {exc!r}") from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              f"skipping.", stacklevel=2)
                return
            if not self._improved(current):
                if self.verbose > 0:
                    sys.stdout.write(f"\nEpoch {epoch + 1}: {self.monitor} did not improve "
                                     f"from {self.best:.5f}\n")
                return
            if self.verbose > 0:
                sys.stdout.write(f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                                 f"{self.best:.5f} to {current:.5f}, saving model to {path}\n")
            self.best = current
        elif self.verbose > 0:
            sys.stdout.write(f"\nEpoch {epoch + 1}: saving model to {path}\n")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
