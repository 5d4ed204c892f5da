"""The results table of ``nnbook reproduce``: printed, and written as JSON and CSV."""
import csv
import json
import os
import platform

__all__ = ["format_table", "write_json", "write_csv"]

_STATUS_TEXT = {
    "ok": "ok (within 0.01)",
    "off": "OFF by more than 0.01",
    "quick": "quick run",
}


def _acc(value):
    return "-" if value is None else f"{value:.3f}"


def format_table(results, total_seconds=None):
    """A plain-text table: model, epochs, seconds, validation accuracy, the book's, status.

    Example
    -------
    >>> from nnbook.experiments import Result
    >>> print(format_table([Result("k", "SingleLayer", "breast-cancer", 10, 0.1, 0.97, 0.978)]))
    ... # doctest: +NORMALIZE_WHITESPACE
    model        epochs  seconds  val acc  book   status
    SingleLayer      10     0.10    0.970  0.978  ok (within 0.01)
    """
    header = ("model", "epochs", "seconds", "val acc", "book", "status")
    rows = []
    for r in results:
        if r.status == "skipped":
            rows.append((r.label, "-", "-", "-", _acc(r.book_accuracy), f"skipped: {r.note}"))
            continue
        status = _STATUS_TEXT.get(r.status, r.status)
        if r.status in ("diverged", "failed") and r.note:
            status = f"{r.status.upper()}: {r.note}"
        rows.append((r.label, str(r.epochs), f"{r.seconds:.2f}", _acc(r.accuracy),
                     _acc(r.book_accuracy), status))
    if total_seconds is not None:
        rows.append(("total", "", f"{total_seconds:.2f}", "", "", ""))
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header) - 1)]
    right = (False, True, True, True, True)

    def line(row):
        cells = [row[i].rjust(w) if right[i] else row[i].ljust(w) for i, w in enumerate(widths)]
        return "  ".join(cells + [row[-1]]).rstrip()

    return "\n".join(line(row) for row in [header] + rows)


def write_json(path, results, **info):
    """results.json: {"rows": [...], "nnbook_version", "python", plus info (quick, total_seconds...)}."""
    from . import __version__
    doc = {"nnbook_version": __version__, "python": platform.python_version(),
           "machine": platform.machine(), "cpus": os.cpu_count(), **info,
           "rows": [r.row() for r in results]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_csv(path, results):
    """results.csv: one line per model, the columns of Result.row()."""
    rows = [r.row() for r in results]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["model"])
        writer.writeheader()
        writer.writerows(rows)
