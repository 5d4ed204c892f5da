"""Metrics computed from a forward pass over a whole data set.

'accuracy' (or 'acc') becomes the variant Keras would pick for the loss:
binary accuracy (threshold 0.5) for binary_crossentropy or one output unit,
sparse categorical accuracy for sparse_categorical_crossentropy, otherwise
categorical accuracy (argmax of output vs argmax of the label).

Example
-------
>>> from nnbook.keras import metrics, losses
>>> metrics.get('accuracy', losses.get('binary_crossentropy'), units=1).kind
'binary'
"""
import numpy as np

KNOWN = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy",
         "sparse_categorical_accuracy", "mse", "mae")


class Metric:
    """A named metric: ``metric(output, targets)`` -> float.

    output: the model's output probabilities (n, units); targets: losses.Targets.
    """

    def __init__(self, name, kind):
        self.name, self.kind = name, kind

    def __call__(self, out, targets):
        if self.kind == "binary":   # every unit its own yes/no
            return float(np.mean((out > 0.5) == (targets.core > 0.5)))
        if self.kind in ("categorical", "sparse"):
            return float(np.mean(np.argmax(out, axis=1) == targets.truth))
        diff = out.astype(np.float64) - targets.core
        return float(np.mean(diff * diff) if self.kind == "mse" else np.mean(np.abs(diff)))


def get(identifier, loss, units):
    """The Metric for a name, given the compiled loss and the output units."""
    if not isinstance(identifier, str) or identifier.lower() not in KNOWN:
        raise ValueError(f"Unknown metric: expected one of {list(KNOWN)}. "
                         f"Received: metric={identifier!r}")
    key = identifier.lower()
    if key in ("accuracy", "acc"):
        kind = "binary" if (loss.accuracy == "binary" or units == 1) else loss.accuracy
    else:
        kind = key.replace("_accuracy", "")
    return Metric(identifier, kind)
