"""Data sets of ``keras.datasets``, read from local files (nothing is downloaded).

Example
-------
>>> from nnbook.keras.datasets import fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()   # doctest: +SKIP
"""
from . import fashion_mnist

__all__ = ["fashion_mnist"]
