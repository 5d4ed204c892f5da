"""Chapter 7's Keras workflow on nnbook.keras, and a deeper Keras model.

1. The book's model: Dense(100, sigmoid, input_shape=(784,)) + Dense(10,
   softmax), optimizer='sgd', categorical_crossentropy, 40 epochs on the
   book's split (pixels/255, stratified 80/20 of the 60,000 training images,
   random_state=42). Issue 4 asks for >= 0.85 validation accuracy (the book
   reports 0.863 with TensorFlow).
2. A deeper model: 784-256-128-10 relu, Adam (batch 64), sparse labels,
   trained on all 60,000 training images (the book's train + validation
   parts; the test images are never seen in training); issue 4 asks for
   >= 0.88 on the 10,000 test images.
3. With --compare-book: the hand-written MultiClassNetwork of the same width
   (units=100, batch_size=256, the book's settings), same number of epochs.

Prints accuracy and seconds; exits 1 if a target is missed.

Usage::

    python benchmarks/keras_chapter7.py [--epochs 40] [--deep-epochs 15] [--compare-book]
"""
import argparse
import sys
import time

import numpy as np

from nnbook import datasets
from nnbook.keras import Sequential, optimizers, utils
from nnbook.keras.layers import Dense


def chapter7(split, epochs):
    utils.set_random_seed(42)
    model = Sequential()
    model.add(Dense(100, activation="sigmoid", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(split.x_train, split.y_train_encoded, epochs=epochs, verbose=2,
                        validation_data=(split.x_val, split.y_val_encoded))
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(split.x_val, split.y_val_encoded, verbose=0)
    assert accuracy == history.history["val_accuracy"][-1]
    return accuracy, seconds


def deep(split, epochs):
    utils.set_random_seed(42)
    model = Sequential([Dense(256, activation="relu", input_shape=(784,)),
                        Dense(128, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.001),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    x = np.concatenate([split.x_train, split.x_val])
    y = np.concatenate([split.y_train, split.y_val])
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(split.x_test, split.y_test, verbose=0)
    return accuracy, seconds


def book_class(split, epochs):
    from nnbook import MultiClassNetwork
    net = MultiClassNetwork(units=100, batch_size=256)
    start = time.perf_counter()
    net.fit(split.x_train, split.y_train_encoded, epochs=epochs,
            x_val=split.x_val, y_val=split.y_val_encoded)
    seconds = time.perf_counter() - start
    return net.score(split.x_val, split.y_val_encoded), seconds


def main(argv=None):
    # The chapter-7 model uses Keras's batch 32; nnbook.keras trains batches
    # of <= 64 rows with one BLAS thread (see nnbook.keras._core).
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--deep-epochs", type=int, default=15)
    parser.add_argument("--compare-book", action="store_true")
    parser.add_argument("--only-deep", action="store_true", help="skip the chapter-7 model")
    args = parser.parse_args(argv)
    split32 = datasets.fashion_mnist_split(dtype=np.float32)

    results = []
    if not args.only_deep:
        acc, sec = chapter7(split32, args.epochs)
        results.append(("chapter 7 Keras model, val accuracy", acc, sec, args.epochs, 0.85))
    acc, sec = deep(split32, args.deep_epochs)
    results.append(("784-256-128-10 relu Adam, test accuracy", acc, sec, args.deep_epochs, 0.88))
    if args.compare_book:
        split64 = datasets.fashion_mnist_split(dtype=np.float64)
        acc, sec = book_class(split64, args.epochs)
        results.append(("MultiClassNetwork(units=100, batch 256), val accuracy", acc, sec,
                        args.epochs, None))

    print()
    failed = False
    for name, acc, sec, epochs, target in results:
        verdict = "" if target is None else (" ok" if acc >= target else f" BELOW {target}")
        failed |= target is not None and acc < target
        print(f"{name}: {acc:.4f}{verdict}  ({sec:.1f} s for {epochs} epochs, "
              f"{sec / epochs:.2f} s/epoch)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
