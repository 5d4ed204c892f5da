/* C microbenchmarks of the nncore kernels at the book's shapes, no Python.
 *
 * For each kernel: first its output is checked against a naive loop in
 * double (any mismatch: the benchmark prints it and exits 1 before timing
 * anything, so a broken kernel can never look fast); then it is timed and
 * compared with a bare cblas_?gemm of the same shape, called through the
 * same NN_BLAS prefix macro (blas.h) and so the very OpenBLAS the core uses.
 *
 * Shapes: Fashion-MNIST 784-100-10, batch 256 (the book's chapter 7) and
 * breast cancer 30-10-1, batch 32 (chapter 6). The columns:
 *   us/call   median over 5 timings of the mean time of one call
 *   GFLOP/s   2*M*N*K per GEMM the kernel does (elementwise kernels: "-")
 *   vs gemm   kernel time / time of the bare GEMM(s) it wraps; for an
 *             elementwise kernel, / the GEMM of the layer it belongs to
 *             (what it adds on top of that layer's matmul)
 * and for whole epochs (network_train_epoch on synthetic data) the ratio to
 * the epoch's GEMMs alone: the floor benchmarks/train.py also measures.
 *
 * Usage: bench_kernels [--quick] [--threads N] [--threshold] [--epochs N [--full-batch]]
 * (--epochs N: only the fixed breast-cancer training workload, for
 * instruction counts; see count_epochs. --full-batch: DualLayer's
 * full-batch epochs instead of MinibatchNetwork's.)
 *
 * This file includes itself once per precision (BENCH_BODY below): the
 * kernels are written once over `real`, and so are their benchmarks. */
#ifndef BENCH_BODY

#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nncore.h"
#include "../tests/fixed_stream.h"
#include "blas.h"
#include "gemm_small.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

static int n_failures;
static int quick;
static double min_seconds = 0.2;   /* each timing runs a kernel at least this long */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}


/* Relative to max(1, |want|), NaN fails. Reports only the first few misses. */
static void check_close(const char *what, const char *prec, int64_t index, double got,
                        double want, double rtol) {
    double tol = rtol * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol)) {
        if (n_failures < 20)
            printf("MISMATCH %s [%s] at %lld: got %.10g, want %.10g\n", what, prec,
                   (long long)index, got, want);
        n_failures++;
    }
}

/* Seconds per call of fn(arg): calls are batched until min_seconds pass, and
 * the median of 5 such batches is returned (robust to one disturbed batch). */
typedef void (*bench_fn)(void *);
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double time_call(bench_fn fn, void *arg) {
    fn(arg); /* warm up: OpenBLAS's buffers, the caches */
    int reps = 1;
    double t0 = now();
    fn(arg);
    double one = now() - t0;
    if (one > 0) reps = (int)fmin(1e7, fmax(1.0, min_seconds / 5 / one));
    double runs[5];
    for (int r = 0; r < 5; r++) {
        t0 = now();
        for (int i = 0; i < reps; i++) fn(arg);
        runs[r] = (now() - t0) / reps;
    }
    qsort(runs, 5, sizeof runs[0], cmp_double);
    return runs[2];
}

/* The thread count passed to the core (--threads; default: the online
 * cores, as nnbook's default). The floor's bare GEMMs get the BLAS with as
 * many threads (the core pins its BLAS to one thread, see blas_threads.c,
 * so the floor sets it back before each run). */
static int bench_threads_setting = 0;
static int core_threads(void) {
    int t = bench_threads_setting > 0 ? bench_threads_setting : (int)sysconf(_SC_NPROCESSORS_ONLN);
    return t < 1 ? 1 : (t > NN_MAX_THREADS ? NN_MAX_THREADS : t);
}
static void floor_blas_threads(void) { NN_BLAS(openblas_set_num_threads)(core_threads()); }

static void report(const char *prec, const char *what, double seconds, double flops,
                   double gemm_seconds) {
    char gf[32];
    if (flops > 0)
        snprintf(gf, sizeof gf, "%9.1f", flops / seconds * 1e-9);
    else
        snprintf(gf, sizeof gf, "%9s", "-");
    printf("%-4s %-52s %11.2f %s %8.2f\n", prec, what, seconds * 1e6, gf, seconds / gemm_seconds);
}

/* The core clock in GHz, measured: a chain of dependent integer adds retires
 * one per cycle on every x86-64 core, so cycles = adds. Best of 7 (the
 * machine is shared; interference only ever slows the chain down). */
static double measure_ghz(void) {
    double best = 0;
    for (int r = 0; r < 7; r++) {
        uint64_t x = 0;
        const long iters = 2000000;
        double t0 = now();
        for (long i = 0; i < iters; i++) {
#if defined(__x86_64__) && defined(__GNUC__)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                             : "+r"(x));
#else
            x += 16;
            __asm__ volatile("" : "+r"(x));
#endif
        }
        double ghz = 16.0 * iters / (now() - t0) * 1e-9;
        if (ghz > best) best = ghz;
    }
    return best;
}

/* One core's peak in GFLOP/s for elements of `bytes` bytes: 2 FMA units x
 * (vector bytes / element bytes) lanes x 2 flops x clock. The vector width
 * is that of the small-GEMM variant this CPU runs (AVX2: 32 bytes). */
static double clock_ghz;
static double peak_gflops(int bytes) {
    int vbytes = nn_small_gemm_variant() == NN_SMALL_GEMM_AVX512 ? 64
                 : nn_small_gemm_variant() == NN_SMALL_GEMM_AVX2 ? 32 : 16;
    return 2.0 * (vbytes / bytes) * 2.0 * clock_ghz;
}

static int threshold_sweep;
static int count_epochs; /* --epochs N */
static int count_full_batch; /* --full-batch */

#define BENCH_BODY
#define real float
#define S(name) CAT(name, _f32)
#define PREC "f32"
#define RTOL 2e-4
#define GEMM NN_BLAS(cblas_sgemm)
#define SMALL nn_gemm_small_f32
#include "bench_kernels.c"
#undef real
#undef S
#undef PREC
#undef RTOL
#undef GEMM
#undef SMALL

#define real double
#define S(name) CAT(name, _f64)
#define PREC "f64"
#define RTOL 1e-10
#define GEMM NN_BLAS(cblas_dgemm)
#define SMALL nn_gemm_small_f64
#include "bench_kernels.c"

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
            min_seconds = 0.03;
        } else if (!strcmp(argv[i], "--threshold")) {
            threshold_sweep = 1;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            bench_threads_setting = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) {
            count_epochs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--full-batch")) {
            count_full_batch = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--quick] [--threads N] [--threshold] [--epochs N [--full-batch]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (count_epochs > 0) /* the fixed workload only (see count_epochs_f64) */
        return count_epochs_f32(count_epochs) || count_epochs_f64(count_epochs);
    printf("nncore kernels, threads: %d\n", core_threads());

    /* every check first; nothing is timed unless all of them pass */
    check_all_f32();
    check_all_f64();
    if (n_failures) {
        printf("%d mismatches against the naive loops: not timing\n", n_failures);
        return 1;
    }
    printf("all kernels match the naive loops\n\n");
    clock_ghz = measure_ghz();
    printf("clock %.2f GHz (measured); small-GEMM variant %s; one core's peak %.1f GFLOP/s "
           "(f32), %.1f (f64) = 2 FMA units x lanes x 2 flops x clock\n",
           clock_ghz, nn_small_gemm_variant_name(nn_small_gemm_variant()), peak_gflops(4),
           peak_gflops(8));
    if (threshold_sweep) {
        sweep_f32();
        sweep_f64();
        return 0;
    }
    printf("\nsmall GEMMs, ours vs a bare cblas call (us/call: best of 3 interleaved medians "
           "of 5; overhead: the time above what the flops take at peak)\n");
    printf("%-4s %-6s %-16s %9s %9s %8s %8s %9s %9s\n", "prec", "layout", "M x N x K",
           "cblas us", "ours us", "cblas %pk", "ours %pk", "cblas ovh", "ours ovh");
    bench_small_f32();
    bench_small_f64();
    printf("\none-unit layer backward (dW, dinp, db): two products and a sum, best of 3 "
           "interleaved medians of 5\n");
    bench_one_unit_f32();
    bench_one_unit_f64();
    printf("\n");
    printf("%-4s %-52s %11s %9s %8s\n", "prec", "kernel (shape)", "us/call", "GFLOP/s", "vs gemm");
    bench_all_f32();
    bench_all_f64();
    return 0;
}

#else /* BENCH_BODY: everything below exists once per precision */

static void S(fill)(real *a, int64_t n, uint64_t *rng, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) a[i] = (real)(lo + (hi - lo) * (uniform(rng) + 1) / 2);
}

static real *S(alloc)(int64_t n) {
    real *p = malloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- naive references, in double --------------------------------------- */

/* out (B,OC) = sigmoid(max(inp W + b, zmin)) or the linear z */
static void S(naive_dense)(double *out, const real *inp, const real *w, const real *b, int B,
                           int C, int OC, int act, double zmin) {
    for (int i = 0; i < B; i++)
        for (int j = 0; j < OC; j++) {
            double z = b ? b[j] : 0;
            for (int k = 0; k < C; k++) z += (double)inp[(int64_t)i * C + k] * w[(int64_t)k * OC + j];
            if (act == NN_SIGMOID) z = 1 / (1 + exp(-(z < zmin ? zmin : z)));
            out[(int64_t)i * OC + j] = z;
        }
}

/* ---- checks -------------------------------------------------------------- */

static void S(check_dense)(int B, int C, int OC) {
    uint64_t rng = 7;
    real *x = S(alloc)((int64_t)B * C), *w = S(alloc)((int64_t)C * OC), *b = S(alloc)(OC);
    real *out = S(alloc)((int64_t)B * OC), *dout = S(alloc)((int64_t)B * OC);
    real *dinp = S(alloc)((int64_t)B * C), *dw = S(alloc)((int64_t)C * OC), *db = S(alloc)(OC);
    double *want = malloc(sizeof(double) * (size_t)B * OC);
    S(fill)(x, (int64_t)B * C, &rng, 0, 1);
    S(fill)(w, (int64_t)C * OC, &rng, -0.1, 0.1);
    S(fill)(b, OC, &rng, -0.5, 0.5);
    S(fill)(dout, (int64_t)B * OC, &rng, -0.01, 0.01);

    S(dense_forward)(out, x, w, b, B, C, OC, NN_SIGMOID, (real)-100);
    S(naive_dense)(want, x, w, b, B, C, OC, NN_SIGMOID, -100);
    for (int64_t i = 0; i < (int64_t)B * OC; i++)
        check_close("dense_forward sigmoid", PREC, i, out[i], want[i], RTOL);

    S(dense_backward)(dinp, dw, db, dout, x, w, B, C, OC);
    for (int i = 0; i < B; i++)      /* dinp = dout W^T */
        for (int k = 0; k < C; k++) {
            double s = 0;
            for (int j = 0; j < OC; j++) s += (double)dout[(int64_t)i * OC + j] * w[(int64_t)k * OC + j];
            check_close("dense_backward dinp", PREC, (int64_t)i * C + k, dinp[(int64_t)i * C + k], s, RTOL);
        }
    for (int k = 0; k < C; k++)      /* dW = x^T dout */
        for (int j = 0; j < OC; j++) {
            double s = 0;
            for (int i = 0; i < B; i++) s += (double)x[(int64_t)i * C + k] * dout[(int64_t)i * OC + j];
            check_close("dense_backward dweight", PREC, (int64_t)k * OC + j, dw[(int64_t)k * OC + j], s, RTOL);
        }
    for (int j = 0; j < OC; j++) {   /* db = column sums of dout */
        double s = 0;
        for (int i = 0; i < B; i++) s += dout[(int64_t)i * OC + j];
        check_close("dense_backward dbias", PREC, j, db[j], s, RTOL);
    }
    free(x); free(w); free(b); free(out); free(dout); free(dinp); free(dw); free(db); free(want);
}

/* softmax + cross-entropy with the book's guards, and the output error a - y */
static void S(check_losses)(int B, int K) {
    uint64_t rng = 11;
    real *z = S(alloc)((int64_t)B * K), *y = S(alloc)((int64_t)B * K);
    real *p = S(alloc)((int64_t)B * K), *d = S(alloc)((int64_t)B * K);
    S(fill)(z, (int64_t)B * K, &rng, -8, 8);
    for (int64_t i = 0; i < (int64_t)B * K; i++) y[i] = 0;
    for (int i = 0; i < B; i++) y[(int64_t)i * K + i % K] = 1;
    double loss = S(softmax_cross_entropy_forward)(p, z, y, B, K, (real)-100, (real)1e-10);
    double want_loss = 0;
    for (int i = 0; i < B; i++) {
        double zmax = -HUGE_VAL, sum = 0;
        for (int k = 0; k < K; k++) zmax = fmax(zmax, z[(int64_t)i * K + k]);
        for (int k = 0; k < K; k++) sum += exp(z[(int64_t)i * K + k] - zmax);
        for (int k = 0; k < K; k++) {
            double pk = exp(z[(int64_t)i * K + k] - zmax) / sum;
            check_close("softmax_cross_entropy_forward probs", PREC, (int64_t)i * K + k,
                        p[(int64_t)i * K + k], pk, RTOL);
            double pc = fmin(fmax(pk, 1e-10), 1 - 1e-10);
            want_loss -= y[(int64_t)i * K + k] * log(pc);
        }
    }
    check_close("softmax_cross_entropy_forward loss", PREC, 0, loss / B, want_loss / B, RTOL);
    S(cross_entropy_backward)(d, p, y, (int64_t)B * K, (real)(1.0 / B));
    for (int64_t i = 0; i < (int64_t)B * K; i++)
        check_close("cross_entropy_backward", PREC, i, d[i], ((double)p[i] - y[i]) / B, RTOL);
    free(z); free(y); free(p); free(d);
}

static void S(check_sgd)(int64_t n) {
    uint64_t rng = 13;
    real *w = S(alloc)(n), *g = S(alloc)(n), *w0 = S(alloc)(n);
    S(fill)(w, n, &rng, -1, 1);
    S(fill)(g, n, &rng, -1, 1);
    memcpy(w0, w, sizeof(real) * (size_t)n);
    S(sgd_update)(w, g, NULL, n, (real)0.1);
    for (int64_t i = 0; i < n; i++)
        check_close("sgd_update", PREC, i, w[i], (double)w0[i] - (double)(real)0.1 * g[i], RTOL);
    free(w); free(g); free(w0);
}

static nn_config S(book_config)(int s0, int s1, int s2) {
    nn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_layers = 2;
    cfg.sizes[0] = s0;
    cfg.sizes[1] = s1;
    cfg.sizes[2] = s2;
    cfg.activations[0] = NN_SIGMOID;
    cfg.activations[1] = s2 > 1 ? NN_SOFTMAX : NN_SIGMOID;
    cfg.has_bias[0] = cfg.has_bias[1] = 1;
    cfg.loss = s2 > 1 ? NN_LOSS_CE : NN_LOSS_BCE;
    cfg.zmin = -100;
    cfg.eps = 1e-10;
    cfg.optimizer = NN_OPT_SGD;
    cfg.learning_rate = 0.1;
    /* the Python layer's default (PARALLEL_MIN_FLOPS in _nncore.pyx): batches
     * are split across threads only above this much forward work */
    cfg.parallel_min_flops = 1.0e5;
    return cfg;
}

/* One batch of network_train_epoch (softmax output) against the step written
 * out naively: forward, err = a - y, gradients with W2 before its update, SGD. */
static void S(check_epoch)(int m, int s0, int s1, int s2) {
    nn_config cfg = S(book_config)(s0, s1, s2);
    int T = core_threads();
    int64_t P = nn_param_count(&cfg), W = nn_train_workspace_len(&cfg, m, T, 1, 0);
    uint64_t rng = 17;
    real *params = S(alloc)(P), *work = S(alloc)(W), *x = S(alloc)((int64_t)m * s0);
    real *y = S(alloc)((int64_t)m * s2);
    double *p = malloc(sizeof(double) * (size_t)P), *a1 = malloc(sizeof(double) * (size_t)m * s1);
    double *a2 = malloc(sizeof(double) * (size_t)m * s2), *g = calloc((size_t)P, sizeof(double));
    double *d1 = malloc(sizeof(double) * (size_t)m * s1);
    S(fill)(params, P, &rng, -0.3, 0.3);
    S(fill)(x, (int64_t)m * s0, &rng, 0, 1);
    for (int64_t i = 0; i < (int64_t)m * s2; i++) y[i] = 0;
    for (int i = 0; i < m; i++) y[(int64_t)i * s2 + i % s2] = 1;
    for (int64_t i = 0; i < P; i++) p[i] = params[i];
    const double *W1 = p, *b1 = p + (int64_t)s0 * s1, *W2 = b1 + s1, *b2 = W2 + (int64_t)s1 * s2;

    /* naive forward; the loss value itself is checked by check_losses */
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < s1; j++) {
            double z = b1[j];
            for (int k = 0; k < s0; k++) z += x[(int64_t)i * s0 + k] * W1[(int64_t)k * s1 + j];
            a1[(int64_t)i * s1 + j] = 1 / (1 + exp(-z));
        }
        double zmax = -HUGE_VAL, sum = 0;
        for (int j = 0; j < s2; j++) {
            double z = b2[j];
            for (int k = 0; k < s1; k++) z += a1[(int64_t)i * s1 + k] * W2[(int64_t)k * s2 + j];
            a2[(int64_t)i * s2 + j] = z;
            zmax = fmax(zmax, z);
        }
        for (int j = 0; j < s2; j++) sum += exp(a2[(int64_t)i * s2 + j] - zmax);
        for (int j = 0; j < s2; j++) a2[(int64_t)i * s2 + j] = exp(a2[(int64_t)i * s2 + j] - zmax) / sum;
    }
    /* err = (a - y)/m; gradients; hidden error through W2 before the update */
    double *gW1 = g, *gb1 = g + (int64_t)s0 * s1, *gW2 = gb1 + s1, *gb2 = gW2 + (int64_t)s1 * s2;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < s2; j++) {
            double e = (a2[(int64_t)i * s2 + j] - y[(int64_t)i * s2 + j]) / m;
            gb2[j] += e;
            for (int k = 0; k < s1; k++) gW2[(int64_t)k * s2 + j] += a1[(int64_t)i * s1 + k] * e;
        }
    for (int i = 0; i < m; i++)
        for (int k = 0; k < s1; k++) {
            double s = 0, a = a1[(int64_t)i * s1 + k];
            for (int j = 0; j < s2; j++)
                s += (a2[(int64_t)i * s2 + j] - y[(int64_t)i * s2 + j]) / m * W2[(int64_t)k * s2 + j];
            d1[(int64_t)i * s1 + k] = s * a * (1 - a);
        }
    for (int i = 0; i < m; i++)
        for (int k = 0; k < s1; k++) {
            double e = d1[(int64_t)i * s1 + k];
            gb1[k] += e;
            for (int c = 0; c < s0; c++) gW1[(int64_t)c * s1 + k] += x[(int64_t)i * s0 + c] * e;
        }

    int64_t step = 0;
    double loss = 0;
    int rc = S(network_train_epoch)(&cfg, params, NULL, work, T, x, y, m, NULL, m, &step, &loss, NULL);
    if (rc != NN_OK) {
        printf("MISMATCH network_train_epoch [%s]: status %d\n", PREC, rc);
        n_failures++;
    }
    for (int64_t i = 0; i < P; i++)   /* compared as steps: the update is what is computed */
        check_close("network_train_epoch step", PREC, i, ((double)params[i] - p[i]) / 0.1,
                    -g[i], sizeof(real) == 4 ? 2e-5 : 1e-10);
    free(params); free(work); free(x); free(y); free(p); free(a1); free(a2); free(g); free(d1);
}

static void S(check_all)(void) {
    S(check_dense)(256, 784, 100);
    S(check_dense)(256, 100, 10);
    S(check_dense)(32, 30, 10);
    S(check_dense)(32, 10, 1);
    S(check_losses)(256, 10);
    S(check_sgd)(784 * 100 + 100 + 100 * 10 + 10);
    S(check_epoch)(64, 50, 20, 10);
}

/* ---- benchmarks ------------------------------------------------------------ */

typedef struct {
    int B, C, OC;
    real *x, *w, *b, *out, *dout, *dinp, *dw, *db, *y;
    int64_t n;
} S(layer);

static void S(layer_init)(S(layer) *L, int B, int C, int OC) {
    uint64_t rng = 23;
    L->B = B; L->C = C; L->OC = OC;
    L->x = S(alloc)((int64_t)B * C); L->w = S(alloc)((int64_t)C * OC); L->b = S(alloc)(OC);
    L->out = S(alloc)((int64_t)B * OC); L->dout = S(alloc)((int64_t)B * OC);
    L->dinp = S(alloc)((int64_t)B * C); L->dw = S(alloc)((int64_t)C * OC); L->db = S(alloc)(OC);
    L->y = S(alloc)((int64_t)B * OC);
    S(fill)(L->x, (int64_t)B * C, &rng, 0, 1);
    S(fill)(L->w, (int64_t)C * OC, &rng, -0.1, 0.1);
    S(fill)(L->b, OC, &rng, -0.5, 0.5);
    S(fill)(L->dout, (int64_t)B * OC, &rng, -0.01, 0.01);
    for (int64_t i = 0; i < (int64_t)B * OC; i++) L->y[i] = (i % OC) == 0;
}

static void S(layer_free)(S(layer) *L) {
    free(L->x); free(L->w); free(L->b); free(L->out); free(L->dout); free(L->dinp);
    free(L->dw); free(L->db); free(L->y);
}

/* the bare GEMMs */
static void S(g_fwd)(void *p) {   /* out = x W */
    S(layer) *L = p;
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->B, L->OC, L->C, (real)1, L->x, L->C,
         L->w, L->OC, (real)0, L->out, L->OC);
}
static void S(g_dw)(void *p) {    /* dW = x^T dout */
    S(layer) *L = p;
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, L->C, L->OC, L->B, (real)1, L->x, L->C,
         L->dout, L->OC, (real)0, L->dw, L->OC);
}
static void S(g_dinp)(void *p) {  /* dinp = dout W^T */
    S(layer) *L = p;
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, L->B, L->C, L->OC, (real)1, L->dout, L->OC,
         L->w, L->OC, (real)0, L->dinp, L->C);
}
/* the kernels */
static void S(k_fwd)(void *p) {
    S(layer) *L = p;
    S(dense_forward)(L->out, L->x, L->w, L->b, L->B, L->C, L->OC, NN_SIGMOID, (real)-100);
}
static void S(k_bwd)(void *p) {
    S(layer) *L = p;
    S(dense_backward)(L->dinp, L->dw, L->db, L->dout, L->x, L->w, L->B, L->C, L->OC);
}
static void S(k_bwd_nodinp)(void *p) {
    S(layer) *L = p;
    S(dense_backward)(NULL, L->dw, L->db, L->dout, L->x, L->w, L->B, L->C, L->OC);
}
static void S(k_softmax_ce)(void *p) {
    S(layer) *L = p;
    /* in place on a copy would add a memcpy: probs into dinp-sized scratch instead */
    S(softmax_cross_entropy_forward)(L->dinp, L->out, L->y, L->B, L->OC, (real)-100, (real)1e-10);
}
static void S(k_ce_bwd)(void *p) {
    S(layer) *L = p;
    S(cross_entropy_backward)(L->dout, L->out, L->y, (int64_t)L->B * L->OC, (real)(1.0 / L->B));
}
static void S(k_sgd)(void *p) {
    S(layer) *L = p;
    S(sgd_update)(L->w, L->dw, NULL, (int64_t)L->C * L->OC, (real)1e-9);
}

static void S(bench_layer)(int B, int C, int OC, int with_softmax) {
    S(layer) L;
    char what[96];
    S(layer_init)(&L, B, C, OC);
    double flops = 2.0 * B * C * OC;
    double t_fwd = time_call(S(g_fwd), &L), t_dw = time_call(S(g_dw), &L);
    double t_dinp = time_call(S(g_dinp), &L);
    snprintf(what, sizeof what, "cblas_gemm x W (%d,%d)x(%d,%d)", B, C, C, OC);
    report(PREC, what, t_fwd, flops, t_fwd);
    snprintf(what, sizeof what, "dense_forward sigmoid (%d,%d)->%d", B, C, OC);
    report(PREC, what, time_call(S(k_fwd), &L), flops, t_fwd);
    snprintf(what, sizeof what, "dense_backward with dinp (%d,%d)->%d", B, C, OC);
    report(PREC, what, time_call(S(k_bwd), &L), 2 * flops, t_dw + t_dinp);
    snprintf(what, sizeof what, "dense_backward no dinp (%d,%d)->%d", B, C, OC);
    report(PREC, what, time_call(S(k_bwd_nodinp), &L), flops, t_dw);
    if (with_softmax) {
        snprintf(what, sizeof what, "softmax_cross_entropy_forward (%d,%d)", B, OC);
        report(PREC, what, time_call(S(k_softmax_ce), &L), 0, t_fwd);
        snprintf(what, sizeof what, "cross_entropy_backward (%d,%d)", B, OC);
        report(PREC, what, time_call(S(k_ce_bwd), &L), 0, t_fwd);
    }
    snprintf(what, sizeof what, "sgd_update %d params (vs gemm x W)", C * OC);
    report(PREC, what, time_call(S(k_sgd), &L), 0, t_fwd);
    S(layer_free)(&L);
}

/* A whole epoch of network_train_epoch on synthetic data, against the
 * epoch's GEMMs alone on consecutive batches (the floor). */
typedef struct {
    nn_config cfg;
    int batch;
    int64_t n, step, *perm;
    real *params, *work, *x, *y;
    S(layer) l1, l2;    /* the floor's buffers: layer 1 (s0->s1) and 2 (s1->s2) */
} S(epoch);

static void S(e_train)(void *p) {
    S(epoch) *E = p;
    double loss;
    S(network_train_epoch)(&E->cfg, E->params, NULL, E->work, core_threads(), E->x,
                           E->y, E->n,
                           E->perm, E->batch, &E->step, &loss, NULL);
}

static void S(e_floor)(void *p) {
    S(epoch) *E = p;
    S(layer) *a = &E->l1, *b = &E->l2;
    int s0 = E->cfg.sizes[0];
    floor_blas_threads();
    for (int64_t start = 0; start < E->n; start += E->batch) {
        int m = (int)(E->n - start < E->batch ? E->n - start : E->batch);
        const real *xb = E->x + start * s0;
        /* forward: Z1 = X W1, Z2 = A1 W2; backward: dW2 = A1^T dZ2, dA1 = dZ2 W2^T, dW1 = X^T dZ1 */
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, a->OC, a->C, (real)1, xb, a->C,
             a->w, a->OC, (real)0, a->out, a->OC);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, b->OC, b->C, (real)1, a->out, b->C,
             b->w, b->OC, (real)0, b->out, b->OC);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, b->C, b->OC, m, (real)1, a->out, b->C,
             b->dout, b->OC, (real)0, b->dw, b->OC);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, m, b->C, b->OC, (real)1, b->dout, b->OC,
             b->w, b->OC, (real)0, a->dout, a->OC);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, a->C, a->OC, m, (real)1, xb, a->C,
             a->dout, a->OC, (real)0, a->dw, a->OC);
    }
}

static void S(bench_epoch)(const char *name, int64_t n, int s0, int s1, int s2, int batch) {
    S(epoch) E;
    uint64_t rng = 29;
    char what[96];
    E.cfg = S(book_config)(s0, s1, s2);
    E.batch = batch;
    E.n = n;
    E.step = 0;
    E.params = S(alloc)(nn_param_count(&E.cfg));
    E.work = S(alloc)(nn_train_workspace_len(&E.cfg, batch, core_threads(), 1, 0));
    E.x = S(alloc)(n * s0);
    E.y = S(alloc)(n * s2);
    E.perm = malloc(sizeof(int64_t) * (size_t)n);
    S(fill)(E.params, nn_param_count(&E.cfg), &rng, -0.1, 0.1);
    S(fill)(E.x, n * s0, &rng, 0, 1);
    for (int64_t i = 0; i < n * s2; i++) E.y[i] = s2 > 1 ? (i % s2) == (i / s2) % s2 : (i % 3 == 0);
    for (int64_t i = 0; i < n; i++) E.perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {   /* a shuffled order, like the book's */
        int64_t j = (int64_t)((uniform(&rng) + 1) / 2 * (double)(i + 1)) % (i + 1), t = E.perm[i];
        E.perm[i] = E.perm[j];
        E.perm[j] = t;
    }
    S(layer_init)(&E.l1, batch, s0, s1);
    S(layer_init)(&E.l2, batch, s1, s2);
    double flops = 0;
    for (int64_t start = 0; start < n; start += batch) {
        double m = (double)(n - start < batch ? n - start : batch);
        flops += 2 * m * (2.0 * s0 * s1 + 3.0 * s1 * s2);
    }
    double floor_s = time_call(S(e_floor), &E);
    snprintf(what, sizeof what, "epoch GEMMs alone (%s)", name);
    report(PREC, what, floor_s, flops, floor_s);
    snprintf(what, sizeof what, "network_train_epoch (%s)", name);
    report(PREC, what, time_call(S(e_train), &E), flops, floor_s);
    free(E.params); free(E.work); free(E.x); free(E.y); free(E.perm);
    S(layer_free)(&E.l1);
    S(layer_free)(&E.l2);
}

/* ---- small GEMMs: our kernels against a bare cblas call -------------------- */

typedef struct {
    int layout, M, N, K;
    real *a, *b, *c;
} S(gemm_case);

static void S(gc_init)(S(gemm_case) *g, int layout, int M, int N, int K) {
    uint64_t rng = 31;
    g->layout = layout; g->M = M; g->N = N; g->K = K;
    g->a = S(alloc)((int64_t)M * K);
    g->b = S(alloc)((int64_t)K * N);
    g->c = S(alloc)((int64_t)M * N);
    S(fill)(g->a, (int64_t)M * K, &rng, -1, 1);
    S(fill)(g->b, (int64_t)K * N, &rng, -1, 1);
}
static void S(gc_free)(S(gemm_case) *g) { free(g->a); free(g->b); free(g->c); }

/* leading dimensions of the packed operands in each layout */
static int S(gc_lda)(const S(gemm_case) *g) { return g->layout == NN_GEMM_TN ? g->M : g->K; }
static int S(gc_ldb)(const S(gemm_case) *g) { return g->layout == NN_GEMM_NT ? g->K : g->N; }

static void S(gc_cblas)(void *p) {
    S(gemm_case) *g = p;
    GEMM(CblasRowMajor, g->layout == NN_GEMM_TN ? CblasTrans : CblasNoTrans,
         g->layout == NN_GEMM_NT ? CblasTrans : CblasNoTrans, g->M, g->N, g->K, (real)1, g->a,
         S(gc_lda)(g), g->b, S(gc_ldb)(g), (real)0, g->c, g->N);
}
static void S(gc_ours)(void *p) {
    S(gemm_case) *g = p;
    SMALL(nn_small_gemm_variant(), g->layout, g->M, g->N, g->K, g->a, S(gc_lda)(g), g->b,
          S(gc_ldb)(g), NULL, g->c, g->N);
}

static void S(bench_small)(void) {
    /* the shapes: breast cancer 30-10-1 at batch 32, the Keras
     * chapter-7 model 784-100-10 at batch 32, Fashion-MNIST at batch 256;
     * scikit-learn's default batch of 200 on breast cancer (30-100-1) and
     * digits (64-100-10);
     * each layer's forward (NN), input gradient (NT), weight gradient (TN) */
    static const int layers[][3] = {{32, 30, 10},   {32, 10, 1},    {32, 784, 100},
                                    {32, 100, 10},  {256, 784, 100}, {256, 100, 10},
                                    {200, 30, 100}, {200, 100, 1},  {200, 64, 100},
                                    {200, 100, 10}, {1, 1, 1}};
    static const char *names[3] = {"NN", "NT", "TN"};
    const double peak = peak_gflops((int)sizeof(real));
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const int B = layers[l][0], C = layers[l][1], OC = layers[l][2];
        for (int layout = 0; layout < 3; layout++) {
            /* forward (B,C).(C,OC); dinp (B,OC).(OC,C)^T; dW (B,C)^T.(B,OC) */
            int M = layout == NN_GEMM_TN ? C : B, N = layout == NN_GEMM_NT ? C : OC;
            int K = layout == NN_GEMM_NN ? C : layout == NN_GEMM_NT ? OC : B;
            S(gemm_case) g;
            S(gc_init)(&g, layout, M, N, K);
            double flops = 2.0 * M * N * K, at_peak = flops / (peak * 1e9);
            /* best of 3 interleaved medians: the machine is shared, and
             * interference only ever adds time */
            double tb = 1e9, to = 1e9;
            for (int r = 0; r < 3; r++) {
                tb = fmin(tb, time_call(S(gc_cblas), &g));
                to = fmin(to, time_call(S(gc_ours), &g));
            }
            char shape[32];
            snprintf(shape, sizeof shape, "%dx%dx%d", M, N, K);
            printf("%-4s %-6s %-16s %9.3f %9.3f %8.1f%% %8.1f%% %9.3f %9.3f\n", PREC,
                   names[layout], shape, tb * 1e6, to * 1e6, 100 * flops / tb * 1e-9 / peak,
                   100 * flops / to * 1e-9 / peak, (tb - at_peak) * 1e6, (to - at_peak) * 1e6);
            S(gc_free)(&g);
        }
    }
}

/* A one-unit layer's backward (weight gradient, input gradient, bias sum):
 * two cblas calls and a sum, our two kernels and a sum, and the fused pass
 * (nn_one_unit_backward_small); flops: the two products'. */
typedef struct {
    int B, C, how; /* how: 0 cblas, 1 our kernels apart, 2 fused */
    real *dout, *inp, *w, *dw, *dinp;
    double sum;
    int done; /* the fused call's return: 0 where it does not apply */
} S(one_unit_case);

static void S(ou_run)(void *p) {
    S(one_unit_case) *u = p;
    if (u->how == 2) {
        u->done = S(nn_one_unit_backward_small)(nn_small_gemm_variant(), u->B, u->C, u->dout,
                                                u->inp, u->C, u->w, u->dw, &u->sum, u->dinp, u->C);
        return;
    }
    if (u->how == 1) {
        SMALL(nn_small_gemm_variant(), NN_GEMM_TN, u->C, 1, u->B, u->inp, u->C, u->dout, 1, NULL,
              u->dw, 1);
        SMALL(nn_small_gemm_variant(), NN_GEMM_NT, u->B, u->C, 1, u->dout, 1, u->w, 1, NULL,
              u->dinp, u->C);
    } else {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, u->C, 1, u->B, (real)1, u->inp, u->C,
             u->dout, 1, (real)0, u->dw, 1);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, u->B, u->C, 1, (real)1, u->dout, 1, u->w,
             1, (real)0, u->dinp, u->C);
    }
    double sum = 0;
    for (int i = 0; i < u->B; i++) sum += u->dout[i];
    u->sum = sum;
}

static void S(bench_one_unit)(void) {
    /* breast cancer's output layer at batch 32 and in DualLayer's full
     * batch; a 100-unit layer below, beyond the fused pass's three vectors */
    static const int shapes[][2] = {{32, 10}, {364, 10}, {200, 100}};
    static const char *hows[3] = {"cblas", "ours apart", "fused"};
    const double peak = peak_gflops((int)sizeof(real));
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int B = shapes[k][0], C = shapes[k][1];
        uint64_t rng = 7;
        S(one_unit_case) u = {B, C, 0, S(alloc)(B), S(alloc)((int64_t)B * C), S(alloc)(C),
                              S(alloc)(C), S(alloc)((int64_t)B * C), 0, 0};
        S(fill)(u.dout, B, &rng, -1, 1);
        S(fill)(u.inp, (int64_t)B * C, &rng, 0, 1);
        S(fill)(u.w, C, &rng, -1, 1);
        double best[3] = {1e9, 1e9, 1e9};
        for (int r = 0; r < 3; r++)
            for (int h = 0; h < 3; h++) {
                u.how = h;
                best[h] = fmin(best[h], time_call(S(ou_run), &u));
            }
        const double flops = 4.0 * B * C;
        for (int h = 0; h < 3; h++)
            if (h == 2 && !u.done)
                printf("%-4s %-10s B=%-4d C=%-4d (not fused: C beyond three vectors)\n", PREC,
                       hows[h], B, C);
            else
                printf("%-4s %-10s B=%-4d C=%-4d %9.3f us %7.1f%% of peak\n", PREC, hows[h], B,
                       C, best[h] * 1e6, 100 * flops / best[h] * 1e-9 / peak);
        free(u.dout); free(u.inp); free(u.w); free(u.dw); free(u.dinp);
    }
}

/* --threshold: our time / cblas's over a grid of shapes, the measurement
 * behind small_wins() in gemm_small.c. */
static void S(sweep)(void) {
    static const int dims[] = {4, 16, 32, 64, 100, 128, 200, 256, 784};
    enum { ND = sizeof dims / sizeof dims[0] };
    double save = min_seconds;
    min_seconds = 0.01;
    printf("\n%s: ours / cblas time (<1: ours faster), M x N x K, layouts NN NT TN\n", PREC);
    for (int a = 0; a < ND; a++)
        for (int b = 0; b < ND; b++)
            for (int c = 0; c < ND; c++) {
                int M = dims[a], N = dims[b], K = dims[c];
                printf("%4d x %4d x %4d  MNK %10.0f ", M, N, K, (double)M * N * K);
                for (int layout = 0; layout < 3; layout++) {
                    S(gemm_case) g;
                    S(gc_init)(&g, layout, M, N, K);
                    /* interleaved, best of 3 each: the machine is shared */
                    double tb = 1e9, to = 1e9;
                    for (int r = 0; r < 3; r++) {
                        tb = fmin(tb, time_call(S(gc_cblas), &g));
                        to = fmin(to, time_call(S(gc_ours), &g));
                    }
                    printf(" %6.2f", to / tb);
                    S(gc_free)(&g);
                }
                printf("\n");
            }
    min_seconds = save;
}

/* --epochs N: the book's breast-cancer MinibatchNetwork (30-10-1 sigmoid,
 * l2 = 0.01, batch 32, 364 synthetic rows in one shuffled order) trained for
 * N epochs in one network_train_epochs call, or with --full-batch its
 * DualLayer (the 364 rows in order as one batch), and nothing else: a fixed
 * workload to count instructions with (valgrind --tool=callgrind), which
 * unlike time does not move with the machine. Prints the loss sum to 17
 * digits, so two builds can be seen to compute the same bits. Its time is
 * a rough guide only: OpenBLAS starts its own worker threads when it loads,
 * and they spin for ~0.1 s, longer than these runs; on two threads that
 * made DualLayer's epoch 28-128 us against 12-20 us with
 * OPENBLAS_NUM_THREADS=1 set (nnbook's training never uses those workers,
 * and in Python they are asleep long before a fit starts). */
static int S(count_epochs)(int epochs) {
    enum { N = 364, F = 30, H = 10 };
    const int BATCH = count_full_batch ? N : 32;
    nn_config cfg = S(book_config)(F, H, 1);
    cfg.l2 = 0.01;
    int T = core_threads();
    uint64_t rng = 41;
    int64_t P = nn_param_count(&cfg), step = 0, *perms = malloc(sizeof(int64_t) * N * epochs);
    real *params = S(alloc)(P), *work = S(alloc)(nn_train_workspace_len(&cfg, BATCH, T, 1, 0));
    real *x = S(alloc)((int64_t)N * F), *y = S(alloc)(N);
    double *loss = malloc(sizeof(double) * epochs), *penalty = malloc(sizeof(double) * epochs);
    int done = 0;
    S(fill)(params, P, &rng, -0.5, 0.5);
    S(fill)(x, (int64_t)N * F, &rng, 0, 1);
    for (int i = 0; i < N; i++) y[i] = i % 3 == 0;
    for (int e = 0; e < epochs; e++)
        for (int i = 0; i < N; i++) perms[(int64_t)e * N + i] = (i * 97 + e * 31) % N;
    double start = now();
    int rc = S(network_train_epochs)(&cfg, params, NULL, work, T, x, y, N,
                                     count_full_batch ? NULL : perms, epochs, BATCH,
                                     NULL, NULL, 0, 0, NULL, NULL, NULL, &step, &done, loss,
                                     penalty, NULL, NULL);
    double seconds = now() - start, total = 0;
    for (int e = 0; e < done; e++) total += loss[e];
    printf("%s 30-10-1 b%d, 364 rows, %d epochs on %d thread(s): status %d, loss sum %.17g, "
           "%.2f us an epoch\n", PREC, BATCH, epochs, T, rc, total, seconds / epochs * 1e6);
    free(perms); free(params); free(work); free(x); free(y); free(loss); free(penalty);
    return rc;
}

static void S(bench_all)(void) {
    S(bench_layer)(256, 784, 100, 0);
    S(bench_layer)(256, 100, 10, 1);
    S(bench_layer)(32, 30, 10, 0);
    S(bench_layer)(32, 10, 1, 0);
    S(bench_epoch)(quick ? "784-100-10 b256, 6400 rows" : "784-100-10 b256, 48000 rows",
                   quick ? 6400 : 48000, 784, 100, 10, 256);
    S(bench_epoch)("30-10-1 b32, 364 rows", 364, 30, 10, 1, 32);
    printf("\n");
}

#endif /* BENCH_BODY */
