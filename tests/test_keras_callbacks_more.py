"""The callbacks Keras users write after chapter 7: ModelCheckpoint,
ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN, a
History passed in, and get_layer. Expected values are Keras 3's documented
behaviour (keras/callbacks/*.py), worked by hand where they are numbers."""
import csv

import numpy as np
import pytest

import nnbook
from nnbook.keras import Sequential, callbacks, models, optimizers, utils
from nnbook.keras.layers import Dense


def _model(lr=0.05, seed=0):
    utils.set_random_seed(seed)
    model = Sequential([Dense(8, activation="tanh", input_shape=(5,), name="hidden"),
                        Dense(3, activation="softmax", name="out")])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, n)


def test_learning_rate_scheduler_sets_each_epoch_and_logs_it():
    x, y = _data()
    model = _model()
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 3)
    # the rate really reaches the core: same as a model trained epoch by epoch
    twin = _model()
    for epoch in range(3):
        twin.optimizer.learning_rate = 0.1 / (epoch + 1)
        twin.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_learning_rate_scheduler_of_the_epoch_alone():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert model.optimizer.learning_rate == pytest.approx(0.02)


def test_learning_rate_scheduler_refuses_a_non_number():
    x, y = _data()
    with pytest.raises(ValueError, match="should be a float"):
        _model().fit(x, y, epochs=1, verbose=0,
                     callbacks=[callbacks.LearningRateScheduler(lambda e, lr: "fast")])


def test_reduce_lr_on_plateau_follows_patience_cooldown_and_min_lr():
    model = _model(lr=1.0)
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1,
                                     min_lr=0.2, min_delta=0.0)
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    # improves, then stalls for 6 epochs
    for epoch, loss in enumerate([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]):
        logs = {"loss": loss}
        cb.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.learning_rate)
    # Keras's rule: epochs 2, 3 wait 1, 2 -> halve at 3 and cool down one epoch;
    # epoch 4 ends the cooldown and already counts (wait 1), epoch 5 halves
    # again, 6 cools down and counts, 7 would halve to 0.125 but min_lr holds
    assert rates == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2])
    for epoch in range(8, 12):
        cb.on_epoch_end(epoch, {"loss": 0.9})
    assert model.optimizer.learning_rate == pytest.approx(0.2)      # never below min_lr


@pytest.mark.parametrize("factor", [1.0, 2, 0, -0.5])
def test_reduce_lr_on_plateau_refuses_bad_factors(factor):
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=factor)


def test_model_checkpoint_best_only_with_a_filename_template(tmp_path):
    x, y = _data()
    model = _model(lr=0.5)
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{loss:.3f}.npz"),
                                     monitor="loss", save_best_only=True)
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[ckpt])
    losses = history.history["loss"]
    best_so_far = np.minimum.accumulate(losses)
    expected = {f"m-{e + 1:02d}-{losses[e]:.3f}.npz" for e in range(4)
                if e == 0 or losses[e] < best_so_far[e - 1]}
    assert {p.name for p in tmp_path.iterdir()} == expected
    last = max(expected)
    loaded = models.load_model(tmp_path / last)
    assert loaded.get_layer("hidden").get_weights()[0].shape == (5, 8)


def test_model_checkpoint_every_epoch_and_every_n_batches(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0, batch_size=30,
              callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.npz")),
                         callbacks.ModelCheckpoint(str(tmp_path / "b{epoch}-{batch}.npz"),
                                                   save_freq=3)])
    names = sorted(p.name for p in tmp_path.iterdir())
    # 4 batches per epoch: batches 3, 6 of the run -> (epoch 1, batch 2), (epoch 2, batch 1)
    assert names == ["b1-2.npz", "b2-1.npz", "e1.npz", "e2.npz"]
    np.testing.assert_array_equal(models.load_model(tmp_path / "e2.npz").get_weights()[0],
                                  model.get_weights()[0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(filepath="m.h5"), "must end in `.keras`"),
    (dict(filepath="m.keras", save_weights_only=True), "must end in `.weights.h5`"),
    (dict(filepath="m.keras", mode="largest"), "mode must be"),
    (dict(filepath="m.keras", save_freq=0), "save_freq"),
])
def test_model_checkpoint_argument_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        callbacks.ModelCheckpoint(**kwargs)


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    model = _model()
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                        callbacks=[callbacks.CSVLogger(path)])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25,
              callbacks=[callbacks.CSVLogger(path, append=True)])
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1", "0"]
    assert float(rows[1]["loss"]) == pytest.approx(history.history["loss"][1])


def test_terminate_on_nan_stops_within_the_epoch():
    x, y = _data()
    utils.set_random_seed(0)
    model = Sequential([Dense(3, activation="linear", input_shape=(5,))])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e6), loss="mse")
    with pytest.warns(RuntimeWarning):
        history = model.fit(x * 1e3, np.ones((120, 3)), epochs=5, batch_size=4, verbose=0,
                            callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1


def test_a_history_passed_in_is_the_one_returned():
    x, y = _data()
    mine = callbacks.History()
    returned = _model().fit(x, y, epochs=2, verbose=0, callbacks=[mine])
    assert returned is mine and len(mine.history["loss"]) == 2


def test_get_layer_by_name_and_index():
    model = _model()
    assert model.get_layer("out") is model.layers[1]
    assert model.get_layer(index=-1) is model.layers[1]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="only has 2 layers"):
        model.get_layer(index=2)
    with pytest.raises(ValueError, match="either a layer name or layer index"):
        model.get_layer()
