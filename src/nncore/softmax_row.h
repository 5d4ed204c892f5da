/* One softmax row, shared by softmax_forward and the fused softmax
 * cross-entropy. Inlined into each caller so it is compiled for each of
 * their instruction-set clones (a call per row cost more than the row). */
#ifndef NN_SOFTMAX_ROW_H
#define NN_SOFTMAX_ROW_H

#include "real.h"

/* a (K) = softmax of max(z, zmin), with the row maximum subtracted before
 * exp so large logits cannot overflow. Returns sum_k exp(z_k - zmax) (before
 * normalising) and writes zmax, which the fused loss needs. a may be z. */
static inline real softmax_row(real *a, const real *z, int K, real zmin, real *zmax_out) {
    real zmax = z[0] < zmin ? zmin : z[0];
    for (int k = 1; k < K; k++) {
        real zk = z[k] < zmin ? zmin : z[k];
        if (zk > zmax) zmax = zk;
    }
    /* exp in its own loop so it vectorises; the sum stays in order */
    for (int k = 0; k < K; k++) {
        real zk = z[k];
        zk = zk < zmin ? zmin : zk;
        a[k] = R_VEXP(zk - zmax);
    }
    real sum = 0;
    for (int k = 0; k < K; k++) sum += a[k];
    real inv = (real)1 / sum;
    for (int k = 0; k < K; k++) a[k] *= inv;
    *zmax_out = zmax;
    return sum;
}

#endif
