"""fit(validation_freq=), ProgbarLogger, the test/predict batch hooks of
evaluate/predict/validation, and a callback stopping training mid-epoch."""
import io
import re

import numpy as np
import pytest

from nnbook._network import CoreNetwork
from nnbook.keras import Sequential, callbacks, utils
from nnbook.keras.layers import Dense


def _model(seed=0, dtype="float64"):
    utils.set_random_seed(seed)
    model = Sequential([Dense(8, activation="tanh", input_shape=(5,)),
                        Dense(3, activation="softmax")], dtype=dtype)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, n)


class ValEpochs(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.validated = []

    def on_epoch_end(self, epoch, logs=None):
        if "val_loss" in logs:
            self.validated.append(epoch + 1)


@pytest.mark.parametrize("freq,expected", [(1, [1, 2, 3, 4, 5]), (2, [2, 4]), (5, [5]),
                                           ([1, 5], [1, 5]), ((3,), [3]), (range(2, 4), [2, 3])])
def test_validation_freq(freq, expected):
    x, y = _data()
    seen = ValEpochs()
    history = _model().fit(x, y, epochs=5, verbose=0, validation_data=(x, y),
                           validation_freq=freq, callbacks=[seen])
    assert seen.validated == expected
    assert len(history.history["val_loss"]) == len(expected)
    assert len(history.history["loss"]) == 5


@pytest.mark.parametrize("freq,pattern", [(0, "validation_freq=0"), (-1, "validation_freq=-1"),
                                          ("2", "list or int"), (True, "list or int"),
                                          ([1.5], "epoch numbers")])
def test_bad_validation_freq(freq, pattern):
    x, y = _data()
    with pytest.raises(ValueError, match=pattern):
        _model().fit(x, y, epochs=2, verbose=0, validation_data=(x, y), validation_freq=freq)


# -- ProgbarLogger --------------------------------------------------------------------

def test_fit_adds_a_progbar_logger_when_verbose(capsys):
    x, y = _data()
    seen = []

    class Peek(callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self)

    model = _model()
    model.fit(x, y, epochs=2, verbose=2, callbacks=[Peek()])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2" and len(out) == 4
    assert re.fullmatch(r"4/4 - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - .*", out[1])
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_a_passed_progbar_logger_is_the_only_one(capsys):
    x, y = _data()
    bar = callbacks.ProgbarLogger()
    _model().fit(x, y, epochs=3, verbose=2, callbacks=[bar])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6                      # header and one line per epoch, once
    assert bar.epochs == 3 and bar.target == 4 and bar.verbose == 2


def test_evaluate_and_predict_print_through_the_progbar_logger(capsys):
    x, y = _data()
    model = _model()
    model.evaluate(x, y, verbose=1, batch_size=25)
    model.predict(x, verbose=1, batch_size=50)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"4/4 \[={30}\] - \d+s \S+ - loss: \d\.\d{4} - accuracy: \d\.\d{4}",
                        lines[0]), lines
    assert re.fullmatch(r"2/2 \[={30}\] - \d+s \S+", lines[1]), lines
    # the validation pass inside fit is silent
    model.fit(x, y, epochs=1, verbose=2, validation_data=(x, y))
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_the_live_bar_keeps_the_one_call_epoch(monkeypatch):
    """On a terminal the bar is redrawn from the core's timed calls, not per batch."""
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    monkeypatch.setattr("sys.stdout", stream)
    intervals = []
    original = CoreNetwork.train_epoch

    def spy(self, *args, **kwargs):
        intervals.append(kwargs.get("callback_interval"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CoreNetwork, "train_epoch", spy)
    x, y = _data()
    _model().fit(x, y, epochs=2, verbose=1)
    assert intervals == [0.1, 0.1]              # timed, never 'after every batch'
    assert stream.getvalue().count("\n") == 4


# -- test and predict batch hooks ----------------------------------------------------

class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_test_begin(self, logs=None):
        self.events.append(("test_begin",))

    def on_test_batch_begin(self, batch, logs=None):
        self.events.append(("test_batch_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test_batch_end", batch, dict(logs)))

    def on_test_end(self, logs=None):
        self.events.append(("test_end", dict(logs)))

    def on_predict_begin(self, logs=None):
        self.events.append(("predict_begin",))

    def on_predict_batch_begin(self, batch, logs=None):
        self.events.append(("predict_batch_begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("predict_batch_end", batch, logs["outputs"].shape))

    def on_predict_end(self, logs=None):
        self.events.append(("predict_end",))


def test_evaluate_calls_the_test_hooks_batch_by_batch():
    x, y = _data()
    model = _model()
    plain = model.evaluate(x, y, verbose=0, return_dict=True)
    rec = Recorder()
    hooked = model.evaluate(x, y, batch_size=30, verbose=0, return_dict=True, callbacks=[rec])
    kinds = [e[:2] for e in rec.events]
    assert kinds == ([("test_begin",)]
                     + [(k, b) for b in range(4) for k in ("test_batch_begin", "test_batch_end")]
                     + [("test_end", hooked)])
    last = rec.events[-2][2]
    assert last["loss"] == pytest.approx(hooked["loss"], rel=1e-12)
    assert last["accuracy"] == hooked["accuracy"]
    # the first batch's running logs are the first 30 rows' values
    first = model.evaluate(x[:30], y[:30], verbose=0, return_dict=True)
    assert rec.events[2][2]["loss"] == pytest.approx(first["loss"], rel=1e-12)
    assert rec.events[2][2]["accuracy"] == first["accuracy"]
    assert hooked["loss"] == pytest.approx(plain["loss"], rel=1e-12)
    assert hooked["accuracy"] == plain["accuracy"]


def test_predict_calls_the_predict_hooks_batch_by_batch():
    x, _ = _data()
    model = _model()
    rec = Recorder()
    out = model.predict(x, batch_size=40, verbose=0, callbacks=[rec])
    assert rec.events == [("predict_begin",), ("predict_batch_begin", 0),
                          ("predict_batch_end", 0, (40, 3)), ("predict_batch_begin", 1),
                          ("predict_batch_end", 1, (40, 3)), ("predict_batch_begin", 2),
                          ("predict_batch_end", 2, (20, 3)), ("predict_end",)]
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-13)


def test_validation_in_fit_calls_the_test_hooks():
    x, y = _data()
    rec = Recorder()
    _model().fit(x, y, epochs=2, verbose=0, validation_data=(x[:50], y[:50]),
                 validation_batch_size=20, validation_freq=2, callbacks=[rec])
    kinds = [e[:2] for e in rec.events]
    assert kinds[:-1] == ([("test_begin",)]
                          + [(k, b) for b in range(3)
                             for k in ("test_batch_begin", "test_batch_end")])
    assert kinds[-1][0] == "test_end" and sorted(kinds[-1][1]) == ["accuracy", "loss"]


def test_without_test_hooks_evaluate_is_one_forward_call(monkeypatch):
    calls = []
    original = CoreNetwork.forward_loss

    def spy(self, *args, **kwargs):
        calls.append(args[0].shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CoreNetwork, "forward_loss", spy)
    x, y = _data()
    model = _model()

    class EpochOnly(callbacks.Callback):
        def on_test_end(self, logs=None):
            self.logs = logs

    cb = EpochOnly()
    logs = model.evaluate(x, y, batch_size=10, verbose=0, callbacks=[cb], return_dict=True)
    assert calls == [100] and cb.logs == logs


def test_evaluate_and_predict_refuse_callbacks_that_are_not_callbacks():
    x, y = _data()
    model = _model()
    with pytest.raises(TypeError, match="Callback"):
        model.evaluate(x, y, verbose=0, callbacks=[print])
    with pytest.raises(TypeError, match="callbacks="):
        model.predict(x, verbose=0, callbacks="progbar")


# -- stopping mid-epoch --------------------------------------------------------------

def test_a_callback_stops_training_mid_epoch_as_keras():
    """stop_training in on_train_batch_end of epoch 2, batch 2: no batch after
    it; the epoch still validates and ends; on_train_end runs once."""
    x, y = _data()

    class StopThere(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.events = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.events.append((self.epoch, batch))
            if (self.epoch, batch) == (1, 2):
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.events.append(("end", epoch, "val_loss" in logs))

        def on_train_end(self, logs=None):
            self.events.append("train_end")

    model = _model()
    stop = StopThere()
    history = model.fit(x, y, batch_size=25, epochs=5, verbose=0, shuffle=False,
                        validation_data=(x, y), callbacks=[stop])
    assert stop.events == ([(0, b) for b in range(4)] + [("end", 0, True)]
                           + [(1, b) for b in range(3)] + [("end", 1, True), "train_end"])
    assert history.epoch == [0, 1] and model.optimizer.iterations == 4 + 3
    # the same weights as one epoch and the first three batches of the next
    ref = _model()
    ref.fit(x, y, batch_size=25, epochs=1, verbose=0, shuffle=False)
    ref.fit(x[:75], y[:75], batch_size=25, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
