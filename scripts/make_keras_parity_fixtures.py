"""Make the real-Keras parity fixtures of tests/test_keras_parity_extra.py.

CI never installs TensorFlow: this script ran once, in a venv with real
Keras, and its outputs are committed under tests/fixtures/keras_parity/:

- ``cases.json``: every case in plain data: the layers (class name and
  keyword arguments), the input shape, compile (optimizer, loss, metrics),
  fit (batch size, epochs, shuffle, validation data, sample or class
  weights), the history keys, the Keras weight names, the float32 facts
  below and the tolerance the test uses. The script builds the Keras models
  from this same data, so the test rebuilds exactly what Keras ran by
  changing the import only.
- ``<case>.npz`` per case: ``x``, ``y`` (and ``x_val``, ``y_val``,
  ``sample_weight``, ``val_sample_weight`` when the case has them), the
  initial weights ``initial_<i>`` (drawn with numpy from a fixed seed and set
  with ``set_weights``, in ``get_weights`` order), the per-epoch history
  ``history_<key>`` (loss, every metric, val too), the weights after
  ``fit`` ``final_<i>`` and the inference-mode predictions on ``x`` after
  training, ``predictions``.

Every model is float64 (``keras.backend.set_floatx('float64')``): 70 rows,
``batch_size=16`` (the last batch has 6 rows), ``shuffle=False``, 2 epochs.

Constants Keras rounds to float32 under float64
-----------------------------------------------
Keras's TensorFlow backend turns a Python float into a tensor with
``tf.cast(value, float64)``, which first makes a float32 tensor; wherever
Keras does that, a float64 model uses ``float(np.float32(value))``. This
script measures which constants are rounded (``probe_float32_constants``: one
or two steps of each rule in Keras against the same rule in numpy with each
constant exact or rounded; a constant counts as settled only if flipping it
alone moves the result by more than 1e-12) and stores the answer in
``cases.json["float32_constants"]``. Measured with Keras 3.15.1:

- rounded: SGD ``momentum`` (``ops.cast(self.momentum, dtype)``); Adam's
  ``beta_1``/``beta_2`` in the bias corrections ``beta**t`` only (the moment
  updates use ``1 - beta`` exactly); the regularizer factors of ``L1``,
  ``L2``, ``L1L2`` and of the strings ``'l1'``/``'l2'``; the
  ``leaky_relu`` slope 0.2 (TensorFlow's op takes a float32 attribute).
- exact: learning rates (a float64 variable), RMSprop ``rho`` and
  ``epsilon``, Adam's ``epsilon``, ``clipnorm``, ``clipvalue``,
  ``global_clipnorm``, BatchNormalization ``momentum`` and ``epsilon``,
  ``label_smoothing``; Huber's deltas 1 and 0.5 are exact in binary anyway.

Per case, ``cases.json`` says which of these the case uses. Where nnbook can
be given the rounded value through the same argument (a regularizer object's
factor), the case lists it under ``nnbook_substitutions`` and keeps the 1e-12
tolerance. Where it cannot (a string such as ``'l2'`` or ``'leaky_relu'``, or
Adam's betas, rounded in one use and exact in the other), nnbook keeps the
exact constant and the case's tolerance is loosened to ten times the change
Keras itself shows when each such constant moves by one float32 step
(measured here by a second Keras run), and ``rtol_reason`` says so.

The issue-11 ``.keras`` file of the issue-9 stack (Flatten, Dense with L2,
BatchNormalization, Dropout, Dense, Activation, Dense) is already made by
scripts/make_keras_fixtures.py as tests/fixtures/keras/keras_issue9_stack.keras,
so it is not made again here.

Keras cannot run ``TopKCategoricalAccuracy`` in float64 (TensorFlow's
InTopKV2 op takes float32 predictions only), so the two
``metrics_top_k_float32`` cases run in float32, start from float32 weights
and carry a float32 tolerance (1e-4); ``metrics_categorical`` covers the same
net in float64 without top-k. Each case with clipping is also run unclipped
once, and the script stops if clipping does not change the result. Adam's
one-step sensitivity run moves both betas in both uses, so its measured
tolerance (3.7e-5) errs on the loose side.

How it was run (2026-11-28, Keras 3.15.1, TensorFlow 2.21.0 CPU, h5py 3.14,
/tmp/tfenv made as scripts/make_keras_fixtures.py says): 108 s on an idle
2-core machine, 355 s when shared. Two runs wrote bit-identical files.

    /tmp/tfenv/bin/python scripts/make_keras_parity_fixtures.py
"""
import copy
import itertools
import json
import os
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "keras_parity")

ROWS, VAL_ROWS, BATCH, EPOCHS = 70, 30, 16, 2
SGD = {"class": "SGD", "config": {"learning_rate": 0.05}}
RMSPROP = {"class": "RMSprop", "config": {"learning_rate": 0.01}}


def f32(value):
    """The float64 value of ``value`` rounded to float32, as Keras's tf.cast makes it."""
    return float(np.float32(value))


def f32_step_up(value):
    """The next float32 above f32(value): one float32 step, to measure sensitivity."""
    return float(np.nextafter(np.float32(value), np.float32(np.inf)))


# --------------------------------------------------------------------------
# the cases, in plain data
# --------------------------------------------------------------------------

def dense(units, activation=None, **kwargs):
    config = {"units": units, **kwargs}
    if activation is not None:
        config["activation"] = activation
    return {"class": "Dense", "config": config}


def layer(name, **kwargs):
    return {"class": name, "config": kwargs}


def regularizer(name, **kwargs):
    return {"module": "regularizers", "class": name, "config": kwargs}


def obj(module, name, **kwargs):
    return {"module": module, "class": name, "config": kwargs}


def case(layers, input_shape, loss, targets, optimizer=SGD, metrics=(), validation=False,
         weighting=None, floatx="float64"):
    """One case: ``targets`` says how y is drawn (see ``make_targets``)."""
    return {"floatx": floatx, "input_shape": list(input_shape), "layers": layers,
            "compile": {"optimizer": copy.deepcopy(optimizer), "loss": loss,
                        "metrics": list(metrics)},
            "fit": {"batch_size": BATCH, "epochs": EPOCHS, "shuffle": False,
                    "validation_data": validation, "weighting": weighting},
            "targets": targets}


def with_optimizers(name, make, optimizers=(("sgd", SGD), ("rmsprop", RMSPROP))):
    return {f"{name}_{tag}": make(opt) for tag, opt in optimizers}


def all_cases():
    cases = {}
    cases.update(with_optimizers("bn", lambda opt: case(
        [dense(16, "relu"), layer("BatchNormalization"), dense(12),
         layer("Activation", activation="tanh"), dense(3, "softmax")],
        (8,), "categorical_crossentropy", "categorical3", opt, metrics=["accuracy"])))
    cases.update(with_optimizers("bn_options", lambda opt: case(
        [dense(10, "relu"),
         layer("BatchNormalization", momentum=0.9, epsilon=1e-2, center=False),
         dense(8, "tanh"), layer("BatchNormalization", scale=False), dense(2)],
        (6,), "mse", "regression2", opt)))
    cases.update(with_optimizers("flatten", lambda opt: case(
        [layer("Flatten"), dense(7, "sigmoid"), dense(1, "sigmoid")],
        (4, 5), "binary_crossentropy", "binary", opt)))
    cases.update(with_optimizers("regularizers", lambda opt: case(
        [dense(9, "relu", kernel_regularizer=regularizer("L2", l2=1e-2),
               bias_regularizer=regularizer("L1", l1=1e-3),
               activity_regularizer=regularizer("L1L2", l1=1e-3, l2=1e-2)),
         dense(3, "softmax", kernel_regularizer=regularizer("L2", l2=1e-2))],
        (6,), "categorical_crossentropy", "categorical3", opt)))
    cases.update(with_optimizers("regularizer_strings", lambda opt: case(
        [dense(9, "relu", kernel_regularizer="l2", bias_regularizer="l1"),
         dense(3, "softmax", kernel_regularizer="l1", activity_regularizer="l2")],
        (6,), "categorical_crossentropy", "categorical3", opt)))
    for act in ("elu", "selu", "gelu", "swish", "silu", "leaky_relu", "softplus",
                "softsign", "hard_sigmoid", "exponential"):
        cases[f"activation_{act}"] = case([dense(9, act), dense(3, "softmax")], (6,),
                                          "categorical_crossentropy", "categorical3")
    regression = lambda loss, targets="regression3": case(         # noqa: E731
        [dense(9, "tanh"), dense(3)], (6,), loss, targets)
    cases["loss_mae"] = regression("mae")
    cases["loss_mape"] = regression("mape", "positive3")
    cases["loss_huber"] = regression("huber")
    cases["loss_huber_delta1"] = regression(obj("losses", "Huber", delta=1.0))
    cases["loss_huber_delta05"] = regression(obj("losses", "Huber", delta=0.5))
    cases["loss_log_cosh"] = regression("log_cosh")
    cases["loss_kl_divergence"] = case([dense(9, "tanh"), dense(3, "softmax")], (6,),
                                       "kl_divergence", "distribution3")
    cases["loss_hinge"] = case([dense(9, "tanh"), dense(1, "tanh")], (6,), "hinge",
                               "plus_minus_one")
    cases["loss_squared_hinge"] = case([dense(9, "tanh"), dense(1)], (6,), "squared_hinge",
                                       "binary")           # 0/1 labels: Keras maps them to -1/1
    cases["loss_binary_from_logits"] = case(
        [dense(9, "tanh"), dense(1)], (6,),
        obj("losses", "BinaryCrossentropy", from_logits=True), "binary")
    cases["loss_categorical_from_logits"] = case(
        [dense(9, "tanh"), dense(3)], (6,),
        obj("losses", "CategoricalCrossentropy", from_logits=True), "categorical3")
    cases["loss_binary_label_smoothing"] = case(
        [dense(9, "tanh"), dense(1, "sigmoid")], (6,),
        obj("losses", "BinaryCrossentropy", label_smoothing=0.1), "binary")
    cases["loss_categorical_label_smoothing"] = case(
        [dense(9, "tanh"), dense(3, "softmax")], (6,),
        obj("losses", "CategoricalCrossentropy", label_smoothing=0.1), "categorical3")
    clip_net = [dense(9, "tanh"), dense(3, "softmax")]
    for tag, opt in (
            ("sgd_clipnorm", {"class": "SGD", "config": {"learning_rate": 0.05, "clipnorm": 0.1}}),
            ("sgd_clipvalue", {"class": "SGD",
                               "config": {"learning_rate": 0.05, "clipvalue": 0.01}}),
            ("sgd_global_clipnorm", {"class": "SGD", "config": {"learning_rate": 0.05,
                                                                "global_clipnorm": 0.1}}),
            ("rmsprop_clipnorm", {"class": "RMSprop",
                                  "config": {"learning_rate": 0.01, "clipnorm": 0.1}}),
            ("adam_global_clipnorm", {"class": "Adam", "config": {"learning_rate": 0.01,
                                                                  "global_clipnorm": 0.5}})):
        cases[f"clipping_{tag}"] = case(clip_net, (6,), "categorical_crossentropy",
                                        "categorical3", opt)
    cases.update(with_optimizers("metrics_binary", lambda opt: case(
        [dense(8, "relu"), dense(1, "sigmoid")], (6,), "binary_crossentropy", "binary", opt,
        metrics=["binary_accuracy", obj("metrics", "Precision"), obj("metrics", "Recall"),
                 obj("metrics", "AUC")], validation=True)))
    cases.update(with_optimizers("metrics_categorical", lambda opt: case(
        [dense(8, "relu"), dense(5, "softmax")], (6,), "categorical_crossentropy",
        "categorical5", opt, metrics=["accuracy"], validation=True)))
    # Keras cannot run TopKCategoricalAccuracy in float64 (TensorFlow's InTopKV2
    # takes float32 only), so its cases are float32
    cases.update(with_optimizers("metrics_top_k_float32", lambda opt: case(
        [dense(8, "relu"), dense(5, "softmax")], (6,), "categorical_crossentropy",
        "categorical5", opt,
        metrics=["accuracy", obj("metrics", "TopKCategoricalAccuracy", k=2)],
        validation=True, floatx="float32")))
    bn_net = [dense(10, "relu"), layer("BatchNormalization"), dense(3, "softmax")]
    cases.update(with_optimizers("weights_sample", lambda opt: case(
        bn_net, (6,), "categorical_crossentropy", "categorical3", opt, metrics=["accuracy"],
        validation=True, weighting="sample_weight")))
    cases.update(with_optimizers("weights_class", lambda opt: case(
        bn_net, (6,), "categorical_crossentropy", "categorical3", opt, metrics=["accuracy"],
        weighting={"class_weight": [[0, 1.0], [1, 2.5], [2, 0.5]]})))
    return cases


# --------------------------------------------------------------------------
# data and initial weights, from fixed seeds
# --------------------------------------------------------------------------

def make_targets(kind, rng, rows):
    if kind.startswith("categorical"):
        k = int(kind[len("categorical"):])
        return np.eye(k)[rng.integers(0, k, rows)]
    if kind == "binary":
        return rng.integers(0, 2, (rows, 1)).astype(np.float64)
    if kind == "plus_minus_one":
        return rng.choice([-1.0, 1.0], (rows, 1))
    if kind.startswith("regression"):
        return rng.normal(size=(rows, int(kind[len("regression"):])))
    if kind == "positive3":                     # mape divides by y: keep it away from 0
        return 1.0 + rng.random((rows, 3))
    if kind == "distribution3":
        e = np.exp(rng.normal(size=(rows, 3)))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(kind)


def make_data(name, spec):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    data = {"x": rng.normal(size=(ROWS, *spec["input_shape"])),
            "y": make_targets(spec["targets"], rng, ROWS)}
    if spec["fit"]["validation_data"]:
        data["x_val"] = rng.normal(size=(VAL_ROWS, *spec["input_shape"]))
        data["y_val"] = make_targets(spec["targets"], rng, VAL_ROWS)
    if spec["fit"]["weighting"] == "sample_weight":
        weights = 2.0 * rng.random(ROWS)
        weights[::7] = 0.0                      # rows that must not count at all
        data["sample_weight"] = weights
        data["val_sample_weight"] = 2.0 * rng.random(VAL_ROWS)
    return data, rng


def initial_weights(variables, rng):
    """Numpy-drawn start for every variable (get_weights order), by its name."""
    out = []
    for v in variables:
        shape, name = tuple(v.shape), v.name
        if name == "kernel":
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out.append(rng.uniform(-limit, limit, shape))
        elif name in ("bias", "beta", "moving_mean"):
            out.append(0.1 * rng.normal(size=shape))
        elif name == "gamma":
            out.append(1.0 + 0.1 * rng.normal(size=shape))
        elif name == "moving_variance":
            out.append(rng.uniform(0.5, 1.5, shape))
        else:
            raise ValueError(f"no initial-weight rule for variable {v.path}")
    return out


# --------------------------------------------------------------------------
# building the Keras model from the plain data
# --------------------------------------------------------------------------

def resolve(keras, value, nudge=False):
    """Plain data -> Keras object; ``nudge`` moves each float32-rounded constant one step."""
    if isinstance(value, dict) and "module" in value:
        config = dict(value["config"])
        if nudge and value["module"] == "regularizers":
            config = {k: f32_step_up(v) for k, v in config.items()}
        return getattr(getattr(keras, value["module"]), value["class"])(**config)
    if nudge and value in ("l1", "l2"):
        return getattr(keras.regularizers, value.upper())(f32_step_up(0.01))
    return value


def build_keras(keras, spec, nudge=False):
    layers = [keras.Input(shape=tuple(spec["input_shape"]))]
    for entry in spec["layers"]:
        config = {k: resolve(keras, v, nudge) for k, v in entry["config"].items()}
        if nudge and config.get("activation") == "leaky_relu":
            slope = f32_step_up(0.2)
            config["activation"] = lambda t: keras.activations.leaky_relu(t, negative_slope=slope)
        layers.append(getattr(keras.layers, entry["class"])(**config))
    model = keras.Sequential(layers)
    opt = dict(spec["compile"]["optimizer"]["config"])
    if nudge and spec["compile"]["optimizer"]["class"] == "Adam":
        opt.update(beta_1=f32_step_up(0.9), beta_2=f32_step_up(0.999))
    model.compile(optimizer=getattr(keras.optimizers, spec["compile"]["optimizer"]["class"])(**opt),
                  loss=resolve(keras, spec["compile"]["loss"]),
                  metrics=[resolve(keras, m) for m in spec["compile"]["metrics"]])
    return model


def fit_keras(keras, spec, data, weights, nudge=False):
    keras.backend.clear_session()
    keras.backend.set_floatx(spec["floatx"])
    model = build_keras(keras, spec, nudge)
    got = model.get_weights()
    if [w.dtype.name for w in got] != [spec["floatx"]] * len(got):
        raise SystemExit(f"Keras did not make {spec['floatx']} weights")
    model.set_weights(weights)
    fit = spec["fit"]
    kwargs = {"batch_size": fit["batch_size"], "epochs": fit["epochs"],
              "shuffle": fit["shuffle"], "verbose": 0}
    if fit["validation_data"]:
        kwargs["validation_data"] = ((data["x_val"], data["y_val"], data["val_sample_weight"])
                                     if "val_sample_weight" in data
                                     else (data["x_val"], data["y_val"]))
    if fit["weighting"] == "sample_weight":
        kwargs["sample_weight"] = data["sample_weight"]
    elif isinstance(fit["weighting"], dict):
        kwargs["class_weight"] = {int(c): w for c, w in fit["weighting"]["class_weight"]}
    history = model.fit(data["x"], data["y"], **kwargs).history
    keras.backend.set_floatx("float64")
    return model, history


# --------------------------------------------------------------------------
# which constants Keras rounds to float32: measured
# --------------------------------------------------------------------------

def _settle(name, keras_out, rule, constants):
    """For each constant, 'float32' or 'exact': the numpy rule that matches Keras."""
    keras_out = np.asarray(keras_out, np.float64)
    scale = np.max(np.abs(keras_out))

    def error(choice):
        values = {k: (f32(v) if r else v) for (k, v), r in zip(constants.items(), choice)}
        return float(np.max(np.abs(np.asarray(rule(**values)) - keras_out)) / scale)

    errors = {c: error(c) for c in itertools.product((False, True), repeat=len(constants))}
    best = min(errors, key=errors.get)
    if errors[best] > 1e-13:
        raise SystemExit(f"probe {name}: no numpy rule matches Keras (best {errors[best]:.3g})")
    answer = {}
    for i, key in enumerate(constants):
        flipped = best[:i] + (not best[i],) + best[i + 1:]
        if errors[flipped] <= 1e-12:
            raise SystemExit(f"probe {name}: {key} does not move the result; make it matter")
        answer[f"{name}.{key}"] = "float32" if best[i] else "exact"
    return answer


def probe_float32_constants(keras):
    import tensorflow as tf

    w0 = np.array([0.3, -0.7, 1.1])
    big = [np.array([0.6, -1.5, 2.7]), np.array([-1.2, 0.75, 1.8]), np.array([0.2, 0.4, -0.3])]
    tiny = [np.array([1e-5, -2e-5, 3e-5]), np.array([-2e-5, 1e-5, 4e-5])]

    def steps(opt, grads):
        v = keras.Variable(w0.copy(), dtype="float64")
        for g in grads:
            opt.apply_gradients([(tf.constant(g), v)])
        return v.numpy()

    def sgd(grads, clip=None):
        def rule(learning_rate, momentum=0.0, clip_at=None):
            w, m = w0.copy(), np.zeros(3)
            for g in grads:
                g = clip(g, clip_at) if clip else g
                m = m * momentum - g * learning_rate
                w = w + m
            return w
        return rule

    def rmsprop(grads):
        def rule(learning_rate, rho, epsilon):
            w, v = w0.copy(), np.zeros(3)
            for g in grads:
                v = rho * v + (1 - rho) * g * g
                w = w - learning_rate * g / np.sqrt(v + epsilon)
            return w
        return rule

    def adam(grads):
        def rule(learning_rate, beta_1_power, beta_2_power, beta_1_moment, beta_2_moment,
                 epsilon):
            w, m, v = w0.copy(), np.zeros(3), np.zeros(3)
            for t, g in enumerate(grads, 1):
                alpha = learning_rate * np.sqrt(1 - beta_2_power ** t) / (1 - beta_1_power ** t)
                m = m + (g - m) * (1 - beta_1_moment)
                v = v + (g * g - v) * (1 - beta_2_moment)
                w = w - m * alpha / (np.sqrt(v) + epsilon)
            return w
        return rule

    by_norm = lambda g, c: g * c / max(np.linalg.norm(g), c)            # noqa: E731
    by_value = lambda g, c: np.clip(g, -c, c)                            # noqa: E731
    facts = {}
    facts.update(_settle("SGD", steps(keras.optimizers.SGD(0.05, momentum=0.9), big),
                         sgd(big), {"learning_rate": 0.05, "momentum": 0.9}))
    facts.update(_settle("RMSprop", steps(keras.optimizers.RMSprop(0.01), big),
                         lambda learning_rate, rho: rmsprop(big)(learning_rate, rho, 1e-7),
                         {"learning_rate": 0.01, "rho": 0.9}))
    facts.update(_settle("RMSprop", steps(keras.optimizers.RMSprop(0.01), tiny),
                         lambda epsilon: rmsprop(tiny)(0.01, 0.9, epsilon), {"epsilon": 1e-7}))
    facts.update(_settle("Adam", steps(keras.optimizers.Adam(0.01), big),
                         lambda **c: adam(big)(epsilon=1e-7, **c),
                         {"learning_rate": 0.01, "beta_1_power": 0.9, "beta_2_power": 0.999,
                          "beta_1_moment": 0.9, "beta_2_moment": 0.999}))
    facts.update(_settle("Adam", steps(keras.optimizers.Adam(0.01), tiny),
                         lambda epsilon: adam(tiny)(0.01, f32(0.9), f32(0.999), 0.9, 0.999,
                                                    epsilon), {"epsilon": 1e-7}))
    for option, clip, rule in (("clipnorm", 0.1, by_norm), ("global_clipnorm", 0.1, by_norm),
                               ("clipvalue", 0.01, by_value)):
        facts.update(_settle("SGD", steps(keras.optimizers.SGD(0.05, **{option: clip}), big),
                             lambda r=rule, **c: sgd(big, r)(0.05, 0.0, *c.values()),
                             {option: clip}))
    x = np.random.default_rng(0).normal(size=(7, 3)) * 2 + 1
    for momentum, epsilon in ((0.99, 1e-3), (0.9, 1e-2)):
        bn = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
        out = bn(x, training=True).numpy()
        got = np.concatenate([out.ravel(), bn.moving_mean.numpy(), bn.moving_variance.numpy()])

        def bn_rule(momentum, epsilon):
            mean, var = x.mean(0), x.var(0)      # moving stats start at 0 and 1
            return np.concatenate([((x - mean) / np.sqrt(var + epsilon)).ravel(),
                                   mean * (1 - momentum), momentum + var * (1 - momentum)])
        facts.update(_settle(f"BatchNormalization({momentum}, {epsilon})", got, bn_rule,
                             {"momentum": momentum, "epsilon": epsilon}))
    w = np.random.default_rng(1).normal(size=(4, 5))
    l1 = lambda l1: l1 * np.sum(np.abs(w))          # noqa: E731
    l2 = lambda l2: l2 * np.sum(w * w)              # noqa: E731
    facts.update(_settle("L1", keras.regularizers.L1(1e-3)(w), l1, {"l1": 1e-3}))
    facts.update(_settle("L2", keras.regularizers.L2(1e-2)(w), l2, {"l2": 1e-2}))
    facts.update(_settle("L1L2", keras.regularizers.L1L2(1e-3, 1e-2)(w),
                         lambda l1_, l2_: l1(l1_) + l2(l2_), {"l1_": 1e-3, "l2_": 1e-2}))
    facts.update(_settle("'l1'", keras.regularizers.get("l1")(w), l1, {"l1": 1e-2}))
    facts.update(_settle("'l2'", keras.regularizers.get("l2")(w), l2, {"l2": 1e-2}))
    facts.update(_settle("leaky_relu", keras.activations.leaky_relu(w),
                         lambda negative_slope: np.where(w > 0, w, negative_slope * w), {"negative_slope": 0.2}))
    p, y = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]]), np.array([[0, 1.0, 0], [1, 0, 0]])
    facts.update(_settle(
        "categorical_crossentropy", keras.losses.categorical_crossentropy(y, p, label_smoothing=0.1),
        lambda label_smoothing: -np.sum((y * (1 - label_smoothing) + label_smoothing / 3)
                                        * np.log(p), axis=1), {"label_smoothing": 0.1}))
    pb, yb = np.array([[0.3], [0.8]]), np.array([[0.0], [1.0]])

    def bce(label_smoothing):
        t = yb * (1 - label_smoothing) + 0.5 * label_smoothing
        return -np.mean(t * np.log(pb) + (1 - t) * np.log(1 - pb), axis=1)
    facts.update(_settle("binary_crossentropy",
                         keras.losses.binary_crossentropy(yb, pb, label_smoothing=0.1), bce,
                         {"label_smoothing": 0.1}))
    return facts


def rounded_constants(spec):
    """The float32-rounded constants this case uses, and nnbook's substitutes for them.

    Returns (facts, substitutions, nudged): ``facts`` for cases.json,
    ``substitutions`` (path into the spec, rounded value) where nnbook takes
    the rounded value through the same argument, ``nudged`` True when some
    rounded constant cannot be given to nnbook (the tolerance is then measured).
    """
    facts, subs, nudged = [], [], False
    for i, entry in enumerate(spec["layers"]):
        for key, value in entry["config"].items():
            if isinstance(value, dict) and value.get("module") == "regularizers":
                for factor, exact in value["config"].items():
                    facts.append({"where": f"layers[{i}].{key}.{factor}", "exact": exact,
                                  "keras_uses": f32(exact), "how": "regularizer factor"})
                    subs.append({"path": ["layers", i, "config", key, "config", factor],
                                 "value": f32(exact)})
            elif key.endswith("regularizer") and value in ("l1", "l2"):
                facts.append({"where": f"layers[{i}].{key}='{value}'", "exact": 0.01,
                              "keras_uses": f32(0.01), "how": "regularizer string"})
                nudged = True
            elif key == "activation" and value == "leaky_relu":
                facts.append({"where": f"layers[{i}].activation='leaky_relu' slope",
                              "exact": 0.2, "keras_uses": f32(0.2),
                              "how": "TensorFlow's LeakyRelu takes a float32 alpha"})
                nudged = True
    opt = spec["compile"]["optimizer"]
    if opt["class"] == "Adam":
        for beta, exact in (("beta_1", 0.9), ("beta_2", 0.999)):
            facts.append({"where": f"optimizer.{beta}", "exact": exact, "keras_uses": f32(exact),
                          "how": "float32 in the bias correction beta**t, exact in 1 - beta"})
        nudged = True
    if opt["class"] == "SGD" and opt["config"].get("momentum"):
        raise SystemExit("SGD momentum is rounded in Keras; add its substitution first")
    return facts, subs, nudged


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def relative_change(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    keras.backend.set_floatx("float64")
    facts = probe_float32_constants(keras)
    out = {"made_by": "scripts/make_keras_parity_fixtures.py (its docstring says how)",
           "keras": keras.__version__, "tensorflow": tf.__version__, "floatx": "float64",
           "float32_constants": facts, "cases": {}}
    os.makedirs(OUT, exist_ok=True)
    for name, spec in all_cases().items():
        data, rng = make_data(name, spec)
        keras.backend.clear_session()
        keras.backend.set_floatx(spec["floatx"])
        variables = build_keras(keras, spec).weights
        keras.backend.set_floatx("float64")
        # in a float32 case both start from the same float32 values
        start = [w.astype(spec["floatx"]) for w in initial_weights(variables, rng)]
        model, history = fit_keras(keras, spec, data, start)
        final, predictions = model.get_weights(), model.predict(data["x"], verbose=0)
        frozen = [v.path for v, a, b in zip(variables, final, start) if np.array_equal(a, b)]
        if frozen:
            raise SystemExit(f"{name}: training left {frozen} unchanged")
        arrays = dict(data, predictions=predictions)
        arrays.update({f"initial_{i}": w for i, w in enumerate(start)})
        arrays.update({f"final_{i}": w for i, w in enumerate(final)})
        arrays.update({f"history_{k}": np.array(v, np.float64) for k, v in history.items()})
        case_facts, subs, nudged = rounded_constants(spec)
        rtol, reason = 1e-12, "no float32-rounded constant nnbook cannot be given"
        if spec["floatx"] == "float32":
            rtol, reason = 1e-4, ("a float32 case: Keras and nnbook sum in different orders "
                                  "(float32 rounding, 6e-8 per operation, over two epochs)")
        if subs:
            reason = "the rounded regularizer factors are given to nnbook (nnbook_substitutions)"
        if nudged:
            nudged_model, nudged_history = fit_keras(keras, spec, data, start, nudge=True)
            change = max([relative_change(a, b) for a, b in zip(nudged_model.get_weights(), final)]
                         + [relative_change(np.array(nudged_history[k]), np.array(history[k]))
                            for k in history]
                         + [relative_change(nudged_model.predict(data["x"], verbose=0),
                                            predictions)])
            rtol = max(1e-12, 10 * change)
            reason = (f"Keras rounds {', '.join(f['where'] for f in case_facts)} to float32 and "
                      f"nnbook keeps the exact value: 10x the largest relative change Keras "
                      f"shows when those constants move one float32 step ({change:.3g})")
        if spec["compile"]["optimizer"]["class"] in ("SGD", "RMSprop", "Adam") and \
                "clip" in json.dumps(spec["compile"]["optimizer"]):
            # the clipping must bite: the unclipped run must end elsewhere
            plain = copy.deepcopy(spec)
            plain["compile"]["optimizer"]["config"] = {
                k: v for k, v in spec["compile"]["optimizer"]["config"].items()
                if "clip" not in k}
            unclipped, _ = fit_keras(keras, plain, data, start)
            moved = max(relative_change(a, b) for a, b in zip(unclipped.get_weights(), final))
            if moved < 1e-6:
                raise SystemExit(f"{name}: clipping does not change training ({moved:.3g})")
        spec.update(history_keys=sorted(history),
                    weight_names=[v.path for v in variables],
                    float32_constants=case_facts, nnbook_substitutions=subs,
                    rtol=rtol, rtol_reason=reason)
        out["cases"][name] = spec
        np.savez_compressed(os.path.join(OUT, name + ".npz"), **arrays)
        print(f"{name:40s} rtol {rtol:.1e}  " +
              " ".join(f"{k}={v[-1]:.4f}" for k, v in sorted(history.items())))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        if size >= 1_000_000:
            raise SystemExit(f"{name} is {size:,} bytes; fixtures must stay under 1 MB")
    print(f"{len(out['cases'])} cases, {len(os.listdir(OUT))} files in {OUT}")


if __name__ == "__main__":
    main()
