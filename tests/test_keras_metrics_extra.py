"""nnbook.keras's metrics past 'accuracy': binary/top-k accuracy, Precision,
Recall, AUC, weighted_metrics, and where their training values come from.

KERAS and KERAS_EVALUATE were printed by real Keras 3.15.1 (TensorFlow 2.21.0
CPU) with ``/tmp/tfenv/bin/python scripts/make_keras_metric_fixtures.py``,
from the inputs its ``inputs()`` makes (loaded from the script below).
"""
import importlib.util
import os

import numpy as np
import pytest


from nnbook.keras import Sequential, backend, metrics, optimizers, utils
from nnbook.keras.layers import Dense

KERAS = {
    'auc': 0.6260071324791969,
    'auc_weighted': 0.667533250333079,
    'auc_13': 0.6287808743891163,
    'auc_minoring_weighted': 0.6647856092577076,
    'auc_column0_float32': 0.59375,
    'precision': 0.4691358024691358,
    'precision_weighted': 0.4946475969192488,
    'precision_0.3_weighted': 0.4475829235414029,
    'recall_weighted': 0.6262751934451576,
    'binary_accuracy_weighted': 0.6188803050234962,
    'sparse_top_2': 0.575,
    'top_2': 0.575,
    'top_1_weighted': 0.42440677916038705,
}

# model.evaluate(x, y, sample_weight=w) of Dense(1, sigmoid) with
# metrics=["accuracy", Precision(), AUC()], weighted_metrics=[Precision(), AUC(),
# "accuracy"]: the compiled metrics are unweighted, the weighted ones are not
KERAS_EVALUATE = {
    'accuracy': 0.54,
    'auc': 0.3417207792207792,
    'auc_1': 0.3672686520678683,
    'loss': 1.8041212578697972,
    'precision': 0.46153846153846156,
    'precision_1': 0.4735446152741535,
    'weighted_accuracy': 0.5633301426478918,
}


def _fixture_script():
    """scripts/make_keras_metric_fixtures.py, whose inputs() made KERAS's numbers
    (it imports only NumPy until its main() runs Keras)."""
    path = os.path.join(os.path.dirname(__file__), os.pardir, "scripts",
                        "make_keras_metric_fixtures.py")
    spec = importlib.util.spec_from_file_location("make_keras_metric_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


inputs = _fixture_script().inputs


D = inputs()
S32 = D["scores"].astype(np.float32)


@pytest.mark.parametrize("key,make,args", [
    ("auc", lambda: metrics.AUC(dtype="float64"), (D["y_bin"], D["p_bin"])),
    ("auc_weighted", lambda: metrics.AUC(dtype="float64"), (D["y_bin"], D["p_bin"], D["w"])),
    ("auc_13", lambda: metrics.AUC(num_thresholds=13, dtype="float64"),
     (D["y_bin"], D["p_bin"])),
    ("auc_minoring_weighted", lambda: metrics.AUC(summation_method="minoring", dtype="float64"),
     (D["y_bin"], D["p_bin"], D["w"])),
    ("auc_column0_float32", lambda: metrics.AUC(dtype="float32"),
     (D["y_bin"][:, 0], D["p_bin"][:, 0].astype(np.float32))),
    ("precision", metrics.Precision, (D["y_bin"], D["p_bin"])),
    ("precision_weighted", metrics.Precision, (D["y_bin"], D["p_bin"], D["w"])),
    ("precision_0.3_weighted", lambda: metrics.Precision(thresholds=0.3),
     (D["y_bin"], D["p_bin"], D["w"])),
    ("recall_weighted", metrics.Recall, (D["y_bin"], D["p_bin"], D["w"])),
    ("binary_accuracy_weighted", metrics.BinaryAccuracy, (D["y_bin"], D["p_bin"], D["w"])),
    ("sparse_top_2", lambda: metrics.SparseTopKCategoricalAccuracy(k=2), (D["labels"], S32)),
    ("top_2", lambda: metrics.TopKCategoricalAccuracy(k=2), (np.eye(5)[D["labels"]], S32)),
    ("top_1_weighted", lambda: metrics.TopKCategoricalAccuracy(k=1),
     (np.eye(5)[D["labels"]], S32, D["w"][:40])),
])
def test_metric_values_are_keras_values(key, make, args):
    metric = make()
    metric.update_state(*args[:2], sample_weight=args[2] if len(args) > 2 else None)
    assert metric.result() == pytest.approx(KERAS[key], rel=1e-12, abs=1e-15)


def test_metric_state_accumulates_over_updates_and_resets():
    whole, parts = metrics.AUC(dtype="float64"), metrics.AUC(dtype="float64")
    whole.update_state(D["y_bin"], D["p_bin"], D["w"])
    parts.update_state(D["y_bin"][:25], D["p_bin"][:25], D["w"][:25])
    parts.update_state(D["y_bin"][25:], D["p_bin"][25:], D["w"][25:])
    assert parts.result() == pytest.approx(whole.result(), rel=1e-12)
    parts.reset_state()
    assert parts.result() == 0.0


def test_evaluate_weighs_only_the_weighted_metrics_and_names_them_as_keras():
    backend.clear_session()          # Precision()/AUC() names come from a session counter
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(4,))], dtype="float64")
    model.set_weights([D["kernel"], np.zeros(1)])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=["accuracy", metrics.Precision(), metrics.AUC()],
                  weighted_metrics=[metrics.Precision(), metrics.AUC(), "accuracy"])
    logs = model.evaluate(D["x"], D["y_model"], sample_weight=D["w_model"], verbose=0,
                          return_dict=True)
    assert sorted(logs) == sorted(KERAS_EVALUATE)
    for key, value in KERAS_EVALUATE.items():
        # Keras clips probabilities at 1e-7 in its cross-entropy; nnbook computes
        # it from the logit exactly, so the loss agrees to that clip's size only
        rel = 1e-6 if key == "loss" else 1e-12
        assert logs[key] == pytest.approx(value, rel=rel), key


def _classifier(units=5, seed=0, dtype="float64"):
    utils.set_random_seed(seed)
    model = Sequential([Dense(6, activation="tanh", input_shape=(4,)),
                        Dense(units, activation="softmax" if units > 1 else "sigmoid")],
                       dtype=dtype)
    return model


def _class_data(n=64, classes=5, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, rng.integers(0, classes, n)


def test_training_metrics_are_keras_running_values_of_one_batch():
    """One batch, no shuffle: the running value is the metric on the outputs
    before the update (what predict gave before fit), AUC included (the core
    counts its score histograms per batch, as Keras does)."""
    x, labels = _class_data()
    y = np.eye(5)[labels]
    model = _classifier()
    # a large step, so that the outputs after it score differently
    model.compile(optimizer=optimizers.SGD(learning_rate=5.0), loss="categorical_crossentropy",
                  metrics=["accuracy", metrics.TopKCategoricalAccuracy(k=2),
                           metrics.Precision(thresholds=0.3, name="p"),
                           metrics.Recall(thresholds=0.3, name="r"),
                           metrics.BinaryAccuracy(threshold=0.3, name="bin"),
                           metrics.AUC(name="auc")])
    before = model.predict(x, verbose=0)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    after = model.predict(x, verbose=0)
    h = {k: v[0] for k, v in history.history.items()}
    assert h["accuracy"] == pytest.approx(np.mean(before.argmax(1) == labels), abs=1e-12)
    assert h["top_k_categorical_accuracy"] == pytest.approx(
        metrics.TopKCategoricalAccuracy(k=2).value(y, before), abs=1e-12)
    for name, metric in (("p", metrics.Precision(thresholds=0.3)),
                         ("r", metrics.Recall(thresholds=0.3)),
                         ("bin", metrics.BinaryAccuracy(threshold=0.3))):
        assert h[name] == pytest.approx(metric.value(y, before), abs=1e-12), name
    assert h["auc"] == pytest.approx(metrics.AUC().value(y, before), abs=1e-12)
    assert metrics.AUC().value(y, after) != h["auc"]
    assert metrics.Precision(thresholds=0.3).value(y, after) != h["p"]


def test_string_names_and_functions_log_under_their_names():
    x, labels = _class_data()
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_top_k_categorical_accuracy", "auc", "precision",
                           metrics.sparse_categorical_accuracy])
    history = model.fit(x, labels, epochs=2, verbose=0, validation_data=(x, labels))
    assert list(history.history) == [
        "loss", "sparse_top_k_categorical_accuracy", "auc", "precision",
        "sparse_categorical_accuracy", "val_loss", "val_sparse_top_k_categorical_accuracy",
        "val_auc", "val_precision", "val_sparse_categorical_accuracy"]
    # 5 classes, k=5: every label is in the top 5
    assert history.history["sparse_top_k_categorical_accuracy"] == [1.0, 1.0]
    val = model.evaluate(x, labels, verbose=0, return_dict=True)
    assert val["auc"] == pytest.approx(history.history["val_auc"][-1], abs=1e-12)


def test_validation_metrics_equal_evaluate():
    x, labels = _class_data()
    xv, lv = _class_data(n=30, seed=5)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", metrics.Recall(name="recall"), metrics.AUC(name="auc")])
    history = model.fit(x, labels, epochs=1, verbose=0, validation_data=(xv, lv))
    logs = model.evaluate(xv, lv, verbose=0, return_dict=True)
    for key in ("loss", "accuracy", "recall", "auc"):
        assert history.history["val_" + key][0] == logs[key]


def test_weighted_metrics_in_fit_use_the_sample_weights():
    x, labels = _class_data(n=40, classes=2)
    y = labels.astype(float)
    w = np.linspace(0, 2, 40)
    model = _classifier(units=1)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy", metrics.Precision(name="p")])
    history = model.fit(x, y, sample_weight=w, epochs=1, batch_size=8, verbose=0)
    out = model.predict(x, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "weighted_accuracy", "p"}
    # the weighted ones: a forward pass after the epoch, with the weights
    assert history.history["weighted_accuracy"][0] == pytest.approx(
        metrics.BinaryAccuracy().value(y[:, None], out, w), abs=1e-12)
    assert history.history["p"][0] == pytest.approx(
        metrics.Precision().value(y[:, None], out, w), abs=1e-12)


def test_keras_names_repeat_with_suffixes():
    backend.clear_session()
    x, labels = _class_data()
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "accuracy", metrics.Precision(), metrics.Precision()])
    assert model.metrics_names == ["loss", "accuracy", "accuracy_1", "precision",
                                   "precision_1"]


@pytest.mark.parametrize("make,pattern", [
    (lambda: metrics.Precision(thresholds=[0.2, 0.5]), r"one threshold.*\[0.2, 0.5\]"),
    (lambda: metrics.Precision(thresholds=1.5), r"\[0, 1\].*1.5"),
    (lambda: metrics.Recall(top_k=2), r"top_k=.*not supported.*Received: top_k=2"),
    (lambda: metrics.AUC(curve="PR"), r"ROC.*Received: curve='PR'"),
    (lambda: metrics.AUC(num_thresholds=1), r"num_thresholds"),
    (lambda: metrics.AUC(multi_label=True), r"multi_label"),
    (lambda: metrics.TopKCategoricalAccuracy(k=0), r"Received: k=0"),
    (lambda: _classifier().compile(loss="mse", metrics=["f1_score"]),
     r"Unknown metric.*'auc'.*Received: metric='f1_score'"),
    (lambda: _classifier().compile(loss="mse", weighted_metrics=3), r"weighted_metrics=3"),
])
def test_bad_metric_arguments(make, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


def test_update_state_checks_shapes_and_leaves_inputs_alone():
    y, p = D["y_bin"].copy(), D["p_bin"].copy()
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.AUC().update_state(y[:10], p)
    with pytest.raises(ValueError, match="one weight per row"):
        metrics.Precision().update_state(y, p, sample_weight=np.ones(7))
    metrics.AUC(from_logits=True).update_state(y, p, D["w"])
    np.testing.assert_array_equal(y, D["y_bin"])
    np.testing.assert_array_equal(p, D["p_bin"])


def test_core_counts_give_the_metric_definitions():
    """CoreCounts reads each metric from (correct, top_k, tp, fp, fn) as the
    metric itself computes it on the same outputs."""
    rng = np.random.default_rng(3)
    out = rng.dirichlet(np.ones(4), size=30)
    labels = rng.integers(0, 4, 30)
    y = np.eye(4)[labels]
    pred, pos = out > 0.4, y != 0
    top2 = metrics.top_k_categorical_accuracy(y, out, k=2).sum()
    counts = [np.sum(out.argmax(1) == labels), top2, np.sum(pred & pos),
              np.sum(pred & ~pos), np.sum(~pred & pos)]
    counting = metrics.CoreCounts(binary=False, units=4, top_k=2, threshold=0.4)
    for metric in (metrics.CategoricalAccuracy(), metrics.TopKCategoricalAccuracy(k=2),
                   metrics.Precision(thresholds=0.4), metrics.Recall(thresholds=0.4),
                   metrics.BinaryAccuracy(threshold=0.4)):
        assert counting.value(metric, counts, 30) == pytest.approx(metric.value(y, out),
                                                                   abs=1e-12), metric
    # not given by these counts: another k or threshold, AUC, soft labels
    assert counting.value(metrics.Precision(thresholds=0.5), counts, 30) is None
    assert counting.value(metrics.TopKCategoricalAccuracy(k=3), counts, 30) is None
    assert counting.value(metrics.AUC(), counts, 30) is None
    soft = metrics.CoreCounts(binary=False, units=4, top_k=2, threshold=0.4, labels_01=False)
    assert soft.value(metrics.Recall(thresholds=0.4), counts, 30) is None


@pytest.mark.parametrize("filename", ["m.npz", "m.keras"])
def test_metric_objects_survive_save_and_load(tmp_path, filename):
    if filename.endswith(".keras"):
        pytest.importorskip("h5py")
    from nnbook.keras import models
    x, labels = _class_data()
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", metrics.Precision(thresholds=0.3, name="p"),
                           metrics.AUC(name="auc", num_thresholds=50),
                           metrics.TopKCategoricalAccuracy(k=2)])
    model.fit(x, labels, epochs=1, verbose=0)
    model.save(tmp_path / filename)
    loaded = models.load_model(tmp_path / filename)
    assert loaded.metrics_names == model.metrics_names
    assert loaded.evaluate(x, labels, verbose=0) == model.evaluate(x, labels, verbose=0)
