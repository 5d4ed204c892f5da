/* tanh written so that loops over arrays vectorise (libm's tanh is a scalar
 * call, and it was a quarter of a scikit-learn grid search's time).
 *
 *   tanh(x) = sign(x) e / (e + 2),  e = expm1(2|x|) >= 0,
 *
 * which cancels nowhere. expm1 is computed as vexp.h computes exp, keeping
 * the "- 1" exact: y = 2|x| = k ln2 + r (Cody-Waite, |r| <= ln2/2), then
 *   expm1(y) = 2^k expm1(r) + (2^k - 1),
 * where 2^k expm1(r) is an exact scaling and 2^k - 1 is exact for the k
 * that matter. expm1(r) = r + r^2 Q(r), Q vexp.h's series (to r^13 / r^7),
 * so its last
 * rounding is an add to the exact r and small arguments keep full relative
 * accuracy (k = 0 there and r = y exactly). The rounding of e + 2 is taken
 * back: with s = e + 2 rounded, err = (e + 2) - s exactly (Fast2Sum), and
 * e / (e + 2) = (e / s)(1 - err / s) to far below an ulp.
 * |x| is clamped at 20 (double) / 10 (float), where tanh already rounds to
 * 1. tanh(+-0) = +-0, tanh(+-inf) = +-1, NaN stays NaN. Accuracy: within
 * 2.1 ulp (double) / 1.9 ulp (float) of the exact tanh over the whole range;
 * glibc's tanh is within 2.2 (src/nncore/tests/test_vtanh.c). No branches:
 * callers' loops vectorise. */
#ifndef NN_VTANH_H
#define NN_VTANH_H

#include <math.h>
#include "vexp.h"

static inline double vtanh_f64(double x) {
    double a = fabs(x);
    a = a > 20.0 ? 20.0 : a; /* NaN passes through (the comparison is false) */
    double y = a + a;        /* exact */
    double k, r = vexp_reduce_f64(y, &k);
    double q = r + (r * r) * vexp_tail_f64(r); /* expm1(r), its last rounding an add to r */
    double two_k = vexp_pow2_f64(k);
    double e = two_k * q + (two_k - 1.0);
    /* e / (e + 2) with the rounding of e + 2 taken back: d = s + err exactly
     * (Fast2Sum), and e / d = (e / s)(1 - err / s) to far below an ulp */
    double s = e + 2.0, big = e > 2.0 ? e : 2.0, small = e > 2.0 ? 2.0 : e;
    double err = (big - s) + small;
    double t = e / s;
    return copysign(t - (t * err) / s, x);
}

static inline float vtanh_f32(float x) {
    float a = fabsf(x);
    a = a > 10.0f ? 10.0f : a;
    float y = a + a;
    float k, r = vexp_reduce_f32(y, &k);
    float q = r + (r * r) * vexp_tail_f32(r);
    float two_k = vexp_pow2_f32(k);
    float e = two_k * q + (two_k - 1.0f);
    float s = e + 2.0f, big = e > 2.0f ? e : 2.0f, small = e > 2.0f ? 2.0f : e;
    float err = (big - s) + small;
    float t = e / s;
    return copysignf(t - (t * err) / s, x);
}

#endif
