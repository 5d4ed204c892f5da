"""The nnbook command line: reproduce, train, predict, show-data, errors, progress.

Most runs are in-process (``main([...])``, output captured); one end-to-end
``python -m nnbook reproduce --quick --out DIR`` runs as a subprocess.
"""
import csv
import importlib.util
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnbook import cli, datasets, experiments
from nnbook.progress import ProgressBar

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BREAST_KEYS = ["single_layer", "dual_layer", "random_init", "minibatch_32", "minibatch_128"]


def _has_fashion():
    try:
        datasets.find_fashion_mnist()
        return True
    except FileNotFoundError:
        return False


HAS_FASHION = _has_fashion()
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason="Fashion-MNIST is not installed "
                                   "(apt-get install dataset-fashion-mnist)")
try:
    import matplotlib  # noqa: F401
    HAS_MPL = True
except ImportError:
    HAS_MPL = False
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed")


def run(capsys, *args):
    """main(args) in-process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_png(path):
    data = open(path, "rb").read()
    assert data.startswith(PNG_SIGNATURE), path
    assert len(data) > 5000, (path, len(data))


@pytest.fixture
def no_fashion(monkeypatch, tmp_path):
    """Every Fashion-MNIST look-up place points at nothing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("NNBOOK_DATA", str(empty))
    monkeypatch.setenv("HOME", str(empty))  # the Keras cache
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", str(empty / "debian"))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_GLOBS", ())
    return empty


# -- reproduce ----------------------------------------------------------------

# reproduce draws the chapters' figures: it needs the plot extra (matplotlib)
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="reproduce draws figures: needs the plot extra (matplotlib)")


@needs_matplotlib
def test_reproduce_quick_end_to_end_subprocess(tmp_path):
    """The README's command, as a user runs it (python -m nnbook, stdout not a TTY)."""
    out_dir = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "nnbook", "reproduce", "--quick", "--out",
                           str(out_dir)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout
    assert "model" in table and "val acc" in table and "book" in table
    for exp in experiments.EXPERIMENTS:
        assert exp.label in table
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal

    doc = json.loads((out_dir / "results.json").read_text())
    assert doc["quick"] is True
    rows = {r["key"]: r for r in doc["rows"]}
    assert list(rows) == [e.key for e in experiments.EXPERIMENTS]
    for key in BREAST_KEYS:
        assert rows[key]["status"] == "quick" and 0.5 < rows[key]["val_accuracy"] <= 1
        assert rows[key]["book_accuracy"] == 0.978
    if HAS_FASHION:
        assert rows["multiclass"]["status"] == "quick"
    ran = [r for r in rows.values() if r["status"] == "quick"]
    for r in ran:
        assert r["figure"] == f"{r['key']}.png" and r["epochs"] > 0
        assert (out_dir / f"{r['key']}.npz").is_file()   # the trained model
        assert_png(out_dir / r["figure"])
    with open(out_dir / "results.csv", newline="") as f:
        assert [r["key"] for r in csv.DictReader(f)] == list(rows)


@needs_matplotlib
def test_reproduce_breast_cancer_in_process(capsys, tmp_path):
    code, out, err = run(capsys, "reproduce", "--quick", "--only", *BREAST_KEYS,
                         "--out", tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("model"))
    rows = lines[header + 1:header + 6]
    labels = [e.label for e in experiments.EXPERIMENTS[:5]]
    epochs = [e.quick_epochs for e in experiments.EXPERIMENTS[:5]]
    for row, label, n in zip(rows, labels, epochs):
        assert row.startswith(label)
        fields = row[len(label):].split()
        assert int(fields[0]) == n and float(fields[1]) >= 0
        assert 0.5 < float(fields[2]) <= 1 and fields[3] == "0.978"
    assert lines[header + 6].startswith("total")
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [r["key"] for r in doc["rows"]] == BREAST_KEYS
    # the SingleLayer with the book's settings already reaches the book's number
    assert doc["rows"][0]["val_accuracy"] == pytest.approx(0.978, abs=0.001)
    # every trained model is saved, and export reads it back
    for key, row in zip(BREAST_KEYS, doc["rows"]):
        assert (tmp_path / f"{key}.npz").is_file()
    onnx = pytest.importorskip("onnx")
    target = tmp_path / "first.onnx"
    code, out, err = run(capsys, "export", str(tmp_path / f"{BREAST_KEYS[-1]}.npz"),
                         "--to", str(target))
    assert code == 0, err
    onnx.checker.check_model(onnx.load(str(target)))


def test_reproduce_single_layer_matches_the_book(capsys):
    code, out, _ = run(capsys, "reproduce", "--only", "single_layer", "random_init")
    assert code == 0
    assert out.count("ok (within 0.01)") == 2 and "0.978  0.978" in out


def test_reproduce_skips_fashion_rows_when_data_is_missing(capsys, no_fashion):
    code, out, err = run(capsys, "reproduce", "--quick", "--only", "single_layer",
                         "multiclass", "keras")
    assert code == 0
    assert "apt-get install dataset-fashion-mnist" in err
    assert out.count("skipped: data not found") == 2
    assert "quick run" in out  # the breast-cancer row still ran


# -- train / predict ----------------------------------------------------------

@needs_mpl
def test_train_save_then_predict(capsys, tmp_path):
    model_file, plot = tmp_path / "dual.npz", tmp_path / "loss.png"
    code, out, err = run(capsys, "train", "--data", "breast-cancer", "--model", "minibatch",
                         "--epochs", "30", "--save", model_file, "--plot", plot)
    assert code == 0, err
    assert "MinibatchNetwork(units=10, batch_size=32" in out and "30 epochs" in out
    assert "l2=0.01" in out  # the book's setting for this data and model
    accuracy = float(out.split("validation accuracy ")[1].split(";")[0])
    assert_png(plot)

    code, out, err = run(capsys, "predict", model_file, "--plot", tmp_path / "cm.png")
    assert code == 0, err
    assert f"accuracy {accuracy:.4f}" in out  # same model, same data, same split
    assert "malignant" in out and "benign" in out
    matrix = [[int(v) for v in l.split()[1:]] for l in out.splitlines()[-3:-1]]
    assert np.sum(matrix) == 91  # the validation rows
    assert_png(tmp_path / "cm.png")

    code, out, _ = run(capsys, "predict", model_file, "--data", "breast-cancer",
                       "--split", "test")
    assert code == 0 and "(" in out and "/114)" in out


def test_train_float32_single(capsys):
    code, out, err = run(capsys, "train", "--data", "breast-cancer", "--model", "single",
                         "--epochs", "20", "--dtype", "float32", "--lr", "0.05")
    assert code == 0, err
    assert "SingleLayer(learning_rate=0.05" in out and "float32" in err


def test_train_and_predict_on_an_npz_data_file(capsys, tmp_path):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(300, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    data = tmp_path / "mine.npz"
    np.savez(data, x_train=x[:240], y_train=labels[:240], x_val=x[240:],
             y_val=np.eye(3)[labels[240:]], class_names=np.array(["a", "b", "c"]))
    model_file = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", "--data", data, "--units", "8", "--epochs", "40",
                         "--save", model_file)
    assert code == 0, err
    assert out.startswith("MultiClassNetwork(units=8")  # 3 classes: multiclass by default
    code, out, err = run(capsys, "predict", model_file)  # data taken from the model file
    assert code == 0, err
    assert "accuracy" in out and out.splitlines()[2].split()[:3] == ["a", "b", "c"]

    code, _, err = run(capsys, "train", "--data", data, "--model", "dual")
    assert code == 2 and "use --model multiclass" in err


# -- show-data ------------------------------------------------------------------

@needs_fashion
@needs_mpl
def test_show_data(capsys, tmp_path):
    code, out, err = run(capsys, "show-data", "fashion-mnist", "--plot", tmp_path / "s.png",
                         "--count", "6")
    assert code == 0, err
    assert "first 6 labels: [9, 0, 0, 3, 0, 2]" in out and "Ankle boot" in out
    assert_png(tmp_path / "s.png")


# -- errors ---------------------------------------------------------------------

def test_unknown_model_name(capsys):
    code, _, err = run(capsys, "train", "--data", "breast-cancer", "--model", "perceptron")
    assert code == 2 and "invalid choice: 'perceptron'" in err


def test_missing_fashion_data(capsys, no_fashion):
    code, out, err = run(capsys, "train", "--data", "fashion-mnist")
    assert code == 2 and out == ""
    assert "apt-get install dataset-fashion-mnist" in err and "Traceback" not in err
    code, _, err = run(capsys, "show-data", "fashion-mnist")
    assert code == 2 and "apt-get install dataset-fashion-mnist" in err


def test_unreadable_model_files(capsys, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"\x00" * 100)
    code, _, err = run(capsys, "predict", bad, "--data", "breast-cancer")
    assert code == 2 and "not an nnbook model file" in err
    code, _, err = run(capsys, "predict", tmp_path / "nothing.npz", "--data", "breast-cancer")
    assert code == 2 and "model file not found" in err


def test_model_that_does_not_fit_the_data(capsys, tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.eye(4), y_train=[0, 1, 0, 1],
             x_val=np.eye(4), y_val=[0, 1, 0, 1])
    run(capsys, "train", "--data", tmp_path / "d.npz", "--model", "single", "--epochs", "2",
        "--save", tmp_path / "m.npz")
    code, _, err = run(capsys, "predict", tmp_path / "m.npz", "--data", "breast-cancer")
    assert code == 2 and "x has 30 features but the network was fitted with 4" in err


def test_diverging_run(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data", "breast-cancer", "--model", "single",
                         "--lr", "1e300", "--epochs", "50", "--save", tmp_path / "m.npz")
    assert code == 1
    assert "DIVERGED" in out and "smaller --lr" in err
    assert not (tmp_path / "m.npz").exists()


def test_option_that_does_not_apply(capsys):
    code, _, err = run(capsys, "train", "--data", "breast-cancer", "--model", "single",
                       "--units", "5")
    assert code == 2 and "--units does not apply to --model single" in err


def test_bad_numbers_are_usage_errors(capsys):
    code, _, err = run(capsys, "train", "--data", "breast-cancer", "--epochs", "0")
    assert code == 2 and "positive integer" in err
    code, _, err = run(capsys, "train", "--data", "nowhere.npz")
    assert code == 2 and "data file not found" in err


def test_plot_without_matplotlib(capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run(capsys, "train", "--data", "breast-cancer", "--plot", "x.png")
    assert code == 2 and "pip install nnbook[plot]" in err and out == ""


def test_imports_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import nnbook, nnbook.cli, nnbook.plots, nnbook.experiments\n"
            "sys.exit(nnbook.cli.main(['train', '--data', 'breast-cancer', '--epochs', '3']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "reproduce" in out and "exit codes" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("nnbook ")
    code, _, err = run(capsys)
    assert code == 2 and "required" in err


# -- progress ---------------------------------------------------------------------

class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_at_a_bounded_rate():
    stream = FakeTTY()
    bar = ProgressBar(10000, "net", stream=stream, interval=3600)
    for epoch in range(10000):
        bar.update(epoch + 1, loss=0.5)
    bar.close()
    text = stream.getvalue()
    # the first epoch, the last one, and the closing line: nothing in between
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "10000/10000" in text and "total" in text and "loss 0.5000" in text


def test_progress_is_silent_off_a_terminal_unless_forced():
    quiet = io.StringIO()
    bar = ProgressBar(5, "net", stream=quiet)
    for epoch in range(5):
        bar.update(epoch + 1, loss=1.0, val_acc=lambda: pytest.fail("computed while silent"))
    bar.close()
    assert quiet.getvalue() == ""

    forced = io.StringIO()
    bar = ProgressBar(5, "net", stream=forced, enabled=True, interval=0)
    for epoch in range(5):
        bar.update(epoch + 1, loss=1.0)
    bar.close()
    lines = forced.getvalue().splitlines()
    assert len(lines) == 5 and "\r" not in forced.getvalue()  # 4 updates + the final line
    assert lines[0].startswith("net 1/5") and "ETA" in lines[0] and "total" in lines[-1]


def test_cli_progress_flag(capsys):
    code, _, err = run(capsys, "train", "--data", "breast-cancer", "--epochs", "5", "--progress")
    assert code == 0 and "5/5" in err and "val_acc" in err
    code, _, err = run(capsys, "train", "--data", "breast-cancer", "--epochs", "5")
    assert code == 0 and "5/5" not in err


def test_fit_callback_can_stop_training(cancer):
    s = cancer
    seen = []
    net = experiments.MODEL_CLASSES["dual"]().fit(
        s.x_train, s.y_train, epochs=50, x_val=s.x_val, y_val=s.y_val,
        callback=lambda epoch, logs: seen.append((epoch, sorted(logs))) or epoch == 9)
    assert len(net.losses) == 10 and seen[0] == (0, ["loss", "val_loss"])


def test_class_names_korean_only_with_a_hangul_font(monkeypatch, capsys):
    monkeypatch.setattr(cli.plots, "hangul_font", lambda: None)
    names, font = cli._class_names("ko")
    assert names == datasets.FASHION_MNIST_CLASSES and font is None
    assert "no font with Hangul" in capsys.readouterr().err
    monkeypatch.setattr(cli.plots, "hangul_font", lambda: "NanumGothic")
    assert cli._class_names("auto") == (datasets.FASHION_MNIST_CLASSES_KO, "NanumGothic")
    assert cli._class_names("en") == (datasets.FASHION_MNIST_CLASSES, None)


def test_table_marks_diverged_skipped_and_off_rows():
    from nnbook.experiments import Result, judge
    from nnbook.report import format_table
    rows = [judge(Result("a", "A", "d", 10, 1.0, 0.95, 0.978), quick=False),
            Result("b", "B", "d", 3, 0.1, None, 0.978, status="diverged", note="loss became nan"),
            Result("c", "C", "d", status="skipped", note="no data", book_accuracy=0.815)]
    text = format_table(rows, 1.1)
    assert rows[0].status == "off" and "OFF by more than 0.01" in text
    assert "DIVERGED: loss became nan" in text and "skipped: no data" in text
    assert text.splitlines()[-1].split() == ["total", "1.10"]
