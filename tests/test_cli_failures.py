"""The command line's failure paths and exit codes.

0 success; 1 the run diverged (non-finite loss, or a finite loss grown 1e6-fold);
2 something for the user to fix: ONE line on stderr naming the file or option, no
traceback; 3 an internal error: one line, the traceback only with --debug.
Each case runs in-process (``cli.main``); the user-facing ones also as
``python -m nnbook`` subprocesses.
"""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import nnbook
from nnbook import cli, experiments

RNG = np.random.default_rng(3)
X = RNG.normal(size=(60, 4))
LABELS = (X[:, 0] > 0).astype(np.int64)


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err):
    """The one error line on stderr (status lines such as 'loading ...' may precede it)."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, err
    assert "Traceback" not in err, err
    assert lines[-1] == errors[0], err
    return errors[0]


@pytest.fixture
def files(tmp_path):
    """A good data file, broken ones, and a saved model, in tmp_path."""
    def save(name, **arrays):
        np.savez(tmp_path / name, **arrays)
        return tmp_path / name

    paths = {"good": save("good.npz", x_train=X[:40], y_train=LABELS[:40], x_val=X[40:],
                          y_val=LABELS[40:])}
    paths["empty"] = save("empty.npz")
    paths["no_rows"] = save("no_rows.npz", x_train=np.zeros((0, 4)), y_train=np.zeros(0))
    nan = X.copy()
    nan[5, 2] = np.nan
    paths["nan"] = save("nan.npz", x_train=nan[:40], y_train=LABELS[:40], x_val=X[40:],
                        y_val=LABELS[40:])
    paths["width"] = save("width.npz", x_train=X[:40], y_train=LABELS[:40], x_val=X[40:, :3],
                          y_val=LABELS[40:])
    big = LABELS.astype(np.float64)
    big[7] = 1e8
    paths["big_label"] = save("big_label.npz", x_train=X[:40], y_train=big[:40],
                              x_val=X[40:], y_val=LABELS[40:])
    paths["notes"] = tmp_path / "notes.txt"
    paths["notes"].write_text("my notes\n")
    paths["adir"] = tmp_path / "adir"
    paths["adir"].mkdir()
    model = nnbook.DualLayer(units=3).fit(X[:40], LABELS[:40], epochs=2)
    paths["model"] = tmp_path / "model.npz"
    nnbook.persistence.save_model(model, paths["model"], extra={"data": str(paths["good"])})
    return paths


def _rewrite_member(path, key, array):
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    members[key + ".npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


TRAIN = ("train", "--model", "single", "--epochs", "2", "--no-progress")


def _user_error_cases(files, tmp_path):
    """(argv, words the one error line must contain), the issue's failure paths."""
    good = files["good"]
    cut = tmp_path / "cut.npz"
    cut.write_bytes(files["model"].read_bytes()[:200])
    extra_list = tmp_path / "extra_list.npz"
    extra_list.write_bytes(files["model"].read_bytes())
    _rewrite_member(extra_list, "extra", np.array('["a list"]'))
    nan_model = tmp_path / "nan_model.npz"
    nan_model.write_bytes(files["model"].read_bytes())
    params = nnbook.load(files["model"])._net.params.copy()
    params[0] = np.nan
    _rewrite_member(nan_model, "params", params)
    huge = tmp_path / "huge.npz"
    huge.write_bytes(files["model"].read_bytes())
    _rewrite_member(huge, "sizes", np.array([4, 2 ** 31, 1]))
    npy = tmp_path / "weights.npy"
    np.save(npy, np.zeros(4))
    return [
        ((*TRAIN, "--data", good, "--save", files["adir"]), ["--save", "is a directory"]),
        ((*TRAIN, "--data", good, "--save", tmp_path / "nodir" / "m.npz"),
         ["--save", "nodir", "does not exist"]),
        (("train", "--data", good, "--model", "dual", "--units", "3000000000"),
         ["--units", "2147483647"]),
        (("train", "--data", files["empty"]), ["empty.npz", "lacks x_train, y_train"]),
        (("train", "--data", files["no_rows"]), ["no_rows.npz", "at least one row"]),
        ((*TRAIN, "--data", files["nan"]), ["nan.npz", "x_train", "NaN"]),
        ((*TRAIN, "--data", files["width"]), ["width.npz", "x_val has 3 features"]),
        ((*TRAIN, "--data", files["big_label"]), ["big_label.npz", "y_train", "100000000"]),
        ((*TRAIN, "--data", files["adir"]), ["adir", "is a directory"]),
        ((*TRAIN, "--data", files["notes"]), ["notes.txt", "not an .npz"]),
        (("predict", extra_list), ["extra_list.npz", "'extra' should be a JSON object"]),
        (("predict", cut, "--data", good), ["cut.npz", "corrupt"]),
        (("predict", nan_model, "--data", good), ["nan_model.npz", "NaN"]),
        (("predict", huge, "--data", good), ["huge.npz", "do not fit"]),
        (("predict", npy, "--data", good), ["weights.npy", "single .npy array"]),
        (("predict", files["model"], "--data", files["nan"], "--split", "train"),
         ["NaN"]),
        (("predict", files["model"], "--data", files["adir"]), ["adir", "is a directory"]),
    ]


def test_user_errors_exit_2_with_one_line_in_process(files, tmp_path, capsys):
    for argv, words in _user_error_cases(files, tmp_path):
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        line = error_line(err)
        for word in words:
            assert word in line, (argv, line)
        assert "allow_pickle" not in line and "nnbook-partial" not in line, line
        assert "not found" not in line or "nodir" in line, line


def test_user_errors_exit_2_as_a_subprocess(files, tmp_path):
    cases = _user_error_cases(files, tmp_path)
    for argv, words in cases[::3]:  # a spread of them, each start costs a second
        proc = subprocess.run([sys.executable, "-m", "nnbook", *map(str, argv)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (argv, proc.stderr)
        line = error_line(proc.stderr)
        for word in words:
            assert word in line, (argv, line)


def test_data_notes_txt_does_not_repeat_numpys_advice(files, capsys):
    code, _, err = run(capsys, *TRAIN, "--data", files["notes"])
    assert code == 2 and "allow_pickle" not in err and "pickled" not in err


def test_data_directory_is_not_called_missing(files, capsys):
    code, _, err = run(capsys, *TRAIN, "--data", files["adir"])
    assert code == 2 and "not found" not in err and "--data-dir" in err


def _unwritable_folder(tmp_path):
    """A folder this process cannot write in: chmod 555, or /sys when running as root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return folder
    folder.chmod(0o755)
    try:
        open("/sys/nnbook-probe", "wb").close()
    except OSError:
        return "/sys"
    os.remove("/sys/nnbook-probe")
    pytest.skip("no folder here refuses writes")


def test_save_into_a_read_only_folder(files, tmp_path, capsys):
    folder = _unwritable_folder(tmp_path)
    target = os.path.join(folder, "m.npz")
    code, _, err = run(capsys, *TRAIN, "--data", files["good"], "--save", target)
    assert code == 2
    line = error_line(err)
    assert target in line and ("cannot write" in line or "no permission" in line), line
    assert "nnbook-partial" not in line and not os.path.exists(target)


def test_save_failing_mid_write_names_the_target(files, tmp_path, capsys, monkeypatch):
    from nnbook.io import npz as npz_io

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(npz_io, "_write_archive", full)
    target = tmp_path / "m.npz"
    code, out, err = run(capsys, *TRAIN, "--data", files["good"], "--save", target)
    assert code == 2
    line = error_line(err)
    assert f"cannot save {target}: no space left" in line
    assert [p.name for p in tmp_path.iterdir() if "nnbook-partial" in p.name] == []


def test_plot_into_a_read_only_folder(files, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    folder = _unwritable_folder(tmp_path)
    target = os.path.join(folder, "loss.png")
    code, _, err = run(capsys, *TRAIN, "--data", files["good"], "--plot", target)
    assert code == 2
    line = error_line(err)
    assert target in line or str(folder) in line, line


def test_plot_checked_before_training(files, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    trained = []
    monkeypatch.setattr(experiments, "run_book", lambda *a, **k: trained.append(1))
    code, _, err = run(capsys, *TRAIN, "--data", files["good"], "--plot", tmp_path / "l.png")
    assert code == 2 and trained == []
    assert "--plot" in error_line(err) and "cannot write" in err


def test_a_loss_grown_a_million_fold_is_diverged(tmp_path, capsys):
    # all-ones rows and a strong l2 step: each epoch flips and doubles w, so the penalty
    # (and the loss) grows 4x per epoch while staying finite
    data = tmp_path / "ones.npz"
    np.savez(data, x_train=np.ones((40, 4)), y_train=np.ones(40, np.int64),
             x_val=np.ones((4, 4)), y_val=np.array([0, 1, 0, 1]))
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", "--data", data, "--model", "single", "--lr", "3",
                         "--l2", "40", "--epochs", "30", "--save", model, "--no-progress")
    assert code == 1, err
    assert "DIVERGED" in out and "more than 1e+06 times" in err
    assert not model.exists()


def test_divergence_rule():
    assert experiments.divergence([1.0, 0.5, 0.1]) is None
    assert experiments.divergence([1.0, 9e5]) is None
    assert "grew" in experiments.divergence([1.0, 2e6])
    assert "nan" in experiments.divergence([1.0, float("nan")])
    assert "inf" in experiments.divergence([float("inf")])
    assert experiments.divergence([]) is None and experiments.divergence([0.0, 5.0]) is None


def test_non_finite_loss_still_exits_1(files, capsys):
    code, out, err = run(capsys, "train", "--data", files["good"], "--model", "single",
                         "--lr", "1e300", "--epochs", "20", "--no-progress")
    assert code == 1 and "DIVERGED" in out


def test_internal_error_exits_3_and_debug_shows_the_traceback(files, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the core returned status -7")

    monkeypatch.setattr(experiments, "run_book", broken)
    argv = (*TRAIN, "--data", files["good"])
    code, _, err = run(capsys, *argv)
    assert code == 3
    line = error_line(err)
    assert "internal error RuntimeError: the core returned status -7" in line
    assert "--debug" in line
    for debug_argv in (("--debug", *argv), (*argv, "--debug")):
        code, _, err = run(capsys, *debug_argv)
        assert code == 3
        assert "Traceback (most recent call last)" in err and "status -7" in err


def test_internal_error_as_a_subprocess(tmp_path):
    # a sitecustomize breaks the core call; the CLI must still print one line, exit 3
    hook = tmp_path / "sitecustomize.py"
    hook.write_text("import nnbook.experiments as e\n"
                    "def broken(*a, **k):\n    raise RuntimeError('boom')\n"
                    "e.run_book = broken\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    argv = [sys.executable, "-m", "nnbook", *TRAIN, "--data", "breast-cancer"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode == 0:
        pytest.skip("sitecustomize is not honoured here")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error RuntimeError: boom" in proc.stderr
    proc = subprocess.run(argv + ["--debug"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 3 and "Traceback" in proc.stderr


def test_memory_error_is_a_user_error(files, capsys, monkeypatch):
    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 515. GiB")

    monkeypatch.setattr(experiments, "run_book", too_big)
    code, _, err = run(capsys, *TRAIN, "--data", files["good"])
    assert code == 2
    assert "not enough memory (Unable to allocate 515. GiB)" in error_line(err)


def test_usage_errors_are_one_line(capsys):
    code, _, err = run(capsys, "train", "--data", "breast-cancer", "--epochs", "0")
    assert code == 2
    assert error_line(err).startswith("nnbook train: error: argument --epochs")
    assert "usage:" not in err


def test_keras_model_file_in_predict(files, tmp_path, capsys):
    from nnbook import keras
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(4,))])
    model.save(tmp_path / "k.npz")
    code, _, err = run(capsys, "predict", tmp_path / "k.npz", "--data", files["good"])
    assert code == 2 and "k.npz" in error_line(err)


def test_success_still_exits_0(files, tmp_path, capsys):
    target = tmp_path / "m.npz"
    code, out, err = run(capsys, *TRAIN, "--data", files["good"], "--save", target)
    assert code == 0, err
    code, out, err = run(capsys, "predict", target)
    assert code == 0, err
    assert json.loads(json.dumps(nnbook.persistence.read_extra(target)))["model"] == "single"


def test_reproduce_out_must_be_a_writable_folder(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a_file = tmp_path / "results.txt"
    a_file.write_text("x")
    code, _, err = run(capsys, "reproduce", "--quick", "--only", "single_layer", "--out", a_file)
    assert code == 2 and "--out" in error_line(err) and "is a file" in err


def test_features_beyond_float32_are_refused(tmp_path, capsys):
    data = tmp_path / "wide_range.npz"
    x = X.copy()
    x[2, 0] = 1e300
    np.savez(data, x_train=x[:40], y_train=LABELS[:40], x_val=X[40:], y_val=LABELS[40:])
    code, _, err = run(capsys, *TRAIN, "--data", data, "--dtype", "float32")
    assert code == 2
    assert "x_train has values beyond the range of float32" in error_line(err)
    code, _, err = run(capsys, *TRAIN, "--data", data)  # float64 holds them
    assert code in (0, 1), err
