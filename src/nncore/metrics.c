/* Per-batch metric counts, summed into an epoch's metrics by the caller:
 * Keras's running training metrics are these sums divided by the rows (or
 * elements) seen. Taken on a batch's output activations before its update. */
#include "real.h"

/* Rows predicted right: for binary outputs (one unit, or binary
 * cross-entropy over several) the elements where a > 0.5 agrees with
 * y > 0.5; otherwise the rows whose argmax agrees (first maximum on ties). */
static int64_t count_correct(const nn_config *cfg, const real *a, const real *y, int m, int K) {
    int64_t hits = 0;
    if (K == 1 || cfg->loss == NN_LOSS_BCE) {
        for (int64_t i = 0; i < (int64_t)m * K; i++)
            hits += (a[i] > (real)0.5) == (y[i] > (real)0.5);
        return hits;
    }
    for (int i = 0; i < m; i++) {
        const real *ai = a + (int64_t)i * K, *yi = y + (int64_t)i * K;
        int pa = 0, py = 0;
        for (int k = 1; k < K; k++) {
            if (ai[k] > ai[pa]) pa = k;
            if (yi[k] > yi[py]) py = k;
        }
        hits += pa == py;
    }
    return hits;
}

/* Rows whose target class (the argmax of y, first maximum on ties) is among
 * the top_k predictions, as TensorFlow's in_top_k decides it: fewer than
 * top_k classes score strictly higher than the target, so classes tied with
 * it at the boundary all count as in the top k; a row with a non-finite
 * score is never a hit. (Keras's top_k_categorical_accuracy.) */
static int64_t count_top_k(const real *a, const real *y, int m, int K, int top_k) {
    int64_t hits = 0;
    for (int i = 0; i < m; i++) {
        const real *ai = a + (int64_t)i * K, *yi = y + (int64_t)i * K;
        int target = 0;
        for (int k = 1; k < K; k++)
            if (yi[k] > yi[target]) target = k;
        real score = ai[target];
        int finite = isfinite(score), higher = 0;
        for (int k = 0; k < K && finite; k++) {
            finite = isfinite(ai[k]);
            higher += ai[k] > score;
        }
        hits += finite && higher < top_k;
    }
    return hits;
}

/* counts[NN_COUNTS] for a (m,K) against y (m,K); see enum nn_count. The
 * confusion counts are Keras's Precision/Recall rule over every element: a
 * positive prediction is a > threshold, a positive label y != 0. */
void NNF(metric_counts)(const nn_config *cfg, const real *a, const real *y, int m, int K,
                        int64_t counts[NN_COUNTS]) {
    const real threshold = (real)cfg->threshold;
    int64_t tp = 0, fp = 0, fn = 0;
    for (int64_t i = 0; i < (int64_t)m * K; i++) {
        int pred = a[i] > threshold, label = y[i] != 0;
        tp += pred && label;
        fp += pred && !label;
        fn += !pred && label;
    }
    counts[NN_COUNT_CORRECT] = count_correct(cfg, a, y, m, K);
    counts[NN_COUNT_TOP_K] = count_top_k(a, y, m, K, cfg->top_k);
    counts[NN_COUNT_TP] = tp;
    counts[NN_COUNT_FP] = fp;
    counts[NN_COUNT_FN] = fn;
}

/* Keras's AUC over a batch, as two histograms of its scores over the
 * cfg->auc_bins evenly spaced thresholds: pos[b] (labels y != 0) and neg[b]
 * (the others) count the elements in bucket b = max(ceil(p (T - 1)) - 1, 0)
 * of p = a clipped to [0, 1], the bucket arithmetic done in float32 when
 * cfg->auc_single (Keras's metric dtype) as Keras does it. A threshold's
 * true positives are then the positives in the buckets at and above it
 * (the caller sums those; the histograms add up over batches). */
void NNF(auc_histogram)(const nn_config *cfg, const real *a, const real *y, int m, int K,
                        int64_t *pos, int64_t *neg) {
    const int T = cfg->auc_bins;
    for (int64_t i = 0; i < (int64_t)m * K; i++) {
        int64_t b;
        if (cfg->auc_single) {
            float p = (float)a[i];
            p = p < 0.0f ? 0.0f : p > 1.0f ? 1.0f : p;
            float v = ceilf(p * (float)(T - 1)) - 1.0f;
            b = v > 0.0f ? (int64_t)v : 0;
        } else {
            double p = (double)a[i];
            p = p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
            double v = ceil(p * (double)(T - 1)) - 1.0;
            b = v > 0.0 ? (int64_t)v : 0;
        }
        if (b > T - 1) b = T - 1; /* (p = NaN lands in 0: clipped comparisons are false) */
        if (y[i] != 0)
            pos[b]++;
        else
            neg[b]++;
    }
}
