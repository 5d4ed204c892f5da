"""The small-GEMM switch, seen from Python.

The core sends the small products of a dense layer to its own microkernels
or to OpenBLAS as NNBOOK_SMALL_GEMM says (auto, always, never; read once
when the extension loads, so each mode runs in its own subprocess here).
Every mode must train the same network to the reference's result, every
mode must be deterministic on every thread count, and the switch must
really switch: in float32 the two paths round some products differently
(OpenBLAS's sgemm does not always sum in the order of our fma chain), so
forcing one or the other changes some bits of the trained weights.

The whole suite can be run with the kernels forced on or off:
    NNBOOK_SMALL_GEMM=always python -m pytest -q
    NNBOOK_SMALL_GEMM=never  python -m pytest -q
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

# Trains the book's breast-cancer shape (30-10-1, batch 32) and a wider
# softmax net through the core on fixed data, 3 epochs, on 1 and 2 threads;
# prints the parameters and losses as JSON.
SCRIPT = r"""
import dataclasses, json, sys
import numpy as np
from nnbook import _nncore as core
from nnbook import reference as ref

out = {}
for name, sizes, acts, loss in (("binary", [30, 10, 1], ["sigmoid", "sigmoid"], "binary_crossentropy"),
                                ("softmax", [20, 40, 5], ["tanh", "softmax"], "categorical_crossentropy")):
    for dtype in (np.float64, np.float32):
        spec = ref.NetworkSpec(sizes=sizes, activations=acts, loss=loss, l2=0.01)
        config = core.CoreConfig(**dataclasses.asdict(spec), parallel_min_flops=0.0)
        rng = np.random.default_rng(3)
        n = 150
        params = (rng.normal(size=config.param_count()) * 0.5).astype(dtype)
        x = rng.normal(size=(n, sizes[0])).astype(dtype)
        if loss == "binary_crossentropy":
            y = rng.integers(0, 2, (n, 1)).astype(dtype)
        else:
            y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
        perms = [rng.permutation(n).astype(np.int64) for _ in range(3)]
        for threads in (1, 2):
            slots = config.optimizer_slots() * config.param_count()
            p, state, step, losses = params.copy(), np.zeros(slots, dtype), 0, []
            work = np.zeros(config.workspace_len(32, threads), dtype)
            for perm in perms:
                l, step, _ = core.train_epoch(config, p, state, work, threads, x, y, perm, 32, step)
                losses.append(l)
            out[f"{name} {np.dtype(dtype).name} {threads}"] = {"params": p.tolist(), "losses": losses}
        r, r_state, r_step, r_losses = params.astype(np.float64), None, 0, []
        for perm in perms:
            r, r_state, r_step, l = ref.network_train_epoch(spec, r, x.astype(np.float64),
                                                            y.astype(np.float64), perm, 32,
                                                            r_state, r_step)
            r_losses.append(l)
        out[f"{name} {np.dtype(dtype).name} reference"] = {"params": r.tolist(), "losses": r_losses}
json.dump(out, sys.stdout)
"""


def run_mode(mode, stderr=None):
    env = dict(os.environ, NNBOOK_SMALL_GEMM=mode)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if stderr is not None:
        stderr.append(done.stderr)
    return {k: {f: np.asarray(v) for f, v in d.items()} for k, d in json.loads(done.stdout).items()}


@pytest.fixture(scope="module")
def modes():
    return {mode: run_mode(mode) for mode in ("always", "never", "auto")}


@pytest.mark.parametrize("mode", ["always", "never", "auto"])
@pytest.mark.parametrize("name", ["binary", "softmax"])
def test_every_mode_matches_the_reference(modes, mode, name):
    for dtype, rtol in (("float64", 1e-12), ("float32", 2e-4)):
        run, want = modes[mode][f"{name} {dtype} 1"], modes[mode][f"{name} {dtype} reference"]
        np.testing.assert_allclose(run["losses"], want["losses"], rtol=rtol)
        np.testing.assert_allclose(run["params"], want["params"], rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("mode", ["always", "never", "auto"])
def test_every_mode_gives_the_same_bits_on_every_thread_count(modes, mode):
    for name in ("binary", "softmax"):
        for dtype in ("float64", "float32"):
            one, two = modes[mode][f"{name} {dtype} 1"], modes[mode][f"{name} {dtype} 2"]
            np.testing.assert_array_equal(one["params"], two["params"])
            np.testing.assert_array_equal(one["losses"], two["losses"])


def test_the_switch_switches(modes):
    # float32: OpenBLAS's sgemm and our fma chains round some products
    # apart, so the trained weights differ in some bits between the modes
    # (if the variable were ignored they would be identical).
    differ = [not np.array_equal(modes["always"][f"{name} float32 1"]["params"],
                                 modes["never"][f"{name} float32 1"]["params"])
              for name in ("binary", "softmax")]
    assert any(differ)


def test_unknown_mode_warns_and_is_auto(modes):
    # the C core cannot raise: an unrecognised value behaves as auto, and
    # importing nnbook warns, naming the variable, the choices and the value
    stderr = []
    got, auto = run_mode("sometimes", stderr), modes["auto"]
    assert "NNBOOK_SMALL_GEMM must be one of auto, always, never; received 'sometimes'" in stderr[0]
    for key in got:
        np.testing.assert_array_equal(got[key]["params"], auto[key]["params"])
