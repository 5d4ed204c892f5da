/* log written so that loops over arrays vectorise (libm's log is a scalar
 * call; the book's cross-entropy takes one per output element).
 *
 * x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^54
 * first), f = m - 1 (exact: m and 1 are within a factor of 2), and
 *   log(m) = log(1+f) = 2 atanh(s),  s = f / (2 + f),  |s| <= 0.1716,
 *          = 2s + s R,  R = sum_{n>=1} 2 s^(2n) / (2n+1)   (to s^22, whose
 *            truncation error is below 2^-58 relative on that interval)
 *          = f - s (f - R)      since 2s = f - s f.
 * The last form adds a small correction to the exact f, so the rounding of
 * s and R barely shows. log(x) = k ln2_hi + (f + (k ln2_lo - s (f - R))),
 * ln 2 split so that k ln2_hi is exact for every k (Cody-Waite, as in vexp.h).
 * The series' steps are fused multiply-adds (VFMA, vexp.h).
 * Special values as libm: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf,
 * NaN stays NaN. Accuracy: within 1 ulp of glibc's log over the whole range
 * (src/nncore/tests/test_vlog.c; the losses built on it keep their parity
 * with reference.py in tests/). No branches: callers' loops vectorise. */
#ifndef NN_VLOG_H
#define NN_VLOG_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "vexp.h" /* VFMA */

static inline double vlog_f64(double x) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const int sub = x < 0x1p-1022; /* subnormal, zero or negative */
    double xs = sub ? x * 0x1p54 : x;
    uint64_t bits;
    memcpy(&bits, &xs, sizeof bits);
    /* the biased exponent as a double, through the bits of 2^52 + exponent:
     * integer-to-double conversion of 64-bit lanes has no AVX2 instruction,
     * and this keeps the loop vectorisable */
    uint64_t ebits = 0x4330000000000000ULL | ((bits >> 52) & 0x7ff);
    double ebiased;
    memcpy(&ebiased, &ebits, sizeof ebiased);
    double k = (ebiased - 0x1p52) - 1023.0 - (sub ? 54.0 : 0.0);
    uint64_t mbits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &mbits, sizeof m); /* m in [1, 2) */
    const int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    k = big ? k + 1.0 : k;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 2.0 / 23.0;
    R = VFMA(R, z, 2.0 / 21.0);
    R = VFMA(R, z, 2.0 / 19.0);
    R = VFMA(R, z, 2.0 / 17.0);
    R = VFMA(R, z, 2.0 / 15.0);
    R = VFMA(R, z, 2.0 / 13.0);
    R = VFMA(R, z, 2.0 / 11.0);
    R = VFMA(R, z, 2.0 / 9.0);
    R = VFMA(R, z, 2.0 / 7.0);
    R = VFMA(R, z, 2.0 / 5.0);
    R = VFMA(R, z, 2.0 / 3.0);
    R = R * z;
    double r = k * ln2_hi + (f + (k * ln2_lo - s * (f - R)));
    r = x == 0 ? -HUGE_VAL : r;
    r = x < 0 ? NAN : r;
    r = x == HUGE_VAL ? x : r;
    r = x != x ? x : r; /* NaN in, the same NaN out */
    return r;
}

#endif
