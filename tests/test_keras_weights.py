"""fit(sample_weight=, class_weight=) and evaluate(sample_weight=) weighted as
Keras 3 weights them: a batch's loss is sum_i w_i l_i / m (its sum over batch
size, not divided by the weights' sum); class_weight is a weight per row;
compiled metrics stay unweighted."""
import numpy as np
import pytest

from nnbook.keras import Sequential, optimizers, utils
from nnbook.keras.layers import Dense


def _model(lr=0.1, dtype="float64"):
    utils.set_random_seed(0)
    model = Sequential([Dense(6, activation="tanh", input_shape=(4,)),
                        Dense(3, activation="softmax")], dtype=dtype)
    model.compile(optimizer=optimizers.SGD(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, n)


def test_integer_sample_weights_equal_repeated_rows_at_a_scaled_rate():
    # one full batch: Keras's gradient is sum_i w_i g_i / m; repeating row i
    # w_i times gives sum_i w_i g_i / m' (m' = sum w): the same step at lr*m'/m
    x, y = _data()
    w = np.random.default_rng(1).integers(0, 4, len(x)).astype(float)
    m, m_rep = len(x), int(w.sum())
    weighted = _model(lr=0.1)
    hw = weighted.fit(x, y, batch_size=m, epochs=1, verbose=0, shuffle=False, sample_weight=w)
    repeated = _model(lr=0.1 * m_rep / m)
    hr = repeated.fit(np.repeat(x, w.astype(int), axis=0), np.repeat(y, w.astype(int)),
                      batch_size=m_rep, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(weighted.get_weights(), repeated.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert hw.history["loss"][0] == pytest.approx(hr.history["loss"][0] * m_rep / m, rel=1e-12)


def test_class_weight_is_a_weight_per_row():
    x, y = _data()
    table = {0: 0.5, 1: 2.0}                       # class 2 is missing: weight 1
    a = _model()          # (each model reseeds the shuffles: build, then fit)
    ha = a.fit(x, y, batch_size=8, epochs=2, verbose=0, class_weight=table)
    b = _model()
    hb = b.fit(x, y, batch_size=8, epochs=2, verbose=0,
               sample_weight=np.array([table.get(c, 1.0) for c in y]))
    assert ha.history == hb.history
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_class_weight_with_one_hot_and_binary_targets():
    x, y = _data()
    onehot = utils.to_categorical(y, 3)
    utils.set_random_seed(0)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))], dtype="float64")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    h1 = model.fit(x, onehot, epochs=1, verbose=0, shuffle=False, class_weight={2: 3.0})
    utils.set_random_seed(0)
    twin = Sequential([Dense(3, activation="softmax", input_shape=(4,))], dtype="float64")
    twin.compile(optimizer="sgd", loss="categorical_crossentropy")
    h2 = twin.fit(x, onehot, epochs=1, verbose=0, shuffle=False,
                  sample_weight=np.where(y == 2, 3.0, 1.0))
    assert h1.history == h2.history
    utils.set_random_seed(0)
    binary = Sequential([Dense(1, activation="sigmoid", input_shape=(4,))])
    binary.compile(optimizer="sgd", loss="binary_crossentropy")
    binary.fit(x, (y > 0).astype(float), epochs=1, verbose=0, class_weight={0: 2.0, 1: 0.5})


def test_evaluate_weights_the_loss_not_the_accuracy():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    w = np.linspace(0, 2, len(x))
    loss, accuracy = model.evaluate(x, y, sample_weight=w, verbose=0)
    p = model.predict(x, verbose=0)
    expected = np.sum(w * -np.log(p[np.arange(len(y)), y])) / len(x)
    assert loss == pytest.approx(expected, rel=1e-10)
    assert accuracy == model.evaluate(x, y, verbose=0)[1]


def test_validation_split_splits_the_weights_too():
    x, y = _data()
    w = np.linspace(0.5, 1.5, len(x))
    model = _model()
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=w)
    val_loss = model.evaluate(x[30:], y[30:], sample_weight=w[30:], verbose=0)[0]
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-12)
    h3 = _model().fit(x[:30], y[:30], epochs=1, verbose=0, sample_weight=w[:30],
                      validation_data=(x[30:], y[30:], w[30:]))
    assert h3.history["val_loss"][0] == pytest.approx(history.history["val_loss"][0], rel=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sample_weight=np.ones(39)), r"one weight per sample: shape \(40,\)"),
    (dict(sample_weight=-np.ones(40)), "must not be negative"),
    (dict(sample_weight=np.full(40, np.nan)), "sample_weight"),
    (dict(class_weight={3: 1.0}), "class indices 0..2"),
    (dict(class_weight={0: -1.0}), "class_weight"),
    (dict(class_weight=[1.0, 2.0]), "must be a dict"),
    (dict(class_weight={0: 1.0}, sample_weight=np.ones(40)), "at the same time"),
])
def test_weight_errors(kwargs, match):
    x, y = _data()
    x0, y0 = x.copy(), y.copy()
    with pytest.raises((ValueError, TypeError), match=match):
        _model().fit(x, y, epochs=1, verbose=0, **kwargs)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
