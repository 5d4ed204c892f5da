"""A small Keras-style progress bar for training loops (no dependency).

On a terminal the bar is redrawn in place (carriage return) at most every
``interval`` seconds, so a 20,000-epoch run of a tiny network does not spend
its time printing. When the stream is not a terminal the bar is silent unless
forced (``enabled=True``); forced, it writes whole lines, less often.
"""
import shutil
import sys
import time

__all__ = ["ProgressBar", "format_seconds", "format_number"]


def format_seconds(seconds):
    """'7s', '2m05s' or '1h02m': short enough for a progress line.

    Example
    -------
    >>> format_seconds(125.2)
    '2m05s'
    """
    seconds = int(round(max(seconds, 0)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_number(value):
    """Four decimals for ordinary losses, scientific for huge or tiny ones.

    Example
    -------
    >>> format_number(0.31234), format_number(8.9e300), format_number(3)
    ('0.3123', '8.9e+300', '3')
    """
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
            return f"{value:.4g}"
        return f"{value:.4f}"
    return str(value)


class ProgressBar:
    """Progress of one training run: epoch, metrics, time left.

    Parameters
    ----------
    total : int
        Number of steps (epochs).
    title : str
        Shown at the start of the line (the model's name).
    stream : file, default sys.stderr
    enabled : bool, optional
        Default: only when ``stream.isatty()`` (the Keras rule: the terminal
        test alone decides).
    interval : float, optional
        Minimum seconds between redraws; default 0.1 on a terminal, 2.0 when
        writing lines to a file or pipe.

    Example
    -------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(3, "demo", stream=out, enabled=True, interval=0)
    >>> for epoch in range(3):
    ...     bar.update(epoch + 1, loss=0.5 / (epoch + 1))
    >>> bar.close()
    >>> out.getvalue().splitlines()[-1].startswith("demo")
    True
    """

    def __init__(self, total, title="", stream=None, enabled=None, interval=None):
        self.total = max(int(total), 0)
        self.title = title
        self.stream = sys.stderr if stream is None else stream
        self.tty = _isatty(self.stream)
        self.enabled = self.tty if enabled is None else bool(enabled)
        if interval is None:
            interval = 0.1 if self.tty else 2.0
        self.interval = float(interval)
        self.start = time.monotonic()
        self._last_draw = None
        self._done = 0
        self._values = {}
        self._closed = False

    def update(self, done, **values):
        """Record that ``done`` steps are finished; redraw if the interval has passed.

        values : float or callable
            Metrics to show (``loss=0.31, val_loss=...``). A callable is only
            called when the line is actually drawn, so costly metrics (a
            validation accuracy) are computed at the redraw rate, not every epoch.
        """
        self._done = done
        self._values = values
        if not self.enabled:
            return
        now = time.monotonic()
        # the last step is drawn by close(); a line written here too would
        # repeat it in a log file
        if done >= self.total and not self.tty:
            return
        if self._last_draw is None or now - self._last_draw >= self.interval or done >= self.total:
            self._last_draw = now
            self._draw(final=False)

    def close(self, note=""):
        """Draw the final state (total time instead of time left) and end the line."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(final=True, note=note)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- drawing ------------------------------------------------------------
    def _metrics(self):
        parts = []
        for name, value in self._values.items():
            if callable(value):
                value = value()
            if value is None:
                continue
            parts.append(f"{name} {format_number(value)}")
        return parts

    def _line(self, final, note=""):
        elapsed = time.monotonic() - self.start
        width = len(str(self.total))
        count = f"{self._done:>{width}}/{self.total}"
        if final:
            timing = f"{format_seconds(elapsed)} total"
        elif self._done:
            timing = f"ETA {format_seconds(elapsed / self._done * (self.total - self._done))}"
        else:
            timing = "ETA ?"
        tail = " - ".join(self._metrics() + [timing] + ([note] if note else []))
        columns = shutil.get_terminal_size((100, 20)).columns if self.tty else 100
        # the numbers matter most: the bar gets what the text leaves (10 to 30
        # characters), and a long title is shortened before the numbers are cut
        room = columns - 1 - len(count) - len(tail) - 5
        bar_width = max(10, min(30, room - len(self.title)))
        title = self.title
        if self.tty and len(title) > room - bar_width:
            keep = max(room - bar_width, 8)
            title = title[:keep - 3] + "..." if len(title) > keep else title
        line = f"{title} {count} {_bar(self._done, self.total, bar_width)} {tail}"
        return line[:columns - 1] if self.tty else line

    def _draw(self, final, note=""):
        line = self._line(final, note)
        if self.tty:
            # pad over a longer previous line, then return to column 0
            self.stream.write("\r" + line.ljust(getattr(self, "_width", 0)))
            self._width = len(line)
            if final:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _bar(done, total, width):
    if total <= 0:
        return "[" + "=" * width + "]"
    filled = int(width * min(done, total) / total)
    if filled >= width:
        return "[" + "=" * width + "]"
    return "[" + "=" * filled + ">" + "." * (width - filled - 1) + "]"


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
