"""scikit-learn drop-ins on nnbook's compiled core.

Change the import line and existing scikit-learn code trains on the core,
with scikit-learn's parameters, attributes and (in float64) numbers:

>>> from nnbook.sklearn import MLPClassifier, MLPRegressor   # was: sklearn.neural_network

Needs scikit-learn (``pip install 'nnbook[sklearn]'``); ``import nnbook``
alone never imports it.
"""
from ._blocks import partial_fit_blocks
from ._classifier import MLPClassifier
from ._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "partial_fit_blocks"]
