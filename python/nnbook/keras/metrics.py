"""Metrics (``keras.metrics``): Keras 3's definitions, computed with NumPy.

Each metric is an object with Keras's ``update_state(y_true, y_pred,
sample_weight=None)``, ``result()`` and ``reset_state()``, usable on its own
or named in ``compile(metrics=[...])`` by a string, a class instance or one
of the module's functions. The value a model logs is the metric's name:
the string as given, else the object's name (``BinaryAccuracy()`` logs
``binary_accuracy``; ``Precision()``, ``Recall()`` and ``AUC()`` are named
from a per-session counter as in Keras: ``precision``, then ``precision_1``
for the next one; ``backend.clear_session()`` restarts it). A name repeated
in one model gets ``_1``, ``_2``...; a weighted metric named like an
unweighted one is logged as ``weighted_<name>``.

'accuracy' (or 'acc') becomes the variant Keras picks for the output and
labels: binary accuracy (threshold 0.5) for one output unit, sparse
categorical accuracy for integer labels (sparse_categorical_crossentropy),
otherwise categorical accuracy (argmax of output vs argmax of the label).

Sample weights (``weighted_metrics``, standalone ``sample_weight``) weigh
as Keras weighs: a mean metric is sum_i w_i v_i / sum_i w_i over the rows'
values v_i (a row's value is the mean over its units); Precision, Recall
and AUC weigh every unit of row i by w_i in their counts.

While ``fit`` trains, the core counts per batch, each batch scored before
its update (Keras's running values): correct predictions, top-k hits, true
and false positives and false negatives, and the score histograms of one
evenly spaced AUC, which give accuracy, binary accuracy, top-k accuracy,
precision, recall and AUC. The rest (mse, mae, a weighted metric with
sample weights, a second threshold, k or AUC) comes from one forward pass
over the training rows after the epoch; see ``CoreCounts``.

Example
-------
>>> import numpy as np
>>> m = Precision()
>>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
>>> float(m.result())
0.6666666666666666
"""
import copy

import numpy as np

from .._validation import _as_numeric_array, _check_finite, check_bool, check_positive_int, check_real
from . import backend

__all__ = ["Metric", "MeanMetricWrapper", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "Precision", "Recall", "AUC", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "mean_squared_error", "mean_absolute_error",
           "get", "serialize"]


def _arrays(y_true, y_pred):
    """y_true and y_pred as float arrays, y_pred at least 2-D (rows, units)."""
    y_pred = np.asarray(_as_numeric_array(y_pred, "y_pred"), dtype=np.float64)
    y_true = np.asarray(_as_numeric_array(y_true, "y_true"), dtype=np.float64)
    _check_finite(y_pred, "y_pred", "a metric is defined on finite outputs")
    _check_finite(y_true, "y_true", "a metric is defined on finite labels")
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.ndim == 1 and y_pred.shape[1] == 1:
        y_true = y_true[:, None]
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"y_true and y_pred must have the same number of rows. Received: "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    return y_true, y_pred


def _same_shape(y_true, y_pred):
    y_true, y_pred = _arrays(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true must have the shape of y_pred. Received: "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    return y_true, y_pred


def _class_indices(y_true, n_rows):
    labels = np.asarray(y_true).reshape(n_rows, -1)
    if labels.shape[1] != 1:
        raise ValueError(f"sparse metrics take one integer label per row. Received: "
                         f"y_true.shape={np.shape(y_true)}")
    return labels[:, 0]


# -- per-row functions (Keras's keras.metrics.<name> functions) -------------------

def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where y_true equals (y_pred > threshold), per unit, shape (rows, units).

    Example
    -------
    >>> binary_accuracy([1, 0], [0.7, 0.6]).ravel().tolist()
    [1.0, 0.0]
    """
    y_true, y_pred = _same_shape(y_true, y_pred)
    return (y_true == (y_pred > threshold)).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred), per row.

    Example
    -------
    >>> categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).tolist()
    [1.0, 0.0]
    """
    y_true, y_pred = _same_shape(y_true, y_pred)
    return (np.argmax(y_true, axis=1) == np.argmax(y_pred, axis=1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals argmax(y_pred), per row.

    Example
    -------
    >>> sparse_categorical_accuracy([1, 1], [[0.2, 0.8], [0.3, 0.1]]).tolist()
    [1.0, 0.0]
    """
    y_true, y_pred = _arrays(y_true, y_pred)
    return (_class_indices(y_true, len(y_pred)) == np.argmax(y_pred, axis=1)).astype(np.float64)


def _in_top_k(labels, y_pred, k):
    """TensorFlow's in_top_k: the label's score is finite and fewer than k
    scores beat it (ties at the boundary count as in the top k)."""
    rows = np.arange(len(y_pred))
    ok = (labels >= 0) & (labels < y_pred.shape[1])
    target = y_pred[rows, np.where(ok, labels, 0).astype(np.int64)]
    beaten_by = np.sum(y_pred > target[:, None], axis=1)
    return (ok & np.isfinite(target) & (beaten_by < k)).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where argmax(y_true) is among the k highest scores of y_pred, per row.

    Example
    -------
    >>> top_k_categorical_accuracy([[0, 0, 1], [1, 0, 0]], [[.5, .3, .2], [.5, .3, .2]], k=2).tolist()
    [0.0, 1.0]
    """
    y_true, y_pred = _same_shape(y_true, y_pred)
    return _in_top_k(np.argmax(y_true, axis=1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the k highest scores of y_pred, per row.

    Example
    -------
    >>> sparse_top_k_categorical_accuracy([2, 0], [[.5, .3, .2], [.5, .3, .2]], k=2).tolist()
    [0.0, 1.0]
    """
    y_true, y_pred = _arrays(y_true, y_pred)
    return _in_top_k(_class_indices(y_true, len(y_pred)).astype(np.int64), y_pred, k)


def mean_squared_error(y_true, y_pred):
    """Mean over the units of (y_true - y_pred)^2, per row."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    return np.mean((y_true - y_pred) ** 2, axis=1)


def mean_absolute_error(y_true, y_pred):
    """Mean over the units of |y_true - y_pred|, per row."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=1)


def _in_unit_interval(value, name):
    value = check_real(value, name, minimum=0, keras_style=True)
    if value > 1:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {name}={value}")
    return value


def _row_weights(sample_weight, n_rows):
    if sample_weight is None:
        return None
    w = np.asarray(_as_numeric_array(sample_weight, "sample_weight"), dtype=np.float64)
    _check_finite(w, "sample_weight", "weights must be finite numbers")
    if w.ndim == 0:
        return np.full(n_rows, float(w))
    w = w.reshape(w.shape[0], -1) if w.ndim > 1 else w
    if w.shape[0] != n_rows or (w.ndim == 2 and w.shape[1] != 1):
        raise ValueError(f"`sample_weight` must hold one weight per row: shape ({n_rows},). "
                         f"Received: sample_weight.shape={np.shape(sample_weight)}")
    return w.reshape(n_rows)


# -- metric objects --------------------------------------------------------------

class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``; ``name``.

    Subclasses set ``default_name``. Results are Python floats.
    """

    default_name = "metric"

    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        self.name = name or self.default_name
        self.dtype = np.dtype(dtype or backend.floatx())
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def update_from_targets(self, core_targets, y_pred, sample_weight=None):
        """Update from a model's (rows, units) targets (one-hot for class labels)."""
        self.update_state(core_targets, y_pred, sample_weight)

    def fresh(self):
        """A copy with its own empty state, for one pass over some rows: a
        compiled metric is shared by every thread that evaluates the model, so
        a pass never counts into the shared object."""
        other = copy.copy(self)
        other.reset_state()
        return other

    def value(self, core_targets, y_pred, sample_weight=None):
        """The metric over these rows alone (this metric's own state untouched)."""
        scratch = self.fresh()
        scratch.update_from_targets(core_targets, y_pred, sample_weight)
        return scratch.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class MeanMetricWrapper(Metric):
    """The (weighted) mean over rows of a per-row function ``fn(y_true, y_pred)``."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"`fn` must be a function. Received: fn={fn!r}")
        self._fn, self._fn_kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", None), dtype)

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._fn(y_true, y_pred, **self._fn_kwargs), dtype=np.float64)
        values = values.reshape(values.shape[0], -1).mean(axis=1)
        w = _row_weights(sample_weight, values.shape[0])
        if w is None:
            self.total += float(np.sum(values))
            self.count += values.shape[0]
        else:
            self.total += float(np.sum(values * w))
            self.count += float(np.sum(w))

    def result(self):
        return self.total / self.count if self.count else 0.0


class BinaryAccuracy(MeanMetricWrapper):
    """Share of units where y_true equals (y_pred > threshold).

    Example
    -------
    >>> m = BinaryAccuracy(); m.update_state([[1], [0]], [[0.9], [0.8]]); m.result()
    0.5
    """

    default_name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        self.threshold = _in_unit_interval(threshold, "threshold")
        super().__init__(binary_accuracy, name or self.default_name, dtype,
                         threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """Share of rows where argmax(y_true) == argmax(y_pred) (one-hot labels)."""

    default_name = "categorical_accuracy"

    def __init__(self, name=None, dtype=None):
        super().__init__(categorical_accuracy, name or self.default_name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Share of rows where the integer label == argmax(y_pred)."""

    default_name = "sparse_categorical_accuracy"

    def __init__(self, name=None, dtype=None):
        super().__init__(sparse_categorical_accuracy, name or self.default_name, dtype)

    def update_from_targets(self, core_targets, y_pred, sample_weight=None):
        self.update_state(np.argmax(core_targets, axis=1), y_pred, sample_weight)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """Share of rows whose label (argmax of one-hot y_true) is among the k top scores.

    Ties at the k-th score count as in the top k (TensorFlow's in_top_k).

    Example
    -------
    >>> m = TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 1], [1, 0]], [[0.4, 0.6], [0.3, 0.7]]); m.result()
    0.5
    """

    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        self.k = check_positive_int(k, "k", keras_style=True)
        super().__init__(top_k_categorical_accuracy, name or self.default_name, dtype, k=self.k)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Share of rows whose integer label is among the k top scores."""

    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        super().__init__(k, name or self.default_name, dtype)
        self._fn = sparse_top_k_categorical_accuracy

    def update_from_targets(self, core_targets, y_pred, sample_weight=None):
        self.update_state(np.argmax(core_targets, axis=1), y_pred, sample_weight)


class MeanSquaredError(MeanMetricWrapper):
    default_name = "mean_squared_error"

    def __init__(self, name=None, dtype=None):
        super().__init__(mean_squared_error, name or self.default_name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    default_name = "mean_absolute_error"

    def __init__(self, name=None, dtype=None):
        super().__init__(mean_absolute_error, name or self.default_name, dtype)


def _one_threshold(thresholds, owner):
    """Keras's thresholds=None (0.5), a number, or a list of one number, in [0, 1]."""
    if thresholds is None:
        return 0.5
    if isinstance(thresholds, (list, tuple, np.ndarray)):
        if len(thresholds) != 1:
            raise ValueError(f"{owner} in nnbook takes one threshold (a number in [0, 1]); "
                             f"Received: thresholds={thresholds!r}")
        thresholds = thresholds[0]
    return _in_unit_interval(thresholds, "thresholds")


def _refuse(owner, **options):
    for key, value in options.items():
        if value is not None:
            raise ValueError(f"{owner}({key}=...) is not supported by nnbook.keras (only "
                             f"`thresholds`, `name`, `dtype`). Received: {key}={value!r}")


def _flat_counts(y_true, y_pred, sample_weight):
    """Labels (y_true != 0), scores and per-element weights, all flattened."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    w = _row_weights(sample_weight, y_pred.shape[0])
    units = y_pred.shape[1]
    weights = np.ones(y_pred.size) if w is None else np.repeat(w, units)
    return (y_true != 0).ravel(), y_pred.ravel(), weights


class _Confusion(Metric):
    """Weighted true/false positives and false negatives at one threshold."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        _refuse(type(self).__name__, top_k=top_k, class_id=class_id)
        self.threshold = _one_threshold(thresholds, type(self).__name__)
        # Keras names these from a per-session counter: precision, precision_1, ...
        super().__init__(name or backend.unique_name(self.default_name), dtype)

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        positive, scores, weights = _flat_counts(y_true, y_pred, sample_weight)
        predicted = scores > self.threshold
        self.true_positives += float(np.sum(weights[positive & predicted]))
        self.false_positives += float(np.sum(weights[~positive & predicted]))
        self.false_negatives += float(np.sum(weights[positive & ~predicted]))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.threshold}


class Precision(_Confusion):
    """tp / (tp + fp) over every output unit, a unit predicted positive when
    its score is above the threshold (0.5); 0 when nothing is predicted positive.

    Example
    -------
    >>> m = Precision(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    >>> m.result()
    1.0
    """

    default_name = "precision"

    def result(self):
        denominator = self.true_positives + self.false_positives
        return self.true_positives / denominator if denominator else 0.0


class Recall(_Confusion):
    """tp / (tp + fn) over every output unit (threshold 0.5); 0 without positives.

    Example
    -------
    >>> m = Recall(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); m.result()
    0.6666666666666666
    """

    default_name = "recall"

    def result(self):
        denominator = self.true_positives + self.false_negatives
        return self.true_positives / denominator if denominator else 0.0


# AUC keeps four float64 counts per threshold: 2**24 thresholds are 512 MiB.
# Keras sets no limit; one is needed so that a model file's metric config
# cannot make nnbook allocate without bound.
MAX_THRESHOLDS = 1 << 24


class AUC(Metric):
    """Area under the ROC curve, approximated as Keras does.

    The scores of every output unit are counted at ``num_thresholds``
    thresholds evenly spaced over [0, 1] (the ends pushed just outside it);
    the area is the Riemann sum over the thresholds, with the mean of
    neighbouring recalls as height ('interpolation', Keras's default), or
    their minimum ('minoring') or maximum ('majoring'). Scores are clipped
    to [0, 1] (``from_logits=True`` applies a sigmoid first).

    In ``fit`` the training AUC is Keras's running value: the core counts
    each batch's scores into the same buckets before its update (a second
    AUC, or one with explicit thresholds, is computed on a forward pass
    after the epoch); validation and ``evaluate`` compute it on their rows'
    outputs, as Keras does.

    Parameters
    ----------
    num_thresholds : int in [2, 2**24], default 200
    curve : 'ROC' (the only curve nnbook has)
    summation_method : 'interpolation', 'minoring' or 'majoring'
    thresholds : list of floats in [0, 1], optional
        Used instead of the even spacing.
    from_logits : bool, default False

    Example
    -------
    >>> m = AUC(); m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(m.result(), 4)
    0.75
    """

    default_name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if curve not in ("ROC", "roc"):
            raise ValueError(f"AUC in nnbook computes the ROC curve only. Received: "
                             f"curve={curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"`summation_method` must be 'interpolation', 'minoring' or "
                             f"'majoring'. Received: summation_method={summation_method!r}")
        if multi_label:
            raise ValueError("AUC(multi_label=True) is not supported by nnbook.keras: it "
                             "counts every output unit together (multi_label=False)")
        _refuse("AUC", num_labels=num_labels, label_weights=label_weights)
        self.summation_method = summation_method
        self.from_logits = check_bool(from_logits, "from_logits", keras_style=True)
        if thresholds is not None:
            if isinstance(thresholds, (str, bytes)) or not hasattr(thresholds, "__iter__"):
                raise TypeError(f"`thresholds` must be a list of numbers in [0, 1]. "
                                f"Received: thresholds={thresholds!r}")
            inner = sorted(_in_unit_interval(t, "thresholds") for t in thresholds)
            if len(inner) + 2 > MAX_THRESHOLDS:
                raise ValueError(f"`thresholds` may list at most {MAX_THRESHOLDS - 2} values. "
                                 f"Received: {len(inner)} values")
            self.num_thresholds = len(inner) + 2
            self._even = False
        else:
            self.num_thresholds = check_positive_int(num_thresholds, "num_thresholds",
                                                     minimum=2, maximum=None, keras_style=True)
            if self.num_thresholds > MAX_THRESHOLDS:
                raise ValueError(f"`num_thresholds` must be at most {MAX_THRESHOLDS} in nnbook "
                                 f"(four counts are kept per threshold). "
                                 f"Received: num_thresholds={num_thresholds!r}")
            inner = np.arange(1, self.num_thresholds - 1) / (self.num_thresholds - 1)
            self._even = True
        eps = 1e-7        # Keras's backend.epsilon(): the outer thresholds
        self.thresholds = np.concatenate([[-eps], inner, [1.0 + eps]])
        self._init_thresholds = thresholds
        super().__init__(name or backend.unique_name(self.default_name), dtype)

    def reset_state(self):
        shape = (self.num_thresholds,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        positive, scores, weights = _flat_counts(y_true, y_pred, sample_weight)
        if self.from_logits:
            with np.errstate(over="ignore"):      # exp(1000) = inf gives the exact 0.0
                scores = 1.0 / (1.0 + np.exp(-scores))
        # Keras computes in the metric's dtype (float32 by default)
        scores = scores.astype(self.dtype)
        true_w, false_w = weights * positive, weights * ~positive
        if self._even:
            # Keras's evenly-spaced shortcut: the bucket of a score p is
            # ceil(p (T - 1)) - 1, clipped at 0, and a threshold's count is
            # the sum over the buckets at and above it
            clipped = np.clip(scores, 0, 1)
            bucket = np.ceil(clipped * self.dtype.type(self.num_thresholds - 1)) - 1
            bucket = np.maximum(bucket, 0).astype(np.int64)
            tp = np.bincount(bucket, true_w, self.num_thresholds)[::-1].cumsum()[::-1]
            fp = np.bincount(bucket, false_w, self.num_thresholds)[::-1].cumsum()[::-1]
        else:
            above = scores[None, :] > self.thresholds.astype(self.dtype)[:, None]
            tp, fp = above @ true_w, above @ false_w
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += np.sum(true_w) - tp
        self.true_negatives += np.sum(false_w) - fp

    def from_histograms(self, positives, negatives):
        """The AUC of the scores whose bucket histograms (see update_state's
        evenly spaced shortcut) are `positives` and `negatives`: what the core
        counts per batch while training. The metric's own state is left alone."""
        tp = np.asarray(positives, np.float64)[::-1].cumsum()[::-1]
        fp = np.asarray(negatives, np.float64)[::-1].cumsum()[::-1]
        other = AUC(num_thresholds=self.num_thresholds, summation_method=self.summation_method,
                    dtype=self.dtype, name=self.name)
        other.true_positives, other.false_positives = tp, fp
        other.false_negatives, other.true_negatives = tp[0] - tp, fp[0] - fp
        return other.result()

    def result(self):
        def ratio(a, b):
            total = a + b
            return np.divide(a, total, out=np.zeros_like(a), where=total != 0)
        recall = ratio(self.true_positives, self.false_negatives)
        fp_rate = ratio(self.false_positives, self.true_negatives)
        if self.summation_method == "interpolation":
            heights = (recall[:-1] + recall[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(recall[:-1], recall[1:])
        else:
            heights = np.maximum(recall[:-1], recall[1:])
        return float(np.sum((fp_rate[:-1] - fp_rate[1:]) * heights))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": "ROC",
                "summation_method": self.summation_method,
                "thresholds": self._init_thresholds, "from_logits": self.from_logits}


# -- names -------------------------------------------------------------------------

_CLASSES = (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
            MeanAbsoluteError, Precision, Recall, AUC)
_BY_CLASS_NAME = {cls.__name__: cls for cls in _CLASSES}
CLASS_NAMES = frozenset(_BY_CLASS_NAME)
_BY_NAME = {cls.default_name: cls for cls in _CLASSES}
_BY_NAME.update({"mse": MeanSquaredError, "mae": MeanAbsoluteError})
_BY_FUNCTION = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
                sparse_categorical_accuracy: SparseCategoricalAccuracy,
                top_k_categorical_accuracy: TopKCategoricalAccuracy,
                sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
                mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError}
KNOWN = ("accuracy", "acc") + tuple(sorted(_BY_NAME))


def _accuracy_class(loss, units):
    """The accuracy Keras picks for 'accuracy': by the output units and the labels."""
    if units == 1:
        return BinaryAccuracy
    # several units: categorical even under binary cross-entropy (multi-label),
    # as Keras 3 decides it, by the shapes alone
    return SparseCategoricalAccuracy if loss.accuracy == "sparse" else CategoricalAccuracy


def get(identifier, loss, units):
    """A fresh Metric for a name, a function, a config dict or a Metric (returned as is).

    `loss` and `units` (the compiled loss, the output units) resolve 'accuracy'.

    Example
    -------
    >>> from nnbook.keras import losses
    >>> type(get('accuracy', losses.get('binary_crossentropy'), units=1)).__name__
    'BinaryAccuracy'
    >>> get('precision', losses.get('mse'), 1).name
    'precision'
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_CLASS_NAME:
        config = dict(identifier.get("config") or {})
        return _BY_CLASS_NAME[identifier["class_name"]].from_config(config)
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_CLASS_NAME else identifier.lower()
        if key in ("accuracy", "acc"):
            return _accuracy_class(loss, units)(name=identifier)
        cls = _BY_CLASS_NAME.get(key) or _BY_NAME.get(key)
        if cls is not None:
            return cls(name=identifier)
    if callable(identifier) and not isinstance(identifier, type):
        cls = _BY_FUNCTION.get(identifier)
        if cls is not None:
            return cls(name=identifier.__name__)
    if isinstance(identifier, type) and identifier in _CLASSES:
        return identifier()
    raise ValueError(f"Unknown metric: expected one of {list(KNOWN)}, one of the classes "
                     f"{sorted(_BY_CLASS_NAME)}, or an instance of them. "
                     f"Received: metric={identifier!r}")


def serialize(identifier):
    """A JSON-ready form of a compile() metric: strings as they are, objects as
    Keras writes them ({'module', 'class_name', 'config', 'registered_name'}).

    Example
    -------
    >>> serialize(Recall(thresholds=0.3))['config']['thresholds']
    0.3
    """
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, dict):
        return identifier
    if callable(identifier) and identifier in _BY_FUNCTION:
        return identifier.__name__
    metric = identifier() if isinstance(identifier, type) else identifier
    if not isinstance(metric, Metric) or type(metric) not in _CLASSES:
        raise ValueError(f"Unknown metric: {identifier!r}")
    return {"module": "keras.metrics", "class_name": type(metric).__name__,
            "config": metric.get_config(), "registered_name": None}


class CoreCounts:
    """What the core counted during an epoch, and the metrics read from it.

    Counts over the epoch's batches (each before its update), in the
    order (correct, top_k, tp, fp, fn): ``correct`` (rows with
    (a > 0.5) == (y > 0.5) for one output unit, else rows whose argmax
    agrees), ``top_k`` correct rows, and true
    positives, false positives and false negatives over all units at
    ``threshold`` (a label is positive when it is not 0).

    Parameters
    ----------
    binary : bool, whether ``correct`` counts units (the binary rule)
    units : int, the output units
    top_k, threshold : the core's settings
    labels_01 : bool, whether every label is exactly 0 or 1
    scores_are_outputs : bool, whether the model's outputs (Keras's y_pred)
        are the activations the core counts on (False for from_logits)

    Example
    -------
    >>> counts = CoreCounts(binary=True, units=1, top_k=5, threshold=0.5)
    >>> counts.value(Precision(), [9, 0, 3, 1, 2], rows=10)
    0.75
    """

    def __init__(self, binary, units, top_k, threshold, labels_01=True,
                 scores_are_outputs=True, auc_bins=0, auc_single=True):
        self.binary, self.units = binary, units
        self.top_k, self.threshold = top_k, threshold
        self.labels_01, self.scores_are_outputs = labels_01, scores_are_outputs
        self.auc_bins, self.auc_single = auc_bins, auc_single

    def counts_metric(self, metric):
        """Whether `metric`'s value can be read from the counts."""
        return self.value(metric, [0, 0, 0, 0, 0], 1) is not None

    def value(self, metric, counts, rows):
        """The metric from `counts` (correct, top_k, tp, fp, fn) over `rows` rows,
        or None when the counts do not give it (then a forward pass does).
        """
        correct, top, tp, fp, fn = (list(counts) + [0] * 5)[:5]
        kind = type(metric)
        elements = rows * self.units
        thresholded = self.scores_are_outputs and self.labels_01
        if kind is BinaryAccuracy:
            if self.binary and metric.threshold == 0.5 and thresholded:
                return correct / elements
            if not thresholded or metric.threshold != self.threshold:
                return None
            return (elements - fp - fn) / elements
        if kind in (CategoricalAccuracy, SparseCategoricalAccuracy):
            return None if self.binary else correct / rows
        if kind in (TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy):
            return top / rows if metric.k == self.top_k and not self.binary else None
        if kind in (Precision, Recall) and thresholded and metric.threshold == self.threshold:
            other = fp if kind is Precision else fn
            return tp / (tp + other) if tp + other else 0.0
        if kind is AUC and self.counts_auc(metric) and len(counts) >= 5 + 2 * self.auc_bins:
            return metric.from_histograms(counts[5:5 + self.auc_bins],
                                          counts[5 + self.auc_bins:5 + 2 * self.auc_bins])
        return None

    def counts_auc(self, metric):
        """Whether the core's AUC histograms (auc_bins, auc_single) are `metric`'s
        own: evenly spaced thresholds, scores as the model outputs them, 0/1
        labels, the same bucket arithmetic."""
        return (metric._even and not metric.from_logits and self.scores_are_outputs
                and self.labels_01 and metric.num_thresholds == self.auc_bins
                and (metric.dtype == np.float32) == bool(self.auc_single))
