"""ONNX export: serve an nnbook model from any ONNX runtime (C++, C#, JavaScript, phones).

>>> import nnbook.onnx
>>> nnbook.onnx.export(model, "m.onnx")                    # doctest: +SKIP

What the graph holds
--------------------
* One input, ``input``: (batch, features) in the model's own dtype
  (float32 or float64), or (batch, 28, 28) for a Keras model whose input
  is multi-dimensional (its ``Flatten`` is an ONNX ``Flatten``); the batch
  axis is dynamic.
* Standard operators only, at opset :data:`OPSET` (13): ``Gemm`` (a layer
  with bias) or ``MatMul`` (without), ``Sigmoid``, ``Tanh``, ``Relu``,
  ``Softmax`` (axis -1), ``Exp`` (a Poisson regressor's output), ``Max``
  (the book's clip of z at -100 before a sigmoid or softmax), ``Greater``,
  ``ArgMax``, ``Gather``, ``Cast``, ``Sub`` and ``Concat`` (classes and
  labels) and ``Identity`` (to name outputs); for nnbook.keras models also
  ``Flatten``, ``Mul`` and ``Add`` (BatchNormalization at inference: its
  moving statistics folded into a scale and a shift in float64, as nnbook's
  core does; the ``BatchNormalization`` operator would round epsilon to
  float32), and the further activations composed from ``Min``, ``Max``,
  ``Abs``, ``Neg``, ``Log``, ``Clip``, ``Div``, ``Less``, ``Where`` and
  ``Erf`` (float32 gelu; float64 gelu uses a Chebyshev series for erfc,
  as onnxruntime has no float64 ``Erf``), see :meth:`GraphBuilder.activation`.
  Dropout is left out (identity at inference). Opset 13 is the first in which ``Softmax``
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
  - a fitted ``nnbook.sklearn`` estimator: ``label`` (what ``predict``
    returns) and ``probabilities`` (a plain (batch, k) tensor, no ZipMap),
    or a regressor's ``variable`` (batch, n_outputs), as skl2onnx names
    them. ``nnbook.sklearn`` registers its exporter through
    :func:`register_skl2onnx`, which hands it to skl2onnx too, so a
    scikit-learn ``Pipeline`` holding such an estimator converts with
    ``skl2onnx.to_onnx``; other classes can do the same.

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
import sys
import warnings

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


def _model_dtype(model):
    return model.dtype


def register_exporter(cls, exporter, dtype_of=None):
    """Let :func:`export` export instances of ``cls`` with ``exporter(model, graph)``.

    ``exporter`` gets the model and a :class:`GraphBuilder` for the model's
    dtype and adds the model's nodes and outputs to it. ``dtype_of(model)``
    gives that dtype (default: ``model.dtype``); it is called first, so it
    is also where an unfitted model is refused. A front door registers its
    classes when it is imported (``nnbook.sklearn`` does so for its
    estimators), so this module imports no front door.

    Example
    -------
    >>> def export_mine(model, graph):                      # doctest: +SKIP
    ...     x = graph.input(model.n_features_in_)
    ...     graph.output("probabilities", graph.dense(x, model.W, model.b, "softmax"))
    >>> register_exporter(MyModel, export_mine)             # doctest: +SKIP
    """
    if not isinstance(cls, type) or not callable(exporter) or not (
            dtype_of is None or callable(dtype_of)):
        raise TypeError(f"register_exporter takes a class and a function; got {cls!r} and "
                        f"{exporter!r}")
    _EXPORTERS[cls] = (exporter, dtype_of or _model_dtype)


def _finite(array, what):
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"cannot export: the model's {what} holds NaN or infinite values "
                         f"(did its training diverge?)")
    return array


# --------------------------------------------------------------------------
# activations composed from standard operators (see GraphBuilder.activation)
# --------------------------------------------------------------------------

_ACTIVATION_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
# the constants of nnbook's core (src/nncore/activations.c)
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123
LEAKY_SLOPE = 0.2
INV_SQRT2 = 0.70710678118654752440


def _exp_minus_one_below_zero(g, z):
    """exp(min(z, 0)) - 1: expm1(z) for z <= 0, exactly 0 for z > 0."""
    return g.scalar_op("Sub", g.node("Exp", [g.scalar_op("Min", z, 0.0)]), 1.0)


def _elu(g, z):
    # z for z > 0, else exp(z) - 1: the two terms never overlap, so the sum is exact
    return g.node("Add", [g.node("Relu", [z]), _exp_minus_one_below_zero(g, z)])


def _selu(g, z):
    return g.node("Add", [g.scalar_op("Mul", g.node("Relu", [z]), SELU_SCALE),
                          g.scalar_op("Mul", _exp_minus_one_below_zero(g, z),
                                      SELU_SCALE_ALPHA)])


def _leaky_relu(g, z):
    # max(z, 0.2 z) is z for z > 0 and 0.2 z below: LeakyRelu without its float32 alpha
    return g.node("Max", [z, g.scalar_op("Mul", z, LEAKY_SLOPE)])


def _softplus(g, z):
    # max(z, 0) + log(1 + exp(-|z|)): never overflows
    tail = g.node("Exp", [g.node("Neg", [g.node("Abs", [z])])])
    return g.node("Add", [g.node("Relu", [z]), g.node("Log", [g.scalar_op("Add", tail, 1.0)])])


def _softsign(g, z):
    return g.node("Div", [z, g.scalar_op("Add", g.node("Abs", [z]), 1.0)])


def _hard_sigmoid(g, z):
    # relu6(z + 3) / 6, as Keras 3 defines it (not ONNX HardSigmoid's alpha z + beta)
    clipped = g.node("Clip", [g.scalar_op("Add", z, 3.0), g.constant(0.0, "zero"),
                              g.constant(6.0, "six")])
    return g.scalar_op("Div", clipped, 6.0)


def _hard_silu(g, z):
    return g.node("Mul", [z, _hard_sigmoid(g, z)])


def _silu(g, z):
    return g.node("Mul", [z, g.node("Sigmoid", [z])])


def _gelu(g, z):
    """z/2 * erfc(-z/sqrt 2) (Keras's exact gelu). float32: Erf; float64, where
    onnxruntime has no Erf: erfc from a Chebyshev series (:func:`_erfc_abs`)."""
    half_z = g.scalar_op("Mul", z, 0.5)
    if g.dtype == np.float32:
        erf = g.node("Erf", [g.scalar_op("Mul", z, INV_SQRT2)])
        return g.node("Mul", [half_z, g.scalar_op("Add", erf, 1.0)])
    e = _erfc_abs(g, g.scalar_op("Mul", g.node("Abs", [z]), INV_SQRT2))
    # erfc(-z/sqrt 2) is erfc(|z|/sqrt 2) for z < 0 and 2 - erfc(|z|/sqrt 2) for z >= 0
    negative = g.node("Less", [z, g.constant(0.0, "zero")])
    two_minus = g.node("Sub", [g.constant(2.0, "two"), e])
    return g.node("Mul", [half_z, g.node("Where", [negative, e, two_minus])])


#: erfc(x) for 0 <= x <= ERFC_XMAX as t exp(P(s) - x^2), t = 2 / (2 + x), s the
#: affine map of t onto [-1, 1], P a Chebyshev series fitted (once, at first use)
#: to log(erfc(x) / t) + x^2 from math.erfc; beyond ERFC_XMAX, erfc < 1e-295.
ERFC_XMAX = 26.0
ERFC_DEGREE = 30
_ERFC_COEFFICIENTS = []


def erfc_coefficients():
    """The Chebyshev coefficients of P (see ERFC_XMAX), computed once."""
    if not _ERFC_COEFFICIENTS:
        import math
        from numpy.polynomial import chebyshev
        t_min = 2.0 / (2.0 + ERFC_XMAX)

        def g(s):
            t = (np.asarray(s) * (1 - t_min) + (1 + t_min)) / 2
            x = 2.0 / t - 2.0
            return np.array([math.log(math.erfc(xi) / ti) + xi * xi for xi, ti in zip(x, t)])
        _ERFC_COEFFICIENTS.extend(chebyshev.chebinterpolate(g, ERFC_DEGREE))
    return _ERFC_COEFFICIENTS


def _erfc_abs(g, x):
    """erfc(x) for x >= 0 in float64, within 2e-15 absolute (tests check it)."""
    x = g.scalar_op("Min", x, ERFC_XMAX)
    t_min = 2.0 / (2.0 + ERFC_XMAX)
    t = g.node("Div", [g.constant(2.0, "two"), g.scalar_op("Add", x, 2.0)])
    s = g.scalar_op("Div", g.scalar_op("Sub", g.scalar_op("Mul", t, 2.0), 1 + t_min),
                    1 - t_min)
    two_s = g.scalar_op("Mul", s, 2.0)
    coefficients = erfc_coefficients()
    # Clenshaw: b_k = c_k + 2 s b_{k+1} - b_{k+2}; P = c_0 + s b_1 - b_2
    b1 = g.constant(np.zeros(1), "b")
    b2 = b1
    for c in coefficients[:0:-1]:
        b1, b2 = g.scalar_op("Add", g.node("Sub", [g.node("Mul", [two_s, b1]), b2]), c), b1
    p = g.scalar_op("Add", g.node("Sub", [g.node("Mul", [s, b1]), b2]), coefficients[0])
    exponent = g.node("Sub", [p, g.node("Mul", [x, x])])
    return g.node("Mul", [t, g.node("Exp", [exponent])])


_COMPOSED = {"elu": _elu, "selu": _selu, "leaky_relu": _leaky_relu, "softplus": _softplus,
             "softsign": _softsign, "hard_sigmoid": _hard_sigmoid, "hard_silu": _hard_silu,
             "silu": _silu, "gelu": _gelu}


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
        """The graph's input: (batch, n_features) in the graph's dtype, batch dynamic;
        ``n_features`` may be a sample's shape, e.g. (28, 28): (batch, 28, 28)."""
        shape = [int(d) for d in (n_features if isinstance(n_features, (tuple, list))
                                  else (n_features,))]
        self.inputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.elem_type, ["batch", *shape]))
        return name

    def output(self, name, value, width, elem_type=None):
        """Name ``value`` as the graph output ``name`` of shape (batch, width) or (batch,)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name],
                                                     name=self._fresh("Identity")))
        shape = ["batch"] if width is None else ["batch", int(width)]
        self.outputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.elem_type if elem_type is None else elem_type, shape))

    def activation(self, z, name, zmin=None):
        """``name`` applied to z; ``zmin`` clips z below first (the book's guard).

        Every activation nnbook has, from standard operators. Where an
        operator would take a constant as a float attribute (Selu's alpha and
        gamma, LeakyRelu's alpha, HardSigmoid's alpha), which ONNX stores in
        float32, or where onnxruntime has no float64 kernel (Elu, Softplus,
        Softsign, Erf), the graph composes it from Relu, Exp, Log, Abs, Min,
        Max, Clip, Mul, Add, Sub and Div with constants in the graph's dtype,
        in the order nnbook's core computes it.
        """
        if name == "linear":
            return z
        if zmin is not None and name in ("sigmoid", "softmax"):
            z = self.node("Max", [z, self.constant(zmin, "zmin")], "clipped")
        if name == "softmax":
            return self.node("Softmax", [z], axis=-1)
        ops = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "exponential": "Exp"}
        if name in ops:
            return self.node(ops[name], [z])
        composed = _COMPOSED.get(_ACTIVATION_ALIASES.get(name, name))
        if composed is None:
            raise ValueError(f"no ONNX operator for the activation {name!r}")
        return composed(self, z)

    def scalar_op(self, op, x, value):
        """``op(x, value)`` with ``value`` a constant of the graph's dtype."""
        return self.node(op, [x, self.constant(value, "c")])

    def batchnorm(self, x, inverse, shift):
        """x * inverse + shift per feature (batch normalization at inference)."""
        return self.node("Add", [self.node("Mul", [x, self.constant(inverse, "bn_scale")]),
                                 self.constant(shift, "bn_shift")], "normalised")

    def affine(self, x, weight, bias):
        """x @ weight (+ bias): Gemm with a bias, MatMul without."""
        w = self.constant(weight, "weight")
        if bias is None:
            return self.node("MatMul", [x, w], "z")
        return self.node("Gemm", [x, w, self.constant(bias, "bias")], "z")

    def dense(self, x, weight, bias, activation, zmin=None):
        """activation(x @ weight + bias)."""
        return self.activation(self.affine(x, weight, bias), activation, zmin)

    def class_labels(self, classes):
        """An initializer holding ``classes`` as ``predict`` returns them, and its ONNX type.

        Integers, floats and booleans keep their numpy dtype; text (a numpy
        string array, or an object array of ``str``) becomes an ONNX string
        tensor. Anything else is a TypeError naming what was found.
        """
        classes = np.asarray(classes)
        if classes.dtype.kind in "iufb":
            array = classes
        elif classes.dtype.kind in "US" or (classes.dtype.kind == "O" and all(
                isinstance(c, str) for c in classes.ravel())):
            array = np.array([str(c) for c in classes.ravel()], dtype=object)
        else:
            raise TypeError(f"cannot export class labels of type "
                            f"{sorted({type(c).__name__ for c in classes.ravel()})}: ONNX "
                            f"labels are numbers, booleans or text")
        elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(
            np.dtype(np.str_) if array.dtype == object else array.dtype)
        return self.constant(array, "classes", dtype=array.dtype), elem_type

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

    The input is the estimator's input variable in the pipeline, in the
    dtype skl2onnx gives it there; outputs named ``label``/``probabilities``
    (classifiers) or ``variable`` (regressors) become the operator's
    outputs, as skl2onnx names them. Class labels follow skl2onnx's
    convention (int64 for numbers, strings for text) so that the ZipMap it
    may add after a classifier reads them.

    Without a container (skl2onnx's shape pass) no node is added: the
    exporter runs only to declare its outputs, read back from ``declared``.
    """

    def __init__(self, scope, operator, container=None):
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
        self.onnx = require_onnx()
        self.scope, self.container = scope, container
        input_type = operator.inputs[0].type
        if isinstance(input_type, (FloatTensorType, DoubleTensorType)):
            double = isinstance(input_type, DoubleTensorType)
        else:
            raise TypeError(f"{type(operator.raw_operator).__name__} takes float32 or float64 "
                            f"inputs in an ONNX pipeline; skl2onnx gives it "
                            f"{type(input_type).__name__}")
        self.dtype = np.dtype(np.float64 if double else np.float32)
        self.elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.name = operator.full_name
        self._input = operator.inputs[0].full_name
        names = (["label", "probabilities"] if len(operator.outputs) == 2 else ["variable"])
        self._outputs = {n: v.full_name for n, v in zip(names, operator.outputs)}
        self.declared = {}
        self._count = 0

    def constant(self, value, stem="const", dtype=None):
        if self.container is None:
            return self._fresh(stem)
        name = self.scope.get_unique_variable_name(stem)
        array = _finite(np.ascontiguousarray(value, dtype=dtype or self.dtype), stem)
        if array.dtype.kind in "OUS":   # skl2onnx stores a TensorProto's strings as raw data
            self.container.add_initializer(name, self.onnx.TensorProto.STRING,
                                           list(array.shape),
                                           [str(v).encode("utf-8") for v in array.ravel()])
        else:
            self.container.add_initializer(name, None, None,
                                           self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, stem=None, **attributes):
        if self.container is None:
            return self._fresh(stem or op.lower())
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
        self.declared[name] = (width, self.elem_type if elem_type is None else elem_type)
        if self.container is not None:
            self.container.add_node("Identity", [value], [self._outputs[name]],
                                    name=self.scope.get_unique_operator_name("Identity"))

    def class_labels(self, classes):
        """skl2onnx's label convention: int64 for numbers and booleans (float
        class labels are whole numbers: scikit-learn refuses others), strings
        for text."""
        classes = np.asarray(classes)
        if classes.dtype.kind in "iubf":
            return self.constant(classes, "classes", dtype=np.int64), self.onnx.TensorProto.INT64
        return super().class_labels(classes)

    def model(self, doc=""):
        raise TypeError("a skl2onnx conversion builds the model; this graph is one part of it")


def _skl2onnx_tensor_type(elem_type, shape):
    from skl2onnx.common import data_types
    onnx = require_onnx()
    types = {onnx.TensorProto.FLOAT: data_types.FloatTensorType,
             onnx.TensorProto.DOUBLE: data_types.DoubleTensorType,
             onnx.TensorProto.INT64: data_types.Int64TensorType,
             onnx.TensorProto.STRING: data_types.StringTensorType,
             onnx.TensorProto.BOOL: data_types.BooleanTensorType}
    return types[elem_type](shape)


def _register_with_skl2onnx(cls, exporter, kind):
    import skl2onnx

    def shapes(operator):
        graph = _Skl2onnxGraph(operator.scope_inst, operator)
        exporter(operator.raw_operator, graph)
        n = operator.inputs[0].get_first_dimension()
        for name, variable in zip(graph._outputs, operator.outputs):
            if name not in graph.declared:
                raise ValueError(f"the ONNX exporter of {cls.__name__} wrote no {name!r} output")
            width, elem_type = graph.declared[name]
            variable.set_type(_skl2onnx_tensor_type(elem_type,
                                                    [n] if width is None else [n, width]))

    def convert(scope, operator, container):
        exporter(operator.raw_operator, _Skl2onnxGraph(scope, operator, container))

    options = {"zipmap": [True, False, "columns"], "nocl": [False]} \
        if kind == "classifier" else None
    skl2onnx.update_registered_converter(cls, "Nnbook" + cls.__name__, shapes, convert,
                                         overwrite=True, options=options)


class _AfterImport:
    """A meta path finder that runs callbacks right after one module's first import.

    nnbook.sklearn registers its estimators with skl2onnx, but importing
    skl2onnx costs about a second: registration therefore waits until the
    program imports skl2onnx itself. The finder only wraps the module's
    loader (the normal finders still find it) and leaves ``sys.meta_path``
    once the module has run. A failing callback is a warning, never a
    failed ``import skl2onnx``.
    """

    def __init__(self, name):
        self.name = name
        self.callbacks = []
        self._searching = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self._searching:
            return None
        import importlib.util
        self._searching = True        # the real finders, not this one, find the module
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._searching = False
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            self.run_callbacks()

        spec.loader.exec_module = exec_module
        return spec

    def run_callbacks(self):
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:   # a newer skl2onnx may have changed its API
                warnings.warn(f"nnbook could not register a converter with {self.name}: "
                              f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


_SKL2ONNX_HOOK = _AfterImport("skl2onnx")


def register_skl2onnx(cls, exporter, kind="classifier", dtype_of=None):
    """Register ``exporter`` (see :func:`register_exporter`) with skl2onnx for ``cls``.

    Then ``skl2onnx.to_onnx`` converts scikit-learn pipelines holding a
    ``cls``: a classifier's exporter writes ``label`` (as ``predict``
    returns it) and ``probabilities``, a regressor's (``kind="regressor"``)
    ``variable``; the output types skl2onnx declares are the ones the
    exporter writes. Pass ``options={cls: {"zipmap": False}}`` to
    ``to_onnx`` for a plain probabilities tensor (skl2onnx's default turns
    it into a list of dicts). The class is registered with :func:`export`
    at once, and with skl2onnx when skl2onnx is imported (at once if it
    already is), so this function never imports skl2onnx itself.

    Example
    -------
    >>> register_skl2onnx(MLPClassifier, export_mlp)       # doctest: +SKIP
    >>> skl2onnx.to_onnx(make_pipeline(StandardScaler(), MLPClassifier()).fit(x, y), x[:1],
    ...                  options={MLPClassifier: {"zipmap": False}})  # doctest: +SKIP
    """
    if kind not in ("classifier", "regressor"):
        raise ValueError(f"kind must be 'classifier' or 'regressor'. Received: kind={kind!r}")
    register_exporter(cls, exporter, dtype_of)
    module = sys.modules.get("skl2onnx")
    if module is not None and hasattr(module, "update_registered_converter"):
        _register_with_skl2onnx(cls, exporter, kind)
        return
    _SKL2ONNX_HOOK.callbacks.append(lambda: _register_with_skl2onnx(cls, exporter, kind))
    if _SKL2ONNX_HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _SKL2ONNX_HOOK)


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


def _batchnorm_terms(layer, dtype):
    """inverse = gamma / sqrt(moving_variance + epsilon), shift = beta - moving_mean *
    inverse, in float64 as nnbook's core forms them (then the graph's dtype)."""
    inverse = 1.0 / np.sqrt(layer.moving_variance.astype(np.float64) + layer.epsilon)
    if layer.gamma is not None:
        inverse = inverse * layer.gamma.astype(np.float64)
    shift = -layer.moving_mean.astype(np.float64) * inverse
    if layer.beta is not None:
        shift = layer.beta.astype(np.float64) + shift
    if np.dtype(dtype) == np.float64:
        return inverse, shift
    return inverse.astype(dtype), shift.astype(dtype)


def _export_sequential(model, graph):
    """predict's output: Flatten as ONNX Flatten (the input keeps the model's sample
    shape), Dense as Gemm/MatMul, BatchNormalization with its moving statistics as
    Mul and Add (exact in float64, where the BatchNormalization operator's float32
    epsilon attribute would not be), Activation layers as activations, Dropout
    (identity at inference) left out."""
    model._require_built("ONNX export")
    x = graph.input(model.input_shape[1:])
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            x = graph.dense(x, layer.kernel, layer.bias, layer.activation)
        elif kind == "Activation":
            x = graph.activation(x, layer.activation)
        elif kind == "Flatten":
            x = graph.node("Flatten", [x], axis=1)
        elif kind == "BatchNormalization":
            x = graph.batchnorm(x, *_batchnorm_terms(layer, graph.dtype))
        elif kind != "Dropout":
            raise TypeError(f"nnbook.onnx cannot export a {kind} layer ('{layer.name}')")
    graph.output("output", x, model.output_shape[-1])


def _register_builtin():
    from . import book
    from .keras.models import Sequential
    for cls in (book.SingleLayer, book.DualLayer, book.RandomInitNetwork,
                book.MinibatchNetwork, book.MultiClassNetwork):
        _EXPORTERS.setdefault(cls, (_export_book, _model_dtype))
    _EXPORTERS.setdefault(Sequential, (_export_sequential, _model_dtype))


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
    model : a fitted book network, a built nnbook.keras Sequential, a fitted
        nnbook.sklearn estimator, or any class registered with :func:`register_exporter`
    path : str or os.PathLike
        Written atomically; replaced if it exists.

    Raises
    ------
    TypeError
        ``model`` is of a class nothing exports (the message lists those that do).
    nnbook.NotFittedError, sklearn.exceptions.NotFittedError, ValueError
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
    exporter, dtype_of = _exporter(model)
    graph = GraphBuilder(dtype_of(model), type(model).__name__)
    exporter(model, graph)
    proto = graph.model(doc=f"{type(model).__name__} exported by nnbook")
    data = proto.SerializeToString()
    write_atomically(path, lambda f: f.write(data), "model.onnx")
    return proto
