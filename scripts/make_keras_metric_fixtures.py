"""Print the real-Keras reference values of tests/test_keras_metrics_extra.py.

The metrics whose definitions are subtle (AUC's thresholds and interpolation,
Precision/Recall with sample weights, in_top_k's ties, which metrics
evaluate() weighs) are computed here by Keras 3 itself; the numbers printed
are pasted into the test, which never imports TensorFlow.

Every input is made from numpy's default_rng(seed) exactly as the test makes
it (see ``inputs``), so both sides see the same numbers. Keras runs in
float64 (``keras.backend.set_floatx('float64')``, metrics with
``dtype='float64'``), except where a case says float32.

How it was run (Keras 3.15.1, TensorFlow 2.21.0 CPU, in a venv of its own):

    /tmp/tfenv/bin/python scripts/make_keras_metric_fixtures.py
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def inputs():
    """The shared inputs (tests/test_keras_metrics_extra.py loads this function)."""
    rng = np.random.default_rng(20261201)
    y_bin = (rng.random((60, 3)) > 0.6).astype(np.float64)
    p_bin = rng.random((60, 3))
    p_bin[:5] = np.round(p_bin[:5] * 4) / 4          # scores on the thresholds' grid
    w = rng.random(60) * 2.0
    w[::7] = 0.0                                      # masked rows
    labels = rng.integers(0, 5, 40)
    scores = rng.random((40, 5))
    scores[:6, :] = 0.5                               # ties everywhere in 6 rows
    scores[6:10, 1] = scores[6:10, 3]                  # a tie at the boundary
    x = rng.normal(size=(50, 4))
    kernel = rng.normal(size=(4, 1))
    y_model = (rng.random(50) > 0.5).astype(np.float64)
    w_model = rng.random(50) * 3.0
    return dict(y_bin=y_bin, p_bin=p_bin, w=w, labels=labels, scores=scores, x=x,
                kernel=kernel, y_model=y_model, w_model=w_model)


def main():
    import keras
    keras.backend.set_floatx("float64")
    d = inputs()
    m = keras.metrics

    def value(metric, y, p, w=None):
        metric.update_state(y, p, sample_weight=w)
        return float(metric.result())

    cases = {
        "auc": value(m.AUC(dtype="float64"), d["y_bin"], d["p_bin"]),
        "auc_weighted": value(m.AUC(dtype="float64"), d["y_bin"], d["p_bin"], d["w"]),
        "auc_13": value(m.AUC(num_thresholds=13, dtype="float64"), d["y_bin"], d["p_bin"]),
        "auc_minoring_weighted": value(m.AUC(summation_method="minoring", dtype="float64"),
                                       d["y_bin"], d["p_bin"], d["w"]),
        "auc_column0_float32": value(m.AUC(dtype="float32"), d["y_bin"][:, 0],
                                     d["p_bin"][:, 0].astype(np.float32)),
        "precision": value(m.Precision(dtype="float64"), d["y_bin"], d["p_bin"]),
        "precision_weighted": value(m.Precision(dtype="float64"), d["y_bin"], d["p_bin"],
                                    d["w"]),
        "precision_0.3_weighted": value(m.Precision(thresholds=0.3, dtype="float64"),
                                        d["y_bin"], d["p_bin"], d["w"]),
        "recall_weighted": value(m.Recall(dtype="float64"), d["y_bin"], d["p_bin"], d["w"]),
        "binary_accuracy_weighted": value(m.BinaryAccuracy(dtype="float64"), d["y_bin"],
                                          d["p_bin"], d["w"]),
        "sparse_top_2": value(m.SparseTopKCategoricalAccuracy(k=2, dtype="float64"),
                              d["labels"], d["scores"].astype(np.float32)),
        "top_2": value(m.TopKCategoricalAccuracy(k=2, dtype="float64"),
                       np.eye(5)[d["labels"]], d["scores"].astype(np.float32)),
        "top_1_weighted": value(m.TopKCategoricalAccuracy(k=1, dtype="float64"),
                                np.eye(5)[d["labels"]], d["scores"].astype(np.float32),
                                d["w"][:40]),
    }
    for key, val in cases.items():
        print(f"    {key!r}: {val!r},")

    # evaluate(): which metrics the sample weights reach, and the logged names
    # (Precision() and AUC() are named from a per-session counter: start afresh)
    keras.backend.clear_session()
    keras.backend.set_floatx("float64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.layers[0].set_weights([d["kernel"], np.zeros(1)])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=["accuracy", m.Precision(), m.AUC()],
                  weighted_metrics=[m.Precision(), m.AUC(), "accuracy"])
    logs = model.evaluate(d["x"], d["y_model"], sample_weight=d["w_model"], verbose=0,
                          batch_size=50, return_dict=True)
    print("EVALUATE = {")
    for key, val in logs.items():
        print(f"    {key!r}: {float(val)!r},")
    print("}")


if __name__ == "__main__":
    main()
