"""Models used from many threads at once: a web server predicting from one
model while other models train, and a fit beside predictions on the same
model. Every answer equals the serial answer bit for bit."""
import threading

import numpy as np
import pytest

import nnbook
from nnbook.keras import Sequential, utils
from nnbook.keras.layers import Dense


def _data(n=3000, features=50, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), np.eye(classes)[rng.integers(0, classes, n)]


def _run_threads(targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as exc:   # surfaced after join
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _keras_model(seed=0):
    utils.set_random_seed(seed)
    model = Sequential([Dense(20, activation="relu", input_shape=(50,)),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("api", ["book", "keras"])
def test_four_predicting_threads_beside_two_fitting_ones(api):
    x, y = _data()
    if api == "book":
        model = nnbook.MultiClassNetwork(units=20).fit(x, y, epochs=1)
        predict = model.predict
        fresh = [lambda: nnbook.MultiClassNetwork(units=40, batch_size=64) for _ in range(2)]
        fit = [lambda m: m.fit(x, y, epochs=3)] * 2
        serial_fit = nnbook.MultiClassNetwork(units=40, batch_size=64).fit(x, y, epochs=3)
        weights = lambda m: [m.w1, m.w2, m.b1, m.b2]
    else:
        model = _keras_model()
        model.fit(x, y, epochs=1, verbose=0)
        predict = lambda rows: model.predict(rows, verbose=0)
        fresh = [lambda: _keras_model(7) for _ in range(2)]
        fit = [lambda m: m.fit(x, y, epochs=3, batch_size=64, verbose=0, shuffle=False)] * 2
        serial_fit = _keras_model(7)
        serial_fit.fit(x, y, epochs=3, batch_size=64, verbose=0, shuffle=False)
        weights = lambda m: m.get_weights()
    expected = predict(x)
    got = []
    fitted = [make() for make in fresh]

    def predictor():
        for _ in range(15):
            got.append(predict(x))

    _run_threads([predictor] * 4 + [lambda m=m, f=f: f(m) for m, f in zip(fitted, fit)])
    assert len(got) == 60
    for out in got:
        np.testing.assert_array_equal(out, expected)
    for m in fitted:
        for a, b in zip(weights(m), weights(serial_fit)):
            np.testing.assert_array_equal(a, b)


def test_fit_beside_predict_on_the_same_model_is_serialised():
    """Predictions taken while the same model trains see the parameters of
    some completed training call, never a half-updated mix."""
    x, y = _data(n=2000)
    model = _keras_model()
    model.fit(x, y, epochs=1, verbose=0)
    stop = threading.Event()
    outs = []

    def predictor():
        while not stop.is_set():
            outs.append(model.predict(x[:200], verbose=0))

    def trainer():
        try:
            model.fit(x, y, epochs=8, batch_size=32, verbose=0)
        finally:
            stop.set()

    _run_threads([predictor, predictor, trainer])
    assert outs
    for out in outs:
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_parameters_read_during_a_fit_are_a_completed_state():
    # the book's fit runs many batches per core call: every read between calls
    # must equal a state reached after a whole number of batches
    x, y = _data(n=600, features=20)
    net = nnbook.MultiClassNetwork(units=10, batch_size=16)
    seen = []

    def watch(epoch, logs):
        seen.append(net.predict(x[:50]).copy())

    net.fit(x, y, epochs=5, callback=watch)
    again = nnbook.MultiClassNetwork(units=10, batch_size=16)
    replay = []
    again.fit(x, y, epochs=5, callback=lambda e, logs: replay.append(again.predict(x[:50])))
    for a, b in zip(seen, replay):
        np.testing.assert_array_equal(a, b)


def test_the_thread_setting_is_what_the_user_set_even_during_a_fit():
    x, y = _data(n=4000, features=100)
    before = nnbook.get_num_threads()
    nnbook.set_num_threads(2)
    try:
        seen = []
        t = threading.Thread(target=lambda: nnbook.MultiClassNetwork(units=64, batch_size=128)
                             .fit(x, y, epochs=3))
        t.start()
        while t.is_alive():
            seen.append(nnbook.get_num_threads())
        t.join()
        assert set(seen) == {2}
    finally:
        nnbook.set_num_threads(before)


@pytest.mark.parametrize("api", ["book", "keras"])
def test_two_fits_of_one_model_take_turns(api):
    x, y = _data(n=1500)
    if api == "book":
        model = nnbook.MultiClassNetwork(units=20, batch_size=64)
        fit = lambda: model.fit(x, y, epochs=4)
        alone = nnbook.MultiClassNetwork(units=20, batch_size=64).fit(x, y, epochs=4)
        _run_threads([fit, fit])
        np.testing.assert_array_equal(model.losses, alone.losses)
        np.testing.assert_array_equal(model.w1, alone.w1)
    else:
        model = _keras_model(3)
        fit = lambda: model.fit(x, y, epochs=3, batch_size=64, verbose=0, shuffle=False)
        _run_threads([fit, fit])
        serial = _keras_model(3)
        for _ in range(2):
            serial.fit(x, y, epochs=3, batch_size=64, verbose=0, shuffle=False)
        for a, b in zip(model.get_weights(), serial.get_weights()):
            np.testing.assert_array_equal(a, b)
