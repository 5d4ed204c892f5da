"""Builders and fixtures shared by several test files.

Test files import the plain builders with ``from conftest import ...`` (pytest
puts this folder on sys.path, since tests/ is not a package); fixtures are
found by name as usual.
"""
import zlib

import numpy as np
import pytest

import nnbook

# Kernel parity against nnbook.reference: both precisions, and the relative
# tolerance of each (the C kernels and their NumPy mirrors round alike up to
# summation order).
DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def assert_close(actual, expected, dtype, rtol=None, what=""):
    """actual == expected within RTOL[dtype] (or rtol), with an absolute floor of
    rtol times the largest expected magnitude: an entry that cancels to near
    zero carries the rounding error of its largest terms, not of its own size.

    Example
    -------
    >>> assert_close(np.float32(1.000001), 1.0, np.float32)
    """
    rtol = RTOL[dtype] if rtol is None else rtol
    expected = np.asarray(expected)
    floor = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=floor, err_msg=what)


@pytest.fixture
def rng(request):
    """A generator of its own per test, stable across runs and test order."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))

# The book's five classes, simplest first.
BOOK_CLASSES = [nnbook.SingleLayer, nnbook.DualLayer, nnbook.RandomInitNetwork,
                nnbook.MinibatchNetwork, nnbook.MultiClassNetwork]
BOOK_CLASS_NAMES = [cls.__name__ for cls in BOOK_CLASSES]


def binary_problem(n=57, features=5, seed=0):
    """A learnable binary problem: x (n, features) ~ N(0, 1) and y (n,) in {0., 1.}.

    y is the sign of a random linear score plus a little noise, so a network
    can fit most but not all of it. Same (n, features, seed), same arrays.

    Example
    -------
    >>> x, y = binary_problem(4, 2)
    >>> x.shape, y.shape, set(y.tolist()) <= {0.0, 1.0}
    ((4, 2), (4,), True)
    """
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, features))
    y = (x @ rng.normal(size=features) + 0.3 * rng.normal(size=n) > 0).astype(float)
    return x, y


def multiclass_problem(n=61, features=6, classes=4, seed=1):
    """A learnable k-class problem: x (n, features) and one-hot y (n, classes).

    The label of a row is the argmax of a random linear score plus noise.

    Example
    -------
    >>> x, y = multiclass_problem(5, 3, classes=3)
    >>> x.shape, y.shape, y.sum(axis=1).tolist()
    ((5, 3), (5, 3), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, features))
    scores = x @ rng.normal(size=(features, classes)) + 0.5 * rng.normal(size=(n, classes))
    return x, np.eye(classes)[np.argmax(scores, axis=1)]


@pytest.fixture(scope="session")
def cancer():
    """The book's breast-cancer split (nnbook.datasets.breast_cancer_split).

    Built once per test session; skips the test when scikit-learn, which
    bundles the data, is not installed.
    """
    pytest.importorskip("sklearn")
    from nnbook.datasets import breast_cancer_split
    return breast_cancer_split()
