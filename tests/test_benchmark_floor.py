"""The GEMM floor of benchmarks/train.py computes what it claims, on every backend.

The floor calls C entry points through ctypes (the vendored OpenBLAS's
cblas_?gemm and the core's own nn_gemm_f32/f64), whose argument lists ctypes
cannot check: when nn_gemm gained its bias argument, a floor still passing the
old list made OpenBLAS reject a parameter and the benchmark crash. Each
backend's products are compared with NumPy's here, in both precisions and
with a row-major stride wider than the width, so a signature that drifts
fails a test instead of a benchmark run.
"""
import os
import sys

import numpy as np
import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks")


@pytest.fixture(scope="module")
def floor_module():
    sys.path.insert(0, os.path.abspath(BENCHMARKS))
    try:
        import train
    finally:
        sys.path.pop(0)
    return train


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", ["vendored", "numpy", "nnbook"])
def test_every_floor_backend_computes_the_products(floor_module, backend, dtype):
    floor = floor_module.GemmFloor(dtype, backend)
    assert floor.check()
    rng = np.random.default_rng(7)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    # shapes on both sides of the small-GEMM threshold
    for m, k, n in ((5, 3, 4), (32, 30, 10), (64, 300, 100)):
        a = rng.random((m, k)).astype(dtype)
        b = rng.random((k, n)).astype(dtype)
        c = np.full((m, n), np.nan, dtype)
        floor.gemm(c, a, b)
        np.testing.assert_allclose(c, a @ b, rtol=rtol)
        g = rng.random((m, n)).astype(dtype)
        dw = np.full((k, n), np.nan, dtype)
        floor.gemm(dw, a, g, trans_a=True)
        np.testing.assert_allclose(dw, a.T @ g, rtol=rtol)
        da = np.full((m, k), np.nan, dtype)
        floor.gemm(da, g, b, trans_b=True)
        np.testing.assert_allclose(da, g @ b.T, rtol=rtol)


def test_floor_epoch_runs_every_batch(floor_module):
    # the epoch closure: full batches and the shorter last one, on the
    # core's own entry point (the one whose arguments changed)
    floor = floor_module.GemmFloor(np.float32, "nnbook")
    x = np.random.default_rng(1).random((70, 12)).astype(np.float32)
    floor.epoch_fn(x, [12, 6, 3], 32)()
