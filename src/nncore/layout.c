/* Where things live: the flat parameter vector and the scratch buffer. */
#include <math.h>
#include "nncore.h"

int nn_check_config(const nn_config *cfg) {
    if (!cfg || cfg->n_layers < 1 || cfg->n_layers > NN_MAX_LAYERS) return NN_EINVAL;
    for (int l = 0; l <= cfg->n_layers; l++)
        if (cfg->sizes[l] < 1) return NN_EINVAL;
    for (int l = 0; l < cfg->n_layers; l++)
        if (cfg->activations[l] < NN_LINEAR || cfg->activations[l] > NN_EXP) return NN_EINVAL;
    int last = cfg->activations[cfg->n_layers - 1];
    /* the fused output pairs: the loss kernel itself applies the activation */
    if (cfg->loss == NN_LOSS_BCE && last != NN_SIGMOID) return NN_EINVAL;
    if (cfg->loss == NN_LOSS_CE && last != NN_SOFTMAX) return NN_EINVAL;
    /* the Poisson error a - y holds for an exponential output only */
    if (cfg->loss == NN_LOSS_POISSON && last != NN_EXP) return NN_EINVAL;
    if (cfg->loss < NN_LOSS_BCE || cfg->loss > NN_LOSS_POISSON) return NN_EINVAL;
    if (cfg->optimizer < NN_OPT_SGD || cfg->optimizer > NN_OPT_RMSPROP) return NN_EINVAL;
    if (!(cfg->eps >= 0 && cfg->eps < 0.5)) return NN_EINVAL;
    return NN_OK;
}

int64_t nn_param_count(const nn_config *cfg) {
    int64_t total = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        total += (int64_t)cfg->sizes[l] * cfg->sizes[l + 1];
        if (cfg->has_bias[l]) total += cfg->sizes[l + 1];
    }
    return total;
}

void nn_param_offsets(const nn_config *cfg, int64_t *w_off, int64_t *b_off) {
    int64_t at = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        w_off[l] = at;
        at += (int64_t)cfg->sizes[l] * cfg->sizes[l + 1];
        b_off[l] = cfg->has_bias[l] ? at : -1;
        if (cfg->has_bias[l]) at += cfg->sizes[l + 1];
    }
}

int nn_optimizer_slots(const nn_config *cfg) {
    switch (cfg->optimizer) {
    case NN_OPT_MOMENTUM: return 1;
    case NN_OPT_ADAM: return 2;
    case NN_OPT_RMSPROP: return 1;
    default: return 0;
    }
}

/* Scratch layout (see train.c), per thread: gradients (P), then for each of
 * its rows the gathered x (s0) and y (sL) when rows are gathered by a
 * permutation, every layer's activations, and two delta rows as wide as the
 * widest layer. */
int64_t nn_row_width(const nn_config *cfg, int gather) {
    int L = cfg->n_layers;
    int64_t widest = 0, acts = 0;
    for (int l = 1; l <= L; l++) {
        if (cfg->sizes[l] > widest) widest = cfg->sizes[l];
        acts += cfg->sizes[l];
    }
    return (gather ? cfg->sizes[0] + cfg->sizes[L] : 0) + acts + 2 * widest;
}

/* Enough for any thread count T <= threads: T regions of P + ceil(max_rows/T)
 * rows each, which is at most threads*P + (max_rows + threads) rows. */
int64_t nn_workspace_len(const nn_config *cfg, int max_rows, int threads, int gather) {
    return (int64_t)threads * nn_param_count(cfg) +
           ((int64_t)max_rows + threads) * nn_row_width(cfg, gather);
}
