"""From a Sequential's layers to the core's stages.

The core runs a network as a list of stages (dense, batchnorm, dropout,
activation), each keeping the width of its input except dense. Every layer
says which stages compute it (``Layer._stages``); this module strings them
together, folds an ``Activation`` into the linear ``Dense`` right before it
(the same numbers in one pass), and turns the stages into the core's
per-stage settings.

Example
-------
>>> from nnbook.keras.layers import Dense, Dropout
>>> stages = plan([Dense(4), Dropout(0.5, seed=1), Dense(2)], (3,))
>>> [s.kind for s in stages], stage_settings(stages)["rates"]
(['dense', 'dropout', 'dense'], [0.0, 0.5, 0.0])
"""
import numpy as np


class Stage:
    """One stage of the core's network, as a layer asks for it.

    kind: 'dense', 'batchnorm', 'dropout' or 'activation'; width: its output
    features; layer: the layer it computes (whose weights it holds, for
    dense and batchnorm); the rest are the core's per-stage settings, with
    the regularizers as (l1, l2) pairs or None.
    """

    def __init__(self, kind, width, layer, activation="linear", has_bias=False, frozen=False,
                 rate=0.0, bn_momentum=0.0, bn_epsilon=0.0, bn_scale=False, kernel=None,
                 bias=None, activity=None):
        self.kind, self.width, self.layer = kind, width, layer
        self.activation, self.has_bias, self.frozen = activation, has_bias, frozen
        self.rate = rate
        self.bn_momentum, self.bn_epsilon, self.bn_scale = bn_momentum, bn_epsilon, bn_scale
        self.kernel, self.bias, self.activity = kernel, bias, activity

    @property
    def holds_weights(self):
        return self.kind in ("dense", "batchnorm")

    def __repr__(self):
        return f"<Stage {self.kind} width={self.width} of {self.layer.name!r}>"


def _folds(previous, previous_layer, new, needing_input):
    """Whether an Activation's single stage `new` can run inside the dense stage before it."""
    return (previous is not None and previous.kind == "dense" and previous.layer is previous_layer
            and previous.activation == "linear" and previous.activity is None
            and len(new) == 1 and new[0].kind == "activation"
            and new[0].activation not in needing_input)


def plan(layers, input_shape, needing_input=frozenset()):
    """The stages computing `layers` on samples of `input_shape` (raises on a layer
    that cannot take its input)."""
    stages, shape, before = [], tuple(input_shape), None
    for layer in layers:
        new = layer._stages(shape)
        if type(layer).__name__ == "Activation" and _folds(stages[-1] if stages else None,
                                                           before, new, needing_input):
            stages[-1].activation = new[0].activation
        else:
            stages.extend(new)
        shape = layer.compute_output_shape(shape)
        before = layer
    for stage in stages[:-1]:
        if stage.kind == "activation" and stage.activation == "softmax":
            raise ValueError(f"Layer '{stage.layer.name}' applies softmax inside the model; "
                             f"nnbook runs softmax only as the model's output or in a Dense "
                             f"(Dense(..., activation='softmax'), or an Activation('softmax') "
                             f"right after a linear Dense)")
    return stages


def dropout_seed(stages):
    """One 64-bit seed for the core's dropout masks, from every Dropout's seed."""
    seeds = [s.layer.effective_seed() for s in stages if s.kind == "dropout"]
    if not seeds:
        return 0
    lo, hi = np.random.SeedSequence(seeds).generate_state(2, np.uint32)
    return (int(hi) << 32) | int(lo)


def stage_settings(stages):
    """The core's per-stage settings (keyword settings of CoreNetwork)."""
    def pairs(attr):
        values = [getattr(s, attr) or (0.0, 0.0) for s in stages]
        return [float(v[0]) for v in values], [float(v[1]) for v in values]

    kernel_l1, kernel_l2 = pairs("kernel")
    bias_l1, bias_l2 = pairs("bias")
    activity_l1, activity_l2 = pairs("activity")
    return {"kinds": [s.kind for s in stages], "has_bias": [s.has_bias for s in stages],
            "frozen": [s.frozen for s in stages], "rates": [s.rate for s in stages],
            "bn_momentum": [s.bn_momentum for s in stages],
            "bn_epsilon": [s.bn_epsilon for s in stages],
            "bn_scale": [s.bn_scale for s in stages],
            "kernel_l1": kernel_l1, "kernel_l2": kernel_l2, "bias_l1": bias_l1,
            "bias_l2": bias_l2, "activity_l1": activity_l1, "activity_l2": activity_l2,
            "dropout_seed": dropout_seed(stages)}

