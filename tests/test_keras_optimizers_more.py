"""The optimizers and learning-rate schedules past chapter 7: by name, as
objects, their defaults (Keras 3's), and a schedule's rate read back."""
import numpy as np
import pytest

from nnbook.keras import Sequential, optimizers, utils
from nnbook.keras.layers import Dense
from nnbook.keras.optimizers import schedules


@pytest.mark.parametrize("name,cls,defaults", [
    ("adagrad", optimizers.Adagrad, dict(learning_rate=0.001, initial_accumulator_value=0.1,
                                         epsilon=1e-7)),
    ("adadelta", optimizers.Adadelta, dict(learning_rate=0.001, rho=0.95, epsilon=1e-7)),
    ("adamax", optimizers.Adamax, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999)),
    ("nadam", optimizers.Nadam, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999)),
    ("adamw", optimizers.AdamW, dict(learning_rate=0.001, weight_decay=0.004)),
])
def test_by_name_with_keras_defaults(name, cls, defaults):
    opt = optimizers.get(name)
    assert isinstance(opt, cls)
    for key, value in defaults.items():
        assert getattr(opt, key) == value


def test_a_schedule_drives_the_rate_per_update_and_is_not_settable():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    utils.set_random_seed(0)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    lr = schedules.PiecewiseConstantDecay([4, 9], [0.1, 0.01, 0.001])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="binary_crossentropy")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)       # 10 updates
    assert model.optimizer.iterations == 10
    assert model.optimizer.learning_rate == 0.001            # step 10 > 9
    with pytest.raises(TypeError, match="not settable"):
        model.optimizer.learning_rate = 0.5


@pytest.mark.parametrize("schedule,steps,expected", [
    (lambda: schedules.ExponentialDecay(1.0, 10, 0.5), [0, 10, 15], [1.0, 0.5, 0.5 ** 1.5]),
    (lambda: schedules.ExponentialDecay(1.0, 10, 0.5, staircase=True), [9, 10, 19], [1, .5, .5]),
    (lambda: schedules.CosineDecay(2.0, 10, alpha=0.5), [0, 5, 10, 20], [2.0, 1.5, 1.0, 1.0]),
])
def test_schedule_values(schedule, steps, expected):
    s = schedule()
    assert [s(k) for k in steps] == pytest.approx(expected)
    assert schedules.deserialize(schedules.serialize(s))(steps[-1]) == pytest.approx(expected[-1])


@pytest.mark.parametrize("make,match", [
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1]), "1 less than"),
    (lambda: schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), "must increase"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_steps=5), "no warm-up"),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda: optimizers.AdamW(weight_decay="a lot"), "weight_decay"),
])
def test_bad_arguments(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_keras_files_refuse_what_their_layout_lacks_and_weights_still_travel(tmp_path):
    pytest.importorskip("h5py")
    utils.set_random_seed(0)
    model = Sequential([Dense(3, activation="relu", input_shape=(2,)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Nadam(), loss="binary_crossentropy")
    # (refused before the Keras file layout learnt Nadam; see test_keras_files_layers)
    model.save(tmp_path / "m.keras")
    from nnbook.keras.models import load_model
    assert type(load_model(tmp_path / "m.keras").optimizer).__name__ == "Nadam"
    model.save_weights(tmp_path / "m.weights.h5")
    before = model.get_weights()
    model.set_weights([w * 0 for w in before])
    model.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    model.save(tmp_path / "m.npz")            # nnbook's own file keeps everything
