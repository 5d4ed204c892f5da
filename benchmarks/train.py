"""Time nnbook's training against its peers, in one process, as ratios.

Why one process and ratios: absolute seconds depend on the machine and on
whatever else runs on it; ratios between runs made seconds apart on the same
cores are what the performance targets are stated in
(benchmarks/README.md lists them). Every peer trains the
same network (sizes, activations, loss, learning rate, batch size, epochs);
before anything is timed, each peer's result is checked (losses, weights or
accuracy against nnbook), so a broken run can never look fast.

Workloads (the book's networks and data):
  fmnist   Fashion-MNIST 784-100-10 sigmoid/softmax, batch 256, lr 0.1, on
           the book's 48,000-row split (MultiClassNetwork(units=100,
           batch_size=256)).
  cancer   breast cancer 30-10-1 sigmoid, batch 32, l2=0.01, 500 epochs
           (MinibatchNetwork(l2=0.01)).
  dual     breast cancer, full-batch DualLayer(l2=0.01), 2000 epochs.

Peers:
  nnbook f32 / f64       the book classes (fit runs epochs in C)
  nnbook core f32 / f64  CoreNetwork.train_epoch directly (no Python per batch
                         or per epoch beyond one call; perms made in advance)
  reference f64          nnbook.reference, the book's plain-NumPy code
  torch f32              PyTorch CPU, the idiomatic loop (optional)
  sklearn                MLPClassifier with the same architecture and solver
  floor f32 / f64        the epoch's GEMMs alone, the fastest of three ways
                         to do them: the core's vendored OpenBLAS
                         (cblas_?gemm via ctypes), NumPy's own OpenBLAS
                         (np.matmul into preallocated arrays) and the core's
                         GEMM entry point (nn_gemm_*, ctypes: its small-matrix
                         kernels below their size threshold, OpenBLAS above)
  keras f32              nnbook.keras, the book's chapter-7 model, batch 32

Then: predict on the 10,000 test rows; peak memory of a training run (in a
subprocess each); BLAS thread control (nnbook.set_num_threads and
threadpoolctl). Finally the performance targets as PASS/FAIL lines.

Usage (from the repository root):
    python benchmarks/train.py [--quick] [--markdown FILE] [--plot FILE.png]
                               [--json FILE] [--skip-memory] [--skip-threads]

Exit status: 0 when every sanity check holds (targets may fail: they are
measurements, reported, not assertions), 1 when a sanity check fails.

Contention warning: OpenBLAS threads busy-wait, so on a loaded machine every
BLAS-heavy number is inflated, unevenly. The script records the load average
before and after and says so when it was above LOAD_LIMIT.
"""
import argparse
import ctypes
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

import nnbook
from nnbook import _nncore, datasets, reference
from nnbook._network import BOOK_EPS, BOOK_ZMIN, CoreNetwork

from markers import replace_between   # benchmarks/markers.py, beside this script
from timing import settle              # benchmarks/timing.py: pause, then warm every core

LOAD_LIMIT = 1.2          # 1-minute load average above which timings are suspect
MEMORY_TARGET_MIB = 64    # target: peak training RSS <= the training set + 64 MiB
WIDE_MARGIN = 10.0        # "faster than PyTorch/sklearn by a wide margin": at least 10x
LR = 0.1
L2 = 0.01

try:
    import torch
except ImportError:       # optional peer: the bench extra installs it
    torch = None
try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------

def machine_info():
    """CPU, cores, versions and every BLAS/OpenMP pool threadpoolctl can see.

    threadpoolctl lists nnbook's vendored libscipy_openblas.so next to
    NumPy's own OpenBLAS: two pools, each with its own thread count.
    """
    cpu = "unknown"
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1]
    except OSError:
        cpu = platform.processor() or "unknown"
    simd = [f for f in ("avx512f", "avx2", "fma") if f" {f} " in f" {flags} "]
    info = {
        "cpu": cpu,
        "simd": simd,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "nnbook": nnbook.__version__,
        "nnbook_threads": nnbook.get_num_threads(),
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "sklearn": _sklearn_version(),
        "git": _git_head(),
        "pools": [],
    }
    if threadpoolctl is not None:
        for p in threadpoolctl.threadpool_info():
            info["pools"].append({k: p.get(k) for k in
                                  ("internal_api", "prefix", "version", "num_threads",
                                   "architecture", "filepath")})
    return info


def _git_head():
    """The commit the numbers belong to (the core changes quickly)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.abspath(__file__)))
        return out.stdout.strip() or None
    except OSError:
        return None


def _sklearn_version():
    try:
        import sklearn
        return sklearn.__version__
    except ImportError:
        return None


def machine_line(info, load):
    """One line that says where the numbers come from."""
    blas = "; ".join(f"{os.path.basename(p['filepath'])} {p['version']} "
                     f"{p.get('architecture') or ''} x{p['num_threads']}"
                     for p in info["pools"] if p["internal_api"] == "openblas")
    return (f"{info['cpu']} ({'/'.join(info['simd']) or 'no AVX'}), {info['cores']} cores; "
            f"git {info['git'] or '?'}; "
            f"Python {info['python']}, NumPy {info['numpy']}, nnbook {info['nnbook']} "
            f"(threads {info['nnbook_threads']}), torch {info['torch'] or '-'} "
            f"(threads {info['torch_threads'] or '-'}), scikit-learn {info['sklearn'] or '-'}; "
            f"OpenBLAS: {blas or 'threadpoolctl not installed'}; "
            f"load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} at start")


def nnbook_openblas_path():
    """The libscipy_openblas.so nnbook's core is linked against.

    It is vendored beside the extension (rpath $ORIGIN/_libs); the extension,
    not the package's __init__, is the anchor, because an editable install
    keeps the Python files in the source tree and the extension elsewhere.
    """
    libs = os.path.join(os.path.dirname(_nncore.__file__), "_libs")
    for name in sorted(os.listdir(libs)) if os.path.isdir(libs) else []:
        if name.startswith("libscipy_openblas") and ".so" in name:
            return os.path.join(libs, name)
    return None


# ---------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------

def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(tasks):
    """Time tasks in rounds (A, B, C, A, B, C, ...): seconds per epoch, median.

    tasks: (label, run(state), epochs, repeats, setup() or None). Taking
    turns, rather than all of A's repeats then all of B's, means a burst of
    outside load slows every peer a little instead of one peer a lot, which
    is what keeps the ratios honest on a shared machine.
    """
    times = {label: [] for label, *_ in tasks}
    for r in range(max(t[3] for t in tasks)):
        for label, run, epochs, repeats, setup in tasks:
            if r >= repeats:
                continue
            state = setup() if setup is not None else None
            settle()
            times[label].append(timed(lambda: run(state)) / epochs)
    return {label: {"median": statistics.median(t), "runs": t} for label, t in times.items()}


# ---------------------------------------------------------------------------
# The floor: one epoch's GEMMs through the core's own OpenBLAS
# ---------------------------------------------------------------------------

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


class GemmFloor:
    """The GEMMs of one epoch of a dense net, called bare via ctypes.

    ctypes opens the very libscipy_openblas.so the core already loaded (same
    path, so the same library and the same thread pool). The shapes per batch
    of m rows, for layer sizes s0 -> s1 -> s2:
      forward   Z1 (m,s1) = X (m,s0) W1 (s0,s1);  Z2 (m,s2) = A1 (m,s1) W2 (s1,s2)
      backward  dW2 (s1,s2) = A1^T dZ2;  dA1 (m,s1) = dZ2 W2^T;  dW1 (s0,s1) = X^T dZ1
    Batches are consecutive row slices (no gather): this is the work no
    implementation can avoid, and nothing else.
    """

    BACKENDS = ("vendored", "numpy", "nnbook")

    def __init__(self, dtype, backend="vendored"):
        self.dtype = np.dtype(dtype)
        self.backend = backend
        i, p = ctypes.c_int, ctypes.c_void_p
        if backend == "vendored":
            path = nnbook_openblas_path()
            if path is None:
                raise RuntimeError("nnbook's vendored libscipy_openblas.so not found")
            self.fn = getattr(ctypes.CDLL(path), "scipy_cblas_sgemm" if self.dtype == np.float32
                              else "scipy_cblas_dgemm")
            s = ctypes.c_float if self.dtype == np.float32 else ctypes.c_double
            self.fn.argtypes = [i, i, i, i, i, i, s, p, i, p, i, s, p, i]
        elif backend == "nnbook":
            # the core's own entry point: nn_gemm_f32/f64(layout, M, N, K, A,
            # lda, B, ldb, bias, C, ldc), layouts 0 = NN, 1 = NT, 2 = TN, no bias
            self.fn = getattr(ctypes.CDLL(_nncore.__file__), "nn_gemm_f32" if self.dtype == np.float32
                              else "nn_gemm_f64")
            self.fn.argtypes = [i, i, i, i, p, i, p, i, p, p, i]
        elif backend != "numpy":
            raise ValueError(f"backend must be one of {self.BACKENDS}; received {backend!r}")
        if backend != "numpy":
            self.fn.restype = None

    def gemm(self, c, a, b, trans_a=False, trans_b=False):
        """c = op(a) @ op(b), all C-contiguous 2-D arrays of self.dtype."""
        if self.backend == "numpy":
            # transposed views: NumPy passes the transpose flag to its BLAS, no copy
            np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=c)
            return
        m = a.shape[1] if trans_a else a.shape[0]
        k = a.shape[0] if trans_a else a.shape[1]
        n = b.shape[0] if trans_b else b.shape[1]
        if self.backend == "nnbook":
            layout = 2 if trans_a else (1 if trans_b else 0)
            self.fn(layout, m, n, k, a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1],
                    None, c.ctypes.data, c.shape[1])
            return
        self.fn(ROW_MAJOR, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS,
                m, n, k, 1.0, a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1],
                0.0, c.ctypes.data, c.shape[1])

    def check(self):
        """Each of the five GEMM forms against NumPy, so the floor computes what it claims."""
        rng = np.random.RandomState(0)
        a = rng.rand(7, 5).astype(self.dtype)
        b = rng.rand(5, 3).astype(self.dtype)
        c = np.empty((7, 3), self.dtype)
        self.gemm(c, a, b)
        ok = np.allclose(c, a @ b, rtol=1e-4)
        d = np.empty((5, 3), self.dtype)
        self.gemm(d, a, rng.rand(7, 3).astype(self.dtype), trans_a=True)
        e = rng.rand(7, 3).astype(self.dtype)
        self.gemm(d, a, e, trans_a=True)
        ok &= np.allclose(d, a.T @ e, rtol=1e-4)
        f = np.empty((7, 5), self.dtype)
        self.gemm(f, e, b, trans_b=True)
        ok &= np.allclose(f, e @ b.T, rtol=1e-4)
        return bool(ok)

    def epoch_fn(self, x, sizes, batch):
        """A closure running one epoch's GEMMs over x on preallocated buffers."""
        s0, s1, s2 = sizes
        rng = np.random.RandomState(1)
        w1 = rng.rand(s0, s1).astype(self.dtype)
        w2 = rng.rand(s1, s2).astype(self.dtype)
        z1 = np.zeros((batch, s1), self.dtype)
        z2 = np.zeros((batch, s2), self.dtype)
        dz2 = np.full((batch, s2), 1e-3, self.dtype)
        dz1 = np.full((batch, s1), 1e-3, self.dtype)
        dw1 = np.empty_like(w1)
        dw2 = np.empty_like(w2)
        x = np.ascontiguousarray(x, self.dtype)
        n = x.shape[0]
        full = n // batch
        tail = n - full * batch
        gemm = self.gemm

        def one(xb, z1b, z2b, dz1b, dz2b):
            gemm(z1b, xb, w1)
            gemm(z2b, z1b, w2)
            gemm(dw2, z1b, dz2b, trans_a=True)
            gemm(dz1b, dz2b, w2, trans_b=True)
            gemm(dw1, xb, dz1b, trans_a=True)

        def run():
            for i in range(full):
                one(x[i * batch:(i + 1) * batch], z1, z2, dz1, dz2)
            if tail:
                one(x[full * batch:], z1[:tail], z2[:tail], dz1[:tail], dz2[:tail])
        return run

    def forward_fn(self, x, sizes):
        """The two forward GEMMs over all of x at once (prediction's floor)."""
        s0, s1, s2 = sizes
        rng = np.random.RandomState(1)
        w1 = rng.rand(s0, s1).astype(self.dtype)
        w2 = rng.rand(s1, s2).astype(self.dtype)
        x = np.ascontiguousarray(x, self.dtype)
        z1 = np.empty((x.shape[0], s1), self.dtype)
        z2 = np.empty((x.shape[0], s2), self.dtype)

        def run():
            self.gemm(z1, x, w1)
            self.gemm(z2, z1, w2)
        return run


# ---------------------------------------------------------------------------
# The book's initial weights and batch orders, reproduced for the peers
# ---------------------------------------------------------------------------

def book_init(kind, sizes, n, epochs):
    """(w1, w2, perms) exactly as the book class `kind` draws them
    (the rules are in docs/semantics.md).

    'multiclass': ONE RandomState(42) draws w1, w2, then a permutation per epoch.
    'minibatch':  RandomState(42) draws w1, w2; a fresh RandomState(42) the perms.
    'dual':       ones, full batch in order (perms None).
    """
    s0, s1, s2 = sizes
    if kind == "dual":
        return np.ones((s0, s1)), np.ones((s1, s2)), None
    rng = np.random.RandomState(42)
    w1 = rng.normal(0, 1, (s0, s1))
    w2 = rng.normal(0, 1, (s1, s2))
    if kind == "minibatch":
        rng = np.random.RandomState(42)
    perms = np.stack([rng.permutation(n) for _ in range(epochs)]) if epochs else None
    return w1, w2, perms


# ---------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------

def make_book(kind, dtype, units, batch, l2, module=nnbook):
    """The book class for a workload, from nnbook or nnbook.reference."""
    if kind == "multiclass":
        return module.MultiClassNetwork(units=units, batch_size=batch, learning_rate=LR,
                                        l2=l2, dtype=dtype)
    if kind == "minibatch":
        return module.MinibatchNetwork(units=units, batch_size=batch, learning_rate=LR,
                                       l2=l2, dtype=dtype)
    return module.DualLayer(units=units, learning_rate=LR, l2=l2, dtype=dtype)


class CoreRunner:
    """CoreNetwork driven directly: the book's init, perms made before timing."""

    def __init__(self, kind, sizes, dtype, l2, batch, x, y, perms):
        out = "softmax" if kind == "multiclass" else "sigmoid"
        loss = "categorical_crossentropy" if kind == "multiclass" else "binary_crossentropy"
        self.net = CoreNetwork(sizes, ["sigmoid", out], loss, dtype, zmin=BOOK_ZMIN,
                               eps=BOOK_EPS, l1=0.0, l2=l2, optimizer="sgd",
                               learning_rate=LR)
        w1, w2, _ = book_init(kind, sizes, 1, 0)
        self.net.weight(0)[...] = w1
        self.net.weight(1)[...] = w2
        self.x = np.ascontiguousarray(x, dtype)
        self.y = np.ascontiguousarray(y, dtype).reshape(len(x), -1)
        self.batch = batch
        self.perms = perms

    def epoch(self, e):
        perm = None if self.perms is None else self.perms[e % len(self.perms)]
        return self.net.train_epoch(self.x, self.y, self.batch, perm)


class TorchRunner:
    """The same network in PyTorch, written the way a PyTorch user would.

    Weights start from the book's draw (transposed: torch's Linear stores
    (out, in)) so that, with the book's batch orders, its first epochs can be
    checked against nnbook's. The l2 penalty is SGD weight_decay = l2/batch on
    the weight matrices only (the book's l2*W/m; the short last batch is the
    one place they differ).
    """

    def __init__(self, kind, sizes, l2, batch, x, y):
        s0, s1, s2 = sizes
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(s0, s1), torch.nn.Sigmoid(),
                                         torch.nn.Linear(s1, s2))
        w1, w2, _ = book_init(kind, sizes, 1, 0)
        with torch.no_grad():
            self.model[0].weight.copy_(torch.from_numpy(w1.T.astype(np.float32)))
            self.model[2].weight.copy_(torch.from_numpy(w2.T.astype(np.float32)))
            self.model[0].bias.zero_()
            self.model[2].bias.zero_()
        weights = [self.model[0].weight, self.model[2].weight]
        biases = [self.model[0].bias, self.model[2].bias]
        self.opt = torch.optim.SGD([{"params": weights, "weight_decay": l2 / batch},
                                    {"params": biases, "weight_decay": 0.0}], lr=LR)
        self.multiclass = kind == "multiclass"
        self.loss = (torch.nn.CrossEntropyLoss() if self.multiclass
                     else torch.nn.BCEWithLogitsLoss())
        self.x = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        if self.multiclass:
            self.y = torch.from_numpy(np.argmax(y, axis=1).astype(np.int64))
        else:
            self.y = torch.from_numpy(np.ascontiguousarray(y, np.float32).reshape(-1, 1))
        self.batch = batch
        self.n = len(x)

    def epoch(self, perm=None):
        """One epoch; perm: a NumPy row order, 'none' for in order, None for torch.randperm."""
        if isinstance(perm, str):
            idx = None
        elif perm is None:
            idx = torch.randperm(self.n)
        else:
            idx = torch.from_numpy(np.asarray(perm, np.int64))
        total = torch.zeros(())
        for start in range(0, self.n, self.batch):
            if idx is None:
                xb, yb = self.x[start:start + self.batch], self.y[start:start + self.batch]
            else:
                rows = idx[start:start + self.batch]
                xb, yb = self.x[rows], self.y[rows]
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.model(xb), yb)
            loss.backward()
            self.opt.step()
            total += loss.detach() * len(xb)
        return float(total)

    def predict(self, x):
        with torch.no_grad():
            return self.model(x).argmax(1).numpy()

    def weights(self):
        return (self.model[0].weight.detach().numpy().T, self.model[2].weight.detach().numpy().T)


def make_sklearn(units, batch, epochs, l2, n):
    from sklearn.neural_network import MLPClassifier
    return MLPClassifier(hidden_layer_sizes=(units,), activation="logistic", solver="sgd",
                         learning_rate="constant", learning_rate_init=LR, momentum=0.0,
                         nesterovs_momentum=False, batch_size=min(batch, n), alpha=l2,
                         max_iter=epochs, shuffle=True, tol=0.0, n_iter_no_change=10**9,
                         early_stopping=False, random_state=42)


def sklearn_fit(units, batch, epochs, l2, x, labels):
    from sklearn.exceptions import ConvergenceWarning
    clf = make_sklearn(units, batch, epochs, l2, len(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, labels)
    return clf


# ---------------------------------------------------------------------------
# Sanity checks
# ---------------------------------------------------------------------------

class Checks:
    """Collects named checks; any failure makes the script exit 1."""

    def __init__(self):
        self.items = []

    def add(self, name, ok, detail):
        self.items.append({"name": name, "ok": bool(ok), "detail": detail})
        print(f"  check {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return ok

    def close(self, name, got, want, rtol):
        got, want = np.asarray(got, float), np.asarray(want, float)
        err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-12)))
        return self.add(name, err <= rtol, f"max rel diff {err:.2e} (tol {rtol:g})")

    @property
    def all_ok(self):
        return all(c["ok"] for c in self.items)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


# ---------------------------------------------------------------------------
# A workload: check every peer, then time it
# ---------------------------------------------------------------------------

WORKLOADS = {
    #          kind, hidden units, batch, l2, epochs (full, quick), repeats (full, quick)
    "fmnist": dict(kind="multiclass", units=100, batch=256, l2=0.0, epochs=(5, 1), repeats=(5, 3),
                   title="Fashion-MNIST 784-100-10, batch 256"),
    "cancer": dict(kind="minibatch", units=10, batch=32, l2=L2, epochs=(500, 100), repeats=(5, 3),
                   title="breast cancer 30-10-1, batch 32, 500 epochs"),
    "dual": dict(kind="dual", units=10, batch=None, l2=L2, epochs=(2000, 300), repeats=(5, 3),
                 title="breast cancer DualLayer, full batch, 2000 epochs"),
    # not a book class: timed by run_keras against its GEMM floor only
    "keras": dict(kind="keras", epochs=(2, 1), repeats=(5, 2),
                  title="Keras chapter-7 model 784-100-10, float32, batch 32"),
}


def floor_label(dtype):
    return f"floor {'f32' if np.dtype(dtype) == np.float32 else 'f64'} (GEMMs)"


def floor_tasks(floors, x, sizes, batch, epochs, repeats):
    """One timing task per way of doing the epoch's GEMMs (see GemmFloor)."""
    tasks = []
    for floor in floors:
        run = floor.epoch_fn(x, sizes, batch)
        run()

        def floor_run(_, run=run):
            for _ in range(epochs):
                run()
        tasks.append((f"{floor_label(floor.dtype)} {floor.backend}", floor_run, epochs, repeats,
                      None))
    return tasks


def take_fastest_floor(res):
    """res["floor f32 (GEMMs)"] = the fastest backend's entry (it says which):
    the floor is the fastest way this machine does the GEMMs, not one copy."""
    for p in ("f32", "f64"):
        label = f"floor {p} (GEMMs)"
        found = [(v["median"], k) for k, v in res.items() if k.startswith(label + " ")]
        if found:
            best = min(found)[1]
            res[label] = dict(res[best], backend=best[len(label) + 1:])


def run_keras(x, y, quick, floors):
    """nnbook.keras's fit of the book's chapter-7 model at Keras's default
    batch 32 against the same epoch's GEMMs (the floor), interleaved. Each
    fit builds and compiles a fresh model: its set-up counts against it."""
    from nnbook.keras import Sequential
    from nnbook.keras.layers import Dense
    spec = WORKLOADS["keras"]
    epochs, repeats = spec["epochs"][1 if quick else 0], spec["repeats"][1 if quick else 0]
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    print(f"\n== {spec['title']} ({len(x32)} rows; {epochs} epochs x {repeats} repeats) ==",
          flush=True)

    def build():
        model = Sequential()
        model.add(Dense(100, activation="sigmoid", input_shape=(784,)))
        model.add(Dense(10, activation="softmax"))
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
        return model
    tasks = [("keras f32", lambda _: build().fit(x32, y32, batch_size=32, epochs=epochs, verbose=0),
              epochs, repeats, None)]
    tasks += floor_tasks(floors.get("float32") or [], x32, [784, 100, 10], 32, epochs, repeats)
    res = interleaved(tasks)
    take_fastest_floor(res)
    return res


def run_workload(name, spec, data, quick, checks, floors):
    """Check then time every peer on one workload; returns {peer: result}."""
    kind, units, l2 = spec["kind"], spec["units"], spec["l2"]
    epochs = spec["epochs"][1 if quick else 0]
    repeats = spec["repeats"][1 if quick else 0]
    x64, y64, labels, xv64, yv_labels = data
    n, s0 = x64.shape
    s2 = y64.shape[1] if y64.ndim == 2 else 1
    sizes = [s0, units, s2]
    batch = spec["batch"] or n
    x32, y32 = x64.astype(np.float32), y64.astype(np.float32)
    print(f"\n== {spec['title']} ({n} rows; {epochs} epochs x {repeats} repeats) ==", flush=True)
    res = {}
    check_epochs = 1 if kind == "multiclass" else 5

    # -- correctness first: nnbook against the reference, with the same first epochs
    ref = make_book(kind, np.float64, units, batch, l2, reference).fit(x64, y64, epochs=check_epochs)
    nb64 = make_book(kind, np.float64, units, batch, l2).fit(x64, y64, epochs=check_epochs)
    nb32 = make_book(kind, np.float32, units, batch, l2).fit(x32, y32, epochs=check_epochs)
    checks.close(f"{name}: nnbook f64 losses = reference losses ({check_epochs} epochs)",
                 nb64.losses, ref.losses, 1e-8)
    checks.close(f"{name}: nnbook f32 losses = reference losses ({check_epochs} epochs)",
                 nb32.losses, ref.losses, 2e-3)
    w1, w2, perms = book_init(kind, sizes, n, max(epochs, check_epochs))
    cores = {}
    for dt, book_net in ((np.float32, nb32), (np.float64, nb64)):
        core = CoreRunner(kind, sizes, dt, l2, batch, x64, y64, perms)
        sums = [core.epoch(e) for e in range(check_epochs)]
        pen = core.net.penalty()
        checks.close(f"{name}: CoreNetwork {np.dtype(dt).name} last loss = book class's",
                     (sums[-1] + pen) / n, book_net.losses[-1], 1e-6)
        cores[np.dtype(dt).name] = core

    torch_runner = None
    if torch is not None:
        torch_runner = TorchRunner(kind, sizes, l2, batch, x64, y64)
        sums = [torch_runner.epoch("none" if perms is None else perms[e])
                for e in range(check_epochs)]
        tw1, tw2 = torch_runner.weights()
        # same init, same batches, same SGD: the weights agree to float32
        # rounding (plus the short last batch's weight decay with l2)
        drift = max(rel(tw1, nb32.w1), rel(tw2, nb32.w2))
        checks.add(f"{name}: torch weights after {check_epochs} epochs = nnbook f32's", drift < 1e-2,
                   f"max rel diff {drift:.2e} (tol 1e-2); torch loss {sums[-1] / n:.5f}, "
                   f"nnbook {nb32.losses[-1] - nb32.reg_loss() / n:.5f} (before penalty)")
    have_sklearn = importlib.util.find_spec("sklearn") is not None

    # -- timing: a list of (label, run, epochs, repeats, setup), then interleaved
    tasks = []
    tasks.append(("nnbook f32", lambda _: make_book(kind, np.float32, units, batch, l2)
                  .fit(x32, y32, epochs=epochs), epochs, repeats, None))
    tasks.append(("nnbook f64", lambda _: make_book(kind, np.float64, units, batch, l2)
                  .fit(x64, y64, epochs=epochs), epochs, repeats, None))
    for dt, core in cores.items():
        def core_run(_, core=core):
            for e in range(epochs):
                core.epoch(e)
        tasks.append((f"nnbook core {'f32' if dt == 'float32' else 'f64'}", core_run, epochs,
                      repeats, None))
    # the reference takes ~0.5 s an epoch on Fashion-MNIST: one epoch per run,
    # three runs there. On the small nets a whole fit takes under a second,
    # and it runs as often as nnbook: its median is the numerator of their
    # targets, and the three runs of one benchmark spread from 1.25 to 1.95 ms
    # an epoch (breast cancer).
    ref_epochs = 1 if kind == "multiclass" else epochs
    ref_repeats = 1 if quick else 3 if kind == "multiclass" else repeats
    tasks.append(("reference f64", lambda _: make_book(kind, np.float64, units, batch, l2, reference)
                  .fit(x64, y64, epochs=ref_epochs), ref_epochs, ref_repeats, None))
    if torch_runner is not None:
        def torch_run(r):
            for _ in range(epochs):
                r.epoch("none" if perms is None else None)
        tasks.append(("torch f32", torch_run, epochs, repeats,
                      lambda: TorchRunner(kind, sizes, l2, batch, x32, y32)))
    if have_sklearn:
        sk_epochs = 1 if (kind == "multiclass" and quick) else epochs
        tasks.append(("sklearn f64", lambda _: sklearn_fit(units, batch, sk_epochs, l2, x64, labels),
                      sk_epochs, 1 if quick else 3, None))
    # The floor is driven from Python (a ctypes call per GEMM, ~1 us): noise
    # next to Fashion-MNIST's GEMMs, but larger than a whole 30-10-1 batch, so
    # the small nets' floor comes from the C microbenchmark instead.
    for dt in ("float32", "float64") if kind == "multiclass" else ():
        tasks += floor_tasks(floors.get(dt) or [], x64, sizes, batch, epochs, repeats)
    res.update(interleaved(tasks))
    take_fastest_floor(res)
    if have_sklearn:
        clf = sklearn_fit(units, batch, sk_epochs, l2, x64, labels)
        acc = float(np.mean(clf.predict(xv64) == yv_labels))
        want = 0.7 if kind == "multiclass" else 0.9
        checks.add(f"{name}: sklearn learns (val accuracy after {sk_epochs} epochs)", acc >= want,
                   f"{acc:.3f} (>= {want})")
    models = {"nnbook f32": nb32, "nnbook f64": nb64, "reference f64": ref, "torch": torch_runner}
    return res, models


# ---------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------

def run_inference(models, split, quick, checks, floors):
    """predict() on the 10,000 test rows, each peer on its own trained model."""
    print("\n== predict on the 10,000 Fashion-MNIST test rows ==", flush=True)
    x64 = split.x_test
    x32 = x64.astype(np.float32)
    repeats = 3 if quick else 7
    res = {}
    pred64 = models["nnbook f64"].predict(x64)
    pred_ref = models["reference f64"].predict(x64)
    agree = float(np.mean(pred64 == pred_ref))
    checks.add("predict: nnbook f64 = reference (same training)", agree >= 0.999,
               f"{agree:.4f} of the labels agree")
    acc = float(np.mean(models["nnbook f32"].predict(x32) == split.y_test))
    # the book's N(0, 1) init saturates the sigmoids: one epoch gives ~0.6
    # (chance is 0.1; the book reaches ~0.815 after 40)
    checks.add("predict: nnbook f32 test accuracy after 1 epoch", acc >= 0.5, f"{acc:.3f} (>= 0.5)")

    def median(fn):
        fn()
        settle()
        return {"median": statistics.median(timed(fn) for _ in range(repeats))}
    res["nnbook f32"] = median(lambda: models["nnbook f32"].predict(x32))
    res["nnbook f64"] = median(lambda: models["nnbook f64"].predict(x64))
    res["reference f64"] = median(lambda: models["reference f64"].predict(x64))
    if models.get("torch") is not None:
        xt = torch.from_numpy(x32)
        tpred = models["torch"].predict(xt)
        agree = float(np.mean(tpred == models["nnbook f32"].predict(x32)))
        checks.add("predict: torch = nnbook f32 (same init and batches)", agree >= 0.98,
                   f"{agree:.4f} of the labels agree")
        res["torch f32"] = median(lambda: models["torch"].predict(xt))
    if models.get("sklearn") is not None:
        res["sklearn f64"] = median(lambda: models["sklearn"].predict(x64))
    for dt, fl in floors.items():
        for floor in fl or []:
            res[f"{floor_label(dt)} {floor.backend}"] = median(floor.forward_fn(x64, [784, 100, 10]))
    take_fastest_floor(res)
    return res


# ---------------------------------------------------------------------------
# Peak memory, in a subprocess per case
# ---------------------------------------------------------------------------

MEMORY_CASES = ["nnbook-f32", "nnbook-f64", "reference-f64", "torch-f32"]


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def memory_child(case, epochs):
    """Runs in a fresh interpreter: load only the training part, note the
    resident size, reset the kernel's peak-RSS mark, train, report the peak.

    Linux resets VmHWM (peak RSS) when "5" is written to /proc/self/clear_refs,
    so the peak counts the training alone, not the loading (which briefly
    holds the uint8 images and the other splits). Without it, the fallback is
    ru_maxrss, which can only over-state the training's share... or hide it
    under the loading peak: the result says which was used.
    """
    import resource
    lib, prec = case.split("-")
    dtype = np.float32 if prec == "f32" else np.float64
    split = datasets.fashion_mnist_split(dtype=dtype)
    x, y = split.x_train, split.y_train_encoded
    del split
    gc.collect()
    if lib == "torch":
        import torch as tch
        model = None
    data_bytes = x.nbytes + y.nbytes
    base_kib = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        method = "VmHWM after clear_refs"
    except OSError:
        method = "ru_maxrss (peak not reset after loading)"
    if lib == "nnbook":
        nnbook.MultiClassNetwork(units=100, batch_size=256, dtype=dtype).fit(x, y, epochs=epochs)
    elif lib == "reference":
        reference.MultiClassNetwork(units=100, batch_size=256, dtype=dtype).fit(x, y, epochs=epochs)
    else:
        model = tch.nn.Sequential(tch.nn.Linear(784, 100), tch.nn.Sigmoid(), tch.nn.Linear(100, 10))
        opt = tch.optim.SGD(model.parameters(), lr=LR)
        xt, yt = tch.from_numpy(x), tch.from_numpy(np.argmax(y, 1))
        lossf = tch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            idx = tch.randperm(len(x))
            for s in range(0, len(x), 256):
                rows = idx[s:s + 256]
                opt.zero_grad()
                lossf(model(xt[rows]), yt[rows]).backward()
                opt.step()
    if method.startswith("VmHWM"):
        peak_kib = _status_kib("VmHWM")
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"case": case, "data_mib": data_bytes / 2**20,
                      "baseline_mib": base_kib / 1024, "peak_mib": peak_kib / 1024,
                      "extra_mib": (peak_kib - base_kib) / 1024, "method": method}))


def run_memory(quick, checks):
    print("\n== peak memory of 2 training epochs (Fashion-MNIST, one subprocess each) ==", flush=True)
    out = {}
    for case in MEMORY_CASES:
        if case.startswith("torch") and torch is None:
            continue
        if case.startswith("reference") and quick:
            continue
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", case],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            checks.add(f"memory: {case} subprocess ran", False, proc.stderr.strip()[-300:])
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out[case] = r
        print(f"  {case:14s} data {r['data_mib']:7.1f} MiB   peak - baseline {r['extra_mib']:7.1f} MiB"
              f"   ({r['method']})", flush=True)
    return out


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------

def run_threads(x32, y32, checks):
    """nnbook.set_num_threads sets the core's threads; its OpenBLAS stays at one.

    Times one Fashion-MNIST f32 epoch (CoreNetwork) at the default thread
    count and after set_num_threads(1), and checks that both give the same
    bits (the core's row blocking does not depend on the thread count) and
    that threadpoolctl finds the vendored OpenBLAS pinned at one thread.
    """
    print("\n== threads of the core ==", flush=True)
    kind, sizes = "multiclass", [784, 100, 10]
    _, _, perms = book_init(kind, sizes, len(x32), 1)
    core = CoreRunner(kind, sizes, np.float32, 0.0, 256, x32, y32, perms)
    core.epoch(0)
    default = nnbook.get_num_threads()

    def epoch_time():
        return statistics.median(timed(lambda: core.epoch(0)) for _ in range(3))

    def one_epoch_params():
        fresh = CoreRunner(kind, sizes, np.float32, 0.0, 256, x32, y32, perms)
        fresh.epoch(0)
        return fresh.net.params.copy()
    settle()
    res = {"default_threads": default, "default_s": epoch_time()}
    params_default = one_epoch_params()
    # NumPy's own OpenBLAS pool, just used, spins while nnbook's runs: the
    # oversubscription two BLAS pools on 2 cores can cause.
    big = np.ones((1000, 1000))
    big @ big
    res["right_after_numpy_gemm_s"] = timed(lambda: core.epoch(0))
    nnbook.set_num_threads(1)
    res["set_num_threads_1_reads"] = nnbook.get_num_threads()
    res["set_num_threads_1_s"] = epoch_time()
    same_bits = np.array_equal(one_epoch_params(), params_default)
    nnbook.set_num_threads(default)
    checks.add("threads: set_num_threads(1) reaches the core, same bits as "
               f"{default} threads", res["set_num_threads_1_reads"] == 1 and same_bits,
               f"get_num_threads() = {res['set_num_threads_1_reads']}, same bits: {same_bits}")
    if threadpoolctl is not None:
        seen = [p for p in threadpoolctl.threadpool_info()
                if "libscipy_openblas.so" in os.path.basename(p["filepath"])]
        checks.add("threads: threadpoolctl sees nnbook's vendored OpenBLAS at one thread",
                   bool(seen) and seen[0]["num_threads"] == 1,
                   f"{seen[0]['filepath']} x{seen[0]['num_threads']}" if seen
                   else "libscipy_openblas.so not listed")
    for k in ("default_s", "right_after_numpy_gemm_s", "set_num_threads_1_s"):
        if k in res:
            print(f"  {k:24s} {res[k] * 1e3:8.1f} ms / epoch", flush=True)
    return res


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def ratio(results, a, b):
    """results[a] / results[b] (how many times slower a is than b), or None."""
    if a in results and b in results and results[b]["median"] > 0:
        return results[a]["median"] / results[b]["median"]
    return None


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def table_rows(results, base="nnbook f32"):
    rows = []
    for peer, r in results.items():
        label = f"{peer} = {r['backend']}" if "backend" in r else peer
        rows.append((label, r["median"], ratio(results, peer, base)))
    return rows


def targets(res, memory, threads):
    """The performance targets as (name, passed or None when not measured, detail)."""
    t = []
    fm, ca, du, ke = (res.get(k, {}) for k in ("fmnist", "cancer", "dual", "keras"))

    def add(name, r, ok_fn, fmt):
        t.append((name, None if r is None else bool(ok_fn(r)), "not measured" if r is None else fmt(r)))
    add("float32 epoch <= 1.10 x GEMM floor", ratio(fm, "nnbook f32", "floor f32 (GEMMs)"),
        lambda r: r <= 1.10, lambda r: f"nnbook f32 / floor = {r:.2f} (target <= 1.10)")
    add("Keras chapter-7 model, batch 32, <= 1.15 x its GEMM floor",
        ratio(ke, "keras f32", "floor f32 (GEMMs)"), lambda r: r <= 1.15,
        lambda r: f"keras f32 / floor = {r:.2f} (target <= 1.15)")
    add("float32 epoch >= 1.6 x faster than PyTorch", ratio(fm, "torch f32", "nnbook f32"),
        lambda r: r >= 1.6, lambda r: f"torch / nnbook f32 = {r:.2f} (target >= 1.6)")
    add("float64 book classes >= 3 x faster than the reference (Fashion-MNIST)",
        ratio(fm, "reference f64", "nnbook f64"), lambda r: r >= 3,
        lambda r: f"reference / nnbook f64 = {r:.2f} (target >= 3)")
    for wl, label, want in ((ca, "breast cancer batch 32", 30), (du, "DualLayer full batch", 10)):
        add(f"small net ({label}) >= {want} x faster than the reference",
            ratio(wl, "reference f64", "nnbook f64"), lambda r, want=want: r >= want,
            lambda r, want=want: f"reference / nnbook f64 = {r:.1f} (target >= {want})")
        for peer in ("torch f32", "sklearn f64"):
            add(f"small net ({label}) >= {WIDE_MARGIN:g} x faster than {peer.split()[0]}",
                ratio(wl, peer, "nnbook f64"), lambda r: r >= WIDE_MARGIN,
                lambda r: f"{peer} / nnbook f64 = {r:.1f} (target >= {WIDE_MARGIN:g})")
    for case in ("nnbook-f32", "nnbook-f64"):
        m = memory.get(case)
        add(f"peak memory of {case} training <= data + {MEMORY_TARGET_MIB} MiB",
            None if m is None else m["extra_mib"], lambda r: r <= MEMORY_TARGET_MIB,
            lambda r, m=m: f"peak - baseline(with data {m['data_mib']:.0f} MiB) = {r:.1f} MiB")
    if threads:
        ok = threads.get("set_num_threads_1_reads") == 1
        t.append(("core threads follow set_num_threads", ok,
                  f"1 thread: {threads.get('set_num_threads_1_s', 0) * 1e3:.0f} ms, "
                  f"{threads['default_threads']} threads: {threads['default_s'] * 1e3:.0f} ms / epoch"))
    return t


WORKLOAD_RATIOS = [  # (label, numerator peer, denominator peer)
    ("nnbook f32 / floor", "nnbook f32", "floor f32 (GEMMs)"),
    ("nnbook f64 / floor f64", "nnbook f64", "floor f64 (GEMMs)"),
    ("keras f32 / floor", "keras f32", "floor f32 (GEMMs)"),
    ("torch / nnbook f32", "torch f32", "nnbook f32"),
    ("reference / nnbook f64", "reference f64", "nnbook f64"),
    ("sklearn / nnbook f64", "sklearn f64", "nnbook f64"),
]


def print_report(res, infer, memory, threads, tgts, mline, load_end):
    print("\n" + "=" * 78)
    print("machine:", mline)
    for name, results in res.items():
        print(f"\n{WORKLOADS[name]['title']}: seconds per epoch (median)")
        print(f"  {'peer':34s} {'s/epoch':>12s} {'vs nnbook f32':>14s}")
        for peer, sec, r in table_rows(results):
            print(f"  {peer:34s} {sec:12.6f} {fmt_ratio(r):>14s}")
        print("  ratios: " + ", ".join(f"{lbl} {fmt_ratio(ratio(results, a, b))}"
                                       for lbl, a, b in WORKLOAD_RATIOS
                                       if ratio(results, a, b) is not None))
    if infer:
        print("\npredict, 10,000 rows: seconds (median)")
        for peer, sec, r in table_rows(infer):
            print(f"  {peer:34s} {sec:12.6f} {fmt_ratio(r):>14s}")
    print("\nperformance targets:")
    for name, ok, detail in tgts:
        print(f"  {'PASS' if ok else ('FAIL' if ok is False else 'SKIP')}  {name}: {detail}")
    print(f"\nload average at the end: {load_end[0]:.2f}")


README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def update_readme(path, tables):
    """Put the generated tables between the README's bench markers (they must exist)."""
    replace_between(path, README_START, README_END, tables.strip())


def markdown(res, infer, memory, tgts, mline, load_end):
    lines = ["<!-- generated by benchmarks/train.py -->", "",
             f"Machine: {mline}; {load_end[0]:.2f} at the end.", ""]
    peers = []
    for results in res.values():
        for p in results:
            if p not in peers:
                peers.append(p)
    titles = [WORKLOADS[n]["title"] for n in res]
    lines.append("| seconds / epoch (median) | " + " | ".join(titles) + " |")
    lines.append("|---|" + "---:|" * len(titles))
    for p in peers:
        cells = []
        for results in res.values():
            r = results.get(p)
            cells.append("-" if r is None else f"{r['median']:.4g}")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", "| ratio | " + " | ".join(titles) + " |", "|---|" + "---:|" * len(titles)]
    for lbl, a, b in WORKLOAD_RATIOS:
        cells = [fmt_ratio(ratio(results, a, b)) for results in res.values()]
        if any(c != "-" for c in cells):
            lines.append(f"| {lbl} | " + " | ".join(cells) + " |")
    if infer:
        lines += ["", "| predict, 10,000 rows | seconds | vs nnbook f32 |", "|---|---:|---:|"]
        for peer, sec, r in table_rows(infer):
            lines.append(f"| {peer} | {sec:.4g} | {fmt_ratio(r)} |")
    if memory:
        lines += ["", "| training memory (2 epochs, Fashion-MNIST) | data MiB | peak - baseline MiB |",
                  "|---|---:|---:|"]
        for case, m in memory.items():
            lines.append(f"| {case} | {m['data_mib']:.1f} | {m['extra_mib']:.1f} |")
    lines += ["", "| performance target | result | measured |", "|---|---|---|"]
    for name, ok, detail in tgts:
        lines.append(f"| {name} | {'PASS' if ok else ('FAIL' if ok is False else 'SKIP')} | {detail} |")
    return "\n".join(lines) + "\n"


def plot(res, path, mline):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(res)
    peers = []
    for results in res.values():
        for p in results:
            if p not in peers:
                peers.append(p)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / len(peers)
    for i, p in enumerate(peers):
        xs, hs = [], []
        for j, n in enumerate(names):
            if p in res[n]:
                xs.append(j + (i - (len(peers) - 1) / 2) * width)
                hs.append(res[n][p]["median"])
        ax.bar(xs, hs, width, label=p)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([WORKLOADS[n]["title"] for n in names], fontsize=9)
    ax.set_ylabel("seconds per epoch (median, log scale; lower is better)")
    ax.set_title("nnbook training speed against its peers, one run")
    ax.legend(fontsize=8, ncol=2)
    import textwrap
    fig.text(0.01, 0.01, "\n".join(textwrap.wrap(mline, 200)), fontsize=6)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs and repeats (a smoke run)")
    ap.add_argument("--markdown", metavar="FILE", help="write the tables as Markdown")
    ap.add_argument("--plot", metavar="FILE", help="write a bar chart (PNG)")
    ap.add_argument("--json", metavar="FILE", help="write every number and the machine as JSON")
    ap.add_argument("--readme", metavar="FILE",
                    help="replace the tables between the bench markers of this README")
    ap.add_argument("--workloads", default="fmnist,cancer,dual,keras", help="comma-separated subset")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-threads", action="store_true")
    ap.add_argument("--memory-child", metavar="CASE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, epochs=2)
        return 0

    load_start = os.getloadavg()
    info = machine_info()
    mline = machine_line(info, load_start)
    print("machine:", mline, flush=True)
    if load_start[0] > LOAD_LIMIT:
        print(f"WARNING: load average {load_start[0]:.2f} > {LOAD_LIMIT}: other work shares the "
              f"cores and OpenBLAS threads busy-wait; timings below are not trustworthy.", flush=True)
    if torch is None:
        print("note: torch is not importable: PyTorch columns skipped "
              "(pip install 'torch==2.13.0', the bench extra).", flush=True)

    checks = Checks()
    floors = {}
    for dt in ("float32", "float64"):
        floors[dt] = []
        for backend in GemmFloor.BACKENDS:
            try:
                f = GemmFloor(dt, backend)
                if checks.add(f"floor {dt} {backend}: GEMMs = NumPy", f.check(), "5 GEMM forms"):
                    floors[dt].append(f)
            except (OSError, AttributeError, RuntimeError) as e:
                print(f"note: no {backend} GEMM floor for {dt}: {e}")

    bc = datasets.breast_cancer_split()
    try:
        fm = datasets.fashion_mnist_split(dtype=np.float64)
    except FileNotFoundError as e:
        print(f"note: Fashion-MNIST not found, its workload is skipped: {e}")
        fm = None
    data = {"cancer": (bc.x_train, bc.y_train, bc.y_train.astype(int), bc.x_val, bc.y_val.astype(int))}
    data["dual"] = data["cancer"]
    if fm is not None:
        data["fmnist"] = (fm.x_train, fm.y_train_encoded, fm.y_train, fm.x_val, fm.y_val)

    res, infer, memory, threads = {}, {}, {}, {}
    models = None
    for name in args.workloads.split(","):
        if name == "keras" and "fmnist" in data:
            res[name] = run_keras(data["fmnist"][0], data["fmnist"][1], args.quick, floors)
            continue
        if name not in data:
            continue
        res[name], m = run_workload(name, WORKLOADS[name], data[name], args.quick, checks, floors)
        if name == "fmnist":
            models = m
    if models is not None:
        try:
            models["sklearn"] = sklearn_fit(100, 256, 1, 0.0, fm.x_train, fm.y_train)
        except ImportError:
            models["sklearn"] = None
        infer = run_inference(models, fm, args.quick, checks, floors)
        if not args.skip_threads:
            threads = run_threads(fm.x_train.astype(np.float32),
                                  fm.y_train_encoded.astype(np.float32), checks)
        del models
    fm = None
    gc.collect()
    if not args.skip_memory and "fmnist" in data:
        memory = run_memory(args.quick, checks)

    load_end = os.getloadavg()
    tgts = targets(res, memory, threads)
    print_report(res, infer, memory, threads, tgts, mline, load_end)
    if load_end[0] > LOAD_LIMIT or load_start[0] > LOAD_LIMIT:
        print(f"WARNING: the load average exceeded {LOAD_LIMIT} during the run: "
              f"re-run on a quiet machine before quoting these numbers.")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(res, infer, memory, tgts, mline, load_end))
    if args.plot:
        plot(res, args.plot, mline)
    if args.readme:
        update_readme(args.readme, markdown(res, infer, memory, tgts, mline, load_end))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "load_start": load_start, "load_end": load_end,
                       "quick": args.quick, "train": res, "predict": infer, "memory": memory,
                       "threads": threads, "checks": checks.items,
                       "targets": [{"name": n, "pass": ok, "detail": d} for n, ok, d in tgts]},
                      f, indent=1)
    if not checks.all_ok:
        print("\nSANITY CHECKS FAILED: " + "; ".join(c["name"] for c in checks.items if not c["ok"]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
