"""ONNX export: serve an nnbook model from any ONNX runtime (C++, C#, JavaScript, phones).

>>> import nnbook.onnx
>>> nnbook.onnx.export(model, "m.onnx")                    # doctest: +SKIP

What the graph holds
--------------------
* One input, ``input``: (batch, features) in the model's own dtype
  (float32 or float64); the batch axis is dynamic.
* Standard operators only, at opset :data:`OPSET` (13): ``Gemm`` (a layer
  with bias) or ``MatMul`` (without), ``Sigmoid``, ``Tanh``, ``Relu``,
  ``Softmax`` (axis -1), ``Max`` (the book's clip of z at -100 before a
  sigmoid or softmax), ``Greater`` and ``ArgMax`` (the book's classes) and
  ``Identity`` (to name outputs). Opset 13 is the first in which ``Softmax``
  works on one axis (what nnbook computes) and every operator above takes
  float64 in its current form; choosing the oldest such opset lets the most
  runtimes load the file. onnxruntime runs all of them in float32 and float64.
* Outputs, by API:

  - a book network (``SingleLayer`` ... ``MultiClassNetwork``):
    ``probabilities`` (the output activations, (batch, 1) or (batch, k))
    and ``classes``, what ``predict`` returns: a boolean column ``z > 0``
    for the binary classes, the int64 argmax of the logits for
    ``MultiClassNetwork``;
  - an ``nnbook.keras`` ``Sequential``: ``output``, what ``predict`` returns
    (logits when the loss was compiled with ``from_logits=True``);
  - other classes (``nnbook.sklearn``'s estimators) bring their own
    exporter through :func:`register_exporter`; scikit-learn's convention
    is ``label`` and ``probabilities`` (a plain (batch, k) tensor, no ZipMap).
    :func:`register_skl2onnx` hands the same exporter to skl2onnx, so a
    scikit-learn ``Pipeline`` holding such an estimator converts with
    ``skl2onnx.to_onnx``.

The graph is checked with ``onnx.checker`` before the file is written; the
file is written atomically (a temporary, then a rename). The ``onnx``
package is an optional extra: ``pip install 'nnbook[onnx]'``.

Example
-------
>>> import numpy as np, onnxruntime                        # doctest: +SKIP
>>> session = onnxruntime.InferenceSession("m.onnx")       # doctest: +SKIP
>>> probabilities, classes = session.run(None, {"input": x.astype(np.float32)})  # doctest: +SKIP
"""
import os

import numpy as np

from .io.npz import write_atomically

__all__ = ["export", "register_exporter", "register_skl2onnx", "GraphBuilder", "OPSET",
           "IR_VERSION"]

#: The ONNX operator set every exported graph declares (see the module docstring).
OPSET = 13
#: The ONNX file-format version that goes with opset 13 (ONNX 1.8).
IR_VERSION = 7

# the book's guard: sigmoid and softmax see z clipped below at -100
BOOK_ZMIN = -100.0

_EXPORTERS = {}


def require_onnx():
    """The onnx module, or ImportError saying which extra installs it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("the onnx package is needed to export ONNX files: install it with "
                          "pip install 'nnbook[onnx]'") from None
    return onnx


def register_exporter(cls, exporter):
    """Let :func:`export` export instances of ``cls`` with ``exporter(model, graph)``.

    ``exporter`` gets the model and a :class:`GraphBuilder` for the model's
    dtype and adds the model's nodes and outputs to it. A front door
    registers its classes when it is imported (``nnbook.sklearn`` does so
    for its estimators), so this module imports no front door.

    Example
    -------
    >>> def export_mine(model, graph):                      # doctest: +SKIP
    ...     x = graph.input(model.n_features_in_)
    ...     graph.output("probabilities", graph.dense(x, model.W, model.b, "softmax"))
    >>> register_exporter(MyModel, export_mine)             # doctest: +SKIP
    """
    if not isinstance(cls, type) or not callable(exporter):
        raise TypeError(f"register_exporter takes a class and a function; got {cls!r} and "
                        f"{exporter!r}")
    _EXPORTERS[cls] = exporter


def _finite(array, what):
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"cannot export: the model's {what} holds NaN or infinite values "
                         f"(did its training diverge?)")
    return array


class GraphBuilder:
    """Builds one ONNX graph in one dtype with standard operators (the exporters' toolkit).

    Parameters
    ----------
    dtype : numpy dtype, float32 or float64
    name : str
        The graph's name.

    Example
    -------
    >>> graph = GraphBuilder(np.float32, "tiny")             # doctest: +SKIP
    >>> x = graph.input(3)                                   # doctest: +SKIP
    >>> graph.output("output", graph.dense(x, np.ones((3, 2), np.float32), None, "relu"))  # doctest: +SKIP
    >>> model = graph.model()                                # doctest: +SKIP
    """

    def __init__(self, dtype, name):
        self.onnx = require_onnx()
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"ONNX export takes float32 or float64 models; got dtype "
                            f"{self.dtype}")
        self.elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.name = name
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._count = 0

    def _fresh(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, value, stem="const", dtype=None):
        """An initializer holding ``value`` (in the graph's dtype unless given).

        Non-finite weights (a diverged training) are refused: a served model
        would answer NaN without saying why.
        """
        name = self._fresh(stem)
        array = _finite(np.ascontiguousarray(value, dtype=dtype or self.dtype), stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, stem=None, **attributes):
        """One operator node; returns the name of its (single) output."""
        out = self._fresh(stem or op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out],
                                                     name=self._fresh(op), **attributes))
        return out

    def input(self, n_features, name="input"):
        """The graph's input: (batch, n_features) in the graph's dtype, batch dynamic."""
        self.inputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.elem_type, ["batch", int(n_features)]))
        return name

    def output(self, name, value, width, elem_type=None):
        """Name ``value`` as the graph output ``name`` of shape (batch, width) or (batch,)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name],
                                                     name=self._fresh("Identity")))
        shape = ["batch"] if width is None else ["batch", int(width)]
        self.outputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.elem_type if elem_type is None else elem_type, shape))

    def activation(self, z, name, zmin=None):
        """``name`` applied to z; ``zmin`` clips z below first (the book's guard)."""
        if name == "linear":
            return z
        if zmin is not None and name in ("sigmoid", "softmax"):
            z = self.node("Max", [z, self.constant(zmin, "zmin")], "clipped")
        if name == "softmax":
            return self.node("Softmax", [z], axis=-1)
        ops = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
        if name not in ops:
            raise ValueError(f"no ONNX operator for the activation {name!r}")
        return self.node(ops[name], [z])

    def affine(self, x, weight, bias):
        """x @ weight (+ bias): Gemm with a bias, MatMul without."""
        w = self.constant(weight, "weight")
        if bias is None:
            return self.node("MatMul", [x, w], "z")
        return self.node("Gemm", [x, w, self.constant(bias, "bias")], "z")

    def dense(self, x, weight, bias, activation, zmin=None):
        """activation(x @ weight + bias)."""
        return self.activation(self.affine(x, weight, bias), activation, zmin)

    def model(self, doc=""):
        """The checked ModelProto."""
        onnx = self.onnx
        graph = onnx.helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                       self.initializers)
        model = onnx.helper.make_model(graph, producer_name="nnbook",
                                       opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                       doc_string=doc)
        model.ir_version = IR_VERSION
        from . import __version__
        model.producer_version = __version__
        onnx.checker.check_model(model, full_check=True)
        return model


class _Skl2onnxGraph(GraphBuilder):
    """A GraphBuilder that adds its nodes to a skl2onnx conversion (one estimator's part).

    The input is the estimator's input variable in the pipeline; outputs
    named ``label``/``probabilities`` (classifiers) or ``variable``
    (regressors) become the operator's outputs, as skl2onnx names them.
    """

    def __init__(self, scope, operator, container):
        from skl2onnx.common.data_types import DoubleTensorType
        self.onnx = require_onnx()
        self.scope, self.container = scope, container
        double = isinstance(operator.inputs[0].type, DoubleTensorType)
        self.dtype = np.dtype(np.float64 if double else np.float32)
        self.elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.name = operator.full_name
        self._input = operator.inputs[0].full_name
        names = (["label", "probabilities"] if len(operator.outputs) == 2 else ["variable"])
        self._outputs = {n: v.full_name for n, v in zip(names, operator.outputs)}

    def constant(self, value, stem="const", dtype=None):
        name = self.scope.get_unique_variable_name(stem)
        array = _finite(np.ascontiguousarray(value, dtype=dtype or self.dtype), stem)
        if array.dtype.kind in "OUS":
            self.container.add_initializer(name, self.onnx.TensorProto.STRING,
                                           list(array.shape),
                                           [str(v).encode("utf-8") for v in array.ravel()])
        else:
            self.container.add_initializer(name, None, None,
                                           self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, stem=None, **attributes):
        out = self.scope.get_unique_variable_name(stem or op.lower())
        self.container.add_node(op, list(inputs), [out],
                                name=self.scope.get_unique_operator_name(op), **attributes)
        return out

    def input(self, n_features, name="input"):
        return self._input

    def output(self, name, value, width, elem_type=None):
        if name not in self._outputs:
            raise ValueError(f"skl2onnx expects the outputs {sorted(self._outputs)} here; the "
                             f"exporter wrote {name!r}")
        self.container.add_node("Identity", [value], [self._outputs[name]],
                                name=self.scope.get_unique_operator_name("Identity"))

    def model(self, doc=""):
        raise TypeError("a skl2onnx conversion builds the model; this graph is one part of it")


def register_skl2onnx(cls, exporter, kind="classifier"):
    """Register ``exporter`` (see :func:`register_exporter`) with skl2onnx for ``cls``.

    Then ``skl2onnx.to_onnx`` converts scikit-learn pipelines holding a
    ``cls``: a classifier's exporter writes ``label`` (as ``predict``
    returns it) and ``probabilities``, a regressor's (``kind="regressor"``)
    ``variable``. Pass ``options={cls: {"zipmap": False}}`` to ``to_onnx``
    for a plain probabilities tensor. Needs ``pip install skl2onnx``.

    Example
    -------
    >>> register_skl2onnx(MLPClassifier, export_mlp)       # doctest: +SKIP
    >>> skl2onnx.to_onnx(make_pipeline(StandardScaler(), MLPClassifier()).fit(x, y), x[:1],
    ...                  options={MLPClassifier: {"zipmap": False}})  # doctest: +SKIP
    """
    if kind not in ("classifier", "regressor"):
        raise ValueError(f"kind must be 'classifier' or 'regressor'. Received: kind={kind!r}")
    try:
        import skl2onnx
        from skl2onnx.common import shape_calculator
    except ImportError:
        raise ImportError("skl2onnx is needed to convert pipelines: pip install skl2onnx") \
            from None
    register_exporter(cls, exporter)

    def convert(scope, operator, container):
        exporter(operator.raw_operator, _Skl2onnxGraph(scope, operator, container))

    if kind == "classifier":
        shapes = shape_calculator.calculate_linear_classifier_output_shapes
        options = {"zipmap": [True, False, "columns"], "nocl": [False]}
    else:
        shapes = shape_calculator.calculate_linear_regressor_output_shapes
        options = None
    skl2onnx.update_registered_converter(cls, "Nnbook" + cls.__name__, shapes, convert,
                                         overwrite=True, options=options)


# --------------------------------------------------------------------------
# the book's classes and nnbook.keras (registered on first use: no front door
# is imported with this module)
# --------------------------------------------------------------------------

def _export_book(model, graph):
    net = model._require_fitted()
    x = graph.input(net.sizes[0])
    n_layers = len(net.sizes) - 1
    for i in range(n_layers - 1):
        x = graph.dense(x, net.weight(i), net.bias(i), "sigmoid", BOOK_ZMIN)
    z = graph.affine(x, net.weight(n_layers - 1), net.bias(n_layers - 1))
    k = net.sizes[-1]
    if k == 1:
        graph.output("probabilities", graph.activation(z, "sigmoid", BOOK_ZMIN), 1)
        positive = graph.node("Greater", [z, graph.constant(0.0, "zero")], "positive")
        graph.output("classes", positive, 1, graph.onnx.TensorProto.BOOL)
    else:
        graph.output("probabilities", graph.activation(z, "softmax", BOOK_ZMIN), k)
        classes = graph.node("ArgMax", [z], "argmax", axis=1, keepdims=0)
        graph.output("classes", classes, None, graph.onnx.TensorProto.INT64)


def _export_sequential(model, graph):
    model._require_built("ONNX export")
    x = graph.input(model.input_shape[1])
    for layer in model.layers:
        x = graph.dense(x, layer.kernel, layer.bias, layer.activation)
    graph.output("output", x, model.layers[-1].units)


def _register_builtin():
    from . import book
    from .keras.models import Sequential
    for cls in (book.SingleLayer, book.DualLayer, book.RandomInitNetwork,
                book.MinibatchNetwork, book.MultiClassNetwork):
        _EXPORTERS.setdefault(cls, _export_book)
    _EXPORTERS.setdefault(Sequential, _export_sequential)


def _exporter(model):
    _register_builtin()
    for cls in type(model).__mro__:
        if cls in _EXPORTERS:
            return _EXPORTERS[cls]
    known = ", ".join(sorted(c.__name__ for c in _EXPORTERS))
    raise TypeError(f"nnbook.onnx.export takes one of {known}; got a "
                    f"{type(model).__module__}.{type(model).__name__}")


def export(model, path):
    """Write ``model`` to ``path`` as an ONNX graph; returns the ``onnx.ModelProto``.

    Parameters
    ----------
    model : a fitted book network, a built nnbook.keras Sequential, or any
        class registered with :func:`register_exporter`
    path : str or os.PathLike
        Written atomically; replaced if it exists.

    Raises
    ------
    TypeError
        ``model`` is of a class nothing exports (the message lists those that do).
    nnbook.NotFittedError, ValueError
        The model has no weights yet.
    ImportError
        The onnx package is missing (the message names the extra).

    Example
    -------
    >>> import nnbook, nnbook.onnx, onnxruntime             # doctest: +SKIP
    >>> net = nnbook.MultiClassNetwork(units=100).fit(x, y)  # doctest: +SKIP
    >>> nnbook.onnx.export(net, "net.onnx")                  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("net.onnx")   # doctest: +SKIP
    >>> probabilities, classes = session.run(None, {"input": x_val})  # doctest: +SKIP
    """
    path = os.fspath(path)
    exporter = _exporter(model)
    graph = GraphBuilder(model.dtype, type(model).__name__)
    exporter(model, graph)
    proto = graph.model(doc=f"{type(model).__name__} exported by nnbook")
    data = proto.SerializeToString()
    write_atomically(path, lambda f: f.write(data), "model.onnx")
    return proto
