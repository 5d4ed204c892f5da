"""Weight initializers, by name or as objects (``keras.initializers``).

Values are drawn in float64 from nnbook.keras's generator (or from
``default_rng(seed)`` when an initializer has its own seed) and then cast,
so a float32 and a float64 model seeded alike start from the same weights.
A ``seed`` is checked at construction as ``utils.set_random_seed`` checks
it: None, an integer in [0, 2**32 - 1] or a numpy.random.RandomState.

Example
-------
>>> from nnbook.keras import initializers
>>> w = initializers.get('glorot_uniform')((784, 100))
>>> bool(abs(w).max() <= (6 / (784 + 100)) ** 0.5)
True
"""
import numpy as np

from .._validation import check_seed
from . import utils

# Keras divides a truncated normal's stddev by this, the stddev of a
# standard normal truncated to [-2, 2], so the drawn variance is the intended one.
_TRUNCATED_STD = 0.87962566103423978


class Initializer:
    """Base class: ``init(shape, dtype)`` returns a new array."""

    def __call__(self, shape, dtype="float32"):
        return self._draw(tuple(int(s) for s in shape)).astype(dtype)

    def _rng(self):
        seed = getattr(self, "seed", None)
        return utils.generator() if seed is None else utils.generator_for(seed)

    def get_config(self):
        return {}

    def _config_seed(self):
        # a RandomState is live state, not configuration: saved as None
        seed = getattr(self, "seed", None)
        return None if isinstance(seed, np.random.RandomState) else seed

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(rng, shape, stddev):
    """N(0, stddev^2) redrawn outside 2 stddev."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


class Zeros(Initializer):
    """All zeros (the default bias initializer)."""

    def _draw(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    def _draw(self, shape):
        return np.ones(shape)


class RandomNormal(Initializer):
    """N(mean, stddev^2); Keras's defaults mean=0, stddev=0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = float(mean), float(stddev)
        self.seed = check_seed(seed, "seed", keras_style=True)

    def _draw(self, shape):
        return self._rng().normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self._config_seed()}


class RandomUniform(Initializer):
    """U(minval, maxval); Keras's defaults -0.05, 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = float(minval), float(maxval)
        self.seed = check_seed(seed, "seed", keras_style=True)

    def _draw(self, shape):
        return self._rng().uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self._config_seed()}


class GlorotUniform(Initializer):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)): Keras's default kernel."""

    def __init__(self, seed=None):
        self.seed = check_seed(seed, "seed", keras_style=True)

    def _draw(self, shape):
        fan_in, fan_out = _fans(shape)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return self._rng().uniform(-limit, limit, shape)

    def get_config(self):
        return {"seed": self._config_seed()}


class GlorotNormal(GlorotUniform):
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out))."""

    def _draw(self, shape):
        fan_in, fan_out = _fans(shape)
        std = np.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATED_STD
        return _truncated_normal(self._rng(), shape, std)


class HeNormal(GlorotUniform):
    """Truncated normal, stddev sqrt(2 / fan_in): for relu layers."""

    def _draw(self, shape):
        std = np.sqrt(2.0 / _fans(shape)[0]) / _TRUNCATED_STD
        return _truncated_normal(self._rng(), shape, std)


class HeUniform(GlorotUniform):
    """U(-limit, limit), limit = sqrt(6 / fan_in)."""

    def _draw(self, shape):
        limit = np.sqrt(6.0 / _fans(shape)[0])
        return self._rng().uniform(-limit, limit, shape)


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier, argument="kernel_initializer"):
    """An Initializer from a name, an Initializer, or a serialized dict.

    Example
    -------
    >>> get('he_normal')
    HeNormal(seed=None)
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_CLASS:
        return _BY_CLASS[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        if identifier in _BY_CLASS:
            return _BY_CLASS[identifier]()
    raise ValueError(f"Unknown {argument}: expected one of {sorted(_BY_NAME)} or an "
                     f"initializer object. Received: {argument}={identifier!r}")


def serialize(initializer):
    """{'class_name': ..., 'config': {...}}, for saving a model."""
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
