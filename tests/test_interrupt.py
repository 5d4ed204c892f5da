"""Ctrl-C during a long core call: KeyboardInterrupt arrives between two
batches, long before the running epoch could end; the model keeps the
parameters of its last completed batch, stays usable, and the completed
epochs are kept. Batch callbacks see every batch and can stop training."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import nnbook
from nnbook import _nncore
from nnbook._network import CoreNetwork
from nnbook.keras import Sequential, utils
from nnbook.keras.layers import Dense

pytestmark = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                reason="signals reach the main thread only")


def _sigint_after(seconds):
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _slow_net(dtype=np.float64):
    # one epoch of this takes seconds (many small batches of a wide network)
    net = CoreNetwork([400, 512, 10], ["sigmoid", "softmax"], "categorical_crossentropy",
                      dtype, optimizer="sgd", learning_rate=0.01)
    rng = np.random.default_rng(0)
    net.params[...] = rng.normal(scale=0.05, size=net.params.size)
    x = rng.normal(size=(20000, 400)).astype(dtype)
    y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 20000)]
    return net, x, y


def _one_epoch_seconds(net, x, y, rows=2000):
    start = time.perf_counter()
    net.train_epoch(x[:rows], y[:rows], 8)
    return (time.perf_counter() - start) * len(x) / rows


def test_ctrl_c_stops_a_long_epoch_between_batches():
    net, x, y = _slow_net()
    before = net.params.copy()
    timer = _sigint_after(0.3)
    with pytest.raises(KeyboardInterrupt) as info:
        net.train_epochs(x, y, 8, 3)
    timer.join()
    # stopped inside the first epoch (of 2500 batches), not at its end
    assert 0 < net.step < len(x) // 8
    assert info.value.nnbook_completed[0].size == 0
    assert not np.array_equal(net.params, before)
    assert np.isfinite(net.params).all()
    # still usable
    out = net.forward(x[:10])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert np.isfinite(net.train_epoch(x[:100], y[:100], 8))


def test_the_interrupted_parameters_are_those_of_the_completed_batches():
    net, x, y = _slow_net()
    start_params = net.params.copy()
    timer = _sigint_after(0.2)
    with pytest.raises(KeyboardInterrupt):
        net.train_epochs(x, y, 8, 1)
    timer.join()
    batches = net.step
    assert 0 < batches < len(x) // 8
    replay, _, _ = _slow_net()
    replay.params[...] = start_params
    replay.train_epochs(x[:batches * 8], y[:batches * 8], 8, 1)
    np.testing.assert_array_equal(net.params, replay.params)


def test_completed_epochs_travel_with_the_interrupt():
    net, x, y = _slow_net()
    x, y = x[:3000], y[:3000]
    per_epoch = _one_epoch_seconds(net, x, y, rows=3000)
    epochs = int(2.0 / per_epoch) + 3
    # 2.5 epochs' time, measured here: a fixed cap would stop a slow build
    # (the sanitizers instrument the core's own kernels) inside its first epoch
    timer = _sigint_after(per_epoch * 2.5)
    with pytest.raises(KeyboardInterrupt) as info:
        net.train_epochs(x, y, 8, epochs, val=(x[:500], y[:500]))
    timer.join()
    losses, penalties, val = info.value.nnbook_completed
    assert 1 <= len(losses) < epochs
    assert len(penalties) == len(val) == len(losses)
    assert np.isfinite(losses).all() and np.isfinite(val).all()


def test_ctrl_c_stops_a_long_prediction():
    # one forward call of ~200 GFLOP: many seconds, unless the hook stops it
    net = CoreNetwork([400, 2048, 2048, 10], ["relu", "relu", "softmax"],
                      "categorical_crossentropy", np.float32)
    net.params[...] = 0.01
    x = np.ones((20000, 400), np.float32)
    start = time.perf_counter()
    net.forward(x[:1024])
    chunk_seconds = time.perf_counter() - start
    timer = _sigint_after(0.2)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        net.forward(x)
    timer.join()
    assert time.perf_counter() - start < chunk_seconds * 19 / 2


def test_keras_fit_keeps_the_completed_epochs():
    utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20000, 300)).astype("float32")
    y = rng.integers(0, 10, 20000)
    model = Sequential([Dense(256, activation="relu", input_shape=(300,)),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit(x[:2000], y[:2000], epochs=1, batch_size=8, verbose=0)
    epoch_seconds = (time.perf_counter() - start) * 10
    timer = _sigint_after(epoch_seconds * 1.5)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=50, batch_size=8, verbose=0)
    timer.join()
    assert 1 <= len(model.history.history["loss"]) < 50
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.evaluate(x[:100], y[:100], verbose=0))


def test_a_batch_callback_sees_every_batch_and_can_stop():
    net, x, y = _slow_net()
    x, y = x[:100], y[:100]
    seen = []

    def callback(progress):
        seen.append(progress)
        epoch, batch, batches, rows, loss_sum, correct, counts = progress
        return epoch == 1 and batch == 5

    losses, penalties, val = net.train_epochs(x, y, 8, 3, callback=callback)
    assert len(losses) == 1                 # the second epoch was stopped
    assert net.step == 13 + 5               # 13 batches of epoch 0, 5 of epoch 1
    assert [p[:3] for p in seen[:13]] == [(0, b, 13) for b in range(1, 14)]
    assert seen[12][3] == 100
    assert seen[12][4] == pytest.approx(losses[0])


def test_an_error_in_a_batch_callback_stops_and_propagates():
    net, x, y = _slow_net()

    def callback(progress):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        net.train_epochs(x[:64], y[:64], 8, 2, callback=callback)
    assert net.step == 1                    # the batch before the callback is kept


def test_book_fit_keeps_every_completed_epoch():
    # small epochs: the core runs many of them per call, and the interrupt
    # lands inside such a call; the epochs it completed are all recorded
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 100))
    y = np.eye(10)[rng.integers(0, 10, 2000)]
    net = nnbook.MultiClassNetwork(units=64, batch_size=100)
    start = time.perf_counter()
    net.fit(x, y, epochs=5)
    epoch_seconds = (time.perf_counter() - start) / 5
    timer = _sigint_after(max(0.3, epoch_seconds * 20.5))
    with pytest.raises(KeyboardInterrupt):
        net.fit(x, y, epochs=100000, x_val=x[:200], y_val=y[:200])
    timer.join()
    completed = len(net.losses)
    # every epoch whose batches and validation pass all ran (20 batches each):
    # Ctrl-C lands in an epoch's batches, or after its last one, before its
    # validation pass is done (then that epoch is not counted either)
    batches = net._net.step
    assert completed >= 1
    assert completed == batches // 20 or (batches % 20 == 0 and completed == batches // 20 - 1)
    assert len(net.val_losses) == completed
    replay = nnbook.MultiClassNetwork(units=64, batch_size=100).fit(
        x, y, epochs=completed, x_val=x[:200], y_val=y[:200])
    np.testing.assert_array_equal(net.losses, replay.losses)
    np.testing.assert_array_equal(net.val_losses, replay.val_losses)
    assert net.predict(x[:5]).shape == (5,)
    net.fit(x[:100], y[:100], epochs=1)       # and trains again
    assert len(net.losses) == 1
