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
