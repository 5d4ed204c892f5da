/* The logistic function over an array, written out in AVX2 + FMA
 * intrinsics: the same operations, in the same order, as vlogistic_f64 and
 * vlogistic_f32 (vexp.h), so the same bits, with the clamps as single
 * max/min instructions.
 *
 * Why not leave it to the vectoriser, as for the other elementwise
 * kernels: GCC merges the three clamps (the caller's zmin, then exp's
 * range on -z) and the final select on z into one set of compares, ands
 * and blends (ten instructions on the chain of every vector), since it
 * must keep their NaN handling without -ffinite-math-only. x86's max and
 * min already have that handling when the constant comes first:
 * maxpd(c, x) = c > x ? c : x and minpd(c, x) = c < x ? c : x return x
 * when x is NaN, which is what `x < c ? c : x` and `x > c ? c : x` do.
 * The loop is bound by its chain's latency (about 60 cycles a vector), not
 * its width, so the shorter chain counts: over 320 float64 values (a
 * 32-row batch of a 10-unit layer), best of 30, 1.72 -> 1.48 ns a value
 * (this machine: AMD EPYC Zen 3, AVX2 + FMA).
 *
 * Used on CPUs with AVX2 and FMA but not AVX-512 (the variant gemm_small.c
 * picks at load time); with AVX-512 the compiler's x86-64-v4 clone, which
 * has mask registers for the selects, is kept (not measured here: this
 * machine has no AVX-512). Each function does the whole vectors of n and
 * returns how many values it did; the caller finishes the rest with the
 * scalar vlogistic. */
#ifndef NN_VLOGISTIC_AVX2_H
#define NN_VLOGISTIC_AVX2_H

#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define NN_HAVE_VLOGISTIC_AVX2 1
#include <immintrin.h>

/* out[i] = vlogistic_f64(max(inp[i], zmin)) for i < n rounded down to 4 */
static inline __attribute__((target("avx2,fma"))) int64_t
vlogistic_array_avx2_f64(double *out, const double *inp, int64_t n, double zmin) {
    const __m256d vzmin = _mm256_set1_pd(zmin), lo = _mm256_set1_pd(-40.0),
                  hi = _mm256_set1_pd(708.0), tiny = _mm256_set1_pd(-708.0),
                  sign = _mm256_set1_pd(-0.0), one = _mm256_set1_pd(1.0),
                  shifter = _mm256_set1_pd(0x1.8p52), log2e = _mm256_set1_pd(1.4426950408889634),
                  ln2_hi = _mm256_set1_pd(6.93147180369123816490e-01),
                  ln2_lo = _mm256_set1_pd(1.90821492927058770002e-10);
    const __m256i bias = _mm256_set1_epi64x(1023);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d z = _mm256_max_pd(vzmin, _mm256_loadu_pd(inp + i));
        __m256d x = _mm256_xor_pd(z, sign);
        x = _mm256_min_pd(hi, _mm256_max_pd(lo, x));
        /* vexp_reduce_f64 */
        __m256d k = _mm256_sub_pd(_mm256_fmadd_pd(x, log2e, shifter), shifter);
        __m256d r = _mm256_fnmadd_pd(k, ln2_lo, _mm256_fnmadd_pd(k, ln2_hi, x));
        /* vexp_tail_f64, Estrin's scheme as there */
        __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2);
        __m256d a0 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 6), _mm256_set1_pd(1.0 / 2));
        __m256d a1 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 120), _mm256_set1_pd(1.0 / 24));
        __m256d a2 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 5040), _mm256_set1_pd(1.0 / 720));
        __m256d a3 =
            _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 362880), _mm256_set1_pd(1.0 / 40320));
        __m256d a4 =
            _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 39916800), _mm256_set1_pd(1.0 / 3628800));
        __m256d a5 = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 6227020800.0),
                                     _mm256_set1_pd(1.0 / 479001600));
        __m256d q = _mm256_fmadd_pd(
            r4, _mm256_fmadd_pd(r4, _mm256_fmadd_pd(r2, a5, a4), _mm256_fmadd_pd(r2, a3, a2)),
            _mm256_fmadd_pd(r2, a1, a0));
        /* vexp_reduced_f64 times vexp_pow2_f64(k) */
        __m256d p = _mm256_add_pd(one, _mm256_fmadd_pd(r2, q, r));
        __m256i bits = _mm256_castpd_si256(_mm256_add_pd(k, shifter));
        __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(bits, bias), 52));
        __m256d s = _mm256_div_pd(one, _mm256_add_pd(one, _mm256_mul_pd(p, scale)));
        /* z < -708: 0 (ordered compare: NaN keeps s, which is NaN) */
        _mm256_storeu_pd(out + i, _mm256_andnot_pd(_mm256_cmp_pd(z, tiny, _CMP_LT_OQ), s));
    }
    return i;
}

/* out[i] = vlogistic_f32(max(inp[i], zmin)) for i < n rounded down to 8 */
static inline __attribute__((target("avx2,fma"))) int64_t
vlogistic_array_avx2_f32(float *out, const float *inp, int64_t n, float zmin) {
    const __m256 vzmin = _mm256_set1_ps(zmin), lo = _mm256_set1_ps(-18.0f),
                 hi = _mm256_set1_ps(87.0f), tiny = _mm256_set1_ps(-87.0f),
                 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f),
                 shifter = _mm256_set1_ps(0x1.8p23f), log2e = _mm256_set1_ps(1.44269504f),
                 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
    const __m256i bias = _mm256_set1_epi32(127);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 z = _mm256_max_ps(vzmin, _mm256_loadu_ps(inp + i));
        __m256 x = _mm256_xor_ps(z, sign);
        x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
        __m256 k = _mm256_sub_ps(_mm256_fmadd_ps(x, log2e, shifter), shifter);
        __m256 r = _mm256_fnmadd_ps(k, ln2_lo, _mm256_fnmadd_ps(k, ln2_hi, x));
        /* vexp_tail_f32 */
        __m256 r2 = _mm256_mul_ps(r, r);
        __m256 a0 = _mm256_fmadd_ps(r, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
        __m256 a1 = _mm256_fmadd_ps(r, _mm256_set1_ps(1.0f / 120.0f), _mm256_set1_ps(1.0f / 24.0f));
        __m256 a2 =
            _mm256_fmadd_ps(r, _mm256_set1_ps(1.0f / 5040.0f), _mm256_set1_ps(1.0f / 720.0f));
        __m256 q = _mm256_fmadd_ps(r2, _mm256_fmadd_ps(r2, a2, a1), a0);
        __m256 p = _mm256_add_ps(one, _mm256_fmadd_ps(r2, q, r));
        __m256i bits = _mm256_castps_si256(_mm256_add_ps(k, shifter));
        __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(bits, bias), 23));
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, _mm256_mul_ps(p, scale)));
        _mm256_storeu_ps(out + i, _mm256_andnot_ps(_mm256_cmp_ps(z, tiny, _CMP_LT_OQ), s));
    }
    return i;
}
#else
#define NN_HAVE_VLOGISTIC_AVX2 0
#endif

#endif
