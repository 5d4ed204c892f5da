"""A model with Dropout and BatchNormalization used from several threads:
predictions taken while another thread fits (another model, or fits of a
copy) equal the serial ones bit for bit, and so do the fitted weights —
Dropout's masks and BatchNormalization's moving statistics included."""
import threading

import numpy as np

from nnbook.keras import Sequential, utils
from nnbook.keras.layers import BatchNormalization, Dense, Dropout
from test_concurrency import _data as _rows, _run_threads


def _data(n=2000):
    return _rows(n=n, features=30)


def _model(seed):
    utils.set_random_seed(seed)
    model = Sequential([Dense(24, activation="relu", input_shape=(30,)), BatchNormalization(),
                        Dropout(0.3), Dense(16, activation="tanh"), Dropout(0.2, seed=5),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(model, x, y):
    return model.fit(x, y, epochs=3, batch_size=64, verbose=0, validation_split=0.1).history


def test_dropout_batchnorm_predictions_beside_a_fit_equal_the_serial_ones():
    x, y = _data()
    served = _model(0)
    _fit(served, x, y)
    expected = served.predict(x, verbose=0)
    expected_eval = served.evaluate(x, y, verbose=0)
    serial = _model(11)
    serial_history = _fit(serial, x, y)

    beside = _model(11)
    got, evals, histories = [], [], []

    def predictor():
        for _ in range(10):
            got.append(served.predict(x, verbose=0))
            evals.append(served.evaluate(x, y, verbose=0))

    _run_threads([predictor] * 3 + [lambda: histories.append(_fit(beside, x, y))])
    assert len(got) == 30
    for out in got:
        np.testing.assert_array_equal(out, expected)
    assert all(e == expected_eval for e in evals)
    # the fit beside the predictions: the same masks, statistics and weights
    assert histories == [serial_history]
    for a, b in zip(beside.get_weights(), serial.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predicting_from_the_model_that_fits_sees_completed_states():
    # predict on the model being fitted: serialised with the fit, never a
    # half-updated mix; at inference Dropout is the identity and
    # BatchNormalization uses the moving statistics, so a repeated
    # prediction between two training calls is the same bits
    x, y = _data(n=1200)
    model = _model(3)
    _fit(model, x, y)
    stop = threading.Event()
    pairs = []

    def predictor():
        while not stop.is_set():
            pairs.append(model.predict(x[:100], verbose=0))

    def trainer():
        try:
            for _ in range(3):
                _fit(model, x, y)
        finally:
            stop.set()

    _run_threads([predictor, predictor, trainer])
    assert pairs
    for out in pairs:
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    # the predictions did not disturb training: the same fits without them
    # (Dropout masks, moving statistics, optimizer state) end in the same bits
    replay = _model(3)
    _fit(replay, x, y)
    for _ in range(3):
        _fit(replay, x, y)
    for a, b in zip(replay.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_concurrent_evaluations_of_one_model_do_not_share_metric_state():
    # a compiled metric is one object per model; each evaluate (one pass, or
    # batch by batch with test-batch hooks) counts into its own copy
    from nnbook.keras import callbacks, metrics
    x, y = _data(n=600)
    model = _model(3)
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=["accuracy", metrics.Precision(), metrics.AUC(),
                           metrics.TopKCategoricalAccuracy(k=2)])
    _fit(model, x, y)

    class Hooked(callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            pass

    want = model.evaluate(x, y, verbose=0)
    want_hooked = model.evaluate(x, y, verbose=0, callbacks=[Hooked()], batch_size=50)
    got = []

    def evaluator(hooked):
        def run():
            for _ in range(15):
                if hooked:
                    got.append(("h", model.evaluate(x, y, verbose=0, callbacks=[Hooked()],
                                                    batch_size=50)))
                else:
                    got.append(("p", model.evaluate(x, y, verbose=0)))
        return run

    _run_threads([evaluator(False), evaluator(True), evaluator(False), evaluator(True)])
    assert len(got) == 60
    for kind, values in got:
        assert values == (want_hooked if kind == "h" else want)
