"""The ``nnbook`` command: reproduce the book's experiments, train, predict, look at data.

Run ``nnbook --help`` (or ``python -m nnbook --help``). Commands:

* ``nnbook reproduce [--quick] [--out DIR] [--data DIR]``: chapters 6-7, table at the end;
* ``nnbook train --data ... --model ...``: one run, optionally saved and plotted;
* ``nnbook predict MODEL.npz --data ...``: accuracy and confusion matrix;
* ``nnbook show-data fashion-mnist [--plot FILE.png]``: sample images;
* ``nnbook export MODEL --to OUT.onnx | OUT.keras``: any saved nnbook model
  as an ONNX graph (``nnbook[onnx]``) or a Keras 3 file (``nnbook[keras-files]``).

Exit codes:

* 0: success;
* 1: a run diverged: its training loss became NaN/infinite, or grew more than
  a million times over its first epoch's value (or the Keras run failed);
* 2: something for the user to fix: bad arguments, missing or malformed data,
  an unreadable model file, an output path that cannot be written,
  matplotlib missing for a figure. One line on stderr names the file or
  option and what to do; no traceback;
* 3: an unexpected internal error (a bug in nnbook): one line on stderr;
  ``--debug`` shows the traceback.

Example
-------
>>> from nnbook.cli import main
>>> main(["train", "--data", "breast-cancer", "--model", "single", "--epochs", "5"])  # doctest: +SKIP
0
"""
import argparse
import dataclasses
import os
import sys
import time
import traceback

import numpy as np

from . import __version__, datasets, experiments, plots, report
from .cli_data import BOOK_DATA, FASHION_DIR_HINT, DataError, load_data
from ._validation import INT32_MAX
from .persistence import ModelFileError, load_model, read_extra, save_model
from .plots import PlotUnavailable
from .progress import format_number

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

# Problems in what the user gave (arguments, files, data), reported in one
# line with exit 2. The book classes raise ValueError/TypeError for bad data
# (NaN features, a wrong width), the file layer OSError naming the path.
USER_ERRORS = (DataError, ModelFileError, PlotUnavailable, OSError, ValueError, TypeError)

# Layer sizes and batch sizes are C ints in the core.
MAX_SIZE = INT32_MAX

_DATA_HELP = ("fashion-mnist, breast-cancer, or PATH.npz: an .npz with arrays x_train, y_train "
              "and x_val, y_val (optionally x_test, y_test, class_names); labels are integers "
              "0..k-1 or one-hot rows")

_EPILOG = ("exit codes: 0 success, 1 a run diverged, 2 bad arguments / missing data / "
           "unreadable model file / unwritable output / matplotlib missing, 3 an internal "
           "error (--debug shows the traceback). Fashion-MNIST is read from --data-dir, "
           "$NNBOOK_DATA, Debian's dataset-fashion-mnist package (sudo apt-get install "
           "dataset-fashion-mnist) or ~/.keras/datasets/fashion-mnist.")


# --------------------------------------------------------------------------
# helpers shared by the commands
# --------------------------------------------------------------------------

def _say(*parts):
    """Status lines go to stderr, so stdout holds only results (tables, summaries)."""
    print(*parts, file=sys.stderr)


def _progress(args):
    """ProgressBar settings: --progress forces it on, --no-progress off, else a TTY decides."""
    return {"enabled": args.progress, "stream": sys.stderr}


def _check_png(path, option):
    if path is not None:
        plots.require_matplotlib()  # fail before training, not after
        if not path.lower().endswith(".png"):
            raise DataError(f"{option} writes a PNG: give a file name ending in .png, got {path}")
        _check_output(path, option, creates_folder=True)


def _check_output(path, option, creates_folder=False):
    """Fail before training, not after, if ``path`` cannot be written.

    creates_folder: the writer makes missing folders (figures do), so the
    nearest existing one must be writable.
    """
    if path is None:
        return
    if os.path.isdir(path):
        raise DataError(f"{option} {path} is a directory: give a file name, e.g. "
                        f"{os.path.join(path, 'model.npz' if option == '--save' else 'out.png')}")
    folder = os.path.dirname(os.path.abspath(path))
    while creates_folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise DataError(f"{option} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise DataError(f"{option} {path}: cannot write in {folder} (read-only or no "
                        f"permission); choose another folder")


def _loss_title(label, data, epochs):
    return f"{label}\n{data}, {epochs} epochs"


# --------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------

def _cmd_reproduce(args):
    if args.out:
        plots.require_matplotlib()
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise DataError(f"--out {args.out} is a file; give a folder for the figures and "
                            f"results")
        os.makedirs(args.out, exist_ok=True)
        if not os.access(args.out, os.W_OK):
            raise DataError(f"--out {args.out}: cannot write in it (read-only or no "
                            f"permission); choose another folder")
    chosen = [e for e in experiments.EXPERIMENTS if not args.only or e.key in args.only]
    loaded, missing = {}, {}
    for name in ("breast-cancer", "fashion-mnist"):
        if any(e.data == name for e in chosen):
            _say(f"loading {name} ...")
            try:
                loaded[name] = load_data(name, np.float64, args.data if name == "fashion-mnist" else None)
            except DataError as exc:
                missing[name] = str(exc)
                _say(f"nnbook: {name} is missing, its experiments are skipped:\n{exc}")
    keras_reason = experiments.keras_missing_reason()
    results = []
    for exp in chosen:
        epochs = exp.quick_epochs if args.quick else exp.epochs
        if exp.data in missing:
            result = experiments.Result(exp.key, exp.label, exp.data, status="skipped",
                                        note="data not found: sudo apt-get install "
                                             "dataset-fashion-mnist or set NNBOOK_DATA")
        elif exp.model == "keras" and keras_reason:
            result = experiments.Result(exp.key, exp.label, exp.data, status="skipped",
                                        note=keras_reason)
        else:
            result = _run_experiment(exp, loaded[exp.data], epochs, args)
        result.key, result.label, result.data = exp.key, exp.label, exp.data
        result.book_accuracy = exp.book_accuracy
        experiments.judge(result, args.quick)
        if args.out and result.losses:
            result.figure = f"{exp.key}.png"
            plots.plot_losses(os.path.join(args.out, result.figure), result.losses,
                              result.val_losses, _loss_title(exp.label, exp.data, result.epochs))
        if args.out and result.model is not None and result.status not in ("diverged", "failed"):
            _save_trained(result.model, exp, os.path.join(args.out, f"{exp.key}.npz"))
        results.append(result)
    total = sum(r.seconds for r in results)
    print(f"nnbook {__version__}: the experiments of chapters 6-7"
          + (" (--quick: fewer epochs, no comparison with the book)" if args.quick else ""))
    print(report.format_table(results, total))
    data_seconds = sum(d.seconds for d in loaded.values())
    print(f"training {total:.1f} s, data loading {data_seconds:.1f} s")
    if args.out:
        info = {"quick": args.quick, "total_seconds": round(total, 3),
                "data_seconds": round(data_seconds, 3)}
        report.write_json(os.path.join(args.out, "results.json"), results, **info)
        report.write_csv(os.path.join(args.out, "results.csv"), results)
        _say(f"figures, trained models (<key>.npz, for nnbook predict/export), results.json "
             f"and results.csv written to {args.out}")
    bad = [r for r in results if r.status in ("diverged", "failed")]
    return EXIT_DIVERGED if bad else EXIT_OK


def _save_trained(model, exp, path):
    """An experiment's trained model as nnbook's .npz (nnbook predict/export read it)."""
    if exp.model == "keras":
        model.save(path)
    else:
        save_model(model, path, extra={"data": exp.data, "model": exp.model})


def _run_experiment(exp, data, epochs, args):
    progress = _progress(args)
    if args.quick and exp.quick_rows:
        # a smoke test needs every code path, not the full 48,000 rows
        data = dataclasses.replace(data, x_train=data.x_train[:exp.quick_rows],
                                   y_train=data.y_train[:exp.quick_rows])
    if exp.model == "keras":
        try:
            y_train = datasets.one_hot(data.y_train, 10, np.float32)
            y_val = datasets.one_hot(data.y_val, 10, np.float32)
            return experiments.run_keras(data.x_train.astype(np.float32), y_train,
                                         data.x_val.astype(np.float32), y_val, epochs,
                                         exp.label, progress)
        except Exception as exc:  # noqa: BLE001 - one failing model must not lose the others' rows
            return experiments.Result(exp.key, exp.label, exp.data, status="failed",
                                      note=f"{type(exc).__name__}: {exc}")
    one_hot = exp.model == "multiclass"
    return experiments.run_book(exp.build(np.float64), data.x_train,
                                data.targets(data.y_train, one_hot), data.x_val,
                                data.targets(data.y_val, one_hot), epochs, exp.label, progress)


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

def _book_settings(data_name, model):
    """The book's settings and epochs for this data and model, else the class defaults."""
    for exp in experiments.EXPERIMENTS:
        if exp.data == data_name and exp.model == model:
            return dict(exp.settings), exp.epochs
    return {}, 100


def _train_model_settings(args, data):
    model = args.model or ("multiclass" if data.n_classes > 2 else "minibatch")
    settings, epochs = _book_settings(data.name, model)
    cls = experiments.MODEL_CLASSES[model]
    given = {"units": args.units, "batch_size": args.batch_size, "learning_rate": args.lr,
             "l1": args.l1, "l2": args.l2}
    accepted = cls.__init__.__code__.co_varnames
    for name, value in given.items():
        if value is None:
            continue
        if name not in accepted:
            raise DataError(f"--{name.replace('_', '-')} does not apply to --model {model} "
                            f"({cls.__name__} has no {name})")
        settings[name] = value
    return model, cls, settings, args.epochs if args.epochs is not None else epochs


def _cmd_train(args):
    _check_png(args.plot, "--plot")
    _check_output(args.save, "--save")
    dtype = np.dtype(args.dtype)
    _say(f"loading {args.data} ...")
    data = load_data(args.data, dtype, args.data_dir)
    model_name, cls, settings, epochs = _train_model_settings(args, data)
    try:
        model = cls(dtype=dtype, **settings)
    except (TypeError, ValueError) as exc:
        raise DataError(str(exc)) from exc
    one_hot = model_name == "multiclass"
    y_train = data.targets(data.y_train, one_hot)
    x_val = data.x_val
    y_val = None if x_val is None else data.targets(data.y_val, one_hot)
    label = repr(model)
    _say(f"training {label} on {data.name} ({len(data.x_train)} rows, {dtype.name}) "
         f"for {epochs} epochs")
    result = experiments.run_book(model, data.x_train, y_train, x_val, y_val, epochs,
                                  type(model).__name__, _progress(args))
    if result.status == "diverged":
        _say(f"nnbook: warning: {result.note}. Try a smaller --lr.")
        print(f"{label} on {data.name}: DIVERGED after {result.epochs} epochs "
              f"({result.seconds:.2f} s); nothing saved")
        return EXIT_DIVERGED
    which = "validation" if x_val is not None else "training"
    val = f", val loss {format_number(result.val_losses[-1])}" if result.val_losses else ""
    print(f"{label} on {data.name}: {result.epochs} epochs in {result.seconds:.2f} s; "
          f"{which} accuracy {result.accuracy:.4f}; final loss "
          f"{format_number(result.losses[-1])}{val}")
    if args.save:
        save_model(model, args.save, extra={"data": data.name if data.name in BOOK_DATA
                                            else os.path.abspath(args.data),
                                            "model": model_name,
                                            "class_names": list(data.class_names)})
        print(f"model saved to {args.save}")
    if args.plot and result.losses:
        plots.plot_losses(args.plot, result.losses, result.val_losses,
                          _loss_title(label, data.name, result.epochs))
        print(f"loss curves drawn in {args.plot}")
    return EXIT_OK


# --------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------

def confusion_matrix(true, pred, k):
    """Counts: rows are true classes, columns predicted ones.

    Example
    -------
    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
    array([[1, 0],
           [1, 1]])
    """
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def format_confusion(matrix, names):
    """The matrix as text, with short class names as row and column headers."""
    short = [n if len(n) <= 10 else n[:9] + "." for n in names]
    width = max([len(s) for s in short] + [len(str(matrix.max())), 4])
    lines = [" " * (width + 2) + " ".join(s.rjust(width) for s in short) + "   <- predicted"]
    for name, row in zip(short, matrix):
        lines.append(name.rjust(width) + "  " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _cmd_predict(args):
    _check_png(args.plot, "--plot")
    model = load_model(args.model_file)
    extra = read_extra(args.model_file)
    data_spec = args.data or extra.get("data")
    if not data_spec:
        raise DataError(f"{args.model_file} does not record its data set: pass --data")
    data = load_data(data_spec, model.dtype, args.data_dir)
    x, labels = data.split(args.split)
    try:
        pred = np.asarray(model.predict(x)).reshape(len(x), -1)
    except ValueError as exc:  # features differ from the fitted network's
        raise DataError(f"{args.model_file} does not fit {data.name}: {exc}") from exc
    pred = pred[:, 0].astype(np.int64) if pred.shape[1] == 1 else pred.argmax(axis=1)
    k = max(data.n_classes, int(pred.max()) + 1, int(labels.max()) + 1)
    names = list(data.class_names) + [str(i) for i in range(data.n_classes, k)]
    matrix = confusion_matrix(labels, pred, k)
    correct = int(np.trace(matrix))
    print(f"{type(model).__name__} from {args.model_file} on the {args.split} split of "
          f"{data.name}: accuracy {correct / len(labels):.4f} ({correct}/{len(labels)})")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion(matrix, names))
    if args.plot:
        plots.plot_confusion(args.plot, matrix, names,
                             f"{type(model).__name__} on {data.name} ({args.split}), "
                             f"accuracy {correct / len(labels):.3f}")
        print(f"confusion matrix drawn in {args.plot}")
    return EXIT_OK


# --------------------------------------------------------------------------
# show-data
# --------------------------------------------------------------------------

_SHADES = " .:-=+*#%@"


def ascii_image(image):
    """A 2-D uint8 image as text, one character per pixel (darker = denser)."""
    levels = (np.asarray(image, dtype=np.int64) * (len(_SHADES) - 1) + 127) // 255
    return "\n".join("".join(_SHADES[v] for v in row) for row in levels)


def _class_names(lang):
    """(names, font): Korean only when a font with Hangul glyphs is installed."""
    if lang == "en":
        return datasets.FASHION_MNIST_CLASSES, None
    font = plots.hangul_font()
    if font is None:
        if lang == "ko":
            _say("nnbook: no font with Hangul glyphs found (e.g. apt-get install fonts-nanum); "
                 "using the English class names")
        return datasets.FASHION_MNIST_CLASSES, None
    return datasets.FASHION_MNIST_CLASSES_KO, font


def _cmd_show_data(args):
    _check_png(args.plot, "--plot")
    start = time.perf_counter()
    try:
        (x_train, y_train), (x_test, y_test) = datasets.load_fashion_mnist(args.data_dir)
    except FileNotFoundError as exc:
        raise DataError(f"{exc}\n{FASHION_DIR_HINT}") from exc
    except ValueError as exc:
        raise DataError(f"Fashion-MNIST is unreadable: {exc}") from exc
    x, y = (x_train, y_train) if args.split == "train" else (x_test, y_test)
    count = min(args.count, len(x))
    names = datasets.FASHION_MNIST_CLASSES
    print(f"Fashion-MNIST {args.split}: images {x.shape} {x.dtype}, labels {y.shape} "
          f"(loaded in {time.perf_counter() - start:.1f} s)")
    print(f"first {count} labels: {y[:count].tolist()}")
    print("  " + ", ".join(f"{int(v)}={names[int(v)]}" for v in y[:count]))
    print(f"first image ({names[int(y[0])]}):")
    print(ascii_image(x[0]))
    if args.plot:
        class_names, font = _class_names(args.lang)
        plots.plot_samples(args.plot, x[:count], y[:count], class_names,
                           f"Fashion-MNIST: the first {count} {args.split} images",
                           font=font)
        print(f"{count} images drawn in {args.plot}")
    return EXIT_OK


# --------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------

EXPORT_FORMATS = (".onnx", ".keras")


def book_as_sequential(net):
    """A book network as the nnbook.keras Sequential that computes the same outputs.

    Sigmoid hidden layers, a sigmoid (one output) or softmax output, the
    same weights; compiled with SGD at the network's learning rate and the
    matching cross-entropy. The book's L1/L2 penalties are not carried over
    (Keras's regularizers are not divided by the batch size as the book's
    are), nor its clip of z at -100, which changes no output by more than
    1e-43.
    """
    from .keras import Input, Sequential, layers, optimizers
    core = net._require_fitted()
    sizes = core.sizes
    model = Sequential(dtype=np.dtype(net.dtype).name)
    model.add(Input(shape=(sizes[0],)))
    last = len(sizes) - 2
    for i, units in enumerate(sizes[1:]):
        output = "softmax" if i == last and units > 1 else "sigmoid"
        model.add(layers.Dense(units, activation=output))
    model.set_weights([w for i in range(len(sizes) - 1) for w in (core.weight(i), core.bias(i))])
    model.compile(optimizer=optimizers.SGD(learning_rate=net.lr),
                  loss="categorical_crossentropy" if sizes[-1] > 1 else "binary_crossentropy",
                  metrics=["accuracy"])
    return model


# The first bytes of a pickle (protocol 2-5) and of joblib's compressed
# pickles (zlib, gzip, bz2, xz, lzma): how scikit-learn estimators are saved.
PICKLE_PREFIXES = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x78\x01",
                   b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh",
                   b"\xfd7zXZ", b"\x5d\x00\x00")


def _refuse_pickle(path):
    """DataError for a pickled (or joblib) file: export never unpickles.

    Unpickling runs code the file names, so a model file must not need it
    (nnbook's own files never do); a fitted nnbook.sklearn estimator is
    exported from the Python session that can trust its pickle.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return          # load_model reports a missing or unreadable file
    if head.startswith(PICKLE_PREFIXES):
        raise DataError(f"{path} looks like a Python pickle or joblib file (how scikit-learn "
                        f"estimators are saved); nnbook export never unpickles a file, since "
                        f"that runs code from it. Export a fitted nnbook.sklearn estimator "
                        f"from Python instead: nnbook.onnx.export(estimator, 'm.onnx')")


def _cmd_export(args):
    target = args.to
    suffix = os.path.splitext(target)[1].lower()
    if suffix not in EXPORT_FORMATS:
        raise DataError(f"--to {target}: give a file name ending in .onnx (an ONNX graph) or "
                        f".keras (a Keras 3 model file)")
    _check_output(target, "--to")
    _refuse_pickle(args.model_file)
    try:
        model = load_model(args.model_file)     # a .keras file needs h5py too
        kind = type(model).__name__
        if suffix == ".onnx":
            from . import onnx as onnx_export
            onnx_export.export(model, target)
        else:
            from .keras import Sequential
            if not isinstance(model, Sequential):
                if model.l1 or model.l2:
                    _say(f"nnbook export: note: the L1/L2 penalties (l1={model.l1}, "
                         f"l2={model.l2}) are not written: Keras's regularizers scale "
                         f"differently")
                model = book_as_sequential(model)
            model.save(target)
    except ImportError as exc:
        raise DataError(str(exc)) from exc
    print(f"{kind} from {args.model_file} exported to {target}")
    return EXIT_OK


# --------------------------------------------------------------------------
# parser and entry point
# --------------------------------------------------------------------------

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    if value > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"expected a positive integer up to {MAX_SIZE}, "
                                         f"got {value}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _add_progress(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--progress", action="store_true", default=None,
                       help="show progress on stderr even when it is not a terminal")
    group.add_argument("--no-progress", dest="progress", action="store_false",
                       help="never show progress")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like every other error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_debug(parser, default):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="on an error, show the Python traceback too")


def build_parser():
    """The argparse parser of ``nnbook`` (one sub-parser per command)."""
    parser = _Parser(
        prog="nnbook", epilog=_EPILOG,
        description="The textbook's dense networks (chapters 6-7) on a compiled core.")
    parser.add_argument("--version", action="version", version=f"nnbook {__version__}")
    _add_debug(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_Parser)

    p = commands.add_parser("reproduce", epilog=_EPILOG,
                            help="run every experiment of chapters 6-7 and print the table",
                            description="Train every model of chapters 6-7 with the book's "
                                        "settings and compare with the book's accuracies.")
    p.add_argument("--quick", action="store_true", help="a few epochs each: a smoke test")
    p.add_argument("--out", metavar="DIR",
                   help="write one loss-curve PNG and one trained model (KEY.npz, for "
                        "nnbook predict and export) per model, results.json and results.csv")
    p.add_argument("--data", metavar="DIR", help="folder with the Fashion-MNIST files")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   choices=[e.key for e in experiments.EXPERIMENTS],
                   help="run only these: " + ", ".join(e.key for e in experiments.EXPERIMENTS))
    _add_progress(p)
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_reproduce)

    p = commands.add_parser("train", epilog=_EPILOG, help="train one model",
                            description="Train one book model; unset options take the book's "
                                        "settings for that data and model (else the class "
                                        "defaults and 100 epochs).")
    p.add_argument("--data", required=True, metavar="DATA", help=_DATA_HELP)
    p.add_argument("--data-dir", metavar="DIR", help="folder with the Fashion-MNIST files")
    p.add_argument("--model", choices=list(experiments.MODEL_CLASSES),
                   help="default: multiclass for more than 2 classes, else minibatch")
    p.add_argument("--units", type=_positive_int, help="hidden units")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--lr", type=_non_negative_float, help="learning rate")
    p.add_argument("--l1", type=_non_negative_float, help="L1 penalty")
    p.add_argument("--l2", type=_non_negative_float, help="L2 penalty")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--plot", metavar="FILE.png", help="draw the loss curves")
    p.add_argument("--save", metavar="MODEL.npz", help="save the trained model")
    _add_progress(p)
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_train)

    p = commands.add_parser("predict", epilog=_EPILOG,
                            help="accuracy and confusion matrix of a saved model")
    p.add_argument("model_file", metavar="MODEL.npz")
    p.add_argument("--data", metavar="DATA",
                   help=_DATA_HELP + " (default: the data the model was trained on)")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the Fashion-MNIST files")
    p.add_argument("--split", choices=["val", "test", "train"], default="val")
    p.add_argument("--plot", metavar="FILE.png", help="draw the confusion matrix")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_predict)

    p = commands.add_parser("show-data", epilog=_EPILOG, help="look at Fashion-MNIST images")
    p.add_argument("dataset", choices=["fashion-mnist"])
    p.add_argument("--data-dir", metavar="DIR", help="folder with the Fashion-MNIST files")
    p.add_argument("--split", choices=["train", "test"], default="train")
    p.add_argument("--count", type=_positive_int, default=10, help="images in the grid")
    p.add_argument("--lang", choices=["auto", "en", "ko"], default="auto",
                   help="class names: Korean needs a font with Hangul (auto: use it if found)")
    p.add_argument("--plot", metavar="FILE.png", help="draw a grid of the images")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_show_data)

    p = commands.add_parser("export", epilog=_EPILOG,
                            help="write a saved model as ONNX (.onnx) or Keras 3 (.keras)",
                            description="Export any saved nnbook model (a book network, an "
                                        "nnbook.keras model, a .keras file) for other tools: "
                                        "an ONNX graph for onnxruntime and other runtimes "
                                        "(needs pip install 'nnbook[onnx]'), or a Keras 3 "
                                        ".keras file (needs 'nnbook[keras-files]').")
    p.add_argument("model_file", metavar="MODEL")
    p.add_argument("--to", required=True, metavar="OUT.onnx|OUT.keras",
                   help="the file to write; its extension picks the format")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (see the module docstring).

    Example
    -------
    >>> main(["--version"])                                # doctest: +SKIP
    nnbook 0.1.0
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the message (or --help)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("nnbook: interrupted", file=sys.stderr)
        return 130
    except MemoryError as exc:
        _report(args, f"not enough memory ({_one_line(exc) or 'MemoryError'}): use a smaller "
                      f"network (--units, --batch-size) or less data")
        return EXIT_USAGE
    except USER_ERRORS as exc:
        _report(args, _one_line(exc))
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on --debug
        _report(args, f"internal error {type(exc).__name__}: {_one_line(exc)} (a bug in "
                      f"nnbook; rerun with --debug for the traceback and report it)")
        return EXIT_INTERNAL


def _one_line(exc):
    """The exception's message on one line (hints after a newline are kept)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _report(args, message):
    if args.debug:
        traceback.print_exc(file=sys.stderr)
    print(f"nnbook {args.command}: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
