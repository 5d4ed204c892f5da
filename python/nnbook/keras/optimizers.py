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
from . import schedules


# The core's clipping settings, all off (an optimizer's core_settings holds
# the ones it sets).
CLIPPING_OFF = {"clipnorm": 0.0, "clipvalue": 0.0, "global_clipnorm": 0.0}


def _real(value, name, positive=True, below_one=False):
    """A hyperparameter: > 0 (positive), else >= 0; below_one: also < 1."""
    if positive:
        return check_real(value, name, strictly_positive=True, keras_style=True)
    return check_real(value, name, minimum=0, below=1 if below_one else None, keras_style=True)


class Optimizer:
    """Base class. ``learning_rate`` (> 0 here) may be changed between epochs,
    e.g. by a callback, to any real number >= 0 (0 freezes the weights); or it
    is a ``schedules.LearningRateSchedule``, evaluated by the core at every
    update (then it cannot be set). ``weight_decay`` (None or >= 0) is
    Keras's decoupled decay: before each update every trained parameter
    loses ``param * weight_decay * lr``. ``iterations`` counts the updates.

    Gradient clipping, as Keras clips, before the update (at most one of them,
    each a real number > 0): ``clipnorm`` rescales each weight's gradient
    (every kernel, bias, ...) to an L2 norm of at most clipnorm;
    ``global_clipnorm`` rescales all gradients together to a joint L2 norm
    of at most global_clipnorm; ``clipvalue`` clips every gradient value to
    [-clipvalue, clipvalue]."""

    def __init__(self, learning_rate, name, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        if isinstance(learning_rate, dict):          # a serialized schedule
            learning_rate = schedules.deserialize(learning_rate)
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._schedule, self._learning_rate = learning_rate, None
        else:
            self._schedule = None
            self.learning_rate = _real(learning_rate, "learning_rate")
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        self.name = name
        self.weight_decay = (None if weight_decay is None
                             else _real(weight_decay, "weight_decay", positive=False))
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                 "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clips.values()) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                             f"be set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        for key, value in clips.items():
            setattr(self, key, None if value is None else _real(value, key))
        self.iterations = 0

    @property
    def learning_rate(self):
        if self._schedule is not None:
            return self._schedule(self.iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if getattr(self, "_schedule", None) is not None:
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as "
                            "its `learning_rate` constructor argument, hence its learning rate "
                            "is not settable.")
        self._learning_rate = _real(value, "learning_rate", positive=False)

    def _core_common(self, optimizer, **settings):
        """The core settings every optimizer shares, plus its own."""
        out = {"optimizer": optimizer, "weight_decay": self.weight_decay or 0.0}
        out.update({key: getattr(self, key) for key in CLIPPING_OFF
                    if getattr(self, key) is not None})
        if self._schedule is not None:
            out.update(self._schedule.core_settings())
        else:
            out.update(learning_rate=self.learning_rate, lr_schedule="constant")
        out.update(settings)
        return out

    def _config_common(self, **config):
        lr = (schedules.serialize(self._schedule) if self._schedule is not None
              else self.learning_rate)
        out = {"learning_rate": lr}
        out.update(config)
        for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

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

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.momentum = _real(momentum, "momentum", positive=False, below_one=True)
        self.nesterov = check_bool(nesterov, "nesterov", keras_style=True)

    def core_settings(self):
        if self.momentum == 0 and not self.nesterov:
            return self._core_common("sgd")
        return self._core_common("momentum", momentum=self.momentum, nesterov=self.nesterov)

    def get_config(self):
        return self._config_common(momentum=self.momentum, nesterov=self.nesterov)


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
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="Adam"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        if check_bool(amsgrad, "amsgrad", keras_style=True):
            raise ValueError("nnbook's Adam does not implement amsgrad. Received: amsgrad=True")
        self.beta_1 = _real(beta_1, "beta_1", positive=False, below_one=True)
        self.beta_2 = _real(beta_2, "beta_2", positive=False, below_one=True)
        self.epsilon = _real(epsilon, "epsilon", positive=False)

    _core_name = "adam"

    def core_settings(self):
        return self._core_common(self._core_name, beta1=self.beta_1, beta2=self.beta_2,
                                 epsilon=self.epsilon)

    def get_config(self):
        return self._config_common(beta_1=self.beta_1, beta_2=self.beta_2,
                                   epsilon=self.epsilon)


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
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="RMSprop"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        if _real(momentum, "momentum", positive=False, below_one=True) \
                or check_bool(centered, "centered", keras_style=True):
            raise ValueError("nnbook's RMSprop supports momentum=0.0 and centered=False only. "
                             f"Received: momentum={momentum!r}, centered={centered!r}")
        self.rho = _real(rho, "rho", positive=False, below_one=True)
        self.epsilon = _real(epsilon, "epsilon", positive=False)

    def core_settings(self):
        return self._core_common("rmsprop", rho=self.rho, epsilon=self.epsilon)

    def get_config(self):
        return self._config_common(rho=self.rho, epsilon=self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as Keras has it:
    Adam whose ``weight_decay`` defaults to 0.004.

    Example
    -------
    >>> AdamW().weight_decay
    0.004
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="AdamW"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)


class Adagrad(Optimizer):
    """Adagrad: ``acc += g^2``; ``w -= learning_rate g / sqrt(acc + epsilon)``,
    the accumulators starting at ``initial_accumulator_value``.

    Example
    -------
    >>> Adagrad().initial_accumulator_value
    0.1
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="Adagrad"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.initial_accumulator_value = _real(initial_accumulator_value,
                                               "initial_accumulator_value", positive=False)
        self.epsilon = _real(epsilon, "epsilon", positive=False)

    def core_settings(self):
        return self._core_common("adagrad", epsilon=self.epsilon,
                                 initial_accumulator=self.initial_accumulator_value)

    def get_config(self):
        return self._config_common(initial_accumulator_value=self.initial_accumulator_value,
                                   epsilon=self.epsilon)


class Adadelta(Optimizer):
    """Adadelta (Zeiler): ``a = rho a + (1-rho) g^2``;
    ``d = -sqrt(b + epsilon) g / sqrt(a + epsilon)``; ``b = rho b + (1-rho) d^2``;
    ``w += learning_rate d``.

    Example
    -------
    >>> Adadelta().rho
    0.95
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="Adadelta"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.rho = _real(rho, "rho", positive=False, below_one=True)
        self.epsilon = _real(epsilon, "epsilon", positive=False)

    def core_settings(self):
        return self._core_common("adadelta", rho=self.rho, epsilon=self.epsilon)

    def get_config(self):
        return self._config_common(rho=self.rho, epsilon=self.epsilon)


class Adamax(Adam):
    """Adamax (Adam with the infinity norm): ``m += (g - m)(1 - beta_1)``;
    ``u = max(beta_2 u, |g|)``; ``w -= lr m / ((1 - beta_1^t)(u + epsilon))``.

    Example
    -------
    >>> Adamax().learning_rate
    0.001
    """

    _core_name = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="Adamax"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, False, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)


class Nadam(Adam):
    """Nadam (Adam with Nesterov momentum, Dozat), Keras's form with the
    momentum schedule ``u_t = beta_1 (1 - 0.5 * 0.96^t)``.

    Example
    -------
    >>> Nadam().beta_1
    0.9
    """

    _core_name = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="Nadam"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, False, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adamw": AdamW, "adagrad": Adagrad,
            "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam}


def get(identifier):
    """An Optimizer from a name ('sgd', 'adam', 'rmsprop'; any case) or an Optimizer.

    Example
    -------
    >>> get('Adam').learning_rate
    0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str) \
            and identifier["class_name"].lower() in _BY_NAME:
        config = identifier.get("config") or {}
        if not isinstance(config, dict):
            raise TypeError(f"An optimizer's `config` must be a dict of its arguments. "
                            f"Received: config={config!r}")
        return _BY_NAME[identifier["class_name"].lower()](**config)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: expected one of "
                     f"{sorted(_BY_NAME)} or an optimizer object (optimizers.SGD, Adam, "
                     f"...). Received: optimizer={identifier!r}")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
