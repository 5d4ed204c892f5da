/* The small-GEMM microkernels against a naive triple loop and against
 * OpenBLAS, for EVERY shape M x N x K from 1x1x1 to 64x64x64, in the three
 * layouts of a dense layer (NN forward, NT input gradient, TN weight
 * gradient), float32 and float64, with unaligned pointers and leading
 * dimensions larger than the widths, on every variant this CPU can run.
 *
 * Why it is affordable: the operands of shape (M,N,K) are the leading
 * submatrices of fixed 64x64 matrices a(i,p), b(p,j), and the naive loop's
 * value of C(i,j) after K steps of its fma chain does not depend on M or N.
 * So the naive loop runs once, keeping every prefix: chain[K][i][j] is
 * C(i,j) for inner dimension K. Each kernel result must equal it bit for
 * bit (the kernels promise that order, gemm_small.h). The chain itself is
 * checked against a product in higher precision (double for float32, long
 * double for float64) within the error bound of a K-term dot product,
 * K u sum|a b|; OpenBLAS, which may sum in another order, is held to twice
 * that bound, and how often it agrees bit for bit is printed.
 *
 * The portable baseline computes its fma lanewise, a libm fma() call per
 * lane, far slower than a vector variant: it is run on every shape up to
 * 32x32x32 and on every shape whose dimensions are all in
 * {1..8, 31, 33, 47, 63, 64};
 * `test_gemm_small --full` runs it on all shapes up to 64 as well.
 *
 * Prints every failing shape (the first few) and exits 1 on any failure. */
#ifndef TEST_BODY
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "gemm_small.h"
#include "fixed_stream.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

enum { NMAX = 64, PAD = 3 };   /* leading dimension = width + PAD */
static int n_failures, full;

static void fail(const char *what, const char *prec, const char *variant, int layout,
                 int M, int N, int K, int i, int j, double got, double want) {
    if (n_failures++ < 20)
        printf("FAIL %s [%s %s layout %d] shape %dx%dx%d at (%d,%d): got %.17g want %.17g\n",
               what, prec, variant, layout, M, N, K, i, j, got, want);
}

/* shapes the slow baseline runs when not --full */
static int baseline_shape(int M, int N, int K) {
    if (full || (M <= 32 && N <= 32 && K <= 32)) return 1;
    int dims[3] = {M, N, K};
    for (int d = 0; d < 3; d++) {
        int v = dims[d];
        if (!(v <= 8 || v == 31 || v == 33 || v == 47 || v == 63 || v == 64)) return 0;
    }
    return 1;
}

#define TEST_BODY
#define real float
#define wide double
#define S(name) CAT(name, _f32)
#define PREC "f32"
#define EPS 0x1p-24
#define SFMA fmaf
#define BLAS_GEMM NN_BLAS(cblas_sgemm)
#define OUR_GEMM nn_gemm_small_f32
#include "test_gemm_small.c"
#undef real
#undef wide
#undef S
#undef PREC
#undef EPS
#undef SFMA
#undef BLAS_GEMM
#undef OUR_GEMM

#define real double
#define wide long double
#define S(name) CAT(name, _f64)
#define PREC "f64"
#define EPS 0x1p-53
#define SFMA fma
#define BLAS_GEMM NN_BLAS(cblas_dgemm)
#define OUR_GEMM nn_gemm_small_f64
#include "test_gemm_small.c"

int main(int argc, char **argv) {
    full = argc > 1 && !strcmp(argv[1], "--full");
    clock_t t0 = clock();
    printf("small GEMM variant chosen for this CPU: %s\n",
           nn_small_gemm_variant_name(nn_small_gemm_variant()));
    test_all_f32();
    test_all_f64();
    printf("%s (%.1f s CPU)\n", n_failures ? "FAILED" : "all small-GEMM checks passed",
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    return n_failures ? 1 : 0;
}

#else /* TEST_BODY: once per precision */

/* a(i,p), b(p,j): the logical operands, i, j, p < NMAX; bias_val(j) the
 * bias some NN products add to every row. */
static real S(a_val)[NMAX][NMAX], S(b_val)[NMAX][NMAX], S(bias_val)[NMAX + 1];
/* chain[K][i][j]: the naive fma loop after K steps; bound[K][i][j] its error bound */
static real S(chain)[NMAX + 1][NMAX][NMAX];
static double S(bound)[NMAX + 1][NMAX][NMAX];

static int S(same_bits)(real x, real y) { return memcmp(&x, &y, sizeof x) == 0; }

static void S(naive_reference)(void) {
    uint64_t rng = 99;
    for (int i = 0; i < NMAX; i++)
        for (int p = 0; p < NMAX; p++) S(a_val)[i][p] = (real)uniform(&rng);
    for (int p = 0; p < NMAX; p++)
        for (int j = 0; j < NMAX; j++) S(b_val)[p][j] = (real)uniform(&rng);
    for (int j = 0; j < NMAX; j++) S(bias_val)[j] = (real)uniform(&rng);
    for (int i = 0; i < NMAX; i++)
        for (int j = 0; j < NMAX; j++) {
            real acc = 0;
            wide exact = 0;
            double mag = 0;
            S(chain)[0][i][j] = 0;
            S(bound)[0][i][j] = 0;
            for (int p = 0; p < NMAX; p++) {
                acc = SFMA(S(a_val)[i][p], S(b_val)[p][j], acc); /* the naive loop */
                exact += (wide)S(a_val)[i][p] * S(b_val)[p][j];
                mag += fabs((double)S(a_val)[i][p] * S(b_val)[p][j]);
                S(chain)[p + 1][i][j] = acc;
                /* a K-term dot product: |error| <= K u sum|a b| (+ the higher
                 * precision's own rounding, far below) */
                S(bound)[p + 1][i][j] = (p + 1) * EPS * mag * 1.0001 + 1e-300;
                if (!(fabs((double)(acc - exact)) <= S(bound)[p + 1][i][j]))
                    fail("naive chain vs higher precision", PREC, "-", -1, i + 1, j + 1, p + 1,
                         i, j, acc, (double)exact);
            }
        }
}

/* The operands stored for one layout, one element past an aligned address
 * (so no row is vector-aligned), rows PAD longer than the width. */
typedef struct {
    real *a_mem, *b_mem, *a, *b;
    int lda, ldb;
} S(operands);

static void S(store_operands)(S(operands) *o, int layout) {
    int ld = NMAX + PAD;
    o->a_mem = aligned_alloc(64, sizeof(real) * (NMAX * ld + 64));
    o->b_mem = aligned_alloc(64, sizeof(real) * (NMAX * ld + 64));
    o->a = o->a_mem + 1;
    o->b = o->b_mem + 1;
    o->lda = o->ldb = ld;
    for (int i = 0; i < NMAX; i++)
        for (int p = 0; p < NMAX; p++) {
            /* NN, NT: A (M,K) row-major; TN: A stored (K,M) */
            if (layout == NN_GEMM_TN) o->a[p * ld + i] = S(a_val)[i][p];
            else o->a[i * ld + p] = S(a_val)[i][p];
        }
    for (int p = 0; p < NMAX; p++)
        for (int j = 0; j < NMAX; j++) {
            /* NN, TN: B (K,N) row-major; NT: B stored (N,K) */
            if (layout == NN_GEMM_NT) o->b[j * ld + p] = S(b_val)[p][j];
            else o->b[p * ld + j] = S(b_val)[p][j];
        }
}

/* One layout, every shape, the given variant (or OpenBLAS for variant < 0);
 * with_bias: the kernels also add bias_val to every row (NN layout), which
 * must give each chain's value plus the bias, rounded once: the bits of a
 * separate pass. */
static void S(test_layout)(int layout, int variant, int with_bias) {
    const char *vname = variant < 0 ? "openblas" : nn_small_gemm_variant_name(variant);
    S(operands) o;
    S(store_operands)(&o, layout);
    const int ldc = NMAX + PAD;
    real *c_mem = aligned_alloc(64, sizeof(real) * (NMAX * ldc + 64)), *c = c_mem + 1;
    const real sentinel = (real)12345.0;
    int64_t exact = 0, total = 0;
    for (int i = 0; i < NMAX * ldc; i++) c[i] = sentinel;
    for (int M = 1; M <= NMAX; M++)
        for (int N = 1; N <= NMAX; N++)
            for (int K = 1; K <= NMAX; K++) {
                if (variant == NN_SMALL_GEMM_BASELINE && !baseline_shape(M, N, K)) continue;
                if (variant >= 0)
                    OUR_GEMM(variant, layout, M, N, K, o.a, o.lda, o.b, o.ldb,
                             with_bias ? S(bias_val) : NULL, c, ldc);
                else
                    BLAS_GEMM(CblasRowMajor, layout == NN_GEMM_TN ? CblasTrans : CblasNoTrans,
                              layout == NN_GEMM_NT ? CblasTrans : CblasNoTrans, M, N, K, 1, o.a,
                              o.lda, o.b, o.ldb, 0, c, ldc);
                /* C's rows and the row below, to the end of the padding */
                for (int i = 0; i < NMAX && i <= M; i++)
                    for (int j = 0; j < ldc; j++) {
                        real got = c[i * ldc + j];
                        if (i >= M || j >= N) { /* outside C: untouched */
                            if (got != sentinel)
                                fail("wrote outside C", PREC, vname, layout, M, N, K, i, j, got,
                                     sentinel);
                            continue;
                        }
                        real want = S(chain)[K][i][j];
                        if (with_bias) want = want + S(bias_val)[j];
                        if (variant >= 0) {
                            if (!S(same_bits)(got, want))
                                fail(with_bias ? "kernel + bias vs naive loop + bias"
                                               : "kernel vs naive loop",
                                     PREC, vname, layout, M, N, K, i, j, got, want);
                        } else {
                            exact += S(same_bits)(got, want);
                            total++;
                            if (!(fabs((double)got - want) <= 2 * S(bound)[K][i][j]))
                                fail("OpenBLAS vs naive loop", PREC, vname, layout, M, N, K, i, j,
                                     got, want);
                        }
                    }
                for (int i = 0; i < M; i++) /* back to the sentinel for the next shape */
                    for (int j = 0; j < N; j++) c[i * ldc + j] = sentinel;
            }
    if (variant < 0)
        printf("%s layout %d: OpenBLAS equals the naive fma loop bit for bit in %.2f%% of "
               "elements\n", PREC, layout, 100.0 * (double)exact / (double)total);
    free(o.a_mem);
    free(o.b_mem);
    free(c_mem);
}

/* Shapes past the 128-deep and 64-wide blocks the kernels split work into,
 * against the naive loop run directly. */
static void S(test_large)(int variant) {
    /* the last three: narrow products (N within three vectors) whose inner
     * dimension runs past one K block in one pass */
    static const int shapes[][3] = {{7, 200, 300}, {130, 65, 129}, {13, 1, 700}, {1, 129, 257},
                                    {33, 10, 300}, {30, 5, 182}, {9, 24, 200}};
    const char *vname = nn_small_gemm_variant_name(variant);
    uint64_t rng = 5;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        const int lda = K + 2, ldb = N + 1, ldbt = K + 1, ldat = M + 2, ldc = N + 3;
        real *A = malloc(sizeof(real) * (size_t)(M + K) * (M + K + 3));
        real *At = malloc(sizeof(real) * (size_t)(M + K) * (M + K + 3));
        real *B = malloc(sizeof(real) * (size_t)(N + K) * (N + K + 3));
        real *Bt = malloc(sizeof(real) * (size_t)(N + K) * (N + K + 3));
        real *C = malloc(sizeof(real) * (size_t)M * ldc);
        for (int i = 0; i < M; i++)
            for (int p = 0; p < K; p++) A[i * lda + p] = At[p * ldat + i] = (real)uniform(&rng);
        for (int p = 0; p < K; p++)
            for (int j = 0; j < N; j++) B[p * ldb + j] = Bt[j * ldbt + p] = (real)uniform(&rng);
        real *bias = malloc(sizeof(real) * (size_t)N);
        for (int j = 0; j < N; j++) bias[j] = (real)uniform(&rng);
        /* layouts 0-2, then NN again with the bias (added after the last K block) */
        for (int run = 0; run < 4; run++) {
            const int layout = run < 3 ? run : NN_GEMM_NN;
            const real *a = layout == NN_GEMM_TN ? At : A, *b = layout == NN_GEMM_NT ? Bt : B;
            int la = layout == NN_GEMM_TN ? ldat : lda, lb = layout == NN_GEMM_NT ? ldbt : ldb;
            OUR_GEMM(variant, layout, M, N, K, a, la, b, lb, run == 3 ? bias : NULL, C, ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    real acc = 0;
                    for (int p = 0; p < K; p++) acc = SFMA(A[i * lda + p], B[p * ldb + j], acc);
                    if (run == 3) acc = acc + bias[j];
                    if (!S(same_bits)(C[i * ldc + j], acc))
                        fail("kernel vs naive loop (large)", PREC, vname, layout, M, N, K, i, j,
                             C[i * ldc + j], acc);
                }
        }
        free(A); free(At); free(B); free(Bt); free(C); free(bias);
    }
}

/* The fused one-unit backward (nn_one_unit_backward_small) for every B, C
 * up to NMAX and a 364-row batch: against the naive loops it restates (the
 * weight gradient's fma chain down the rows, the outer product's fma from
 * +0, the sum in double), bit for bit; nothing written outside dweight's C
 * values and dinp's C columns; and done exactly when C is one to three of
 * the variant's vectors. */
#define ONE_UNIT_CALL S(nn_one_unit_backward_small)
static void S(test_one_unit)(int variant) {
    const char *vname = nn_small_gemm_variant_name(variant);
    const int vw = (variant == NN_SMALL_GEMM_AVX512 ? 64 : variant == NN_SMALL_GEMM_AVX2 ? 32 : 16) /
                   (int)sizeof(real);
    enum { BMAX = 364 };
    const int ld = NMAX + PAD;
    const real sentinel = (real)12345.0;
    real *inp_mem = malloc(sizeof(real) * (BMAX * ld + 1)), *inp = inp_mem + 1;
    real *dinp_mem = malloc(sizeof(real) * (BMAX * ld + 1)), *dinp = dinp_mem + 1;
    real dout[BMAX], w[NMAX], dweight[NMAX + PAD];
    uint64_t rng = 17;
    for (int i = 0; i < BMAX * ld; i++) inp[i] = (real)uniform(&rng);
    for (int i = 0; i < BMAX; i++) dout[i] = (real)uniform(&rng);
    for (int j = 0; j < NMAX; j++) w[j] = (real)uniform(&rng);
    for (int B = 1; B <= BMAX; B = B < NMAX ? B + 1 : B + BMAX - NMAX) /* 1..64, 364 */
        for (int C = 1; C <= NMAX; C++) {
            for (int i = 0; i < B * ld; i++) dinp[i] = sentinel;
            for (int j = 0; j < NMAX + PAD; j++) dweight[j] = sentinel;
            double sum = -1;
            int done = ONE_UNIT_CALL(variant, B, C, dout, inp, ld, w, dweight, &sum, dinp, ld);
            if (done != (C >= vw && C <= 3 * vw)) {
                fail("one-unit backward: done for the wrong widths", PREC, vname, -1, B, C, 1, 0,
                     0, done, C >= vw && C <= 3 * vw);
                continue;
            }
            if (!done) continue;
            double want_sum = 0;
            for (int i = 0; i < B; i++) want_sum += dout[i];
            if (memcmp(&sum, &want_sum, sizeof sum))
                fail("one-unit backward: sum of dout", PREC, vname, -1, B, C, 1, 0, 0, sum, want_sum);
            for (int j = 0; j < NMAX + PAD; j++) {
                real want = sentinel;
                if (j < C) {
                    want = 0;
                    for (int i = 0; i < B; i++) want = SFMA(inp[i * ld + j], dout[i], want);
                }
                if (!S(same_bits)(dweight[j], want))
                    fail("one-unit backward: dweight vs naive chain", PREC, vname, -1, B, C, 1, 0,
                         j, dweight[j], want);
            }
            for (int i = 0; i < B; i++)
                for (int j = 0; j < ld; j++) {
                    real want = j < C ? SFMA(dout[i], w[j], (real)0) : sentinel;
                    if (!S(same_bits)(dinp[i * ld + j], want))
                        fail("one-unit backward: dinp vs outer product", PREC, vname, -1, B, C, 1,
                             i, j, dinp[i * ld + j], want);
                }
        }
    free(inp_mem);
    free(dinp_mem);
}
#undef ONE_UNIT_CALL

static void S(test_all)(void) {
    S(naive_reference)();
    for (int layout = 0; layout < 3; layout++) S(test_layout)(layout, -1, 0);
    for (int v = 0; v < NN_SMALL_GEMM_N_VARIANTS; v++) {
        if (!nn_small_gemm_variant_supported(v)) {
            printf("%s: %s not supported by this CPU, not run\n", PREC, nn_small_gemm_variant_name(v));
            continue;
        }
        clock_t t0 = clock();
        for (int layout = 0; layout < 3; layout++) S(test_layout)(layout, v, 0);
        S(test_layout)(NN_GEMM_NN, v, 1);
        S(test_large)(v);
        S(test_one_unit)(v);
        printf("%s: %s checked (%.1f s CPU)\n", PREC, nn_small_gemm_variant_name(v),
               (double)(clock() - t0) / CLOCKS_PER_SEC);
    }
}

#endif /* TEST_BODY */
