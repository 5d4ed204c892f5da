/* Per-batch metric counts, summed into an epoch's metrics by the caller:
 * Keras's running training metrics are these sums divided by the rows (or
 * elements) seen. Taken on a batch's output activations before its update. */
#include "real.h"

/* One output unit, in one branch-free pass over the rows (it vectorises):
 * correct = the rows where a > 0.5 agrees with y > 0.5, the confusion
 * counts, and the top-k hits, which for K = 1 are the rows whose score is
 * finite (no class can score higher than the only one). x - x == 0
 * is isfinite(x) for every IEEE value, in a form the vectoriser takes. */
static void binary_counts(const real *a, const real *y, int64_t n, real threshold,
                          int64_t counts[NN_COUNTS]) {
    int64_t hits = 0, tp = 0, fp = 0, fn = 0, finite = 0;
    for (int64_t i = 0; i < n; i++) {
        real ai = a[i], yi = y[i];
        int pred = ai > threshold, label = yi != 0;
        hits += (ai > (real)0.5) == (yi > (real)0.5);
        tp += pred & label;
        fp += pred & (label ^ 1);
        fn += (pred ^ 1) & label;
        finite += ai - ai == 0;
    }
    counts[NN_COUNT_CORRECT] = hits;
    counts[NN_COUNT_TP] = tp;
    counts[NN_COUNT_FP] = fp;
    counts[NN_COUNT_FN] = fn;
    counts[NN_COUNT_TOP_K] = finite;
}

/* Several classes, row by row: correct = the rows whose argmax of a agrees
 * with that of y (first maximum on ties); top-k = the rows whose target
 * class (the argmax of y) is among the top_k predictions as TensorFlow's
 * in_top_k decides it (fewer than top_k classes score strictly higher, so
 * classes tied with it at the boundary count in; a row with a non-finite
 * score is never a hit: Keras's top_k_categorical_accuracy); and the
 * confusion counts. */
static void class_counts(const real *a, const real *y, int m, int K, int top_k,
                         real threshold, int64_t counts[NN_COUNTS]) {
    int64_t hits = 0, top = 0, tp = 0, fp = 0, fn = 0;
    for (int i = 0; i < m; i++) {
        const real *ai = a + (int64_t)i * K, *yi = y + (int64_t)i * K;
        int pa = 0, py = 0;
        for (int k = 1; k < K; k++) {
            if (ai[k] > ai[pa]) pa = k;
            if (yi[k] > yi[py]) py = k;
        }
        hits += pa == py;
        /* a row with a non-finite score is never a top-k hit, whatever scores higher */
        real score = ai[py];
        int finite = 1, higher = 0;
        for (int k = 0; k < K; k++) {
            int pred = ai[k] > threshold, label = yi[k] != 0;
            finite &= ai[k] - ai[k] == 0;
            higher += ai[k] > score;
            tp += pred & label;
            fp += pred & (label ^ 1);
            fn += (pred ^ 1) & label;
        }
        top += finite && higher < top_k;
    }
    counts[NN_COUNT_CORRECT] = hits;
    counts[NN_COUNT_TOP_K] = top;
    counts[NN_COUNT_TP] = tp;
    counts[NN_COUNT_FP] = fp;
    counts[NN_COUNT_FN] = fn;
}

/* counts[NN_COUNTS] for a (m,K) against y (m,K); see enum nn_count. The
 * confusion counts are Keras's Precision/Recall rule over every element: a
 * positive prediction is a > threshold, a positive label y != 0. This runs
 * on every batch, so the counts are formed together in one or two passes
 * over the outputs rather than one pass each. */
void NNF(metric_counts)(const nn_config *cfg, const real *a, const real *y, int m, int K,
                        int64_t counts[NN_COUNTS]) {
    const real threshold = (real)cfg->threshold;
    /* Keras's 'accuracy' is binary for one output unit and categorical
     * (argmax) for several, binary cross-entropy over several units included */
    if (K == 1) {
        binary_counts(a, y, (int64_t)m, threshold, counts);
        return;
    }
    class_counts(a, y, m, K, cfg->top_k, threshold, counts);
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
