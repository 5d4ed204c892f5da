"""Bad input to the new nnbook.keras surface (layers, regularizers, metrics,
optimizers, losses, fit's weights): a clear ValueError/TypeError naming the
argument in Keras's words ("... Received: rate=1.5"), never a bare
OverflowError, AttributeError or IndexError, never a NumPy warning, never an
allocation from an unchecked size, never a silently wrong answer.

Each test here is the regression test of a bug found by
tests/test_fuzz_keras_layers.py."""
import warnings

import numpy as np
import pytest

from nnbook import keras
from nnbook.keras import layers, losses, metrics, optimizers, regularizers


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


@pytest.mark.parametrize("cls,argument", [(regularizers.L1, "l1"), (regularizers.L2, "l2"),
                                          (regularizers.L1L2, "l1")])
def test_regularizer_factor_beyond_float_range(cls, argument):
    # was: OverflowError from math.isfinite, naming nothing
    with pytest.raises(ValueError, match=rf"Received: {argument}=1000"):
        cls(10**400)


def test_regularizer_factor_fraction_accepted():
    from fractions import Fraction
    assert regularizers.L2(Fraction(1, 4)).l2 == 0.25


@pytest.mark.parametrize("kwargs,error,match", [
    ({"thresholds": 0.5}, TypeError, r"`thresholds` must be a list.*Received: thresholds=0.5"),
    ({"from_logits": "no"}, TypeError, r"Received: from_logits='no'"),
    # was: a 2**30-element Python list (the process killed for memory)
    ({"num_thresholds": 2**30}, ValueError, r"Received: num_thresholds=1073741824"),
])
def test_auc_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.AUC(**kwargs)


def test_auc_even_thresholds_unchanged():
    # the thresholds are now made with NumPy: the same values as (i + 1) / (T - 1)
    auc = metrics.AUC(num_thresholds=7)
    assert auc.thresholds.tolist() == [-1e-7] + [(i + 1) / 6 for i in range(5)] + [1 + 1e-7]


def test_auc_from_logits_with_huge_logits_is_finite_and_silent():
    # was: NumPy's "overflow encountered in exp" leaking out
    auc = metrics.AUC(from_logits=True)
    auc.update_state([0, 1, 1], [-1000.0, 0.5, 800.0])
    assert auc.result() == 1.0


@pytest.mark.parametrize("metric", [metrics.AUC, metrics.BinaryAccuracy, metrics.Precision])
@pytest.mark.parametrize("where", ["y_pred", "y_true", "sample_weight"])
def test_metrics_refuse_non_finite_values(metric, where):
    # was: NaN cast to an int bucket (a NumPy warning) or a silent 0.0
    args = {"y_true": [0.0, 1.0], "y_pred": [0.2, 0.7], "sample_weight": [1.0, 1.0]}
    args[where] = [np.nan, 1.0]
    before = list(args[where])
    with pytest.raises(ValueError, match=rf"{where} contains NaN or Inf"):
        metric().update_state(**args)
    assert np.isnan(args[where][0]) and args[where][1:] == before[1:]
