"""scikit-learn drop-ins on nnbook's compiled core.

Change the import line and existing scikit-learn code trains on the core,
with scikit-learn's parameters, attributes and (in float64) numbers:

>>> from nnbook.sklearn import MLPClassifier, MLPRegressor   # was: sklearn.neural_network

Needs scikit-learn (``pip install 'nnbook[sklearn]'``); ``import nnbook``
alone never imports it.

A fitted estimator exports to ONNX with ``nnbook.onnx.export(est, "m.onnx")``
(outputs ``label`` and ``probabilities``, or ``variable``), and a scikit-learn
``Pipeline`` holding one converts with ``skl2onnx.to_onnx``: importing this
package registers both, without importing onnx or skl2onnx.
"""
from . import _onnx
from ._blocks import partial_fit_blocks
from ._classifier import MLPClassifier
from ._regressor import MLPRegressor

_onnx.register()

__all__ = ["MLPClassifier", "MLPRegressor", "partial_fit_blocks"]
