"""Optimizers by name or as objects (``keras.optimizers``), with Keras's
formulas and defaults. The update itself runs in the core; an optimizer here
only holds hyperparameters and says which core update to use.

Example
-------
>>> from nnbook.keras import optimizers
>>> optimizers.get('sgd').learning_rate
0.01
"""
import numbers

import numpy as np


def _real(value, name, positive=True, below_one=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={value!r}")
    value = float(value)
    if (positive and value <= 0) or (not positive and value < 0) or (below_one and value >= 1):
        bound = "in [0, 1)" if below_one else ("> 0" if positive else ">= 0")
        raise ValueError(f"`{name}` must be {bound}. Received: {name}={value}")
    return value


class Optimizer:
    """Base class. ``learning_rate`` may be changed between epochs (e.g. by a callback)."""

    def __init__(self, learning_rate, name):
        self.learning_rate = _real(learning_rate, "learning_rate")
        self.name = name

    def core_settings(self):
        """The keyword settings of CoreNetwork for this optimizer."""
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``v = momentum * v - learning_rate * g``; ``w += v``
    (Nesterov: ``w += momentum * v - learning_rate * g``).

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float in [0, 1), default 0.0
    nesterov : bool, default False

    Example
    -------
    >>> SGD(learning_rate=0.1, momentum=0.9)
    SGD(learning_rate=0.1, momentum=0.9, nesterov=False)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD"):
        super().__init__(learning_rate, name)
        self.momentum = _real(momentum, "momentum", positive=False, below_one=True)
        self.nesterov = bool(nesterov)

    def core_settings(self):
        if self.momentum == 0 and not self.nesterov:
            return {"optimizer": "sgd", "learning_rate": self.learning_rate}
        return {"optimizer": "momentum", "learning_rate": self.learning_rate,
                "momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum,
                "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, in Keras's form (bias correction folded into the step size).

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta_1 : float, default 0.9
    beta_2 : float, default 0.999
    epsilon : float, default 1e-7

    Example
    -------
    >>> Adam().beta_2
    0.999
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="Adam"):
        super().__init__(learning_rate, name)
        if amsgrad:
            raise ValueError("nnbook's Adam does not implement amsgrad. Received: amsgrad=True")
        self.beta_1 = _real(beta_1, "beta_1", positive=False, below_one=True)
        self.beta_2 = _real(beta_2, "beta_2", positive=False, below_one=True)
        self.epsilon = _real(epsilon, "epsilon", positive=False)

    def core_settings(self):
        return {"optimizer": "adam", "learning_rate": self.learning_rate, "beta1": self.beta_1,
                "beta2": self.beta_2, "epsilon": self.epsilon}

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop: ``v = rho v + (1 - rho) g^2``; ``w -= learning_rate g / sqrt(v + epsilon)``.

    Parameters
    ----------
    learning_rate : float, default 0.001
    rho : float, default 0.9
    epsilon : float, default 1e-7

    Example
    -------
    >>> RMSprop(rho=0.95).rho
    0.95
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, momentum=0.0,
                 centered=False, name="RMSprop"):
        super().__init__(learning_rate, name)
        if momentum or centered:
            raise ValueError("nnbook's RMSprop supports momentum=0.0 and centered=False only. "
                             f"Received: momentum={momentum!r}, centered={centered!r}")
        self.rho = _real(rho, "rho", positive=False, below_one=True)
        self.epsilon = _real(epsilon, "epsilon", positive=False)

    def core_settings(self):
        return {"optimizer": "rmsprop", "learning_rate": self.learning_rate, "rho": self.rho,
                "epsilon": self.epsilon}

    def get_config(self):
        return {"learning_rate": self.learning_rate, "rho": self.rho, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    """An Optimizer from a name ('sgd', 'adam', 'rmsprop'; any case) or an Optimizer.

    Example
    -------
    >>> get('Adam').learning_rate
    0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name", "").lower() in _BY_NAME:
        return _BY_NAME[identifier["class_name"].lower()](**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: expected one of "
                     f"{sorted(_BY_NAME)} or an optimizer object (optimizers.SGD, Adam, "
                     f"RMSprop). Received: optimizer={identifier!r}")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
