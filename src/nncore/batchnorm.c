/* Batch normalization over the rows of a (B, N) block, Keras's layer:
 * y = gamma * (x - mean) / sqrt(var + epsilon) + beta per unit, with the
 * batch's mean and (biased) variance in training and the moving statistics
 * at inference. gamma or beta may be NULL (Keras's scale=False /
 * center=False: 1 and 0). Each unit's sums run in double over the rows in
 * row order, so a batch gives the same bits however it was computed; the
 * loops walk one unit's column at a time (the column's rows stay in L1 for
 * the next units of the same cache lines). */
#include "real.h"

/* Column j: out = x * inv + shift, inv = gamma / sqrt(var + eps),
 * shift = beta - mean * inv (the order TensorFlow evaluates Keras's formula in). */
static void normalise_column(real *out, const real *inp, int B, int N, int j, double mean,
                             double var, const real *gamma, const real *beta, double epsilon) {
    double inv = 1.0 / sqrt(var + epsilon);
    if (gamma) inv *= (double)gamma[j];
    double shift = (beta ? (double)beta[j] : 0.0) - mean * inv;
    for (int i = 0; i < B; i++) {
        int64_t k = (int64_t)i * N + j;
        out[k] = (real)((double)inp[k] * inv + shift);
    }
}

/* Training: out = the normalised rows (may alias inp only after the
 * statistics are taken, so not at all); mean and var (N each) receive the
 * batch statistics for the backward pass and the moving averages. */
void NNF(batchnorm_forward_train)(real *out, real *mean, real *var, const real *inp,
                                  const real *gamma, const real *beta, int B, int N,
                                  double epsilon) {
    for (int j = 0; j < N; j++) {
        double s = 0, d2 = 0;
        for (int i = 0; i < B; i++) s += inp[(int64_t)i * N + j];
        double mu = s / B;
        for (int i = 0; i < B; i++) {
            double d = inp[(int64_t)i * N + j] - mu;
            d2 += d * d;
        }
        mean[j] = (real)mu;
        var[j] = (real)(d2 / B);
        normalise_column(out, inp, B, N, j, mean[j], var[j], gamma, beta, epsilon);
    }
}

/* Inference: normalised with the moving statistics; out may alias inp. */
void NNF(batchnorm_forward_infer)(real *out, const real *inp, const real *gamma,
                                  const real *beta, const real *moving_mean,
                                  const real *moving_var, int B, int N, double epsilon) {
    for (int j = 0; j < N; j++)
        normalise_column(out, inp, B, N, j, moving_mean[j], moving_var[j], gamma, beta,
                         epsilon);
}

/* Given dout = dL/dy over the whole batch (the batch mean's 1/B folded in)
 * and the statistics of the forward pass (batch ones when `batch`, else the
 * moving ones, as Keras runs a frozen layer):
 *   dgamma = sum_i dout * xhat, dbeta = sum_i dout      (NULL: skipped)
 *   dinp = gamma / sqrt(var + eps) * (dout - dbeta/B - xhat dgamma/B)  (batch)
 *   dinp = gamma / sqrt(var + eps) * dout                              (moving)
 * where xhat = (x - mean) / sqrt(var + eps). dinp may alias dout. */
void NNF(batchnorm_backward)(real *dinp, real *dgamma, real *dbeta, const real *dout,
                             const real *inp, const real *mean, const real *var,
                             const real *gamma, int B, int N, double epsilon, int batch) {
    for (int j = 0; j < N; j++) {
        double istd = 1.0 / sqrt((double)var[j] + epsilon), sg = 0, sgx = 0;
        for (int i = 0; i < B; i++) {
            int64_t k = (int64_t)i * N + j;
            double g = dout[k];
            sg += g;
            sgx += g * ((inp[k] - (double)mean[j]) * istd);
        }
        if (dgamma) dgamma[j] = (real)sgx;
        if (dbeta) dbeta[j] = (real)sg;
        double scale = (gamma ? (double)gamma[j] : 1.0) * istd;
        for (int i = 0; i < B; i++) {
            int64_t k = (int64_t)i * N + j;
            if (batch) {
                double xhat = (inp[k] - (double)mean[j]) * istd;
                dinp[k] = (real)(scale * (dout[k] - sg / B - xhat * sgx / B));
            } else {
                dinp[k] = (real)(scale * dout[k]);
            }
        }
    }
}

/* moving = moving * momentum + batch * (1 - momentum), Keras's update. */
void NNF(batchnorm_update_moving)(real *moving_mean, real *moving_var, const real *mean,
                                  const real *var, int N, double momentum) {
    for (int j = 0; j < N; j++) {
        moving_mean[j] = (real)((double)moving_mean[j] * momentum + mean[j] * (1.0 - momentum));
        moving_var[j] = (real)((double)moving_var[j] * momentum + var[j] * (1.0 - momentum));
    }
}
