"""Batch-level callbacks and the live progress bar of nnbook.keras's fit:
the core calls back between batches only when something asks for it."""
import io
import sys

import numpy as np
import pytest

from nnbook._network import CoreNetwork
from nnbook.keras import Sequential, callbacks, progress, utils
from nnbook.keras.layers import Dense


def _model(seed=0):
    utils.set_random_seed(seed)
    model = Sequential([Dense(8, activation="tanh", input_shape=(5,)),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n=100):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, n)


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("end", batch, dict(logs)))


def test_batch_hooks_see_every_batch_in_order_with_running_logs():
    x, y = _data()
    rec = Recorder()
    history = _model().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[rec])
    steps = 7                                   # 100 rows in batches of 16
    kinds = [e[:2] for e in rec.events]
    assert kinds == [(k, b) for _ in range(2) for b in range(steps) for k in ("begin", "end")]
    ends = [e[2] for e in rec.events if e[0] == "end"]
    # the last batch's running logs are the epoch's logs
    assert ends[steps - 1]["loss"] == history.history["loss"][0]
    assert ends[-1]["accuracy"] == history.history["accuracy"][1]
    assert all(0 <= e["accuracy"] <= 1 and np.isfinite(e["loss"]) for e in ends)


def test_batch_hooks_leave_the_numbers_alone():
    x, y = _data()
    plain = _model().fit(x, y, batch_size=16, epochs=3, verbose=0)
    hooked = _model().fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Recorder()])
    assert plain.history == hooked.history


@pytest.mark.parametrize("make", [
    lambda seen: callbacks.LambdaCallback(on_batch_end=lambda b, logs: seen.append(b)),
    lambda seen: callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b)),
])
def test_lambda_callback_batch_hooks(make):
    x, y = _data()
    seen = []
    _model().fit(x, y, batch_size=50, epochs=2, verbose=0, callbacks=[make(seen)])
    assert seen == [0, 1, 0, 1]


def test_the_older_on_batch_end_name_works_in_a_subclass():
    x, y = _data()

    class Old(callbacks.Callback):
        seen = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append(batch)

    _model().fit(x, y, batch_size=25, epochs=1, verbose=0, callbacks=[Old()])
    assert Old.seen == [0, 1, 2, 3]


def test_lambda_callback_refuses_an_unknown_hook():
    with pytest.raises(ValueError, match="no hook 'on_batch_ends'"):
        callbacks.LambdaCallback(on_batch_ends=print)


def test_a_batch_callback_can_stop_training_mid_epoch():
    x, y = _data()

    class StopAfter(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                self.model.stop_training = True

    model = _model()
    history = model.fit(x, y, batch_size=10, epochs=5, verbose=0, shuffle=False,
                        callbacks=[StopAfter()])
    assert len(history.history["loss"]) == 1
    # the weights are those after 4 batches: one epoch over the first 40 rows
    first = _model()
    reference = first.fit(x[:40], y[:40], batch_size=10, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history.history["loss"][0] == pytest.approx(reference.history["loss"][0], rel=1e-6)


def test_without_batch_hooks_the_epoch_is_one_uncalled_core_call(monkeypatch):
    x, y = _data()
    seen = []
    original = CoreNetwork.train_epoch

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("callback"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CoreNetwork, "train_epoch", spy)
    _model().fit(x, y, batch_size=10, epochs=2, verbose=0,
                 callbacks=[callbacks.EarlyStopping(monitor="loss")])
    assert seen == [None, None]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_live_bar_on_a_terminal_and_clean_lines_through_a_pipe(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6000, 20)), rng.integers(0, 3, 6000)
    utils.set_random_seed(0)
    model = Sequential([Dense(16, activation="relu", input_shape=(20,)),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    # redraw after every batch, so the test does not depend on the machine's speed
    monkeypatch.setattr(progress, "LIVE_SECONDS", 0.0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=1)
    text = terminal.getvalue()
    assert " - ETA: " in text and text.count("\r") == 1500      # 1499 redraws, then the end
    assert text.rstrip("\n").split("\r")[-1].startswith("1500/1500 [")
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", pipe)
    model.fit(x[:400], y[:400], batch_size=4, epochs=2, verbose=1)
    lines = pipe.getvalue().splitlines()
    assert "\r" not in pipe.getvalue() and "ETA" not in pipe.getvalue()
    assert [l.split(" ")[0] for l in lines] == ["Epoch", "100/100", "Epoch", "100/100"]
