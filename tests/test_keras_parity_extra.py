"""Parity with real Keras 3.15 for the layers, losses, metrics, clipping and weighting of issue 9.

Where the numbers come from: every expected number in this file is read from
tests/fixtures/keras_parity/, made once by scripts/make_keras_parity_fixtures.py
with real Keras 3.15.1 on TensorFlow 2.21 CPU (its docstring says how it ran).
``cases.json`` describes each case in plain data (layers and their keyword
arguments, input shape, compile and fit arguments); ``<case>.npz`` holds
Keras's data, the initial weights it started from, its per-epoch history, its
weights after ``fit`` and its predictions on ``x`` after training. No
TensorFlow here.

Each case is rebuilt with nnbook.keras from the same plain data (only the
import differs), given Keras's initial weights, fitted as Keras was (70 rows,
batch 16, ``shuffle=False``, 2 epochs, float64 unless the case says
float32) and compared: the history (loss, every metric, ``val_*``), the
weights after ``fit`` in ``get_weights`` order and the predictions.

Tolerance: the case's ``rtol`` from cases.json, relative to each array's
largest magnitude (a weight near 0 has no meaningful relative error): 1e-12
in float64. It is looser only where Keras rounds a constant to float32 and
nnbook cannot be given the rounded value through the same argument (the
strings ``'l1'``/``'l2'``, ``'leaky_relu'``'s slope, Adam's betas in the bias
correction): there the fixture script measured how much Keras moves when that
constant moves one float32 step and allows ten times that; ``rtol_reason``
says so per case. Where nnbook can take the rounded value (a regularizer
object's factor), the case lists it under ``nnbook_substitutions``, the test
passes the rounded value and keeps 1e-12. nnbook itself keeps exact values.
Two constants are rounded inside Keras's own ops (gelu's 1/sqrt(2),
log_cosh's log 2; see ROUNDED_INSIDE_KERAS).
The ``metrics_top_k_float32`` cases are float32 because Keras cannot run
``TopKCategoricalAccuracy`` in float64 (TensorFlow's InTopKV2 is float32-only).
"""
import copy
import json
import os

import numpy as np
import pytest

from nnbook import keras as nk

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "keras_parity")
with open(os.path.join(FIXTURES, "cases.json")) as _f:
    SPEC = json.load(_f)
CASES = SPEC["cases"]


def load_arrays(name):
    with np.load(os.path.join(FIXTURES, name + ".npz")) as f:
        return dict(f)


def numbered(arrays, prefix):
    count = sum(1 for k in arrays if k.startswith(prefix))
    return [arrays[f"{prefix}{i}"] for i in range(count)]


@pytest.fixture
def floatx():
    """Set nnbook's float type for one case, then put the session back as it was."""
    before = nk.backend.floatx()
    yield nk.backend.set_floatx
    nk.backend.set_floatx(before)


# --------------------------------------------------------------------------
# rebuilding a case with nnbook.keras
# --------------------------------------------------------------------------

def substituted(spec):
    """The spec with Keras's float32-rounded constants put where nnbook takes them."""
    spec = copy.deepcopy(spec)
    for sub in spec["nnbook_substitutions"]:
        node = spec
        for key in sub["path"][:-1]:
            node = node[key]
        node[sub["path"][-1]] = sub["value"]
    return spec


def resolve(name, value):
    """Plain data -> nnbook.keras object ({'module', 'class', 'config'}), else as is."""
    if isinstance(value, dict) and "module" in value:
        module = getattr(nk, value["module"], None)
        cls = getattr(module, value["class"], None)
        if cls is None:
            pytest.fail(f"{name}: nnbook.keras has no {value['module']}.{value['class']}")
        return cls(**value["config"])
    return value


def build_nnbook(name, spec):
    layers = [nk.Input(shape=tuple(spec["input_shape"]))]
    for entry in spec["layers"]:
        cls = getattr(nk.layers, entry["class"], None)
        if cls is None:
            pytest.fail(f"{name}: nnbook.keras.layers has no {entry['class']}")
        layers.append(cls(**{k: resolve(name, v) for k, v in entry["config"].items()}))
    model = nk.Sequential(layers)
    opt = spec["compile"]["optimizer"]
    model.compile(optimizer=getattr(nk.optimizers, opt["class"])(**opt["config"]),
                  loss=resolve(name, spec["compile"]["loss"]),
                  metrics=[resolve(name, m) for m in spec["compile"]["metrics"]])
    return model


def fit_kwargs(spec, arrays):
    fit = spec["fit"]
    kwargs = {"batch_size": fit["batch_size"], "epochs": fit["epochs"],
              "shuffle": fit["shuffle"], "verbose": 0}
    if fit["validation_data"]:
        kwargs["validation_data"] = ((arrays["x_val"], arrays["y_val"],
                                      arrays["val_sample_weight"])
                                     if "val_sample_weight" in arrays
                                     else (arrays["x_val"], arrays["y_val"]))
    if fit["weighting"] == "sample_weight":
        kwargs["sample_weight"] = arrays["sample_weight"]
    elif isinstance(fit["weighting"], dict):
        kwargs["class_weight"] = {int(c): w for c, w in fit["weighting"]["class_weight"]}
    return kwargs


# Constants inside Keras's own ops that TensorFlow evaluates in float32 even
# under float64, which no argument can hand to nnbook (it keeps the exact
# value); tests/test_kernels_keras_extra.py checks each against Keras's own
# values. Allowed: ten times the relative change the rounding makes.
ROUNDED_INSIDE_KERAS = {
    "activation_gelu": (5e-8, "Keras's gelu scales by 1/sqrt(2) rounded to float32, "
                              "5e-9 relative"),
    "loss_log_cosh": (5e-8, "Keras's log_cosh subtracts log(2) rounded to float32, "
                            "4.5e-9 of the loss"),
}
def case_rtol(name):
    return ROUNDED_INSIDE_KERAS.get(name, (CASES[name]["rtol"],))[0]


def assert_matches(name, what, actual, expected, rtol):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, \
        f"{name}: {what} has shape {actual.shape}, Keras's has {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale,
                               err_msg=f"case {name}: {what} differs from Keras's "
                                       f"(rtol {rtol:.1e}; "
                                       f"{ROUNDED_INSIDE_KERAS.get(name, (0, CASES[name]['rtol_reason']))[1]})")


# --------------------------------------------------------------------------
# the fixtures themselves (no new nnbook feature needed)
# --------------------------------------------------------------------------

def test_fixtures_are_complete_and_from_keras_3_15():
    assert SPEC["keras"] == "3.15.1" and SPEC["tensorflow"].startswith("2.21")
    assert len(CASES) >= 40
    for name, spec in CASES.items():
        arrays = load_arrays(name)
        start, final = numbered(arrays, "initial_"), numbered(arrays, "final_")
        assert len(start) == len(final) == len(spec["weight_names"]), name
        for a, b in zip(start, final):
            assert a.shape == b.shape and a.dtype == np.dtype(spec["floatx"]), name
        for key in spec["history_keys"]:
            assert arrays[f"history_{key}"].shape == (spec["fit"]["epochs"],), (name, key)
        assert arrays["x"].shape == (70, *spec["input_shape"]), name
        assert arrays["predictions"].shape[0] == 70, name
        assert spec["rtol"] == 1e-12 or spec["floatx"] == "float32" or \
            spec["float32_constants"], f"{name}: a loose tolerance must name its reason"


def test_measured_float32_constants_are_the_documented_ones():
    """What the fixture script measured in Keras 3.15.1 (its docstring lists the same)."""
    facts = SPEC["float32_constants"]
    rounded = sorted(k for k, v in facts.items() if v == "float32")
    assert rounded == sorted(["SGD.momentum", "Adam.beta_1_power", "Adam.beta_2_power",
                              "L1.l1", "L2.l2", "L1L2.l1_", "L1L2.l2_", "'l1'.l1", "'l2'.l2",
                              "leaky_relu.negative_slope"])
    for exact in ("SGD.learning_rate", "RMSprop.rho", "RMSprop.epsilon", "Adam.epsilon",
                  "Adam.beta_1_moment", "Adam.beta_2_moment", "SGD.clipnorm",
                  "SGD.global_clipnorm", "SGD.clipvalue",
                  "BatchNormalization(0.99, 0.001).momentum",
                  "BatchNormalization(0.99, 0.001).epsilon",
                  "categorical_crossentropy.label_smoothing"):
        assert facts[exact] == "exact", exact


# --------------------------------------------------------------------------
# nnbook against Keras, case by case
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs():
    """nnbook's results per case, computed once: (history, final weights, predictions)."""
    return {}


def run_case(name, runs, floatx):
    if name not in runs:
        spec = substituted(CASES[name])
        arrays = load_arrays(name)
        floatx(spec["floatx"])
        nk.backend.clear_session()
        model = build_nnbook(name, spec)
        model.set_weights(numbered(arrays, "initial_"))
        history = model.fit(arrays["x"], arrays["y"], **fit_kwargs(spec, arrays)).history
        runs[name] = (history, model.get_weights(), model.predict(arrays["x"], verbose=0))
    return runs[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_history_matches_keras(name, runs, floatx):
    history, _, _ = run_case(name, runs, floatx)
    arrays, spec = load_arrays(name), CASES[name]
    assert sorted(history) == spec["history_keys"], \
        f"case {name}: history keys {sorted(history)}, Keras's {spec['history_keys']}"
    for key in spec["history_keys"]:
        assert_matches(name, f"history['{key}']", history[key], arrays[f"history_{key}"],
                       case_rtol(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_final_weights_match_keras(name, runs, floatx):
    _, weights, _ = run_case(name, runs, floatx)
    expected = numbered(load_arrays(name), "final_")
    spec = CASES[name]
    assert len(weights) == len(expected), \
        f"case {name}: nnbook has {len(weights)} weight arrays, Keras {spec['weight_names']}"
    for got, want, label in zip(weights, expected, spec["weight_names"]):
        assert_matches(name, f"weight {label}", got, want, case_rtol(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_predictions_match_keras(name, runs, floatx):
    _, _, predictions = run_case(name, runs, floatx)
    assert_matches(name, "predictions on x after fit", predictions,
                   load_arrays(name)["predictions"], case_rtol(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_are_unchanged_by_fit(name, runs, floatx):
    """fit must not write into x, y or the weights it was given."""
    spec, arrays = substituted(CASES[name]), load_arrays(name)
    before = {k: v.copy() for k, v in arrays.items()}
    floatx(spec["floatx"])
    nk.backend.clear_session()
    model = build_nnbook(name, spec)
    start = numbered(arrays, "initial_")
    model.set_weights(start)
    model.fit(arrays["x"], arrays["y"], **fit_kwargs(spec, arrays))
    for key, value in before.items():
        assert np.array_equal(arrays[key], value), f"case {name}: fit changed the caller's {key}"
