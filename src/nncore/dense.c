/* The fully connected layer: out = act(inp · W + b). */
#include "real.h"
#include "gemm_small.h"

/* Products go to our small-GEMM kernels or OpenBLAS (gemm_small.c decides by
 * shape); C overwritten, row-major. */
#define DENSE_GEMM NNF(nn_gemm)

/* out (B,OC) += bias (OC) on every row. restrict (which GCC honours on
 * parameters): without it each row's loop began with a check that out and
 * bias do not overlap; with it, and one vector loop down the column for a
 * one-unit layer, a 30-10-1 batch's bias adds take 1/3 fewer instructions. */
static inline void add_bias(real *restrict out, const real *restrict bias, int B, int OC) {
    if (OC == 1) {
        const real b = bias[0];
        for (int i = 0; i < B; i++) out[i] += b;
        return;
    }
    for (int i = 0; i < B; i++)
        for (int j = 0; j < OC; j++) out[(int64_t)i * OC + j] += bias[j];
}

/* out (B,OC) = act(inp (B,C) · weight (C,OC) + bias (OC)); out overwritten.
 * bias may be NULL. The bias is added in one pass over the GEMM output and
 * the activation applied in one call over the whole block: per-row calls
 * cost more than the work itself when layers are narrow. */
NN_VECTORISE
void NNF(dense_forward)(real *out, const real *inp, const real *weight, const real *bias,
                        int B, int C, int OC, int act, real zmin) {
    DENSE_GEMM(NN_GEMM_NN, B, OC, C, inp, C, weight, OC, out, OC);
    if (bias) add_bias(out, bias, B, OC);
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
    if (dweight) DENSE_GEMM(NN_GEMM_TN, C, OC, B, inp, C, dout, OC, dweight, OC);
    if (dbias && OC == 1) {
        /* one column: the same adds in the same order, with the sum kept in
         * a register (in the block loop below it went through memory, a
         * store-to-load wait on every row) */
        double acc = 0;
        for (int i = 0; i < B; i++) acc += dout[i];
        dbias[0] = (real)acc;
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
        DENSE_GEMM(NN_GEMM_NT, B, C, OC, dout, OC, weight, OC, dinp, C);
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
