"""Make the Keras-file fixtures of tests/test_keras_files.py, with real Keras 3.

CI never installs TensorFlow: the files this writes are committed under
tests/fixtures/keras/, and the tests compare nnbook with them. It runs in
two steps, in two environments:

1. ``nnbook``: in nnbook's own venv, nnbook.keras builds and trains small
   models and saves them as ``.keras`` (and one ``.weights.h5``) files:
   ``nnbook_*.keras``, with ``nnbook_*.npz`` holding the inputs ``x`` and
   nnbook's predictions ``nnbook_predictions``.
2. ``keras``: in a venv with TensorFlow, real Keras (a) builds, trains briefly
   and saves ``keras_*.keras`` files, with ``keras_*.npz`` holding the
   inputs ``x`` and Keras's ``predictions`` (and for the Adam model, the
   batch ``x_more``/``y_more`` and the weights after one more epoch on it,
   ``weights_after_<i>``, which shows that the optimizer's state was read;
   and a functional model that is one chain of layers);
   (b) loads every ``nnbook_*.keras`` file and ``nnbook_*.weights.h5``
   file with ``keras.models.load_model`` / ``load_weights`` and adds its
   predictions to ``nnbook_*.npz`` as ``keras_predictions``; (c) saves files
   nnbook must refuse by name (a Conv2D, a functional graph with branches, a
   custom layer); (d) saves the issue-9 stack ``keras_issue9_stack`` (Flatten,
   Dense with an L2 regularizer, BatchNormalization, Dropout, Dense,
   Activation, Dense; Adam) with its predictions; (e) trains
   ``keras_opt_<name>`` (Flatten, Dense with L1L2, BatchNormalization,
   Activation, Dense) with every optimizer nnbook has (Adagrad with a frozen
   layer, Adadelta, Adamax, Nadam with label smoothing, AdamW with clipnorm,
   SGD with ExponentialDecay, Adam with PiecewiseConstantDecay, RMSprop with
   CosineDecay), saves it, then trains one more unshuffled epoch and stores
   the weights (``weights_after_<i>``): nnbook, reading the file, must land on
   them, which only happens if the optimizer's state was read right.

Step 1 also writes ``nnbook_issue9_stack`` (the issue-9 layers with every
regularizer, label smoothing and weighted metrics), ``nnbook_activations``
(float64: every activation nnbook has, BatchNormalization without center or
scale, a frozen layer, Nadam with CosineDecay, BinaryCrossentropy from
logits) and ``nnbook_opt_<name>`` (the same optimizers as (e)); in step 2,
Keras reads them (a "Skipping variable loading" warning stops the script),
stores its predictions, and for ``nnbook_opt_*`` trains one more unshuffled
epoch from nnbook's optimizer state (``keras_weights_after_<i>``).

Inputs are random but seeded (no data set is needed); the chapter-7 model
keeps its real size (784-100 sigmoid, 10 softmax, SGD: 0.32 MB of float32
weights), so nothing was shrunk. Every file stays under 1 MB.

How it was run (first 2026-11-28; again, with the issue-9 layers and every
optimizer, on the r3-exchange2 branch; Keras 3.15.1, TensorFlow 2.21.0, h5py):

    .venv/bin/python scripts/make_keras_fixtures.py nnbook
    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 h5py
    /tmp/tfenv/bin/python scripts/make_keras_fixtures.py keras

Both steps rewrite every file they own, so run them in this order.
"""
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "keras")


def _data(seed, rows, features, classes):
    rng = np.random.default_rng(seed)
    x = rng.random((rows, features), dtype=np.float64)
    y = rng.integers(0, classes, rows)
    return x, y


def _one_hot(y, k):
    return np.eye(k)[y]


def _path(name):
    return os.path.join(OUT, name)


# --------------------------------------------------------------------------
# step 1: nnbook writes .keras files
# --------------------------------------------------------------------------

def make_nnbook_files():
    from nnbook import keras as nk
    from nnbook.keras.layers import Dense

    nk.utils.set_random_seed(7)
    x, y = _data(1, 256, 784, 10)
    x = x.astype(np.float32)
    model = nk.Sequential([nk.Input(shape=(784,)), Dense(100, activation="sigmoid"),
                           Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, _one_hot(y, 10), epochs=2, batch_size=32, verbose=0)
    _save_nnbook(model, "nnbook_chapter7", x[:32])

    x, y = _data(2, 300, 20, 4)
    model = nk.Sequential([nk.Input(shape=(20,)), Dense(32, activation="relu"),
                           Dense(16, activation="tanh"), Dense(4)])
    model.compile(optimizer=nk.optimizers.Adam(learning_rate=0.003),
                  loss=nk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x.astype(np.float32), y, epochs=3, verbose=0)
    _save_nnbook(model, "nnbook_dense_adam", x[:50].astype(np.float32))
    model.save_weights(_path("nnbook_dense_adam.weights.h5"))

    x, y = _data(3, 200, 6, 2)
    model = nk.Sequential([nk.Input(shape=(6,)), Dense(5, activation="tanh"),
                           Dense(1, activation="sigmoid")], dtype="float64")
    model.compile(optimizer=nk.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    _save_nnbook(model, "nnbook_float64", x[:40])
    _make_nnbook_issue9_files()


#: The optimizers (with their schedules) saved by each side for the other to
#: read and continue, built from `module` (nnbook.keras or keras: the same
#: API): name -> (optimizer factory, frozen first Dense?)
def _optimizer_cases(module):
    opt, sched = module.optimizers, module.optimizers.schedules
    return {
        "adagrad": (lambda: opt.Adagrad(learning_rate=0.05), True),
        "adadelta": (lambda: opt.Adadelta(learning_rate=1.0), False),
        "adamax": (lambda: opt.Adamax(learning_rate=0.01), False),
        "nadam": (lambda: opt.Nadam(learning_rate=0.01), False),
        "adamw": (lambda: opt.AdamW(learning_rate=0.01, weight_decay=0.05, clipnorm=1.0), False),
        "sgd_exponential": (lambda: opt.SGD(
            learning_rate=sched.ExponentialDecay(0.1, decay_steps=5, decay_rate=0.5),
            momentum=0.9, nesterov=True), False),
        "adam_piecewise": (lambda: opt.Adam(
            learning_rate=sched.PiecewiseConstantDecay([6, 12], [0.02, 0.01, 0.005]),
            global_clipnorm=0.5), False),
        "rmsprop_cosine": (lambda: opt.RMSprop(
            learning_rate=sched.CosineDecay(0.01, decay_steps=40, alpha=0.1),
            clipvalue=0.1), True),
    }


def _make_nnbook_issue9_files():
    """The issue-9 layers, every activation, every optimizer and schedule, written by nnbook."""
    from nnbook import keras as nk
    L = nk.layers
    reg = nk.regularizers

    nk.utils.set_random_seed(12)
    images = np.random.default_rng(13).random((128, 6, 6)).astype(np.float32)
    labels = np.random.default_rng(14).integers(0, 3, 128)
    model = nk.Sequential([
        nk.Input(shape=(6, 6)), L.Flatten(),
        L.Dense(16, kernel_regularizer=reg.L2(0.01), bias_regularizer=reg.L1(0.001),
                activity_regularizer=reg.L1L2(l1=0.001, l2=0.002)),
        L.BatchNormalization(), L.Dropout(0.3, seed=5), L.Dense(8), L.Activation("gelu"),
        L.Dense(3, activation="softmax")])
    model.compile(optimizer=nk.optimizers.Adam(clipnorm=1.0),
                  loss=nk.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    model.fit(images, np.eye(3)[labels], epochs=2, verbose=0)
    _save_nnbook(model, "nnbook_issue9_stack", images[:20])

    # every activation nnbook has, BatchNormalization without center or scale, a frozen layer
    x = np.random.default_rng(15).normal(size=(96, 10))
    y = np.random.default_rng(16).integers(0, 2, 96)
    acts = ["elu", "selu", "gelu", "swish", "leaky_relu", "softplus", "softsign",
            "hard_sigmoid", "hard_silu", "exponential", "tanh", "relu", "sigmoid"]
    stack = [nk.Input(shape=(10,))]
    for i, act in enumerate(acts):
        stack.append(L.Dense(6, activation=act if i % 2 else None))
        if i % 2 == 0:
            stack.append(L.Activation(act))
        if i == 3:
            stack.append(L.BatchNormalization(center=False, momentum=0.9))
        if i == 7:
            stack.append(L.BatchNormalization(scale=False, epsilon=0.01))
    stack.append(L.Dense(1))
    model = nk.Sequential(stack, dtype="float64")
    model.layers[1].trainable = False
    model.compile(optimizer=nk.optimizers.Nadam(
        learning_rate=nk.optimizers.schedules.CosineDecay(0.003, decay_steps=50)),
        loss=nk.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x * 0.3, y, epochs=2, batch_size=16, verbose=0)
    _save_nnbook(model, "nnbook_activations", x[:30] * 0.3)

    # every optimizer and schedule: Keras continues training from the saved state
    x = np.random.default_rng(17).random((96, 3, 4)).astype(np.float32)
    y = np.random.default_rng(18).integers(0, 3, 96)
    for name, (make, frozen) in _optimizer_cases(nk).items():
        model = _small_stack(nk, L)
        if frozen:
            model.layers[1].trainable = False
        model.compile(optimizer=make(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        _save_nnbook(model, f"nnbook_opt_{name}", x[:32], x_more=x[:48], y_more=y[:48])


def _small_stack(k, L):
    """Flatten -> Dense(L1L2) -> BatchNormalization -> Activation -> Dense: no randomness
    in training, so nnbook and Keras continue it alike (k: nnbook.keras or keras). The
    Dense before the BatchNormalization has no bias: its gradient would be zero up to
    rounding, which Adam-like optimizers scale up to steps of the learning rate's size,
    different in every engine."""
    k.utils.set_random_seed(19)
    return k.Sequential([k.Input(shape=(3, 4)), L.Flatten(),
                         L.Dense(8, use_bias=False,
                                 kernel_regularizer=k.regularizers.L1L2(l1=0.001, l2=0.01)),
                         L.BatchNormalization(), L.Activation("elu"),
                         L.Dense(3, activation="softmax")])


def _save_nnbook(model, name, x, **extra):
    model.save(_path(name + ".keras"))
    np.savez(_path(name + ".npz"), x=x, nnbook_predictions=model.predict(x, verbose=0),
             **extra)


# --------------------------------------------------------------------------
# step 2: real Keras writes .keras files and reads nnbook's
# --------------------------------------------------------------------------

def make_keras_files():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(11)
    x, y = _data(4, 256, 784, 10)
    x = x.astype(np.float32)
    model = keras.Sequential([keras.Input(shape=(784,)),
                              keras.layers.Dense(100, activation="sigmoid"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, _one_hot(y, 10), epochs=2, batch_size=32, verbose=0)
    _save_keras(model, "keras_chapter7", x[:32])

    x, y = _data(5, 300, 20, 4)
    x = x.astype(np.float32)
    model = keras.Sequential([keras.Input(shape=(20,)),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(16, activation="tanh"),
                              keras.layers.Dense(8, activation="linear"),
                              keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    extra = {}
    more_x, more_y = x[:64], y[:64]
    _save_keras(model, "keras_dense_adam", x[:50])
    # one more epoch from the saved state, unshuffled: nnbook, having read the
    # optimizer's moments and step, must land on the same weights
    model.fit(more_x, more_y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    extra.update(x_more=more_x, y_more=more_y)
    extra.update({f"weights_after_{i}": w for i, w in enumerate(model.get_weights())})
    _add(_path("keras_dense_adam.npz"), **extra)

    x, y = _data(6, 200, 6, 3)
    keras.config.set_floatx("float64")          # the InputLayer's dtype
    keras.config.set_dtype_policy("float64")    # the layers' variables and computations
    model = keras.Sequential([keras.Input(shape=(6,)),
                              keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    _save_keras(model, "keras_float64", x[:40])
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")

    # a functional model that is one chain of layers: read like a Sequential
    x, y = _data(10, 100, 8, 3)
    inputs = keras.Input(shape=(8,))
    hidden = keras.layers.Dense(6, activation="relu")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x.astype(np.float32), y, epochs=2, verbose=0)
    _save_keras(model, "keras_functional_chain", x[:20].astype(np.float32))

    _refused_files(keras)
    _issue9_keras_files(keras)
    _read_nnbook_files(keras)


def _save_keras(model, name, x):
    model.save(_path(name + ".keras"))
    np.savez(_path(name + ".npz"), x=x, predictions=model.predict(x, verbose=0))


def _add(path, **arrays):
    with np.load(path) as f:
        merged = dict(f)
    merged.update(arrays)
    np.savez(path, **merged)


def _refused_files(keras):
    x, y = _data(7, 64, 12, 3)
    model = keras.Sequential([keras.Input(shape=(4, 3, 1)),
                              keras.layers.Conv2D(2, (2, 2), activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    model.save(_path("refused_conv2d.keras"))

    inputs = keras.Input(shape=(12,))
    left = keras.layers.Dense(4, activation="relu")(inputs)
    right = keras.layers.Dense(4, activation="tanh")(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.Add()([left, right]))
    keras.Model(inputs, outputs).save(_path("refused_functional_branches.keras"))

    @keras.saving.register_keras_serializable(package="fixtures")
    class Scale(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(3), Scale()])
    model.save(_path("refused_custom_layer.keras"))

    # the issue-9 stack: refused today (Flatten first), predictions kept for later
    images = np.random.default_rng(8).random((128, 6, 6), dtype=np.float64).astype(np.float32)
    labels = np.random.default_rng(9).integers(0, 3, 128)
    model = keras.Sequential([
        keras.Input(shape=(6, 6)), keras.layers.Flatten(),
        keras.layers.Dense(16, kernel_regularizer=keras.regularizers.l2(0.01)),
        keras.layers.BatchNormalization(), keras.layers.Dropout(0.3),
        keras.layers.Dense(8), keras.layers.Activation("relu"),
        keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images, labels, epochs=2, verbose=0)
    _save_keras(model, "keras_issue9_stack", images[:20])


def _issue9_keras_files(keras):
    """Keras's optimizers and schedules on the issue-9 layers, saved after training; with
    the weights after one more unshuffled epoch from the saved state."""
    L = keras.layers
    optimizers = _optimizer_cases(keras)
    x = np.random.default_rng(20).random((96, 3, 4)).astype(np.float32)
    y = np.random.default_rng(21).integers(0, 3, 96)
    losses = {"adamax": keras.losses.SparseCategoricalCrossentropy(),
              "nadam": keras.losses.CategoricalCrossentropy(label_smoothing=0.1)}
    for name, (make, frozen) in optimizers.items():
        model = _small_stack(keras, L)
        if frozen:
            model.layers[1].trainable = False
        loss = losses.get(name, "sparse_categorical_crossentropy")
        targets = np.eye(3)[y] if name == "nadam" else y
        model.compile(optimizer=make(), loss=loss, metrics=["accuracy"])
        model.fit(x, targets, epochs=2, batch_size=16, shuffle=False, verbose=0)
        _save_keras(model, f"keras_opt_{name}", x[:32])
        model.fit(x[:48], targets[:48], epochs=1, batch_size=16, shuffle=False, verbose=0)
        _add(_path(f"keras_opt_{name}.npz"), x_more=x[:48], y_more=targets[:48],
             **{f"weights_after_{i}": w for i, w in enumerate(model.get_weights())})


def _read_nnbook_files(keras):
    for name in ("nnbook_chapter7", "nnbook_dense_adam", "nnbook_float64",
                 "nnbook_issue9_stack", "nnbook_activations") + tuple(
                     f"nnbook_opt_{o}" for o in _optimizer_cases(keras)):
        with np.load(_path(name + ".npz")) as f:
            x = f["x"]
        # Keras's predict casts float inputs to floatx: float64 models need it set
        keras.config.set_floatx(x.dtype.name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = keras.models.load_model(_path(name + ".keras"))
        problems = [str(w.message) for w in caught if "Skipping" in str(w.message)
                    or "could not be loaded" in str(w.message)]
        if problems:
            raise SystemExit(f"{name}.keras: Keras warned {problems}")
        _add(_path(name + ".npz"), keras_predictions=model.predict(x, verbose=0))
        keras.config.set_floatx("float32")
        if name.startswith("nnbook_opt_"):
            # Keras continues from nnbook's saved optimizer state, unshuffled
            with np.load(_path(name + ".npz")) as f:
                more_x, more_y = f["x_more"], f["y_more"]
            model.fit(more_x, more_y, epochs=1, batch_size=16, shuffle=False, verbose=0)
            _add(_path(name + ".npz"), **{f"keras_weights_after_{i}": w
                                          for i, w in enumerate(model.get_weights())})
        if name == "nnbook_dense_adam":
            again = keras.models.clone_model(model)
            again.load_weights(_path(name + ".weights.h5"))
            _add(_path(name + ".npz"),
                 keras_predictions_from_weights=again.predict(x, verbose=0))


if __name__ == "__main__":
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    os.makedirs(OUT, exist_ok=True)
    if step == "nnbook":
        make_nnbook_files()
    elif step == "keras":
        make_keras_files()
    else:
        raise SystemExit("usage: make_keras_fixtures.py nnbook|keras (see the docstring)")
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        print(f"{name:45s} {size / 1e6:6.3f} MB")
        if size >= 1_000_000:
            raise SystemExit(f"{name} is {size:,} bytes; fixtures must stay under 1 MB")
