/* exp written so that loops over arrays vectorise (libm's exp is a scalar
 * call, and the sigmoid/softmax passes were dominated by it).
 *
 * exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2 (Cody-Waite:
 * ln 2 split in a high part with trailing zero bits, so k*ln2_hi is exact),
 * |r| <= ln2/2, and exp(r) by its Taylor series to r^13 (double) / r^7
 * (float), whose truncation error is below half an ulp on that interval,
 * evaluated as 1 + (r + r^2 Q(r)) (vexp_tail: Q by Estrin's scheme), so
 * the leading 1 + r rounds only once. vtanh.h builds expm1 from the same
 * two pieces.
 * Every a*b + c here is one fused multiply-add (VFMA: rounded once), in
 * every build: the FMA instruction where the compiled variant has it, and
 * libm's fma (exact on any CPU, slower) in the baseline, so every variant
 * gives the same bits. Half the instructions of separate multiplies and
 * adds: a float32 sigmoid over an array ran 1.18x faster, tanh 1.15x.
 * 2^k is applied as 2^k1 * 2^k2 (k1 + k2 = k), each built in the exponent
 * bits, so results that overflow to inf or underflow gradually to 0 come
 * out as libm's do. x is clamped first only to keep k1, k2 representable.
 * NaN stays NaN. Accuracy: within 1 ulp of glibc's exp/expf over the whole
 * range (checked in tests/test_kernels.py through the kernels, and in
 * src/nncore/tests). No branches: callers' loops vectorise. */
#ifndef NN_VEXP_H
#define NN_VEXP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* a*b + c rounded once. The builtins become the instruction wherever the
 * target has FMA (and a libm call elsewhere); -ffp-contract=off keeps the
 * compiler from fusing anything else, so these are the only fused steps. */
#if defined(__GNUC__)
#define VFMA(a, b, c) __builtin_fma((a), (b), (c))
#define VFMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define VFMA(a, b, c) fma((a), (b), (c))
#define VFMAF(a, b, c) fmaf((a), (b), (c))
#endif

static inline double vexp_pow2_f64(double k) {
    /* 2^k for integral k in [-1022, 1023], from the bits of k + 1.5*2^52 */
    double kd = k + 0x1.8p52;
    uint64_t bits;
    memcpy(&bits, &kd, sizeof bits);
    bits = (bits + 1023) << 52;
    double p;
    memcpy(&p, &bits, sizeof p);
    return p;
}

/* x = k ln2 + r, k integral (returned in *k), |r| <= ln2/2 */
static inline double vexp_reduce_f64(double x, double *k) {
    const double shifter = 0x1.8p52, log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    *k = VFMA(x, log2e, shifter) - shifter; /* round to nearest */
    return VFMA(-*k, ln2_lo, VFMA(-*k, ln2_hi, x));
}

/* Q(r) = (exp(r) - 1 - r) / r^2 = sum_{i>=2} r^(i-2) / i!, to r^13, by
 * Estrin's scheme (pairs, then r^2, then r^4): a dependency chain a third of
 * Horner's (sigmoid over an array ran 1.4x faster) */
static inline double vexp_tail_f64(double r) {
    double r2 = r * r, r4 = r2 * r2;
    double a0 = VFMA(r, 1.0 / 6, 1.0 / 2), a1 = VFMA(r, 1.0 / 120, 1.0 / 24);
    double a2 = VFMA(r, 1.0 / 5040, 1.0 / 720), a3 = VFMA(r, 1.0 / 362880, 1.0 / 40320);
    double a4 = VFMA(r, 1.0 / 39916800, 1.0 / 3628800);
    double a5 = VFMA(r, 1.0 / 6227020800.0, 1.0 / 479001600);
    return VFMA(r4, VFMA(r4, VFMA(r2, a5, a4), VFMA(r2, a3, a2)), VFMA(r2, a1, a0));
}

/* exp(r) for |r| <= ln2/2: 1 + (r + r^2 Q(r)), the leading 1 + r rounded
 * once, last */
static inline double vexp_reduced_f64(double r) {
    return 1.0 + VFMA(r * r, vexp_tail_f64(r), r);
}

static inline double vexp_f64(double x) {
    const double shifter = 0x1.8p52;
    x = x < -746.0 ? -746.0 : x; /* exp(-746) already rounds to 0 */
    x = x > 710.0 ? 710.0 : x;   /* exp(710) already overflows */
    double k, r = vexp_reduce_f64(x, &k);
    double p = vexp_reduced_f64(r);
    double k1 = (k * 0.5 + shifter) - shifter;
    return (p * vexp_pow2_f64(k1)) * vexp_pow2_f64(k - k1);
}

/* The logistic function 1 / (1 + exp(-z)), the sigmoid activation's, with
 * exp(-z) formed as vexp_f64 forms it but over the arguments that can change
 * the result only, so that one power of two scales it (vexp_f64's second
 * scaling, there for gradual underflow and overflow, was a fifth of the
 * sigmoid's instructions):
 *   -z < -40: 1 + exp(-40) already rounds to 1, the result for all of them;
 *   -z > 708: the result is below 3.3e-308, and comes out as 0 (as it does
 *             for -z > 709.8, where exp(-z) overflows).
 * In between, bit for bit 1 / (1 + vexp_f64(-z)). NaN stays NaN. Over an
 * array of 320 the sigmoid went from 2.45 to 2.11 ns a value (float64) and
 * from 0.95 to 0.80 (float32). */
static inline double vlogistic_f64(double z) {
    /* the test for the tiny results is made on z (-z > 708 is z < -708),
     * apart from the clamps: with one flag for both, the compiler built
     * more compares and blends (sigmoid_forward on a 30-10-1 batch: 4251
     * -> 4084 instructions). GCC still builds the clamps themselves from
     * compares and blends, not min/max: without fast-math it keeps their
     * NaN handling that way. */
    double x = -z;
    x = x < -40.0 ? -40.0 : x;
    x = x > 708.0 ? 708.0 : x;
    double k, r = vexp_reduce_f64(x, &k);
    double e = vexp_reduced_f64(r) * vexp_pow2_f64(k);
    double s = 1.0 / (1.0 + e);
    return z < -708.0 ? 0.0 : s;
}

static inline float vexp_pow2_f32(float k) {
    float kf = k + 0x1.8p23f;
    uint32_t bits;
    memcpy(&bits, &kf, sizeof bits);
    bits = (bits + 127) << 23;
    float p;
    memcpy(&p, &bits, sizeof p);
    return p;
}

static inline float vexp_reduce_f32(float x, float *k) {
    const float shifter = 0x1.8p23f, log2e = 1.44269504f;
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    *k = VFMAF(x, log2e, shifter) - shifter;
    return VFMAF(-*k, ln2_lo, VFMAF(-*k, ln2_hi, x));
}

/* Q(r) = sum_{i>=2} r^(i-2) / i!, to r^7 */
static inline float vexp_tail_f32(float r) {
    float r2 = r * r;
    float a0 = VFMAF(r, 1.0f / 6.0f, 0.5f), a1 = VFMAF(r, 1.0f / 120.0f, 1.0f / 24.0f);
    float a2 = VFMAF(r, 1.0f / 5040.0f, 1.0f / 720.0f);
    return VFMAF(r2, VFMAF(r2, a2, a1), a0);
}

static inline float vexp_reduced_f32(float r) {
    return 1.0f + VFMAF(r * r, vexp_tail_f32(r), r);
}

static inline float vexp_f32(float x) {
    const float shifter = 0x1.8p23f;
    x = x < -104.0f ? -104.0f : x;
    x = x > 89.0f ? 89.0f : x;
    float k, r = vexp_reduce_f32(x, &k);
    float p = vexp_reduced_f32(r);
    float k1 = (k * 0.5f + shifter) - shifter;
    return (p * vexp_pow2_f32(k1)) * vexp_pow2_f32(k - k1);
}

/* vlogistic_f64 in float32: -z < -18 gives 1 (1 + exp(-18) rounds to 1),
 * -z > 87 gives 0 (the result is below 1.7e-38). */
static inline float vlogistic_f32(float z) {
    float x = -z;
    x = x < -18.0f ? -18.0f : x;
    x = x > 87.0f ? 87.0f : x;
    float k, r = vexp_reduce_f32(x, &k);
    float e = vexp_reduced_f32(r) * vexp_pow2_f32(k);
    float s = 1.0f / (1.0f + e);
    return z < -87.0f ? 0.0f : s;
}

#endif
