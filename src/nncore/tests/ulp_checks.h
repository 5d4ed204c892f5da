/* What the stand-alone accuracy tests of the vectorised math (test_vlog.c,
 * test_vtanh.c) share: a failure count, a named check, and distances in
 * units in the last place. */
#ifndef NN_ULP_CHECKS_H
#define NN_ULP_CHECKS_H

#include <math.h>
#include <stdio.h>

static int n_failures;

static void check_true(const char *what, int ok) {
    if (!ok) {
        n_failures++;
        printf("FAIL %s\n", what);
    }
}

/* |got - want| in ulps of want (0 when equal, infinite for a NaN or an
 * infinity that is not equal) */
static inline double ulps64(double got, double want) {
    if (got == want) return 0;
    if (isinf(want) || isinf(got) || isnan(got)) return INFINITY;
    return fabs(got - want) / (nextafter(want, INFINITY) - want);
}

static inline double ulps32(float got, float want) {
    if (got == want) return 0;
    if (isinf(want) || isinf(got) || isnan(got)) return INFINITY;
    return fabs((double)got - want) / (nextafterf(want, INFINITY) - want);
}

#endif
