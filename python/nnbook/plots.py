"""Figures for the command line: loss curves, confusion matrices, sample images.

matplotlib is an optional extra (``pip install nnbook[plot]``): it is imported
only inside these functions, and :func:`require_matplotlib` turns its absence
into :class:`PlotUnavailable` with the install command. Figures are drawn on
a bare ``Figure`` with the Agg canvas, never through pyplot, so nothing here
changes the caller's matplotlib backend or global state.
"""
import os

import numpy as np

__all__ = ["PlotUnavailable", "require_matplotlib", "hangul_font", "plot_losses",
           "plot_confusion", "plot_samples"]

INSTALL_HINT = "pip install nnbook[plot]  (or: pip install matplotlib)"

# Font families known to cover Hangul; each is checked for the glyph anyway.
_HANGUL_FAMILY_HINTS = ("nanum", "noto sans cjk", "noto serif cjk", "noto sans kr",
                        "noto serif kr", "source han", "undotum", "unbatang", "baekmuk",
                        "malgun", "applegothic", "apple sd gothic", "gulim", "dotum", "batang")


class PlotUnavailable(ImportError):
    """matplotlib is not installed; the message says what to install."""


def require_matplotlib():
    """Import matplotlib or raise PlotUnavailable with the install command.

    Example
    -------
    >>> require_matplotlib()                               # doctest: +SKIP
    """
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        raise PlotUnavailable(f"drawing figures needs matplotlib: {INSTALL_HINT}") from exc


def _figure(**kwargs):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        # matplotlib's message may not say which file; the command line shows this one
        error = type(exc)(f"cannot write the figure {path}: {exc.strerror or exc}")
        error.errno = exc.errno
        raise error from exc


def hangul_font():
    """The family name of an installed font with Hangul glyphs, or None.

    Example
    -------
    >>> hangul_font()                                      # doctest: +SKIP
    'NanumGothic'
    """
    require_matplotlib()
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font
    for entry in font_manager.fontManager.ttflist:
        if not any(hint in entry.name.lower() for hint in _HANGUL_FAMILY_HINTS):
            continue
        try:
            if 0xAC00 in FT2Font(entry.fname).get_charmap():  # U+AC00 is '가'
                return entry.name
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def plot_losses(path, losses, val_losses=None, title="Loss", xlabel="epoch"):
    """Training (and validation) loss per epoch, as in the book's figures.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG to write (folders are created).
    losses, val_losses : sequences of float
    title, xlabel : str

    Example
    -------
    >>> plot_losses("loss.png", net.losses, net.val_losses, "DualLayer")  # doctest: +SKIP
    """
    fig = _figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, label="train loss")
    if val_losses is not None and len(val_losses):
        ax.plot(np.arange(1, len(val_losses) + 1), val_losses, label="val loss")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_confusion(path, matrix, class_names, title="Confusion matrix"):
    """A confusion matrix as a heat map with the counts written in the cells.

    Rows are the true classes, columns the predicted ones.

    Example
    -------
    >>> plot_confusion("cm.png", [[5, 1], [0, 7]], ["no", "yes"])  # doctest: +SKIP
    """
    matrix = np.asarray(matrix)
    k = len(class_names)
    size = max(4.8, 0.6 * k + 2.5)
    fig = _figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, label="count")
    ax.set_xticks(range(k), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")
    fig.tight_layout()
    _save(fig, path)


def plot_samples(path, images, labels, class_names, title="Samples", columns=5, font=None):
    """A grid of grey images, each titled with its class name.

    Parameters
    ----------
    images : array, shape (n, height, width)
    labels : int array, shape (n,)
    class_names : sequence of str
    font : str, optional
        A font family for the titles (needed for Korean names).

    Example
    -------
    >>> plot_samples("samples.png", x[:10], y[:10], FASHION_MNIST_CLASSES)  # doctest: +SKIP
    """
    n = len(images)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    fig = _figure(figsize=(2.0 * columns, 2.2 * rows + 0.6))
    text = {"fontfamily": font} if font else {}
    for i in range(n):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{class_names[int(labels[i])]} ({int(labels[i])})", fontsize=10, **text)
        ax.axis("off")
    fig.suptitle(title, **text)
    fig.tight_layout()
    _save(fig, path)
