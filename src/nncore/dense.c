/* The fully connected layer: out = act(inp · W + b). */
#include <string.h>
#include "real.h"
#include "gemm_small.h"

/* Products go to our small-GEMM kernels or OpenBLAS (gemm_small.c decides by
 * shape); C overwritten, row-major. */
#define DENSE_GEMM NNF(nn_gemm)

/* Four doubles: column sums are accumulated in double in both precisions. */
typedef double four_sums __attribute__((vector_size(4 * sizeof(double))));

/* v = four values of a row from p on, widened to double (a macro: a
 * function returning the vector would change the ABI between clones) */
#if defined(NN_REAL_FLOAT)
#define FOUR_COLUMNS(v, p)                                                               \
    do {                                                                                 \
        float f_ __attribute__((vector_size(4 * sizeof(float))));                        \
        memcpy(&f_, (p), sizeof f_);                                                     \
        (v) = __builtin_convertvector(f_, four_sums);                                    \
    } while (0)
#else
#define FOUR_COLUMNS(v, p) memcpy(&(v), (p), sizeof(v))
#endif

/* dbias (OC) = column sums of dout (B,OC) for 4 <= OC <= 16, as nv = OC / 4
 * rounded up vectors of four sums held in registers (the last vector ends
 * at the last column, overlapping the one before when OC is not a multiple
 * of 4; those columns get the same adds twice). Each column is the general
 * loop's sum: in double, from +0, row by row. That loop kept its sums in
 * memory: for a 10-unit layer over 32 rows it cost a tenth of the batch's
 * instructions outside the products. */
static inline __attribute__((always_inline)) void narrow_column_sums(real *dbias, const real *dout,
                                                                     int B, int OC, int nv) {
    four_sums acc[4] = {{0}, {0}, {0}, {0}};
    for (int i = 0; i < B; i++) {
        const real *row = dout + (int64_t)i * OC;
        for (int v = 0; v < nv; v++) {
            four_sums x;
            FOUR_COLUMNS(x, row + (v == nv - 1 ? OC - 4 : 4 * v));
            acc[v] += x;
        }
    }
    for (int v = 0; v < nv; v++)
        for (int l = 0; l < 4; l++) dbias[(v == nv - 1 ? OC - 4 : 4 * v) + l] = (real)acc[v][l];
}

/* out (B,OC) = act(inp (B,C) · weight (C,OC) + bias (OC)); out overwritten.
 * bias may be NULL. The bias is added as the product is stored (our kernels)
 * or in one pass over it (OpenBLAS), and the activation applied in one call
 * over the whole block: per-row calls cost more than the work itself when
 * layers are narrow. */
void NNF(dense_forward)(real *out, const real *inp, const real *weight, const real *bias,
                        int B, int C, int OC, int act, real zmin) {
    DENSE_GEMM(NN_GEMM_NN, B, OC, C, inp, C, weight, OC, bias, out, OC);
    NNF(activation_forward)(out, out, B, OC, act, zmin);
}

/* Given dout (B,OC) = dL/dz of this layer's pre-activation:
 *   dweight (C,OC) = inp^T · dout          overwritten (skipped if NULL:
 *                                          see dense_weight_sgd_step)
 *   dbias (OC)     = column sums of dout   overwritten (skipped if NULL)
 *   dinp (B,C)     = dout · weight^T       overwritten (skipped if NULL)
 * The 1/m of a batch mean is expected to be folded into dout already. */
NN_VECTORISE
void NNF(dense_backward)(real *dinp, real *dweight, real *dbias, const real *dout,
                         const real *inp, const real *weight, int B, int C, int OC) {
    double dout_sum;
    /* one output unit: all three in one pass over the rows, where it can */
    if (OC == 1 && dweight && dinp &&
        NNF(nn_one_unit_backward)(B, C, dout, inp, C, weight, dweight, &dout_sum, dinp, C)) {
        if (dbias) dbias[0] = (real)dout_sum;
        return;
    }
    if (dweight) DENSE_GEMM(NN_GEMM_TN, C, OC, B, inp, C, dout, OC, NULL, dweight, OC);
    if (dbias && OC == 1) {
        /* one column: the same adds in the same order, with the sum kept in
         * a register (in the block loop below it went through memory, a
         * store-to-load wait on every row) */
        double acc = 0;
        for (int i = 0; i < B; i++) acc += dout[i];
        dbias[0] = (real)acc;
    } else if (dbias && OC >= 4 && OC <= 16) {
        switch ((OC + 3) / 4) { /* constant vector counts: the sums stay in registers */
        case 1: narrow_column_sums(dbias, dout, B, OC, 1); break;
        case 2: narrow_column_sums(dbias, dout, B, OC, 2); break;
        case 3: narrow_column_sums(dbias, dout, B, OC, 3); break;
        default: narrow_column_sums(dbias, dout, B, OC, 4); break;
        }
    } else if (dbias) {
        /* column sums, accumulated in double so float32 sums over long batches
         * stay accurate; row by row over a block of columns, so the adds of
         * different columns are independent (and vectorise) instead of one
         * long dependent chain per column */
        enum { COLS = 256 };
        double acc[COLS];
        for (int j0 = 0; j0 < OC; j0 += COLS) {
            int w = OC - j0 < COLS ? OC - j0 : COLS;
            for (int j = 0; j < w; j++) acc[j] = 0;
            for (int i = 0; i < B; i++) {
                const real *row = dout + (int64_t)i * OC + j0;
                for (int j = 0; j < w; j++) acc[j] += row[j];
            }
            for (int j = 0; j < w; j++) dbias[j0 + j] = (real)acc[j];
        }
    }
    if (dinp)
        DENSE_GEMM(NN_GEMM_NT, B, C, OC, dout, OC, weight, OC, NULL, dinp, C);
}

/* weight (C,OC) = keep · weight - lr · inp^T · dout, for C of the layer's
 * input columns (inp's rows ld apart): dense_backward's weight gradient and
 * an SGD step on it as one BLAS product, alpha = -lr, beta = keep (1 for
 * plain SGD; below 1 where an L2 penalty or weight decay shrinks the
 * weight). The gradient is never stored: for a wide first layer at a small
 * batch (784 x 100 at 16 rows a block) storing it cost a zeroing pass and a
 * write of the whole matrix, then a step reading it back, each as long as
 * the product. Rounds lr·g together with the add (the BLAS kernel's fma)
 * where sgd_update rounds it first: the same step to within an ulp. */
void NNF(dense_weight_sgd_step)(real *weight, const real *dout, const real *inp, int B, int C,
                                int OC, int ld, real lr, real keep) {
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, B, -lr, inp, ld, dout, OC, keep,
         weight, OC);
}
