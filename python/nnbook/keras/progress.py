"""The Keras-style progress line printed by fit/evaluate/predict.

``callbacks.ProgbarLogger`` draws it. On a terminal (``isatty()`` alone
decides) the verbose=1 bar is live: the core calls back about every
``LIVE_SECONDS`` while an epoch runs, and the line is redrawn in place (at
most that often, even when batch callbacks call after every batch) with the
step count, an ETA and the running loss and metrics, then overwritten by the
finished line. Through a pipe or into a file, each epoch is one clean line
written at its end. As in Keras 3, ``Epoch i/n`` heads each epoch only when
n > 1.

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
# Seconds between redraws of a live bar (Keras redraws at a bounded rate too).
LIVE_SECONDS = 0.1


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
        self._last_width = 0
        self._last_draw = None

    def _counter(self, done):
        return f"{done:>{self.width}}/{self.steps}"

    @property
    def live(self):
        """Whether the bar is redrawn while the epoch runs (verbose=1 on a terminal)."""
        return self._drawn

    def update(self, done, logs):
        """Redraw a live bar: `done` steps finished, running `logs` (no-op when not live)."""
        if not self._drawn or not 0 < done < self.steps:
            return
        now = time.perf_counter()
        if self._last_draw is not None and now - self._last_draw < LIVE_SECONDS:
            return
        self._last_draw = now
        elapsed = now - self._start
        eta = elapsed / done * (self.steps - done)
        filled = BAR_WIDTH * done // self.steps
        bar = "=" * max(filled - 1, 0) + ">" + "." * (BAR_WIDTH - max(filled, 1))
        eta_text = f"{eta:.0f}s" if eta < 60 else f"{int(eta // 60)}:{int(eta % 60):02d}"
        line = f"{self._counter(done)} [{bar}] - ETA: {eta_text}{format_logs(logs)}"
        self.stream.write("\r" + line.ljust(self._last_width))
        self.stream.flush()
        self._last_width = len(line)

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
        self.stream.write(("\r" if self._drawn else "") + line.ljust(self._last_width) + "\n")
        self.stream.flush()


def epoch_header(epoch, epochs, stream=None):
    (stream or sys.stdout).write(f"Epoch {epoch + 1}/{epochs}\n")
