/* Small GEMMs: our register-blocked kernels (gemm_small_kernel.h, compiled
 * here once per instruction set and precision), the variant chosen for this
 * CPU when the library is loaded, and the rule that sends a product to them
 * or to OpenBLAS. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "blas.h"
#include "gemm_small.h"
#include "vectorise.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define GS_CAT3_(a, b, c) a##_##b##_##c
#define GS_CAT3(a, b, c) GS_CAT3_(a, b, c)

/* ---- the portable baseline: plain C, any CPU ------------------------------
 * fma() is exact on every CPU (glibc uses the FMA instruction where there is
 * one and a correctly rounded software path elsewhere), so the baseline's
 * bits are the vector variants' bits; only its speed differs, which is why
 * auto mode leaves CPUs without FMA to OpenBLAS. */
#define GS_BASELINE_VFMA(a, b, c)                                                        \
    ({                                                                                   \
        __typeof__(c) r_;                                                                \
        for (int l_ = 0; l_ < GS_VW; l_++) r_[l_] = GS_SFMA((a)[l_], (b)[l_], (c)[l_]); \
        r_;                                                                              \
    })

#define GS_BASELINE_SPLAT(s)                                                            \
    ({                                                                                   \
        GS_(vec) v_;                                                                     \
        for (int l_ = 0; l_ < GS_VW; l_++) v_[l_] = (s);                                 \
        v_;                                                                              \
    })

#define GS_TARGET
#define GS_VFMA GS_BASELINE_VFMA
#define GS_SPLAT GS_BASELINE_SPLAT
#define GS_REAL float
#define GS_VW 4
#define GS_SFMA fmaf
#define GS_(name) GS_CAT3(name, baseline, f32)
#include "gemm_small_kernel.h"
#undef GS_REAL
#undef GS_VW
#undef GS_SFMA
#undef GS_
#define GS_REAL double
#define GS_VW 2
#define GS_SFMA fma
#define GS_(name) GS_CAT3(name, baseline, f64)
#include "gemm_small_kernel.h"
#undef GS_REAL
#undef GS_VW
#undef GS_SFMA
#undef GS_
#undef GS_TARGET
#undef GS_VFMA
#undef GS_SPLAT

#if defined(__x86_64__) && defined(__GNUC__)
/* ---- AVX2 + FMA (x86-64-v3): measured on this project's machine ---------- */
#define GS_TARGET __attribute__((target("avx2,fma")))
#define GS_REAL float
#define GS_VW 8
#define GS_VFMA(a, b, c) ((__typeof__(c))_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define GS_SPLAT(s) _mm256_set1_ps(s)
#define GS_SFMA __builtin_fmaf
#define GS_(name) GS_CAT3(name, avx2, f32)
#include "gemm_small_kernel.h"
#undef GS_SFMA
#undef GS_REAL
#undef GS_VW
#undef GS_VFMA
#undef GS_SPLAT
#undef GS_
#define GS_REAL double
#define GS_VW 4
#define GS_VFMA(a, b, c) ((__typeof__(c))_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
#define GS_SPLAT(s) _mm256_set1_pd(s)
#define GS_SFMA __builtin_fma
#define GS_(name) GS_CAT3(name, avx2, f64)
#include "gemm_small_kernel.h"
#undef GS_SFMA
#undef GS_REAL
#undef GS_VW
#undef GS_VFMA
#undef GS_SPLAT
#undef GS_
#undef GS_TARGET

/* ---- AVX-512: the same source at twice the width. NEVER EXECUTED on the
 * machine these kernels were developed and measured on (an AMD EPYC with
 * AVX2 and no AVX-512): it compiles from the same template, and the C tests
 * run it on every shape wherever the CPU has AVX-512F. */
#define GS_TARGET __attribute__((target("avx512f")))
#define GS_REAL float
#define GS_VW 16
#define GS_VFMA(a, b, c) ((__typeof__(c))_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define GS_SPLAT(s) _mm512_set1_ps(s)
#define GS_SFMA __builtin_fmaf
#define GS_(name) GS_CAT3(name, avx512, f32)
#include "gemm_small_kernel.h"
#undef GS_SFMA
#undef GS_REAL
#undef GS_VW
#undef GS_VFMA
#undef GS_SPLAT
#undef GS_
#define GS_REAL double
#define GS_VW 8
#define GS_VFMA(a, b, c) ((__typeof__(c))_mm512_fmadd_pd((__m512d)(a), (__m512d)(b), (__m512d)(c)))
#define GS_SPLAT(s) _mm512_set1_pd(s)
#define GS_SFMA __builtin_fma
#define GS_(name) GS_CAT3(name, avx512, f64)
#include "gemm_small_kernel.h"
#undef GS_SFMA
#undef GS_REAL
#undef GS_VW
#undef GS_VFMA
#undef GS_SPLAT
#undef GS_
#undef GS_TARGET
#endif

/* ---- choosing: once, when the library is loaded ---------------------------- */

static int mode = NN_SMALL_GEMM_AUTO;
static int variant = NN_SMALL_GEMM_BASELINE;

int nn_small_gemm_variant_supported(int v) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (v == NN_SMALL_GEMM_AVX512) return __builtin_cpu_supports("avx512f");
    if (v == NN_SMALL_GEMM_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return v == NN_SMALL_GEMM_BASELINE;
}

const char *nn_small_gemm_variant_name(int v) {
    static const char *names[NN_SMALL_GEMM_N_VARIANTS] = {"avx512", "avx2", "baseline"};
    return v >= 0 && v < NN_SMALL_GEMM_N_VARIANTS ? names[v] : "unknown";
}

/* Runs before any caller can reach the kernels (at dlopen of the extension
 * or start of a test program), so the reads below need no lock. */
__attribute__((constructor)) static void choose_small_gemm(void) {
    for (int v = 0; v < NN_SMALL_GEMM_N_VARIANTS; v++)
        if (nn_small_gemm_variant_supported(v)) {
            variant = v;
            break;
        }
    const char *env = getenv("NNBOOK_SMALL_GEMM");
    if (env && !strcmp(env, "always")) mode = NN_SMALL_GEMM_ALWAYS;
    else if (env && !strcmp(env, "never")) mode = NN_SMALL_GEMM_NEVER;
    else mode = NN_SMALL_GEMM_AUTO;
}

int nn_small_gemm_variant(void) { return variant; }
int nn_small_gemm_mode(void) { return mode; }

int nn_small_gemm_set_mode(int m) {
    int old = mode;
    if (m == NN_SMALL_GEMM_AUTO || m == NN_SMALL_GEMM_ALWAYS || m == NN_SMALL_GEMM_NEVER)
        mode = m;
    return old;
}

/* The size thresholds, measured on the development machine (AMD EPYC
 * family 25 = Zen 3, AVX2 + FMA, no AVX-512, 2 cores; the vendored
 * OpenBLAS pinned to one thread) with `bench_kernels --threshold`: our time
 * / cblas's, best of 3 interleaved, over M, N, K in {4, 16, 32, 64, 100,
 * 128, 200, 256, 784}, both precisions. Medians by M*N*K band:
 *   NN  (2^18, 2^19] 0.83 f32 / 0.82 f64; (2^20, 2^21] 0.93 / 0.93;
 *       (2^21, 2^22] 0.98 / 0.96; above 2^22 1.01-1.13 / 1.06-1.22
 *   TN  (2^19, 2^20] 0.90 / 0.93; (2^20, 2^21] 0.97 / 1.03; above, > 1
 *   NT  packs B^T per call: with N > 64 it lost to OpenBLAS's call
 *       (32x128x64: 1.22, 32x256x16: 1.33); with N <= 64, (2^18, 2^20]
 *       0.95 / 0.83, above 2^20 mixed.
 * So: NN up to 2^21 multiply-adds (while B is small, below), TN and NT
 * (N <= 64) up to 2^20. Over
 * the whole grid the chosen kernel takes 0.905 (f32) / 0.822 (f64) of
 * OpenBLAS's time, geometric mean, against 0.930 / 0.853 with the single
 * 2^18 threshold used before; scikit-learn's default batch of 200 on
 * breast cancer (200x100x30 forward, 30x100x200 weight gradient) and
 * digits (200x100x64 forward) moved
 * onto our kernels, which run them at 84% of the f64 peak against
 * OpenBLAS's 62-79% (bench_kernels, "small GEMMs"). */
static int small_wins(int layout, int M, int N, int K) {
    double mnk = (double)M * N * K;
    /* Past 2^18 only while B (the weights, K x N) stays small: the sweep
     * reuses B from cache call after call, but in training the weights
     * come back from L3 every batch, and our kernels stream B once per
     * 6-row tile where OpenBLAS packs it once. A batch-8 400->512 layer
     * (B 1.6 MB) trained 15-20% slower on our kernels (1.73-1.92 against
     * 1.46-1.63 s an epoch); 32768 elements keep scikit-learn's layers
     * (30 x 100, 64 x 100) and leave Keras's 784 x 100 to OpenBLAS, which
     * the sweep also preferred there in float32 (16x100x784: 1.06). */
    if (layout == NN_GEMM_NN) return mnk <= 262144.0 || (mnk <= 2097152.0 && (double)K * N <= 32768.0);
    if (layout == NN_GEMM_NT && N > 64) return 0;
    return mnk <= 1048576.0;
}

int nn_gemm_uses_small(int layout, int M, int N, int K) {
    if (mode == NN_SMALL_GEMM_ALWAYS) return 1;
    if (mode == NN_SMALL_GEMM_NEVER || variant == NN_SMALL_GEMM_BASELINE) return 0;
    return small_wins(layout, M, N, K);
}

/* ---- entry points ------------------------------------------------------------ */

#define GS_DISPATCH(prec)                                                                \
    switch (v) {                                                                         \
    case NN_SMALL_GEMM_AVX512:                                                           \
        GS_X86_CALL(avx512, prec);                                                       \
        break;                                                                           \
    case NN_SMALL_GEMM_AVX2:                                                             \
        GS_X86_CALL(avx2, prec);                                                         \
        break;                                                                           \
    default:                                                                             \
        GS_CAT3(gemm, baseline, prec)(layout, M, N, K, A, lda, B, ldb, C, ldc, bias);    \
    }
#if defined(__x86_64__) && defined(__GNUC__)
#define GS_X86_CALL(isa, prec) GS_CAT3(gemm, isa, prec)(layout, M, N, K, A, lda, B, ldb, C, ldc, bias)
#else
#define GS_X86_CALL(isa, prec) GS_CAT3(gemm, baseline, prec)(layout, M, N, K, A, lda, B, ldb, C, ldc, bias)
#endif

void nn_gemm_small_f32(int v, int layout, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, const float *bias, float *C, int ldc) {
    GS_DISPATCH(f32)
}

void nn_gemm_small_f64(int v, int layout, int M, int N, int K, const double *A, int lda,
                       const double *B, int ldb, const double *bias, double *C, int ldc) {
    GS_DISPATCH(f64)
}

/* The fused backward of a one-unit layer (gemm_small.h). */
#if defined(__x86_64__) && defined(__GNUC__)
#define GS_ONE_UNIT_CALL(isa, prec)                                                      \
    GS_CAT3(one_unit_backward, isa, prec)(B, C, dout, inp, ldi, w, dweight, dout_sum, dinp, ldd)
#else
#define GS_ONE_UNIT_CALL(isa, prec)                                                      \
    GS_CAT3(one_unit_backward, baseline, prec)(B, C, dout, inp, ldi, w, dweight, dout_sum, dinp, ldd)
#endif
#define GS_ONE_UNIT(prec, type)                                                          \
    int GS_CAT3(nn_one_unit_backward, small, prec)(int v, int B, int C, const type *dout, \
                                                   const type *inp, int ldi, const type *w, \
                                                   type *dweight, double *dout_sum, type *dinp, \
                                                   int ldd) {                            \
        if (B < 1) return 0;                                                             \
        switch (v) {                                                                     \
        case NN_SMALL_GEMM_AVX512: return GS_ONE_UNIT_CALL(avx512, prec);                \
        case NN_SMALL_GEMM_AVX2: return GS_ONE_UNIT_CALL(avx2, prec);                    \
        default: return GS_CAT3(one_unit_backward, baseline, prec)(B, C, dout, inp, ldi, w, \
                                                                  dweight, dout_sum, dinp, ldd); \
        }                                                                                \
    }                                                                                    \
    int GS_CAT3(nn_one_unit, backward, prec)(int B, int C, const type *dout, const type *inp, \
                                             int ldi, const type *w, type *dweight,      \
                                             double *dout_sum, type *dinp, int ldd) {    \
        if (!nn_gemm_uses_small(NN_GEMM_TN, C, 1, B) || !nn_gemm_uses_small(NN_GEMM_NT, B, C, 1)) \
            return 0;                                                                    \
        return GS_CAT3(nn_one_unit_backward, small, prec)(variant, B, C, dout, inp, ldi, w, \
                                                          dweight, dout_sum, dinp, ldd); \
    }
GS_ONE_UNIT(f32, float)
GS_ONE_UNIT(f64, double)

/* C (M,N) += bias (N) on every row, after OpenBLAS's product, compiled per
 * instruction set as the elementwise kernels are. restrict (which GCC
 * honours on parameters): without it each row's loop began with a check
 * that C and bias do not overlap; with it, and one vector loop down the
 * column for a one-unit layer, a 30-10-1 batch's bias adds took 1/3 fewer
 * instructions (measured when every layer's bias went through this pass). */
#define GS_ADD_BIAS(prec, type)                                                          \
    NN_VECTORISE static void GS_CAT3(add, bias, prec)(int M, int N,                      \
                                                      const type *restrict bias,         \
                                                      type *restrict C, int ldc) {       \
        if (N == 1) {                                                                    \
            const type b = bias[0];                                                      \
            for (int i = 0; i < M; i++) C[(ptrdiff_t)i * ldc] += b;                      \
            return;                                                                      \
        }                                                                                \
        for (int i = 0; i < M; i++)                                                      \
            for (int j = 0; j < N; j++) C[(ptrdiff_t)i * ldc + j] += bias[j];            \
    }
GS_ADD_BIAS(f32, float)
GS_ADD_BIAS(f64, double)

void nn_gemm_f32(int layout, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *bias, float *C, int ldc) {
    if (nn_gemm_uses_small(layout, M, N, K)) {
        nn_gemm_small_f32(variant, layout, M, N, K, A, lda, B, ldb, bias, C, ldc);
        return;
    }
    NN_BLAS(cblas_sgemm)(CblasRowMajor, layout == NN_GEMM_TN ? CblasTrans : CblasNoTrans,
                         layout == NN_GEMM_NT ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
                         lda, B, ldb, 0.0f, C, ldc);
    if (bias) add_bias_f32(M, N, bias, C, ldc);
}

void nn_gemm_f64(int layout, int M, int N, int K, const double *A, int lda, const double *B,
                 int ldb, const double *bias, double *C, int ldc) {
    if (nn_gemm_uses_small(layout, M, N, K)) {
        nn_gemm_small_f64(variant, layout, M, N, K, A, lda, B, ldb, bias, C, ldc);
        return;
    }
    NN_BLAS(cblas_dgemm)(CblasRowMajor, layout == NN_GEMM_TN ? CblasTrans : CblasNoTrans,
                         layout == NN_GEMM_NT ? CblasTrans : CblasNoTrans, M, N, K, 1.0, A,
                         lda, B, ldb, 0.0, C, ldc);
    if (bias) add_bias_f64(M, N, bias, C, ldc);
}
