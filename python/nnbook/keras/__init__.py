"""nnbook.keras: the Keras API of the book's chapter 7, on nnbook's compiled core.

Replace ``tensorflow.keras`` by ``nnbook.keras`` and the chapter's code runs
without TensorFlow:

>>> from nnbook.keras import Sequential
>>> from nnbook.keras.layers import Dense
>>> model = Sequential()
>>> model.add(Dense(100, activation='sigmoid', input_shape=(784,)))
>>> model.add(Dense(10, activation='softmax'))
>>> model.compile(optimizer='sgd', loss='categorical_crossentropy', metrics=['accuracy'])

Layers for dense networks (Dense, Activation, Dropout, BatchNormalization,
Flatten, Input) with L1/L2 ``regularizers``; float32 by default
(``backend.set_floatx('float64')`` or ``Sequential(dtype='float64')`` for
double precision); seed with
``utils.set_random_seed``. See ``nnbook.keras.models`` for the differences
from Keras.
"""
from . import (backend, callbacks, datasets, initializers, layers, losses, metrics, models,
               optimizers, regularizers, utils)
from .layers import Input
from .models import Sequential

__all__ = ["Sequential", "Input", "layers", "optimizers", "losses", "metrics", "callbacks",
           "utils", "datasets", "models", "initializers", "backend", "regularizers"]
