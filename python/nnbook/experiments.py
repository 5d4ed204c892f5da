"""The experiments of chapters 6 and 7, with the book's settings and numbers.

Each :class:`Experiment` says which model to build, on which data, for how
many epochs, and what validation accuracy the book printed. :func:`run_book`
and :func:`run_keras` train one and return a :class:`Result` (the row of the
final table, plus the loss curves for the figure).
"""
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from . import book
from .progress import ProgressBar

__all__ = ["Experiment", "Result", "EXPERIMENTS", "MODEL_CLASSES", "run_book", "run_keras",
           "keras_missing_reason", "progress_callback", "divergence", "DIVERGENCE_GROWTH"]

#: A run counts as diverged once its training loss is not finite, or has
#: grown this many times over its first epoch's value: a finite loss that
#: large means the weights have blown up, and further epochs only cost time.
DIVERGENCE_GROWTH = 1e6

#: Model names of the command line -> book classes.
MODEL_CLASSES = {
    "single": book.SingleLayer,
    "dual": book.DualLayer,
    "randinit": book.RandomInitNetwork,
    "minibatch": book.MinibatchNetwork,
    "multiclass": book.MultiClassNetwork,
}


@dataclass(frozen=True)
class Experiment:
    """One of the book's runs.

    Example
    -------
    >>> EXPERIMENTS[0].label, EXPERIMENTS[0].epochs, EXPERIMENTS[0].book_accuracy
    ('SingleLayer(l2=0.01)', 10000, 0.978)
    """

    key: str              # figure file name, --only name
    label: str            # shown in the table
    data: str             # 'breast-cancer' or 'fashion-mnist'
    model: str            # a MODEL_CLASSES key, or 'keras'
    settings: dict        # constructor arguments
    epochs: int           # the book's
    quick_epochs: int     # for --quick
    book_accuracy: float  # what the book printed for x_val
    quick_rows: Optional[int] = None  # --quick trains on the first rows only

    def build(self, dtype=np.float64):
        """A fresh book model with the book's settings."""
        return MODEL_CLASSES[self.model](dtype=dtype, **self.settings)


EXPERIMENTS = (
    Experiment("single_layer", "SingleLayer(l2=0.01)", "breast-cancer", "single",
               {"l2": 0.01}, 10000, 200, 0.978),
    Experiment("dual_layer", "DualLayer(l2=0.01)", "breast-cancer", "dual",
               {"l2": 0.01}, 20000, 200, 0.978),
    Experiment("random_init", "RandomInitNetwork(l2=0.01)", "breast-cancer", "randinit",
               {"l2": 0.01}, 500, 50, 0.978),
    Experiment("minibatch_32", "MinibatchNetwork(l2=0.01, batch_size=32)", "breast-cancer",
               "minibatch", {"l2": 0.01, "batch_size": 32}, 500, 50, 0.978),
    Experiment("minibatch_128", "MinibatchNetwork(l2=0.01, batch_size=128)", "breast-cancer",
               "minibatch", {"l2": 0.01, "batch_size": 128}, 500, 50, 0.978),
    Experiment("multiclass", "MultiClassNetwork(units=100, batch_size=256)", "fashion-mnist",
               "multiclass", {"units": 100, "batch_size": 256}, 40, 2, 0.815, 6000),
    Experiment("keras", "Keras Dense(100, sigmoid) + Dense(10, softmax), sgd", "fashion-mnist",
               "keras", {}, 40, 2, 0.863, 6000),
)


@dataclass
class Result:
    """One row of the table, and the curves behind its figure.

    status: 'ok' (within 0.01 of the book), 'off' (further away), 'quick'
    (fewer epochs: no comparison), 'diverged', 'skipped' or 'failed'.
    """

    key: str
    label: str
    data: str
    epochs: int = 0
    seconds: float = 0.0
    accuracy: Optional[float] = None
    book_accuracy: Optional[float] = None
    status: str = "ok"
    note: str = ""
    losses: List[float] = field(default_factory=list, repr=False)
    val_losses: List[float] = field(default_factory=list, repr=False)
    figure: Optional[str] = None
    # the trained model (a book network or a Sequential), kept for saving;
    # not part of the table
    model: object = field(default=None, repr=False, compare=False)

    def row(self):
        """The table's fields as a plain dict (for JSON/CSV)."""
        return {"model": self.label, "key": self.key, "data": self.data, "epochs": self.epochs,
                "seconds": round(self.seconds, 3), "val_accuracy": self.accuracy,
                "book_accuracy": self.book_accuracy, "status": self.status, "note": self.note,
                "figure": self.figure}


def judge(result, quick, tolerance=0.01):
    """Set the status from the accuracy: the issue asks for each within 0.01 of the book's."""
    if result.status in ("diverged", "skipped", "failed"):
        return result
    if quick or result.book_accuracy is None:
        result.status = "quick" if quick else "ok"
    elif result.accuracy is not None and abs(result.accuracy - result.book_accuracy) <= tolerance:
        result.status = "ok"
    else:
        result.status = "off"
    return result


def divergence(losses):
    """Why the run with these per-epoch losses diverged, or None if it has not.

    Example
    -------
    >>> divergence([0.7, 0.5]) is None
    True
    >>> divergence([0.7, 0.5, 7e6])
    'the training loss grew from 0.7 to 7e+06 (more than 1e+06 times its first value)'
    >>> divergence([0.7, float("nan")])
    'the training loss became nan'
    """
    for value in losses:
        if not math.isfinite(value):
            return f"the training loss became {value}"
    if losses and losses[0] > 0:
        worst = max(losses)
        if worst > DIVERGENCE_GROWTH * losses[0]:
            return (f"the training loss grew from {losses[0]:.3g} to {worst:.3g} (more than "
                    f"{DIVERGENCE_GROWTH:.0e} times its first value)")
    return None


def progress_callback(bar, score=None):
    """A book-fit callback that feeds ``bar`` and stops a run whose loss is no longer finite.

    score : callable, optional
        Validation accuracy; only called when the bar redraws.
    """
    def callback(epoch, logs):
        values = {"loss": logs["loss"]}
        if "val_loss" in logs:
            values["val_loss"] = logs["val_loss"]
        if score is not None:
            values["val_acc"] = score
        bar.update(epoch + 1, **values)
        # Once the loss is nan/inf (or huge) it stays so: further epochs only cost time.
        if not first:
            first.append(logs["loss"])
        return divergence([first[0], logs["loss"]]) is not None
    first = []  # the first epoch's loss, the yardstick of divergence
    return callback


def run_book(model, x, y, x_val, y_val, epochs, title, progress=None):
    """Fit a book model with a progress bar; returns a Result (status/accuracy filled).

    Parameters
    ----------
    model : a book network
    x, y, x_val, y_val : arrays in the forms the model takes
    epochs : int
    title : str
        The bar's and the result's label.
    progress : dict, optional
        ProgressBar keyword arguments (``enabled``, ``stream``, ``interval``).

    Example
    -------
    >>> from nnbook.datasets import breast_cancer_split
    >>> s = breast_cancer_split()
    >>> r = run_book(book.SingleLayer(), s.x_train, s.y_train, s.x_val, s.y_val, 10, "demo")
    >>> r.epochs, r.status
    (10, 'ok')
    """
    bar = ProgressBar(epochs, title, **(progress or {}))
    has_val = x_val is not None
    callback = progress_callback(bar, (lambda: model.score(x_val, y_val)) if has_val else None)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        # the book classes warn once when the loss turns nan; we report it in the row
        warnings.simplefilter("always", RuntimeWarning)
        model.fit(x, y, epochs=epochs, x_val=x_val, y_val=y_val, callback=callback)
    seconds = time.perf_counter() - start
    result = Result(key=title, label=title, data="", epochs=len(model.losses), seconds=seconds,
                    losses=list(model.losses), val_losses=list(model.val_losses), model=model)
    diverged = [str(w.message) for w in caught if "diverged" in str(w.message)]
    reason = divergence(model.losses)
    if diverged or reason:
        result.status = "diverged"
        result.note = (diverged[0] if diverged else reason) + \
            f"; stopped after epoch {len(model.losses)}"
        bar.close(note="diverged")
    else:
        result.accuracy = model.score(x_val, y_val) if has_val else model.score(x, y)
        bar.close()
    for w in caught:
        if "diverged" not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def keras_missing_reason():
    """None when nnbook.keras can run the chapter-7 model, else why not."""
    try:
        from . import keras
    except ImportError as exc:
        return f"nnbook.keras is not importable ({exc})"
    missing = [name for name in ("Sequential", "layers") if not hasattr(keras, name)]
    if missing:
        return f"nnbook.keras has no {', '.join(missing)} yet"
    return None


def run_keras(x, y, x_val, y_val, epochs, title, progress=None):
    """The book's chapter-7 Keras model on nnbook.keras; returns a Result.

    The model code is the book's, with only the import changed.
    """
    from .keras import Sequential
    from .keras.callbacks import Callback
    from .keras.layers import Dense
    from .keras.utils import set_random_seed

    # the book's numbers should be the same on every run, like the book classes'
    set_random_seed(42)
    bar = ProgressBar(epochs, title, **(progress or {}))

    class _Bar(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            values = {k: float(logs[k]) for k in ("loss", "val_loss", "val_accuracy") if k in logs}
            bar.update(epoch + 1, **values)

    model = Sequential()
    model.add(Dense(100, activation="sigmoid", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, validation_data=(x_val, y_val), verbose=0,
                        callbacks=[_Bar()])
    seconds = time.perf_counter() - start
    losses = [float(v) for v in history.history.get("loss", [])]
    val_losses = [float(v) for v in history.history.get("val_loss", [])]
    result = Result(key=title, label=title, data="", epochs=len(losses), seconds=seconds,
                    losses=losses, val_losses=val_losses, model=model)
    reason = divergence(losses)
    if reason:
        result.status, result.note = "diverged", reason
        bar.close(note="diverged")
        return result
    result.accuracy = float(model.evaluate(x_val, y_val, verbose=0)[1])
    bar.close()
    return result

