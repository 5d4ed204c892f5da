"""ONNX export of nnbook.keras models with the issue-9 layers and every activation.

onnxruntime against nnbook's predict: 1e-6 (float32) and 1e-12 (float64) of
the output's scale, on batches of 1, 7 and 1000 rows; onnx.checker passes;
the graph input keeps the model's sample shape (Flatten inside the graph);
BatchNormalization runs on its moving statistics; Dropout is left out.
"""
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import nnbook.onnx  # noqa: E402
from nnbook import keras  # noqa: E402
from test_onnx_export import BATCHES, _close  # noqa: E402  (the same tolerance rule)

L = keras.layers
ACTIVATIONS = ["elu", "selu", "gelu", "swish", "silu", "leaky_relu", "softplus", "softsign",
               "hard_sigmoid", "hard_silu", "exponential", "sigmoid", "tanh", "relu", "linear"]


def _export_and_compare(model, path, rows, rtol32=1e-6):
    proto = nnbook.onnx.export(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert proto.opset_import[0].version == nnbook.onnx.OPSET
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert [d.dim_value for d in dims[1:]] == list(model.input_shape[1:])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in BATCHES:
        (out,) = session.run(None, {"input": rows[:n]})
        _close(out, model.predict(rows[:n], verbose=0), rtol32)
    return proto


def _trained_stack(dtype, activation):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input(shape=(4, 5)), L.Flatten(),
        L.Dense(9, kernel_regularizer=keras.regularizers.L2(0.01)),
        L.BatchNormalization(momentum=0.5), L.Dropout(0.3, seed=2),
        # the activation inside a Dense and as a layer (exp(exp(z)) would overflow)
        L.Dense(8, activation=None if activation == "exponential" else activation),
        L.Activation(activation),
        L.BatchNormalization(center=False, epsilon=0.01), L.Dense(3, activation="softmax")],
        dtype=dtype)
    rng = np.random.default_rng(0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(200, 4, 5)) * 0.5
    model.fit(x, rng.integers(0, 3, 200), epochs=3, verbose=0)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_issue9_stack_with_every_activation(tmp_path, dtype, activation):
    model = _trained_stack(dtype, activation)
    assert np.abs(model.layers[2].moving_mean).max() > 0      # the statistics moved
    rows = np.random.default_rng(1).normal(scale=2, size=(1000, 4, 5)).astype(dtype)
    # exp of the wider test rows drives the softmax's logits to |z| ~ 40,
    # whose float32 rounding alone is 2.4e-6: onnxruntime and nnbook were
    # each 3.7e-6 from a float64 evaluation of the same float32 weights (and
    # 1.9e-6 from each other), so 1e-6 would test rounding luck, not export
    rtol32 = 1e-5 if activation == "exponential" else 1e-6
    proto = _export_and_compare(model, tmp_path / "m.onnx", rows, rtol32)
    ops = [node.op_type for node in proto.graph.node]
    assert ops[0] == "Flatten" and "Dropout" not in ops and "BatchNormalization" not in ops
    # no float attributes (they would be float32) besides none at all
    for node in proto.graph.node:
        assert all(a.type != onnx.AttributeProto.FLOAT for a in node.attribute), node.op_type


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_activation_over_a_wide_range(tmp_path, dtype, activation):
    """An identity Dense feeds every value of -30 .. 30 (tails, kinks, zero) to the activation.

    The last column holds 1.5 in every row, so that each row's outputs have a
    scale: onnxruntime's float64 Sigmoid is within 1e-16 absolute but not
    relative in its far tail (sigmoid(-30) = 9.3576e-14 comes out 9.348e-14)."""
    # (an identity Dense after it too: the core's output activation must not need its input)
    model = keras.Sequential([keras.Input(shape=(4,)), L.Dense(4, use_bias=False),
                              L.Activation(activation), L.Dense(4, use_bias=False)], dtype=dtype)
    model.set_weights([np.eye(4, dtype=dtype)] * 2)
    grid = np.concatenate([np.linspace(-30, 30, 3997), [0.0, -3.0, 3.0]])
    rows = np.resize(grid, (1000, 4)).astype(dtype)
    rows[:, 3] = 1.5
    _export_and_compare(model, tmp_path / "a.onnx", rows)


def test_float64_erfc_series_is_accurate():
    """The Chebyshev series behind float64 gelu, against math.erfc."""
    x = np.linspace(0, 30, 20001)
    graph = nnbook.onnx.GraphBuilder(np.float64, "erfc")
    inp = graph.input(1)
    graph.output("output", nnbook.onnx._erfc_abs(graph, inp), 1)
    session = ort.InferenceSession(graph.model().SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x.reshape(-1, 1)})
    expected = np.array([math.erfc(v) for v in x])
    assert np.abs(out[:, 0] - expected).max() < 2e-15
    inside = x < 20
    assert (np.abs(out[inside, 0] - expected[inside]) / expected[inside]).max() < 1e-12


def test_dropout_and_frozen_layers_export_their_inference(tmp_path):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(6,)), L.Dropout(0.5, seed=1), L.Dense(4),
                              L.BatchNormalization(scale=False), L.Dense(2)])
    model.layers[2].trainable = False
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(3)
    model.fit(rng.normal(size=(64, 6)), rng.normal(size=(64, 2)), epochs=2, verbose=0)
    rows = rng.normal(size=(1000, 6)).astype(np.float32)
    _export_and_compare(model, tmp_path / "d.onnx", rows)
