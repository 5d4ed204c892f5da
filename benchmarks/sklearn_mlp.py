"""scikit-learn's MLP against nnbook.sklearn's, same parameters, one run.

Each workload fits scikit-learn's estimator and nnbook's with identical
parameters and random_state, checks first that both reached the same final
loss curve (float64: every epoch within 1e-9 relative, as the parity tests
require; float32: the first epoch within 3e-4 and every epoch within 2%, as
the two round differently: scikit-learn's own float32 loss moves by 1.1e-4
in the first epoch and 5e-4 in the second between its 1- and 2-thread BLAS
runs on Fashion-MNIST, while nnbook's first epoch is within 1.1e-5 of its
1-thread run), then reports both times and their ratio.

Workloads (issue 10, "Speed"):
  cancer    breast cancer (455 rows after a stratified 80/20 split, scaled),
            hidden (100,), adam, max_iter=200 (tol=0: every epoch runs)
  digits    digits (1,797 rows, scaled), hidden (100,), sgd, max_iter=200, tol=0
  fmnist    Fashion-MNIST's 48,000 training rows (the book's split), hidden
            (256, 128), adam, 10 epochs, float64 and float32 (scikit-learn
            trains in float32 when X is float32; nnbook with dtype=float32)
  grid      GridSearchCV on digits: 12 candidates x 5 folds, n_jobs=2,
            MLPClassifier(max_iter=30); the searches must pick the same
            candidate with the same scores

Timing: the best of 5 (cancer) or 3 (digits) interleaved fits of each
library, one fit or search elsewhere; each timing starts after a 0.3 s
pause and a 50 ms warm-up of every core (timing.settle()), so neither
pays for the other's spinning BLAS threads or for a core's wake-up.

GEMM floor: the flops of each workload's matrix products at the rate of a
large matrix product through NumPy's BLAS (epoch_flops, gemm_rate);
scikit-learn's time over it bounds the speed-up any implementation of the
same training could reach.

Targets: >= 20x on cancer, >= 10x on digits, >= 1.8x on Fashion-MNIST
float64, >= 3.5x with float32, >= 8x on the grid search.

Usage (from the repository root):
    python benchmarks/sklearn_mlp.py [--quick] [--workloads cancer,digits,fmnist,grid]
                                     [--markdown docs/sklearn.md] [--threads N]
--markdown rewrites the table between the file's sklearn-bench markers.
Exit status 1 when a sanity check fails (a broken run never looks fast).
"""
import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn import neural_network as reference
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

import nnbook.sklearn as ours
from markers import replace_between
from timing import settle

MARK_START = "<!-- sklearn-bench:start -->"
MARK_END = "<!-- sklearn-bench:end -->"
TARGETS = {"cancer": 20, "digits": 10, "fmnist f64": 1.8, "fmnist f32": 3.5, "grid": 8}


def cancer_data():
    X, y = load_breast_cancer(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, stratify=y, test_size=0.2, random_state=42)
    return StandardScaler().fit_transform(X), y


def digits_data():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fmnist_data(quick):
    from nnbook import datasets

    split = datasets.fashion_mnist_split(dtype=np.float64)
    n = 6000 if quick else len(split.y_train)
    return split.x_train[:n], split.y_train[:n]


def epoch_flops(sizes, n):
    """One epoch's multiply-add flops in its matrix products: per row and
    layer the forward X.W, the weight gradient X^T.dZ and, past the first
    layer, the input gradient dZ.W^T (what scikit-learn's MLP and nnbook
    both compute)."""
    return sum(2.0 * n * a * b * (2 if l == 0 else 3)
               for l, (a, b) in enumerate(zip(sizes, sizes[1:])))


_RATES = {}


def gemm_rate(dtype, threads=None):
    """Flops per second of a large square matrix product through NumPy's
    BLAS (best of 3), the fastest this machine multiplies: no smaller
    product runs faster."""
    key = (np.dtype(dtype).name, threads)
    if key not in _RATES:
        import threadpoolctl

        n = 1536
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        out = np.empty_like(a)
        with threadpoolctl.threadpool_limits(threads):
            np.matmul(a, a, out=out)
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                np.matmul(a, a, out=out)
                best = min(best, time.perf_counter() - start)
        _RATES[key] = 2.0 * n ** 3 / best
    return _RATES[key]


def timed_fit(module, X, y, params):
    est = module.MLPClassifier(**params)
    settle()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - start, est


def fit_floor(X, n_classes, params):
    """The arithmetic floor of one fit: its flops at gemm_rate."""
    out = 1 if n_classes == 2 else n_classes
    sizes = [X.shape[1], *params["hidden_layer_sizes"], out]
    return params["max_iter"] * epoch_flops(sizes, len(X)) / gemm_rate(X.dtype)


def compare_fit(name, X, y, params, rtol, ours_params=None, repeats=1):
    """Time both fits (the best of `repeats` interleaved runs of each); rtol
    bounds the gap of every epoch's loss, or (float32, rtol a pair) of the
    first epoch's and of the final loss: float32 rounding differs between the
    two and the gap grows over thousands of steps."""
    t_ref = t_ours = float("inf")
    for _ in range(repeats):
        t, ref = timed_fit(reference, X, y, params)
        t_ref = min(t_ref, t)
        t, mine = timed_fit(ours, X, y, {**params, **(ours_params or {})})
        t_ours = min(t_ours, t)
    gaps = np.abs(np.subtract(mine.loss_curve_, ref.loss_curve_)) / np.abs(ref.loss_curve_)
    first, last = rtol if isinstance(rtol, tuple) else (rtol, rtol)
    ok = mine.n_iter_ == ref.n_iter_ and gaps[0] <= first and np.all(gaps <= last)
    settle()
    floor = fit_floor(X, len(ref.classes_), params)
    return dict(name=name, t_ref=t_ref, t_ours=t_ours, t_floor=floor, loss_ref=ref.loss_,
                loss_ours=mine.loss_, gap=gaps[-1], ok=ok, note=f"{mine.n_iter_} epochs, loss gap first epoch "
                                          f"{gaps[0]:.1e}, largest {gaps.max():.1e}")


def compare_grid(X, y, quick):
    grid = {"hidden_layer_sizes": [(50,), (100,)], "alpha": [1e-4, 1e-3, 1e-2],
            "activation": ["relu", "tanh"]}
    params = dict(max_iter=10 if quick else 30, random_state=0)
    runs = {}
    for label, module in (("ref", reference), ("ours", ours)):
        search = GridSearchCV(module.MLPClassifier(**params), grid, cv=5, n_jobs=2)
        settle()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            search.fit(X, y)
            runs[label] = (time.perf_counter() - start, search)
    (t_ref, ref), (t_ours, mine) = runs["ref"], runs["ours"]
    scores_ref = ref.cv_results_["mean_test_score"]
    scores_ours = mine.cv_results_["mean_test_score"]
    ok = mine.best_params_ == ref.best_params_ and np.allclose(scores_ours, scores_ref, rtol=0,
                                                                  atol=1e-12)
    # the floor: every fit's flops at one thread's rate (each of the
    # n_jobs=2 workers runs its fits on one), the two workers side by side
    settle()
    n_train = len(X) - len(X) // 5
    flops = sum(params["max_iter"] * epoch_flops([X.shape[1], h[0], 10], n_train)
                for h in grid["hidden_layer_sizes"])
    n_other = len(grid["alpha"]) * len(grid["activation"])
    floor = 5 * n_other * flops / gemm_rate(X.dtype, threads=1) / 2
    return dict(name="grid", t_ref=t_ref, t_ours=t_ours, t_floor=floor, loss_ref=ref.best_score_,
                loss_ours=mine.best_score_, gap=float(np.max(np.abs(scores_ours - scores_ref))),
                ok=ok, note=f"12 x 5 fits, best {mine.best_params_}")


def run(workloads, quick):
    rows = []
    if "cancer" in workloads:
        X, y = cancer_data()
        rows.append(compare_fit("cancer", X, y, dict(hidden_layer_sizes=(100,), solver="adam",
                                                     max_iter=200, tol=0, random_state=0), 1e-9,
                                repeats=5))
    if "digits" in workloads:
        X, y = digits_data()
        rows.append(compare_fit("digits", X, y, dict(hidden_layer_sizes=(100,), solver="sgd",
                                                     max_iter=60 if quick else 200, tol=0,
                                                     random_state=0), 1e-9, repeats=3))
    if "fmnist" in workloads:
        X, y = fmnist_data(quick)
        params = dict(hidden_layer_sizes=(256, 128), solver="adam", max_iter=10, tol=0,
                      random_state=0)
        rows.append(compare_fit("fmnist f64", X, y, params, 1e-9))
        rows.append(compare_fit("fmnist f32", X.astype(np.float32), y, params, (3e-4, 2e-2),
                                dict(dtype=np.float32)))
    if "grid" in workloads:
        X, y = digits_data()
        rows.append(compare_grid(X, y, quick))
    return rows


def table(rows, quick):
    load = os.getloadavg()
    lines = [f"Measured by `benchmarks/sklearn_mlp.py{' --quick' if quick else ''}` on "
             f"{platform.machine()}, {os.cpu_count()} cores, scikit-learn "
             f"{sklearn.__version__}, load average "
             f"{load[0]:.1f} at the end.", "",
             "| workload | scikit-learn (s) | nnbook (s) | speed-up | target | GEMM floor (s) "
             "| largest possible speed-up | final loss (scikit-learn / nnbook) | check |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        ratio = r["t_ref"] / r["t_ours"]
        target = TARGETS.get(r["name"])
        met = "" if target is None else (" (met)" if ratio >= target else " (not met)")
        lines.append(f"| {r['name']} | {r['t_ref']:.2f} | {r['t_ours']:.2f} | {ratio:.1f}x | "
                     f"{target}x{met} | {r['t_floor']:.3f} | {r['t_ref'] / r['t_floor']:.1f}x | "
                     f"{r['loss_ref']:.10g} / {r['loss_ours']:.10g} | "
                     f"{'ok' if r['ok'] else 'FAILED'}: {r['note']} |")
    lines += ["", "GEMM floor: the flops of the fit's matrix products (forward, weight and "
              "input gradients of every batch) at the rate of a 1536 x 1536 matrix product "
              f"through NumPy's BLAS ({gemm_rate(np.float64) / 1e9:.0f} GFLOP/s in float64 on "
              f"this machine, {gemm_rate(np.float32) / 1e9:.0f} in float32); for the grid "
              "search, one thread's rate per worker and the two workers side by side. No "
              "implementation of the same training can beat it, so scikit-learn's time over it "
              "bounds any speed-up."]
    return "\n".join(lines)


def update_markdown(path, text):
    replace_between(path, MARK_START, MARK_END, text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    ap.add_argument("--workloads", default="cancer,digits,fmnist,grid")
    ap.add_argument("--markdown", help="file whose sklearn-bench section gets the table")
    ap.add_argument("--threads", type=int, default=0,
                    help="BLAS threads for both sides (threadpoolctl and "
                         "nnbook.set_num_threads); default: each library's own")
    args = ap.parse_args(argv)
    if args.threads:
        import threadpoolctl

        import nnbook

        nnbook.set_num_threads(args.threads)
        with threadpoolctl.threadpool_limits(args.threads):
            rows = run(set(args.workloads.split(",")), args.quick)
    else:
        rows = run(set(args.workloads.split(",")), args.quick)
    text = table(rows, args.quick)
    print(text)
    if args.markdown:
        update_markdown(args.markdown, text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
