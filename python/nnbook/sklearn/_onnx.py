"""ONNX graphs of the fitted estimators, for nnbook.onnx.export and skl2onnx.

The graph computes what ``predict`` and ``predict_proba`` compute, with
standard operators: the layers (``Gemm``, then ``Relu``/``Tanh``/
``Sigmoid`` or nothing for 'identity'), the output activation (``Softmax``,
``Sigmoid``, ``Exp`` or nothing) and, for a classifier, the labels:

* multiclass: ``probabilities`` is the softmax, ``label`` the class of its
  first maximum (``ArgMax``, then ``Gather`` from ``classes_``);
* binary: ``probabilities`` is ``[1 - p, p]`` (``Sub``, ``Concat``), as
  ``predict_proba`` returns it, and ``label`` the class of its first
  maximum: predict's rule p > 0.5, since 1 - p is exact for p >= 0.5;
* multilabel: ``probabilities`` the sigmoids, ``label`` the 0/1 int64
  matrix ``p > 0.5`` (``Greater``, ``Cast``), as ``predict`` returns it.

A regressor's single output ``variable`` is (batch, n_outputs), also for
one output (``predict`` flattens that one to (batch,)).
"""
import numpy as np

from .. import onnx as nnbook_onnx
from ._classifier import MLPClassifier
from ._coremap import HIDDEN_ACTIVATIONS, OUTPUTS
from ._regressor import MLPRegressor


def fitted_dtype(est):
    """The dtype the estimator predicts in (its weights'); NotFittedError if unfitted.

    Example
    -------
    >>> fitted_dtype(MLPRegressor())                     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sklearn.exceptions.NotFittedError: This MLPRegressor instance is not fitted yet...
    """
    est._check_is_fitted()
    dtype = np.asarray(est.coefs_[0]).dtype
    # the network predict rebuilds from coefs_ takes float32 and float64 as they are
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _outputs_of_layers(est, graph):
    """The output layer's activations, (batch, n_outputs_)."""
    x = graph.input(est.n_features_in_)
    last = len(est.coefs_) - 1
    for l, (coef, intercept) in enumerate(zip(est.coefs_, est.intercepts_)):
        activation = OUTPUTS[est.out_activation_][0] if l == last \
            else HIDDEN_ACTIVATIONS[est.activation]
        x = graph.dense(x, coef, intercept, activation)
    return x


def export_classifier(est, graph):
    """Add a fitted MLPClassifier's ``label`` and ``probabilities`` to ``graph``.

    Example
    -------
    >>> import nnbook.onnx
    >>> nnbook.onnx.export(MLPClassifier().fit(x, y), "clf.onnx")   # doctest: +SKIP
    """
    out = _outputs_of_layers(est, graph)
    k = len(est.classes_)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        positive = graph.node("Greater", [out, graph.constant(0.5, "half")], "positive")
        label = graph.node("Cast", [positive], "label", to=graph.onnx.TensorProto.INT64)
        graph.output("label", label, k, graph.onnx.TensorProto.INT64)
        graph.output("probabilities", out, k)
        return
    if est.n_outputs_ == 1:
        negative = graph.node("Sub", [graph.constant(1.0, "one"), out], "negative")
        out = graph.node("Concat", [negative, out], "probabilities", axis=1)
    index = graph.node("ArgMax", [out], "index", axis=1, keepdims=0)
    # one class seen in fit: predict always answers it; index 0 or 1 both name it
    classes = est.classes_ if k > 1 else np.repeat(est.classes_, 2)
    classes, elem_type = graph.class_labels(classes)
    graph.output("label", graph.node("Gather", [classes, index], "label", axis=0), None,
                 elem_type)
    graph.output("probabilities", out, max(k, 2))


def export_regressor(est, graph):
    """Add a fitted MLPRegressor's ``variable`` (batch, n_outputs) to ``graph``.

    Example
    -------
    >>> import nnbook.onnx
    >>> nnbook.onnx.export(MLPRegressor().fit(x, y), "reg.onnx")    # doctest: +SKIP
    """
    graph.output("variable", _outputs_of_layers(est, graph), est.n_outputs_)


def register():
    """Make both estimators exportable: nnbook.onnx.export now, skl2onnx once imported."""
    nnbook_onnx.register_skl2onnx(MLPClassifier, export_classifier, "classifier",
                                  dtype_of=fitted_dtype)
    nnbook_onnx.register_skl2onnx(MLPRegressor, export_regressor, "regressor",
                                  dtype_of=fitted_dtype)
