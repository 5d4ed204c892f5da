"""Chapter 7's Keras workflow on nnbook.keras, beside real Keras when it is installed.

The models are written once against a ``keras`` namespace: ``nnbook.keras``
or, with ``--tf-python``, real Keras 3 (TensorFlow CPU) in another Python
interpreter running this same script. Only the namespace differs, as in a
user's code where only the import line changes.

1. ``chapter7``: the book's model, Dense(100, sigmoid, input_shape=(784,)) +
   Dense(10, softmax), optimizer='sgd', categorical_crossentropy, batch 32,
   on the book's split (pixels/255, stratified 80/20 of the 60,000 training
   images, random_state=42). Target: >= 0.85 validation accuracy (the book
   reports 0.863 with TensorFlow).
2. ``deep``: 784-256-128-10 relu, Adam (batch 64), sparse labels, trained on
   all 60,000 training images; target >= 0.88 on the 10,000 test images.
3. ``regularised``: the model Keras users write after the chapter,
   Input((28, 28)) -> Flatten -> Dense(256, relu, L2(1e-4)) ->
   BatchNormalization -> Dropout(0.2) -> Dense(128, relu) -> Dropout(0.2) ->
   Dense(10, softmax), Adam, with ModelCheckpoint(save_best_only) +
   ReduceLROnPlateau + EarlyStopping(restore_best_weights) on the validation
   split; target >= 0.885 on the test images.
With --compare-book: the hand-written MultiClassNetwork of chapter 6 (units=100,
batch_size=256), same epochs as the chapter-7 model.

Prints accuracy and seconds per epoch for each backend and the speed-up;
exits 1 if nnbook misses an accuracy target. A benchmark, not a test: the
figures depend on the machine.

Usage (from the repository root)::

    python benchmarks/keras_chapter7.py [--models chapter7,deep,regularised]
        [--epochs 40] [--deep-epochs 15] [--reg-epochs 30]
        [--tf-python /path/to/venv-with-tensorflow/bin/python] [--compare-book]

For the real-Keras side: ``python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip
install tensorflow-cpu==2.21.0``; that interpreter needs only NumPy and
TensorFlow (the parent process hands it the data in a temporary .npz file).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGETS = {"chapter7": 0.85, "deep": 0.88, "regularised": 0.885}


def chapter7(keras, data, epochs, workdir):
    keras.utils.set_random_seed(42)
    model = keras.Sequential()
    model.add(keras.layers.Dense(100, activation="sigmoid", input_shape=(784,)))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(data["x_train"], data["y_train_encoded"], epochs=epochs, verbose=2,
                        validation_data=(data["x_val"], data["y_val_encoded"]))
    seconds = time.perf_counter() - start
    return history.history["val_accuracy"][-1], seconds, len(history.history["loss"])


def deep(keras, data, epochs, workdir):
    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.layers.Dense(256, activation="relu", input_shape=(784,)),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.concatenate([data["x_train"], data["x_val"]])
    y = np.concatenate([data["y_train"], data["y_val"]])
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=64, verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(data["x_test"], data["y_test"], verbose=0)
    return accuracy, seconds, len(history.history["loss"])


def regularised(keras, data, epochs, workdir):
    keras.utils.set_random_seed(42)
    layers, regularizers, callbacks = keras.layers, keras.regularizers, keras.callbacks
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(256, activation="relu", kernel_regularizer=regularizers.L2(1e-4)),
        layers.BatchNormalization(),
        layers.Dropout(0.2),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    best = os.path.join(workdir, "best.keras")
    watch = [callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True),
             callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2),
             callbacks.EarlyStopping(monitor="val_loss", patience=5,
                                     restore_best_weights=True)]
    images = {k: data[k].reshape(-1, 28, 28) for k in ("x_train", "x_val", "x_test")}
    start = time.perf_counter()
    history = model.fit(images["x_train"], data["y_train"], epochs=epochs, batch_size=64,
                        verbose=2, callbacks=watch,
                        validation_data=(images["x_val"], data["y_val"]))
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(images["x_test"], data["y_test"], verbose=0)
    return accuracy, seconds, len(history.history["loss"])


MODELS = {"chapter7": chapter7, "deep": deep, "regularised": regularised}


def run_models(keras, data, names, epochs):
    out = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            accuracy, seconds, ran = MODELS[name](keras, data, epochs[name], workdir)
            out[name] = {"accuracy": float(accuracy), "seconds": seconds, "epochs": ran}
    return out


def load_split():
    from nnbook import datasets
    split = datasets.fashion_mnist_split(dtype=np.float32)
    return {k: getattr(split, k) for k in ("x_train", "x_val", "x_test", "y_train", "y_val",
                                           "y_test", "y_train_encoded", "y_val_encoded")}


def real_keras(tf_python, data, names, epochs):
    """This script's models on real Keras, in the interpreter tf_python."""
    with tempfile.TemporaryDirectory() as tmp:
        data_file, result_file = os.path.join(tmp, "data.npz"), os.path.join(tmp, "out.json")
        np.savez(data_file, **data)
        cmd = [tf_python, os.path.abspath(__file__), "--backend", "keras", "--data", data_file,
               "--result", result_file, "--models", ",".join(names)]
        cmd += [f"--{k}={v}" for k, v in (("epochs", epochs["chapter7"]),
                                          ("deep-epochs", epochs["deep"]),
                                          ("reg-epochs", epochs["regularised"]))]
        subprocess.run(cmd, check=True)
        with open(result_file) as f:
            return json.load(f)


def book_class(epochs):
    from nnbook import MultiClassNetwork, datasets
    split = datasets.fashion_mnist_split(dtype=np.float64)
    net = MultiClassNetwork(units=100, batch_size=256)
    start = time.perf_counter()
    net.fit(split.x_train, split.y_train_encoded, epochs=epochs,
            x_val=split.x_val, y_val=split.y_val_encoded)
    return net.score(split.x_val, split.y_val_encoded), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="chapter7,deep,regularised")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--deep-epochs", type=int, default=15)
    parser.add_argument("--reg-epochs", type=int, default=30)
    parser.add_argument("--tf-python", help="a Python with tensorflow-cpu installed")
    parser.add_argument("--compare-book", action="store_true")
    # internal: how the parent runs this script under real Keras
    parser.add_argument("--backend", choices=("nnbook", "keras"), default="nnbook",
                        help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    epochs = {"chapter7": args.epochs, "deep": args.deep_epochs,
              "regularised": args.reg_epochs}

    if args.backend == "keras":
        import keras
        with np.load(args.data) as f:
            data = {k: f[k] for k in f.files}
        with open(args.result, "w") as f:
            json.dump(run_models(keras, data, names, epochs), f)
        return 0

    import nnbook.keras as keras
    data = load_split()
    ours = run_models(keras, data, names, epochs)
    theirs = real_keras(args.tf_python, data, names, epochs) if args.tf_python else {}

    print()
    failed = False
    for name in names:
        r, target = ours[name], TARGETS[name]
        verdict = "ok" if r["accuracy"] >= target else f"BELOW {target}"
        failed |= r["accuracy"] < target
        per = r["seconds"] / r["epochs"]
        line = (f"{name}: nnbook accuracy {r['accuracy']:.4f} {verdict}, {per:.2f} s/epoch "
                f"({r['epochs']} epochs)")
        if name in theirs:
            t = theirs[name]
            t_per = t["seconds"] / t["epochs"]
            line += (f"; Keras {t['accuracy']:.4f}, {t_per:.2f} s/epoch "
                     f"-> nnbook {t_per / per:.1f}x faster per epoch")
        print(line)
    if args.compare_book:
        accuracy, seconds = book_class(args.epochs)
        print(f"MultiClassNetwork(units=100, batch 256): val accuracy {accuracy:.4f}, "
              f"{seconds / args.epochs:.2f} s/epoch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
