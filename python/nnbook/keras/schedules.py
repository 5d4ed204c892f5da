"""Learning-rate schedules (``keras.optimizers.schedules``), Keras's formulas.

A schedule is evaluated by the core at every update, from ``step`` = the
number of earlier updates (0 for the first), so the rate changes inside an
epoch exactly as in Keras. Calling a schedule gives its rate at a step.

Example
-------
>>> from nnbook.keras.optimizers import SGD, schedules
>>> lr = schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
>>> round(lr(100), 6)
0.05
>>> opt = SGD(learning_rate=lr)
"""
import math

from .._validation import check_bool, check_positive_int, check_real

MAX_PIECES = 16   # the core's limit on PiecewiseConstantDecay's boundaries


class LearningRateSchedule:
    """Base class of the schedules the core can evaluate."""

    def __call__(self, step):
        raise NotImplementedError

    def core_settings(self):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _rate(value, name):
    return check_real(value, name, minimum=0, keras_style=True)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``
    (the exponent floored with ``staircase=True``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = _rate(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = check_positive_int(decay_steps, "decay_steps", keras_style=True)
        self.decay_rate = _rate(decay_rate, "decay_rate")
        self.staircase = check_bool(staircase, "staircase", keras_style=True)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase
                                                                 else p)

    def core_settings(self):
        return {"lr_schedule": "exponential", "learning_rate": self.initial_learning_rate,
                "lr_decay_steps": float(self.decay_steps), "lr_decay_rate": self.decay_rate,
                "lr_staircase": self.staircase}

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while step <= boundaries[0], ``values[i]`` while
    boundaries[i-1] < step <= boundaries[i], ``values[-1]`` after."""

    def __init__(self, boundaries, values, name="PiecewiseConstantDecay"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        if not 1 <= len(boundaries) <= MAX_PIECES:
            raise ValueError(f"PiecewiseConstantDecay takes 1 to {MAX_PIECES} boundaries. "
                             f"Received: {len(boundaries)}")
        self.boundaries = [check_real(b, f"boundaries[{i}]", keras_style=True)
                           for i, b in enumerate(boundaries)]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"`boundaries` must increase. Received: boundaries={boundaries}")
        self.values = [_rate(v, f"values[{i}]") for i, v in enumerate(values)]
        self.name = name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def core_settings(self):
        return {"lr_schedule": "piecewise", "learning_rate": self.values[0],
                "lr_boundaries": tuple(self.boundaries), "lr_values": tuple(self.values)}

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """``initial_learning_rate * ((1 - alpha) * c + alpha)`` with
    ``c = 0.5 (1 + cos(pi * min(step, decay_steps) / decay_steps))``
    (Loshchilov & Hutter's SGDR without restarts; no warm-up here)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        if warmup_target is not None or warmup_steps:
            raise ValueError("nnbook's CosineDecay has no warm-up: pass warmup_target=None and "
                             f"warmup_steps=0. Received: warmup_target={warmup_target!r}, "
                             f"warmup_steps={warmup_steps!r}")
        self.initial_learning_rate = _rate(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = check_positive_int(decay_steps, "decay_steps", keras_style=True)
        self.alpha = check_real(alpha, "alpha", minimum=0, keras_style=True)
        self.name = name

    def __call__(self, step):
        s = min(step, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def core_settings(self):
        return {"lr_schedule": "cosine", "learning_rate": self.initial_learning_rate,
                "lr_decay_steps": float(self.decay_steps), "lr_alpha": self.alpha}

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name}


_BY_NAME = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    cls = _BY_NAME.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"Unknown learning rate schedule: {config!r}; nnbook has "
                         f"{sorted(_BY_NAME)}")
    return cls(**config.get("config", {}))
