/* Output losses. Why the output error is simply a - y: for sigmoid + binary
 * cross-entropy, softmax + categorical cross-entropy, exp + Poisson deviance
 * (and identity + squared error), dL/dz collapses to (a - y) because the activation's derivative
 * cancels against the loss's 1/a terms. So the fused pairs below never form
 * dL/da at all. Loss values are accumulated in double in both precisions. */
#include "real.h"
#include "softmax_row.h"
#include "vlog.h"

/* The log terms of a loss are formed in blocks of LOG_BLOCK into a stack
 * buffer by a loop that vectorises (vlog_f64), then added one by one in
 * element order, so the sum's rounding is the plain sequential one. */
enum { LOG_BLOCK = 256 };

static inline double clamp_prob(double p, double eps) {
    return p < eps ? eps : (p > 1.0 - eps ? 1.0 - eps : p);
}

/* probs (B,K) = softmax(max(logits, zmin)), overwritten; logits may alias probs.
 * Returns the sum over rows of -sum_k y log p:
 *   eps > 0: p clipped to [eps, 1-eps] first (the book's 1e-10 guard);
 *   eps = 0: log p = z - logsumexp(z), exact even for huge logits. */
NN_VECTORISE
double NNF(softmax_cross_entropy_forward)(real *probs, const real *logits, const real *y,
                                          int B, int K, real zmin, real eps) {
    double total = 0;
    for (int i = 0; i < B; i++) {
        const real *z = logits + (int64_t)i * K;
        const real *t = y + (int64_t)i * K;
        real *p = probs + (int64_t)i * K;
        /* sum_k y_k z_k is taken before p (possibly the same memory as z) is
         * written; shifting by the row maximum later subtracts ysum * zmax */
        double yz = 0, ysum = 0;
        for (int k = 0; k < K; k++) {
            real zk = z[k] < zmin ? zmin : z[k];
            yz += (double)t[k] * zk;
            ysum += t[k];
        }
        real zmax;
        real sum = softmax_row(p, z, K, zmin, &zmax);
        yz -= ysum * (double)zmax;
        if (eps > 0) {
            /* a zero target weighs a finite log by 0: skipping it changes no bit of the sum */
            double term[LOG_BLOCK];
            for (int k0 = 0; k0 < K; k0 += LOG_BLOCK) {
                int w = K - k0 < LOG_BLOCK ? K - k0 : LOG_BLOCK;
                for (int k = 0; k < w; k++)
                    term[k] = (double)t[k0 + k] * vlog_f64(clamp_prob(p[k0 + k], eps));
                for (int k = 0; k < w; k++)
                    if (t[k0 + k] != 0) total -= term[k];
            }
        } else {
            total += ysum * log((double)sum) - yz;
        }
    }
    return total;
}

/* probs (n) = sigmoid(max(logits, zmin)), overwritten; logits may alias probs.
 * Returns sum of -(y log p + (1-y) log(1-p)):
 *   eps > 0: p clipped to [eps, 1-eps] first (the book);
 *   eps = 0: max(z,0) - z y + log(1 + exp(-|z|)), exact for any z. */
NN_VECTORISE
double NNF(binary_cross_entropy_forward)(real *probs, const real *logits, const real *y,
                                         int64_t n, real zmin, real eps) {
    double total = 0;
    if (eps == 0) { /* from the logits, read before probs (maybe the same memory) is written */
        for (int64_t i = 0; i < n; i++) {
            double z = logits[i] < zmin ? zmin : logits[i];
            total += (z > 0 ? z : 0) - z * (double)y[i] + log1p(exp(-fabs(z)));
        }
    }
    NNF(sigmoid_forward)(probs, logits, n, zmin);
    if (eps > 0) {
        double term[LOG_BLOCK];
        for (int64_t i0 = 0; i0 < n; i0 += LOG_BLOCK) {
            int w = n - i0 < LOG_BLOCK ? (int)(n - i0) : LOG_BLOCK;
            const real *p = probs + i0, *t = y + i0;
            int soft = 0; /* any label other than 0 and 1 in this block */
            for (int i = 0; i < w; i++) {
                /* 0/1 labels need one log: the other term is 0 times a finite log */
                double pc = clamp_prob(p[i], eps);
                term[i] = vlog_f64(t[i] == 0 ? 1.0 - pc : pc);
                soft |= t[i] != 0 && t[i] != 1;
            }
            if (soft)
                for (int i = 0; i < w; i++)
                    if (t[i] != 0 && t[i] != 1) {
                        double pc = clamp_prob(p[i], eps), ti = t[i];
                        term[i] = ti * vlog_f64(pc) + (1.0 - ti) * vlog_f64(1.0 - pc);
                    }
            for (int i = 0; i < w; i++) total -= term[i];
        }
    }
    return total;
}

/* dlogits = scale * (probs - y), for sigmoid+BCE and softmax+CE alike.
 * scale is 1/m for a batch mean. dlogits may alias probs. */
NN_VECTORISE
void NNF(cross_entropy_backward)(real *dlogits, const real *probs, const real *y,
                                 int64_t n, real scale) {
    for (int64_t i = 0; i < n; i++) dlogits[i] = scale * (probs[i] - y[i]);
}

/* Sum over rows of mean_k (out - y)^2 (Keras's mse, summed over the batch). */
double NNF(mse_forward)(const real *out, const real *y, int B, int K) {
    double total = 0;
    for (int i = 0; i < B; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) {
            double d = (double)out[(int64_t)i * K + k] - y[(int64_t)i * K + k];
            s += d * d;
        }
        total += s / K;
    }
    return total;
}

/* dout = scale * 2 (out - y); scale is 1/(m K) for the batch mean of mse. */
NN_VECTORISE
void NNF(mse_backward)(real *dout, const real *out, const real *y, int64_t n, real scale) {
    for (int64_t i = 0; i < n; i++) dout[i] = scale * (real)2 * (out[i] - y[i]);
}

/* Sum over rows and outputs of half the Poisson deviance,
 * y log(y / a) - y + a (y log(y / a) taken as 0 where y = 0), for a = exp(z).
 * Its gradient in z is a - y: see cross_entropy_backward. */
double NNF(poisson_forward)(const real *out, const real *y, int B, int K) {
    double total = 0;
    for (int64_t i = 0; i < (int64_t)B * K; i++) {
        double t = y[i], a = out[i];
        total += (t != 0 ? t * log(t / a) : 0.0) - t + a;
    }
    return total;
}
