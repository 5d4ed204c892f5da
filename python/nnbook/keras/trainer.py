"""The trainer half of a Keras model: compile state, data preparation, metric
routing, and fit / evaluate / predict on the compiled core.

As in Keras, where ``Model`` takes its training methods from a ``Trainer``,
``Sequential`` (the layer stack: layers, weights, config, summary; see
``models``) inherits them from :class:`Trainer`. The trainer talks to the
network only through the stack's core (``self._core``, a ``KerasCore``),
its stages and its output (``_output_spec``); ``fit`` converts and checks
the data once, then runs every epoch as a single call into C.

How training runs, and where it differs from Keras: the training ``loss``
(regularization penalties included) and the metrics the core counts per
batch (accuracy, binary and top-k accuracy, precision, recall, an evenly
spaced AUC) are Keras's running values, each batch scored before its
update; the other training metrics (mse, mae, a second k, threshold or AUC,
weighted metrics with sample weights) come from one forward pass over the
training rows after the epoch. Batch-level callbacks run from the core's batch hook, only when a
callback overrides them.

Arguments are checked before any work, each error naming the argument:
``x``, ``y`` and ``validation_data`` must be rectangular arrays of real
numbers (lists, strings, dicts, sets, None or ragged rows are refused with
a TypeError/ValueError, not NumPy's conversion message), finite, and within
the range of the model's dtype (float64 values above 3.4e38 do not fit a
float32 model); ``batch_size``, ``epochs`` and ``initial_epoch`` are
integers up to 2**31 - 1; ``validation_split`` a real number in [0, 1);
``shuffle`` True or False. Inputs are never modified.

Example
-------
>>> import numpy as np
>>> from nnbook.keras import Sequential
>>> from nnbook.keras.layers import Dense
>>> model = Sequential([Dense(8, activation='relu', input_shape=(4,)),
...                     Dense(3, activation='softmax')])
>>> model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
...               metrics=['accuracy'])
>>> x = np.random.default_rng(0).normal(size=(60, 4)); y = (x[:, 0] > 0).astype(int)
>>> history = model.fit(x, y, epochs=2, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss']
"""
import math
import warnings

import numpy as np

from .._fit_lock import serialised
from .._validation import (_as_numeric_array, as_array, as_matrix, check_bool,
                           check_positive_int, check_real)
from . import _stages, callbacks as callbacks_module, losses, metrics as metrics_module
from . import optimizers, progress, utils

_COMPILE_EXTRAS = ("loss_weights", "run_eagerly", "steps_per_execution", "jit_compile")


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate before compile (a RuntimeError, as in Keras, and a ValueError)."""


def _verbosity(verbose):
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_, int, np.integer)) and verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")


def _batch_size(batch_size):
    if batch_size is None:
        return 32
    return check_positive_int(batch_size, "batch_size", keras_style=True)


def _sample_weights(sample_weight, n, dtype, argument="sample_weight"):
    """One finite, non-negative weight per row, in the model's dtype."""
    arr = _as_numeric_array(sample_weight, argument)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"`{argument}` must hold one weight per sample: shape ({n},). "
                         f"Received: {argument}.shape={arr.shape}")
    out = as_array(arr, argument, dtype)
    if (out < 0).any():
        i = int(np.argmax(out < 0))
        raise ValueError(f"`{argument}` must not be negative; {argument}[{i}] = {out[i]}")
    return np.ascontiguousarray(out)


def _metric_list(metrics, argument, loss):
    """compile()'s metrics as a list, every entry checked (unknown ones raise)."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        if isinstance(metrics, str) or isinstance(metrics, metrics_module.Metric):
            metrics = [metrics]
        else:
            raise TypeError(f"`{argument}` must be a list of metrics, e.g. ['accuracy']. "
                            f"Received: {argument}={metrics!r}")
    for m in metrics:
        metrics_module.get(m, loss, 2)   # raises on unknown names
    return list(metrics)


def _validation_epochs(validation_freq):
    """Keras's validation_freq: an int n (validate after every n-th epoch) or a
    collection of 1-based epochs; returns epoch (0-based) -> bool."""
    if isinstance(validation_freq, (bool, np.bool_)):
        pass
    elif isinstance(validation_freq, (int, np.integer)):
        freq = check_positive_int(validation_freq, "validation_freq", keras_style=True)
        return lambda epoch: (epoch + 1) % freq == 0
    elif isinstance(validation_freq, (list, tuple, set, frozenset, range)):
        epochs = set()
        for e in validation_freq:
            if isinstance(e, (bool, np.bool_)) or not isinstance(e, (int, np.integer)):
                raise ValueError(f"`validation_freq` must list epoch numbers (integers, "
                                 f"1-based). Received: validation_freq={validation_freq!r}")
            epochs.add(int(e))
        return lambda epoch: epoch + 1 in epochs
    raise ValueError(f"Expected `validation_freq` to be a list or int. Received: "
                     f"validation_freq={validation_freq!r} of the type "
                     f"{type(validation_freq)}.")


def _class_weights(class_weight, core_targets, dtype):
    """Keras's class_weight as a weight per row: the weight of each row's class
    (argmax of a one-hot row, or the rounded 0/1 label of a single unit);
    classes missing from the dict weigh 1."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"`class_weight` must be a dict mapping class indices to weights. "
                        f"Received: class_weight={class_weight!r}")
    units = core_targets.shape[1]
    n_classes = 2 if units == 1 else units
    table = np.ones(n_classes, dtype=np.float64)
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) \
                or not 0 <= key < n_classes:
            raise ValueError(f"`class_weight` keys must be class indices 0..{n_classes - 1} "
                             f"(the model has {n_classes} classes). Received: key {key!r}")
        table[int(key)] = check_real(value, f"class_weight[{key}]", minimum=0,
                                     keras_style=True)
    if units > 1:
        classes = np.argmax(core_targets, axis=1)
    else:
        rounded = np.round(core_targets[:, 0])
        outside = (rounded < 0) | (rounded > 1)
        if outside.any():
            i = int(np.argmax(outside))
            raise ValueError(f"`class_weight` weighs rows by their class, but the labels of a "
                             f"single output unit must round to 0 or 1; y[{i}] = "
                             f"{core_targets[i, 0]}. Use sample_weight to weigh regression "
                             f"targets")
        classes = rounded.astype(np.int64)
    # the weights checked per class (a weight beyond float32's range names its class)
    return np.ascontiguousarray(as_array(table, "class_weight", dtype)[classes])


class Trainer:
    """compile, fit, evaluate and predict for a layer stack (see the module docstring).

    The stack provides ``_core``, ``_stages``, ``_layers``, ``_output_spec``,
    ``_output_units``, ``_ensure_built``, ``_require_layers`` and
    ``_require_built``; the trainer keeps ``optimizer``, ``loss``, the
    compiled metrics, ``history`` and ``stop_training``.
    """

    def _init_trainer(self):
        """The uncompiled state (called by the stack's __init__)."""
        self._core_logits = False     # whether the core's outputs are logits (from_logits)
        self.optimizer = None
        self.loss = None
        self._metric_names = []
        self._metric_objects = ([], [])
        self._resolved_metrics = None
        self._applied_optimizer = None
        self.stop_training = False
        self.history = None

    def _core_loss(self):
        if self.loss is not None and self._loss_fits_output():
            return self.loss.core_loss
        return "mse"

    def _check_loss_output(self, loss=None):
        """Raise if the model's output cannot be trained with the loss by the core."""
        activation, units, name = self._output_spec()
        (loss or self.loss).check_output(activation, units, name)

    def _loss_fits_output(self):
        try:
            self._check_loss_output()
        except ValueError:
            return False
        return True

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None,
                **kwargs):
        """Choose the optimizer, the loss and the metrics.

        Parameters
        ----------
        optimizer : str or optimizers.Optimizer, default 'rmsprop'
            'sgd' (lr 0.01), 'adam' (lr 0.001), 'rmsprop' (lr 0.001), or an object.
        loss : str or losses.Loss
            'mse', 'binary_crossentropy' (one sigmoid output unit),
            'categorical_crossentropy' (softmax output, one-hot labels),
            'sparse_categorical_crossentropy' (softmax output, integer labels).
        metrics : list, optional
            Names ('accuracy', 'binary_accuracy', 'top_k_categorical_accuracy',
            'precision', 'recall', 'auc', 'mse', ...), ``metrics`` objects
            (``Precision(thresholds=0.3)``, ``AUC()``, ...) or their functions;
            ['accuracy'] picks binary/categorical/sparse accuracy by the loss.
            Not weighted by sample or class weights, as in Keras.
        weighted_metrics : list, optional
            The same kinds of metric, weighted by ``sample_weight`` /
            ``class_weight`` (logged as ``weighted_<name>`` when the name is
            also in ``metrics``).

        Example
        -------
        >>> from nnbook.keras import Sequential, optimizers
        >>> from nnbook.keras.layers import Dense
        >>> model = Sequential([Dense(10, activation='softmax', input_shape=(4,))])
        >>> model.compile(optimizer=optimizers.SGD(learning_rate=0.1),
        ...               loss='categorical_crossentropy', metrics=['accuracy'])
        """
        unknown = sorted(k for k, v in kwargs.items() if k not in _COMPILE_EXTRAS or v)
        if unknown:
            raise TypeError(f"Invalid keyword argument(s) in `compile()`: {unknown}. Supported: "
                            f"optimizer, loss, metrics")
        opt = optimizers.get(optimizer)
        loss_obj = losses.get(loss)
        metrics = _metric_list(metrics, "metrics", loss_obj)
        weighted = _metric_list(weighted_metrics, "weighted_metrics", loss_obj)
        if self._layers:
            self._check_loss_output(loss_obj)
        same_optimizer = opt is self.optimizer
        self.optimizer, self.loss = opt, loss_obj
        self._metric_names = [metrics_module.serialize(m) for m in metrics]
        self._metric_objects = (list(metrics), weighted)
        self._resolved_metrics = None
        if self._core is not None:
            if self._core_logits != loss_obj.from_logits:
                self._build_core()        # the core's last activation changes
            else:
                self._core.set_training(loss_obj.core_loss, self._core_settings(),
                                        reset=not same_optimizer)
                self._applied_optimizer = self._core_settings()

    @property
    def compiled(self):
        return self.loss is not None

    @property
    def metrics_names(self):
        return ["loss"] + ([name for name, _, _ in self._metrics()] if self.loss else [])

    def _require_compiled(self, what):
        if self.loss is None:
            raise NotCompiledError(f"You must call `compile()` before using the model for "
                                   f"{what}: model.compile(optimizer='sgd', "
                                   f"loss='categorical_crossentropy', metrics=['accuracy'])")
        self._require_layers()
        self._check_loss_output()

    def _metrics(self):
        """[(logged name, Metric, weighted)], Keras's names: a repeated name gets
        _1, _2...; a weighted metric named like an unweighted one gets weighted_."""
        units = self._output_units
        if self._resolved_metrics is not None and self._resolved_metrics[0] == units:
            return self._resolved_metrics[1]
        plain, weighted = self._metric_objects
        entries, seen = [], {}
        for is_weighted, group in ((False, plain), (True, weighted)):
            for m in group:
                metric = metrics_module.get(m, self.loss, units)
                name = metric.name
                if is_weighted and name in seen:
                    name = f"weighted_{name}"
                if name in seen:
                    seen[name] += 1
                    name = f"{name}_{seen[name] - 1}"
                else:
                    seen[name] = 1
                entries.append((name, metric, is_weighted))
        self._resolved_metrics = (units, entries)
        return entries

    def _core_settings(self):
        """Everything the core is told besides sizes and activations: the stages'
        settings (which follow each layer's trainable), the loss's and the
        optimizer's."""
        if self._input_shape is not None:
            # a layer's trainable changes its stage's frozen flag and regularizers
            fresh = {id(s.layer): s for s in self._plan() if s.holds_weights}
            for stage in self._stages:
                if stage.holds_weights:
                    now = fresh[id(stage.layer)]
                    stage.frozen, stage.kernel, stage.bias = now.frozen, now.kernel, now.bias
        settings = _stages.stage_settings(self._stages)
        if self.loss is not None:
            settings.update(self.loss.core_settings())
        if self.optimizer is not None:
            settings.update(optimizers.CLIPPING_OFF)    # a new optimizer may clip no more
            settings.update(self.optimizer.core_settings())
        if self.loss is not None and self._layers:
            settings.update(self._count_settings())
        return settings

    def _sync_optimizer(self):
        """Pass what changed since the last epoch (learning_rate, a layer's
        trainable) to the core."""
        settings = self._core_settings()
        if settings != self._applied_optimizer:
            self._core.set_training(self.loss.core_loss, settings, reset=False)
            self._applied_optimizer = settings

    def _x(self, x, argument="x"):
        """x checked, built-for and converted to the model's dtype, as rows of
        flat samples: (n, 28, 28) becomes a (n, 784) view, not a copy (a copy
        only when the dtype or the memory layout has to change)."""
        arr = _as_numeric_array(x, argument)
        shape = self._input_shape
        if arr.ndim < 2 or (shape is not None and arr.shape[1:] != shape):
            want = f"(None, {', '.join(map(str, shape))})" if shape else "(samples, features)"
            hint = ""
            if arr.ndim == 1:
                hint = f"; a single sample needs a batch axis: {argument}.reshape(1, -1)"
            elif shape is not None and len(shape) == 1 and arr.ndim > 2 \
                    and math.prod(arr.shape[1:]) == shape[0]:
                hint = (f"; flatten it first, e.g. {argument}.reshape(len({argument}), -1), "
                        f"or start the model with Input(shape={arr.shape[1:]}) and Flatten()")
            raise ValueError(f"Input 0 of model '{self.name}' is incompatible with the model: "
                             f"expected shape={want}, found shape={arr.shape}{hint}. "
                             f"Received: {argument}.shape={arr.shape}")
        sample_shape = arr.shape[1:]
        out = as_matrix(arr.reshape(arr.shape[0], math.prod(sample_shape)), argument,
                        self.dtype)
        self._ensure_built(sample_shape)
        return out

    def _xy(self, x, y, x_argument="x", y_argument="y"):
        xs = self._x(x, x_argument)
        if y is None:
            raise ValueError(f"`{y_argument}` is required (the labels of `{x_argument}`)")
        targets = self.loss.prepare(y, y_argument, xs.shape[0], self._output_units,
                                    self.dtype, x_argument)
        return xs, targets

    def _outputs(self, xs):
        """Keras's y_pred for xs: what predict returns (logits with from_logits)."""
        return self._core.forward(xs, logits=self._core_logits)

    def _metric_logs(self, out, targets, weights, prefix=""):
        """Every compiled metric over these outputs; weighted ones by `weights`."""
        return {prefix + name: metric.value(targets.labels, out, weights if weighted else None)
                for name, metric, weighted in self._metrics()}

    def _count_settings(self):
        """The core's top_k and threshold: those of the first compiled metric that
        has one (Precision/Recall before BinaryAccuracy); Keras's defaults else.
        And the first evenly spaced AUC's histograms (auc_bins, auc_single)."""
        entries = self._metrics() if self.loss is not None and self._layers else []
        ks = [m.k for _, m, _ in entries
              if isinstance(m, metrics_module.TopKCategoricalAccuracy)]
        ts = ([m.threshold for _, m, _ in entries
               if isinstance(m, (metrics_module.Precision, metrics_module.Recall))]
              + [m.threshold for _, m, _ in entries
                 if isinstance(m, metrics_module.BinaryAccuracy)])
        aucs = [m for _, m, _ in entries
                if isinstance(m, metrics_module.AUC) and m._even and not m.from_logits]
        return {"top_k": ks[0] if ks else 5, "threshold": ts[0] if ts else 0.5,
                "auc_bins": aucs[0].num_thresholds if aucs else 0,
                "auc_single": bool(aucs and aucs[0].dtype == np.float32)}

    def _core_counts(self, targets):
        """What the core counts while this model trains on `targets`."""
        units = self._output_units
        y = targets.core
        settings = self._count_settings()
        return metrics_module.CoreCounts(
            binary=units == 1, units=units,
            top_k=settings["top_k"], threshold=settings["threshold"],
            labels_01=bool(np.all((y == 0) | (y == 1))),
            scores_are_outputs=not self._core_logits, auc_bins=settings["auc_bins"],
            auc_single=settings["auc_single"])

    def _running_logs(self, counting, counts, rows, weights):
        """The metrics the running counts give (the batch logs)."""
        logs = {}
        for name, metric, weighted in self._metrics():
            if not (weighted and weights is not None):
                value = counting.value(metric, counts, rows)
                if value is not None:
                    logs[name] = value
        return logs

    def _training_logs(self, xs, targets, weights, counting, counts, rows):
        """The epoch's training metrics: from the core's counts where they give
        the metric, else from one forward pass over the training rows."""
        logs, out = {}, None
        for name, metric, weighted in self._metrics():
            value = None
            if not (weighted and weights is not None):
                value = counting.value(metric, counts, rows)
            if value is None:
                if out is None:
                    out = self._outputs(xs)
                value = metric.value(targets.labels, out, weights if weighted else None)
            logs[name] = value
        return logs

    def _test_pass(self, xs, targets, weights, batch_size, cbs):
        """Loss and metrics over (xs, targets), for evaluate() and validation.

        One forward pass in C, unless a callback overrides a test-batch hook:
        then one pass per batch of batch_size rows, the hooks between them
        (their logs: the running loss and metrics), and the loss summed batch
        by batch (equal to the one-pass value up to rounding).
        """
        cbs.on_test_begin({})
        n = xs.shape[0]
        if cbs.wants_batches("test"):
            outs, loss_sum = [], 0.0
            # this pass's own metric states (other threads may evaluate too)
            entries = [(name, metric.fresh(), weighted)
                       for name, metric, weighted in self._metrics()]
            for b, start in enumerate(range(0, n, batch_size)):
                stop = min(start + batch_size, n)
                w = None if weights is None else weights[start:stop]
                cbs.on_test_batch_begin(b, {})
                out, part = self._core.forward_loss(xs[start:stop], targets.core[start:stop],
                                                    logits=self._core_logits, sample_weight=w)
                outs.append(out)
                loss_sum += part
                batch_logs = {"loss": loss_sum / stop}
                for name, metric, weighted in entries:
                    metric.update_from_targets(targets.labels[start:stop], out,
                                               w if weighted else None)
                    batch_logs[name] = metric.result()
                cbs.on_test_batch_end(b, batch_logs)
            out = np.concatenate(outs)
        else:
            out, loss_sum = self._core.forward_loss(xs, targets.core, logits=self._core_logits,
                                                    sample_weight=weights)
        logs = {"loss": loss_sum / n}
        logs.update(self._metric_logs(out, targets, weights))
        cbs.on_test_end(logs)
        return logs

    def _predict_pass(self, xs, batch_size, cbs):
        """predict()'s outputs: one forward pass in C, or one per batch when a
        callback overrides a predict-batch hook (logs {'outputs': the batch's})."""
        cbs.on_predict_begin({})
        if cbs.wants_batches("predict"):
            outs = []
            for b, start in enumerate(range(0, xs.shape[0], batch_size)):
                cbs.on_predict_batch_begin(b, {})
                outs.append(self._outputs(xs[start:start + batch_size]))
                cbs.on_predict_batch_end(b, {"outputs": outs[-1]})
            out = np.concatenate(outs)
        else:
            out = self._outputs(xs)
        cbs.on_predict_end({})
        return out

    @serialised
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **kwargs):
        """Train for ``epochs`` epochs; returns a ``callbacks.History``.

        Parameters
        ----------
        x : array (samples, features); y : labels as the loss expects
        batch_size : int, default 32
        epochs : int, default 1
        verbose : 0, 1 (progress bar), 2 (one line per epoch) or 'auto' (1)
            Non-zero adds a ``callbacks.ProgbarLogger`` (unless one is passed).
        callbacks : list of callbacks.Callback
        validation_split : float in [0, 1)
            Fraction of the data, taken from the END of x and y before any
            shuffling (as Keras does), held out for validation.
        validation_data : (x_val, y_val) or (x_val, y_val, val_sample_weight), optional;
            overrides validation_split
        shuffle : bool, default True
            A fresh permutation of the training rows every epoch.
        class_weight : dict {class index: weight}, optional
            Each row weighs its class's weight (classes not in the dict weigh
            1): one-hot rows by their argmax, a single unit by its rounded label.
        sample_weight : array (samples,), optional
            One non-negative weight per row. Weighted as Keras weights: a
            batch's loss is sum_i w_i l_i / (rows in the batch), not divided by
            the weights' sum; ``validation_split`` splits the weights too. The
            compiled ``metrics`` stay unweighted; ``weighted_metrics`` use them.
        initial_epoch : int, default 0
        validation_batch_size : int, optional
            Rows per batch of the validation pass's test-batch hooks (default batch_size).
        validation_freq : int or collection of ints, default 1
            Validate after every ``validation_freq``-th epoch, or after the
            epochs (1-based) listed; other epochs have no 'val_' logs.

        Returns
        -------
        History
            ``history.history`` has 'loss' and each metric, plus 'val_' versions
            with validation data; ``history.epoch`` lists the epochs run.

        Notes
        -----
        ``loss`` and the metrics the core counts (accuracy, binary and top-k
        accuracy, precision, recall, an evenly spaced AUC) are Keras's running
        means over the epoch's batches, each batch scored before its update;
        the other training metrics (mse, mae; a weighted metric with sample
        weights) come from one forward pass over the training rows after the
        epoch. A callback setting ``model.stop_training = True`` in a batch
        hook ends training after that batch (the epoch still validates and
        ends, as in Keras).

        Example
        -------
        >>> import numpy as np
        >>> from nnbook.keras import Sequential
        >>> from nnbook.keras.layers import Dense
        >>> model = Sequential([Dense(1, activation='sigmoid', input_shape=(2,))])
        >>> model.compile(optimizer='sgd', loss='binary_crossentropy', metrics=['accuracy'])
        >>> x = np.array([[0., 0.], [1., 1.]] * 8); y = np.array([0, 1] * 8)
        >>> len(model.fit(x, y, epochs=3, verbose=0).history['loss'])
        3
        """
        unsupported = sorted(k for k, v in dict(kwargs, steps_per_epoch=steps_per_epoch,
                                                  validation_steps=validation_steps).items()
                             if v is not None)
        if unsupported:
            raise TypeError(f"fit() got unsupported argument(s) {unsupported}")
        self._require_compiled("training")
        batch_size = _batch_size(batch_size)
        verbose = _verbosity(verbose)
        epochs = check_positive_int(epochs, "epochs", minimum=0, keras_style=True)
        initial_epoch = check_positive_int(initial_epoch, "initial_epoch", minimum=0,
                                           keras_style=True)
        shuffle = check_bool(shuffle, "shuffle", keras_style=True)
        validation_split = check_real(validation_split, "validation_split", minimum=0, below=1,
                                      keras_style=True)
        validate = _validation_epochs(validation_freq)
        val_batch_size = (batch_size if validation_batch_size is None
                          else check_positive_int(validation_batch_size, "validation_batch_size",
                                                  keras_style=True))

        xs, targets = self._xy(x, y)
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot use `class_weight` and `sample_weight` at the same "
                             "time.")
        weights = None
        if sample_weight is not None:
            weights = _sample_weights(sample_weight, xs.shape[0], self.dtype)
        elif class_weight is not None:
            weights = _class_weights(class_weight, targets.labels, self.dtype)
        val = val_weights = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, "
                                 "y_val, val_sample_weight). Received: "
                                 f"a {type(validation_data).__name__} of length "
                                 f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'}")
            val = self._xy(validation_data[0], validation_data[1], "x_val", "y_val")
            if len(validation_data) == 3 and validation_data[2] is not None:
                val_weights = _sample_weights(validation_data[2], val[0].shape[0], self.dtype,
                                              "val_sample_weight")
        elif validation_split > 0:
            n = xs.shape[0]
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at < 1 or split_at >= n:
                raise ValueError(f"validation_split={validation_split} leaves "
                                 f"{split_at} training and {n - split_at} validation samples "
                                 f"out of {n}; both must be at least 1")
            val = (xs[split_at:], targets.rows(slice(split_at, None)))
            xs = xs[:split_at]
            targets = targets.rows(slice(None, split_at))
            if weights is not None:
                weights, val_weights = weights[:split_at], weights[split_at:]

        n = xs.shape[0]
        steps = math.ceil(n / batch_size)
        counting = self._core_counts(targets)
        cbs = callbacks_module.configure(callbacks, self, verbose=verbose, epochs=epochs,
                                         steps=steps, add_history=True)
        history = self.history = cbs.history
        self.stop_training = False
        rng = utils.generator()
        warned = False
        batch_hooks = cbs.wants_batches("train")
        logs = {}
        cbs.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch, {})
            self._sync_optimizer()
            live = cbs.progbar is not None and cbs.progbar.live
            perm = rng.permutation(n) if shuffle else None
            # loss sum, rows and metric counts of the completed batches
            running = [0.0, 0, (0,) * 5]

            def after_batches(progress, running=running):
                _, done, _, rows, loss_sum, correct, counts = progress
                running[:] = [loss_sum, rows, counts]
                batch_logs = {"loss": loss_sum / rows}
                batch_logs.update(self._running_logs(counting, counts, rows, weights))
                if batch_hooks:
                    cbs.on_train_batch_end(done - 1, batch_logs)
                    if not self.stop_training and done < steps:
                        cbs.on_train_batch_begin(done, {})
                else:                   # only the live bar asked
                    cbs.progbar.on_train_batch_end(done - 1, batch_logs)
                return self.stop_training

            if batch_hooks:
                cbs.on_train_batch_begin(0, {})
            try:
                loss_sum = self._core.train_epoch(
                    xs, targets.core, batch_size, perm,
                    callback=after_batches if batch_hooks or live else None,
                    callback_interval=None if batch_hooks else progress.LIVE_SECONDS,
                    sample_weight=weights)
                rows = n
                counts = list(self._core.last_counts)
            except StopIteration:      # a batch callback set stop_training
                loss_sum, rows, counts = running
                counts = list(counts)
            self.optimizer.iterations = self._core.step
            logs = {"loss": loss_sum / rows}
            logs.update(self._training_logs(xs, targets, weights, counting, counts, rows))
            if val is not None and validate(epoch):
                val_logs = self._test_pass(val[0], val[1], val_weights, val_batch_size, cbs)
                logs.update({"val_" + key: value for key, value in val_logs.items()})
            if not np.isfinite(logs["loss"]) and not warned:
                warned = True
                warnings.warn(f"The training loss became {logs['loss']} at epoch {epoch + 1}: "
                              f"training diverged (try a smaller learning_rate)",
                              RuntimeWarning, stacklevel=2)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) over x, y.

        Parameters
        ----------
        x, y : as for fit
        batch_size : int, default 32 (the batches of the test-batch hooks)
        verbose : 0, 1, 2 or 'auto'; non-zero adds a ``callbacks.ProgbarLogger``
        sample_weight : array (samples,), optional
            Weighs the loss (sum_i w_i l_i / samples, as Keras) and the
            ``weighted_metrics``; the compiled ``metrics`` stay unweighted.
        callbacks : list of callbacks.Callback, optional
            Their on_test_begin/end run; a callback overriding
            on_test_batch_begin/end makes the pass run batch by batch.
        return_dict : bool, default False

        Returns
        -------
        float (no metrics), list [loss, metric, ...], or a dict with ``return_dict=True``.

        Example
        -------
        >>> loss, accuracy = model.evaluate(x_val, y_val, verbose=0)   # doctest: +SKIP
        """
        unsupported = sorted(k for k, v in dict(kwargs, steps=steps).items() if v is not None)
        if unsupported:
            raise TypeError(f"evaluate() got unsupported argument(s) {unsupported}")
        self._require_compiled("evaluation")
        batch_size = _batch_size(batch_size)
        verbose = _verbosity(verbose)
        return_dict = check_bool(return_dict, "return_dict", keras_style=True)
        xs, targets = self._xy(x, y)
        weights = (None if sample_weight is None
                   else _sample_weights(sample_weight, xs.shape[0], self.dtype))
        cbs = callbacks_module.configure(callbacks, self, verbose=verbose, epochs=1,
                                         steps=math.ceil(xs.shape[0] / batch_size))
        logs = self._test_pass(xs, targets, weights, batch_size, cbs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None,
                **kwargs):
        """The model's outputs for x, an array (samples, units) in the model's dtype.

        verbose non-zero adds a ``callbacks.ProgbarLogger``; `callbacks` get
        on_predict_begin/end, and a callback overriding on_predict_batch_begin/end
        makes the pass run batch by batch (batch_size rows, default 32).

        Example
        -------
        >>> probs = model.predict(x_test, verbose=0)                     # doctest: +SKIP
        >>> probs.argmax(axis=1)                                          # doctest: +SKIP
        """
        unsupported = sorted(k for k, v in dict(kwargs, steps=steps).items() if v is not None)
        if unsupported:
            raise TypeError(f"predict() got unsupported argument(s) {unsupported}")
        batch_size = _batch_size(batch_size)
        verbose = _verbosity(verbose)
        xs = self._x(x)
        cbs = callbacks_module.configure(callbacks, self, verbose=verbose, epochs=1,
                                         steps=math.ceil(xs.shape[0] / batch_size))
        return self._predict_pass(xs, batch_size, cbs)

    def __call__(self, x):
        return self.predict(x, verbose=0)
