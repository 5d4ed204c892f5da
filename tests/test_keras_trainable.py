"""layer.trainable = False freezes a layer in the core: its weights and
their optimizer state stay put, the other layers train as before, and
summary() counts the frozen weights as non-trainable."""
import io

import numpy as np
import pytest

from nnbook.keras import Sequential, optimizers, utils
from nnbook.keras.layers import Dense


def _model(opt="adam"):
    utils.set_random_seed(0)
    model = Sequential([Dense(6, activation="relu", input_shape=(4,)),
                        Dense(5, activation="tanh"),
                        Dense(2, activation="softmax")])
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 4)), rng.integers(0, 2, 64)


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop",
                                 lambda: optimizers.SGD(0.1, momentum=0.9)])
def test_a_frozen_layer_does_not_move(opt):
    x, y = _data()
    model = _model(opt() if callable(opt) else opt)
    model.layers[1].trainable = False
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(after[2], before[2])
    np.testing.assert_array_equal(after[3], before[3])
    assert not np.array_equal(after[0], before[0])
    assert not np.array_equal(after[4], before[4])


def test_unfreezing_trains_again_and_model_trainable_sets_every_layer():
    x, y = _data()
    model = _model()
    model.trainable = False
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert model.trainable is False
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(model.get_weights()[0], before[0])
    np.testing.assert_array_equal(model.get_weights()[2], before[2])


def test_frozen_first_layer_equals_training_the_rest_alone():
    # freezing layer 0 is the same as training layers 1.. on layer 0's outputs
    x, y = _data()
    model = _model("sgd")
    model.layers[0].trainable = False
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    utils.set_random_seed(0)
    full = _model("sgd")
    w0 = full.get_weights()[:2]
    hidden = np.maximum(x @ w0[0] + w0[1], 0)
    rest = Sequential([Dense(5, activation="tanh", input_shape=(6,)),
                       Dense(2, activation="softmax")])
    rest.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rest.set_weights(full.get_weights()[2:])
    rest.fit(hidden.astype("float32"), y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights()[2:], rest.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_summary_counts_frozen_weights_as_non_trainable():
    model = _model()
    model.layers[0].trainable = False
    out = io.StringIO()
    model.summary(print_fn=lambda line: out.write(line + "\n"))
    text = out.getvalue()
    assert "Total params: 77" in text
    assert "Trainable params: 47" in text and "Non-trainable params: 30" in text


@pytest.mark.parametrize("bad", [None, 1, "no"])
def test_trainable_must_be_a_bool(bad):
    with pytest.raises((TypeError, ValueError), match="trainable"):
        Dense(3, trainable=bad)
