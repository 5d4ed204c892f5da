"""Optimizers by name or as objects (``keras.optimizers``), with Keras's
formulas and defaults. The update itself runs in the core; an optimizer here
only holds hyperparameters and says which core update to use.

Every hyperparameter is checked in ``__init__``, naming it: rates, decays
and epsilons are real numbers (``fractions.Fraction`` and NumPy scalars are
converted with ``float()``), finite and in range; ``nesterov``, ``amsgrad``
and ``centered`` are True or False. A wrong kind of value is a TypeError, a
value out of range a ValueError.

Example
-------
>>> from nnbook.keras import optimizers
>>> optimizers.get('sgd').learning_rate
0.01
"""
from .._validation import check_bool, check_real


def _real(value, name, positive=True, below_one=False):
    """A hyperparameter: > 0 (positive), else >= 0; below_one: also < 1."""
    if positive:
        return check_real(value, name, strictly_positive=True, keras_style=True)
    return check_real(value, name, minimum=0, below=1 if below_one else None, keras_style=True)


class Optimizer:
    """Base class. ``learning_rate`` (> 0 here) may be changed between epochs,
    e.g. by a callback, to any real number >= 0 (0 freezes the weights)."""

    def __init__(self, learning_rate, name):
        self.learning_rate = _real(learning_rate, "learning_rate")
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        self.name = name

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _real(value, "learning_rate", positive=False)

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
        self.nesterov = check_bool(nesterov, "nesterov", keras_style=True)

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
        if check_bool(amsgrad, "amsgrad", keras_style=True):
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
        if _real(momentum, "momentum", positive=False, below_one=True) \
                or check_bool(centered, "centered", keras_style=True):
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
