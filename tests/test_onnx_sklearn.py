"""nnbook.sklearn's estimators as ONNX graphs: nnbook.onnx.export, skl2onnx pipelines, the CLI.

onnxruntime's outputs are compared with predict / predict_proba at 1e-6
(float32) and 1e-12 (float64) relative to the output's scale, over batches
of 1, 7 and 1000 rows; labels must be equal, in predict's dtype.
"""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import nnbook.onnx  # noqa: E402
from nnbook.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

DTYPES = [np.float32, np.float64]
BATCHES = [1, 7, 1000]
OPS = {"Gemm", "Relu", "Tanh", "Sigmoid", "Softmax", "Exp", "Sub", "Concat", "ArgMax",
       "Gather", "Greater", "Cast", "Identity"}


def _close(actual, expected, rtol32=1e-6):
    rtol = rtol32 if expected.dtype == np.float32 else 1e-12
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def _session(source):
    return ort.InferenceSession(str(source) if not isinstance(source, bytes) else source,
                                providers=["CPUExecutionProvider"])


def _outputs(session, x):
    return dict(zip([o.name for o in session.get_outputs()],
                    session.run(None, {session.get_inputs()[0].name: x})))


def _fit(est, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # ConvergenceWarning: a few epochs are enough
        return est.fit(x, y)


def _check_graph(path, dtype):
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == nnbook.onnx.OPSET
    ops = {node.op_type for node in model.graph.node}
    assert ops <= OPS, ops - OPS
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.graph.input[0].type.tensor_type.elem_type == \
        onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 20))
ROWS = RNG.normal(scale=2, size=(1000, 20))
TARGETS = {
    "multiclass ints": RNG.integers(0, 4, 300) * 10 - 5,
    "binary strings": np.where(RNG.random(300) > 0.5, "cat", "dog"),
    "multiclass text objects": np.array(["ä", "b", "c"], dtype=object)[RNG.integers(0, 3, 300)],
    "binary floats": RNG.integers(0, 2, 300) * 2.0 + 1,
    "binary booleans": RNG.random(300) > 0.4,
    "multilabel": (RNG.random((300, 3)) > 0.5).astype(int),
    "one class": np.full(300, 7),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_classifier_labels_and_probabilities(tmp_path, dtype, target):
    activation = ["relu", "tanh", "logistic", "identity"][sorted(TARGETS).index(target) % 4]
    clf = _fit(MLPClassifier((9, 7), activation=activation, max_iter=20, random_state=0,
                             dtype=dtype), X, TARGETS[target])
    path = tmp_path / "clf.onnx"
    nnbook.onnx.export(clf, path)
    _check_graph(path, dtype)
    session = _session(path)
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    rows = ROWS.astype(dtype)
    for n in BATCHES:
        out = _outputs(session, rows[:n])
        expected = clf.predict(rows[:n])
        np.testing.assert_array_equal(out["label"], expected)
        assert out["label"].shape == expected.shape
        assert out["label"].dtype == expected.dtype or (
            expected.dtype.kind in "UO" and out["label"].dtype == object)
        _close(out["probabilities"], clf.predict_proba(rows[:n]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, n_outputs", [("squared_error", 1), ("squared_error", 3),
                                             ("poisson", 2)])
def test_regressor_variable(tmp_path, dtype, loss, n_outputs):
    y = np.abs(X[:, :n_outputs]) + 0.1
    reg = _fit(MLPRegressor(loss, hidden_layer_sizes=(8,), activation="tanh", max_iter=20,
                            random_state=0, dtype=dtype), X, y[:, 0] if n_outputs == 1 else y)
    path = tmp_path / "reg.onnx"
    nnbook.onnx.export(reg, path)
    _check_graph(path, dtype)
    session = _session(path)
    rows = ROWS.astype(dtype)
    for n in BATCHES:
        (variable,) = session.run(None, {"input": rows[:n]})
        # (batch, n_outputs) also for one output, as skl2onnx writes it
        _close(variable, reg.predict(rows[:n]).reshape(n, n_outputs))


def test_an_unfitted_estimator_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError
    for est in (MLPClassifier(), MLPRegressor()):
        with pytest.raises(NotFittedError, match=f"This {type(est).__name__} instance is not "
                                                 f"fitted yet"):
            nnbook.onnx.export(est, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_an_unpickled_estimator_exports_the_same_bytes(tmp_path):
    clf = _fit(MLPClassifier((6,), max_iter=5, random_state=0, dtype=np.float32), X,
               TARGETS["binary strings"])
    first = nnbook.onnx.export(clf, tmp_path / "a.onnx").SerializeToString()
    copy = pickle.loads(pickle.dumps(clf))          # coefs_ as plain arrays, no core network
    assert nnbook.onnx.export(copy, tmp_path / "b.onnx").SerializeToString() == first
    assert (tmp_path / "a.onnx").read_bytes() == first


def test_fashion_mnist_rows(tmp_path):
    """784 inputs: float64 holds 1e-12; float32 holds 1e-5, not 1e-6.

    Both runtimes compute each first-layer dot product correctly rounded to
    within a few float32 units of its sum of |terms| (test_onnx_export's
    test_the_float32_gap_is_the_first_layers_rounding measures it), but in
    different orders, so their outputs differ by up to a few 1e-6 of the
    largest; nnbook's own outputs for the same rows in batches of another
    size differ from each other by as much (its kernels are chosen by size).
    """
    from nnbook import datasets
    try:
        (x_train, y_train), _ = datasets.load_fashion_mnist()
    except (FileNotFoundError, OSError, ValueError):
        pytest.skip("Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)")
    x = x_train[:3000].reshape(3000, -1) / 255.0
    for dtype in DTYPES:
        clf = _fit(MLPClassifier((100,), max_iter=5, random_state=0, dtype=dtype), x[:2000],
                   y_train[:2000])
        nnbook.onnx.export(clf, tmp_path / "fashion.onnx")
        rows = x[2000:].astype(dtype)
        out = _outputs(_session(tmp_path / "fashion.onnx"), rows)
        _close(out["probabilities"], clf.predict_proba(rows), rtol32=1e-5)
        np.testing.assert_array_equal(out["label"], clf.predict(rows))


# ---- skl2onnx --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", ["multiclass ints", "binary strings", "multilabel"])
def test_a_pipeline_converts_with_skl2onnx(dtype, target):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x = X * 4 + 3
    pipe = _fit(make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=20, random_state=0,
                                                              dtype=dtype)), x, TARGETS[target])
    proto = skl2onnx.to_onnx(pipe, x[:1].astype(dtype),
                             options={MLPClassifier: {"zipmap": False}})
    onnx.checker.check_model(proto, full_check=True)
    out = _outputs(_session(proto.SerializeToString()), x.astype(dtype))
    assert list(out) == ["label", "probabilities"]
    np.testing.assert_array_equal(out["label"], pipe.predict(x))
    # float32: skl2onnx's Scaler standardises in float32 where scikit-learn
    # does it in float64 before nnbook's float32 network sees the rows
    _close(out["probabilities"], pipe.predict_proba(x).astype(dtype), rtol32=1e-5)


def test_a_regressor_pipeline_and_zipmap_convert():
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pipe = _fit(make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(8,), max_iter=20,
                                                             random_state=0)), X, X[:, :2])
    proto = skl2onnx.to_onnx(pipe, X[:1])
    (variable,) = _session(proto.SerializeToString()).run(None, {"X": X})
    _close(variable, pipe.predict(X))
    # skl2onnx's default for a classifier: a ZipMap of {label: probability}
    # per row (ONNX's ZipMap takes float32 only; the Scaler standardises in float32)
    clf = _fit(make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=20, random_state=0,
                                                             dtype=np.float32)),
               X, TARGETS["multiclass ints"])
    x = X.astype(np.float32)
    out = _outputs(_session(skl2onnx.to_onnx(clf, x[:1]).SerializeToString()), x)
    np.testing.assert_array_equal(out["output_label"], clf.predict(x))
    assert [sorted(row) for row in out["output_probability"][:2]] == [[-5, 5, 15, 25]] * 2
    rows = np.array([[row[c] for c in clf.classes_] for row in out["output_probability"]],
                    dtype=np.float32)
    _close(rows, clf.predict_proba(x), rtol32=1e-5)


def test_registration_waits_for_skl2onnx_and_imports_nothing():
    """import nnbook.sklearn imports neither onnx nor skl2onnx; a later
    import skl2onnx finds the estimators registered."""
    pytest.importorskip("skl2onnx")
    code = """if True:
        import sys, warnings
        import numpy as np
        from nnbook.sklearn import MLPClassifier
        assert "onnx" not in sys.modules and "skl2onnx" not in sys.modules
        import skl2onnx
        from skl2onnx._supported_operators import sklearn_operator_name_map
        assert sklearn_operator_name_map[MLPClassifier] == "NnbookMLPClassifier"
        assert not any(type(f).__name__ == "_AfterImport" for f in sys.meta_path)
        x = np.random.default_rng(0).normal(size=(40, 3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = MLPClassifier((4,), max_iter=5).fit(x, np.arange(40) % 2)
        skl2onnx.to_onnx(clf, x[:1], options={MLPClassifier: {"zipmap": False}})
        print("ok")
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ---- the command line --------------------------------------------------------------

def test_cli_refuses_pickles_and_says_what_to_do(tmp_path, capsys):
    joblib = pytest.importorskip("joblib")
    from nnbook.cli import main
    clf = _fit(MLPClassifier((4,), max_iter=5, random_state=0), X, TARGETS["binary strings"])
    (tmp_path / "clf.pkl").write_bytes(pickle.dumps(clf))
    joblib.dump(clf, tmp_path / "clf.joblib")
    joblib.dump(clf, tmp_path / "clf.joblib.z", compress=3)
    for name in ("clf.pkl", "clf.joblib", "clf.joblib.z"):
        assert main(["export", str(tmp_path / name), "--to", str(tmp_path / "m.onnx")]) == 2
        err = capsys.readouterr().err
        assert "pickle or joblib file" in err and "nnbook.onnx.export(estimator" in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()
