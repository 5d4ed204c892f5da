"""The Keras-style progress line printed by fit/evaluate/predict.

An epoch is a single call into the core, so the bar is printed finished,
once per epoch. On a terminal (``isatty()``) an empty bar is shown while the
epoch runs and overwritten at its end.

verbose=1::

    Epoch 3/40
    1500/1500 [==============================] - 1s 1ms/step - loss: 0.4567 - accuracy: 0.8400

verbose=2::

    Epoch 3/40
    1500/1500 - 1s - loss: 0.4567 - accuracy: 0.8400 - 1s/epoch - 1ms/step

Example
-------
>>> import io
>>> out = io.StringIO()
>>> line = ProgressLine(2, verbose=2, stream=out); line.begin(); line.finish({'loss': 0.5})
>>> out.getvalue().startswith('2/2 - ')
True
"""
import sys
import time

BAR_WIDTH = 30


def format_value(value):
    """Keras's number format: 4 decimals, or scientific for tiny values."""
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def format_logs(logs):
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items())


def format_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgressLine:
    """One epoch's (or one evaluation's) progress line.

    Parameters
    ----------
    steps : int, the number of batches
    verbose : 0 (silent), 1 (bar) or 2 (one plain line)
    stream : file, default sys.stdout (looked up when the line starts)
    """

    def __init__(self, steps, verbose=1, stream=None):
        self.steps, self.verbose = steps, verbose
        self.stream = stream if stream is not None else sys.stdout
        self.width = len(str(steps))
        self._start = None
        self._drawn = False

    def _counter(self, done):
        return f"{done:>{self.width}}/{self.steps}"

    def begin(self):
        self._start = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        if self.verbose == 1 and isatty is not None and isatty():
            self.stream.write(f"{self._counter(0)} [{'.' * BAR_WIDTH}]")
            self.stream.flush()
            self._drawn = True

    def finish(self, logs):
        if not self.verbose:
            return
        elapsed = time.perf_counter() - self._start
        per_step = format_per_step(elapsed / max(self.steps, 1))
        head = self._counter(self.steps)
        if self.verbose == 1:
            line = f"{head} [{'=' * BAR_WIDTH}] - {elapsed:.0f}s {per_step}{format_logs(logs)}"
        else:
            line = f"{head} - {elapsed:.0f}s{format_logs(logs)} - {elapsed:.0f}s/epoch - {per_step}"
        self.stream.write(("\r" if self._drawn else "") + line + "\n")
        self.stream.flush()


def epoch_header(epoch, epochs, stream=None):
    (stream or sys.stdout).write(f"Epoch {epoch + 1}/{epochs}\n")
