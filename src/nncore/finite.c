/* Whether an array holds only finite numbers: the input check every fit
 * makes on its data (NaN/Inf in the inputs is an error), done here on the
 * core's threads instead of by one NumPy reduction. */
#include "real.h"
#include "parallel.h"

/* 1 if every x[i], i < n, is finite. x - x is 0 for a finite x and NaN for
 * an infinity or a NaN; or-ing the comparisons keeps the loop one that
 * vectorises (no early exit, no float reduction to reorder). */
NN_VECTORISE
static int NNF(finite_range)(const real *x, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= (x[i] - x[i]) != (real)0;
    return !bad;
}

typedef struct {
    const real *x;
    int64_t n;
    int T;
    int finite[NN_MAX_THREADS];
} finite_job;

static void NNF(finite_part)(void *arg, int t) {
    finite_job *j = arg;
    int64_t lo = j->n * t / j->T, hi = j->n * (t + 1) / j->T;
    j->finite[t] = NNF(finite_range)(j->x + lo, hi - lo);
}

/* 1 if every one of x[0..n) is finite, 0 if not, on up to `threads`
 * threads (one per 2^16 values at least: below that a thread costs more
 * than it reads). */
int NNF(array_is_finite)(const real *x, int64_t n, int threads) {
    finite_job j = {x, n, nn_clamp_threads(threads, n >> 16), {0}};
    if (nn_run_parallel(j.T, NNF(finite_part), &j) != NN_OK) {
        j.T = 1;
        nn_run_parallel(1, NNF(finite_part), &j);
    }
    for (int t = 0; t < j.T; t++)
        if (!j.finite[t]) return 0;
    return 1;
}
