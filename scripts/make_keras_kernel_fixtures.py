"""Make tests/fixtures/keras_kernels.json: real Keras 3's values of the
activations, losses and metric counts that tests/test_kernels_keras_extra.py
compares the core's kernels with.

CI never installs TensorFlow: the JSON file this writes is committed, and the
tests read it. Everything is in float64 (``keras.config.set_floatx("float64")``)
on inputs fixed below, so no data set is needed:

* ``activations``: for each name, Keras's ``activations.get(name)(z)`` and
  its derivative d/dz (TensorFlow's gradient of the sum) at the points ``z``;
* ``losses``: for each name, ``losses.get(name)(y, p)`` per row and the
  gradient of their sum with respect to p, for the ``y``/``p`` stored beside;
* ``metrics``: ``top_k_categorical_accuracy`` per row for k = 1, 2, 3 on
  scores with ties at the boundary (in float32, the only precision
  TensorFlow's in_top_k takes; the scores are quarters, exact in it), and the true positives, false positives
  and false negatives that ``Precision``/``Recall`` accumulate at thresholds
  0.3 and 0.5.

How it was run (2026-11-28, Keras 3.15.1, TensorFlow 2.21.0):

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfenv/bin/python scripts/make_keras_kernel_fixtures.py
"""
import json
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "keras_kernels.json")
ACTIVATIONS = ["elu", "selu", "gelu", "silu", "swish", "leaky_relu", "softplus", "softsign",
               "hard_sigmoid", "hard_silu"]
LOSSES = ["mean_absolute_error", "mean_absolute_percentage_error", "huber", "log_cosh",
          "kl_divergence", "hinge", "squared_hinge"]
Z = [-800.0, -40.0, -5.0, -3.0, -2.5, -1.5, -0.1, -1e-9, 0.0, 1e-9, 0.1, 1.5, 2.5, 3.0, 5.0,
     40.0, 800.0]


def value_and_gradient(fn, x):
    x = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
        total = tf.reduce_sum(out)
    return out.numpy().tolist(), tape.gradient(total, x).numpy().tolist()


def loss_inputs(name, rng):
    """(y, p) of the kind each loss meets, (5, 4)."""
    if name == "kl_divergence":
        y = tf.nn.softmax(rng.standard_normal((5, 4)) * 2).numpy()
        y[0, 0] = 0.0
        return y, tf.nn.softmax(rng.standard_normal((5, 4)) * 2).numpy()
    if name in ("hinge", "squared_hinge"):
        return (rng.random((5, 4)) < 0.5) * 1.0, rng.standard_normal((5, 4)) * 2
    y = rng.standard_normal((5, 4)) * 2
    if name == "mean_absolute_percentage_error":
        y[0, :2] = 0.0
    return y, rng.standard_normal((5, 4)) * 2


def main():
    keras.config.set_floatx("float64")
    rng = np.random.default_rng(20261128)
    fixture = {"z": Z, "activations": {}, "losses": {}, "metrics": {}}
    for name in ACTIVATIONS:
        fn = keras.activations.get(name)
        values, grads = value_and_gradient(fn, np.array(Z))
        fixture["activations"][name] = {"values": values, "gradients": grads}
    for name in LOSSES:
        y, p = loss_inputs(name, rng)
        fn = keras.losses.get(name)
        rows, grads = value_and_gradient(lambda q, fn=fn, y=y: fn(tf.constant(y), q), p)
        fixture["losses"][name] = {"y": y.tolist(), "p": p.tolist(), "rows": rows,
                                   "gradients": grads}
    # scores rounded to quarters so ties straddle the top-k boundary
    scores = np.round(rng.random((9, 5)) * 4) / 4
    labels = np.eye(5)[rng.integers(0, 5, 9)]
    # (TensorFlow's in_top_k takes float32 only; quarters are exact in it)
    top_k = {str(k): keras.metrics.top_k_categorical_accuracy(
                 labels.astype(np.float32), scores.astype(np.float32), k=k).numpy().tolist()
             for k in (1, 2, 3)}
    confusion = {}
    for threshold in (0.3, 0.5):
        precision = keras.metrics.Precision(thresholds=threshold)
        recall = keras.metrics.Recall(thresholds=threshold)
        precision.update_state(labels, scores)
        recall.update_state(labels, scores)
        confusion[str(threshold)] = [float(precision.true_positives.numpy()[0]),
                                     float(precision.false_positives.numpy()[0]),
                                     float(recall.false_negatives.numpy()[0])]
    fixture["metrics"] = {"scores": scores.tolist(), "labels": labels.tolist(), "top_k": top_k,
                          "confusion": confusion}
    fixture["made_by"] = (f"scripts/make_keras_kernel_fixtures.py with Keras {keras.__version__}, "
                          f"TensorFlow {tf.__version__}, floatx float64")
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
