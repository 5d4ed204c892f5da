/* nncore: the compiled core of nnbook.
 *
 * Plain C11, row-major, caller-owned buffers. Every kernel exists for float
 * (suffix _f32) and double (suffix _f64); each .c file is written once over
 * the type `real` (see real.h) and compiled twice.
 *
 * Argument order everywhere: outputs, then inputs and weights, then sizes,
 * then scalars. Weight matrices are (n_in, n_out). B = rows in the batch,
 * C = input features, OC = output units, K = classes.
 */
#ifndef NNCORE_H
#define NNCORE_H

#include <stdint.h>

enum nn_activation { NN_LINEAR = 0, NN_SIGMOID = 1, NN_TANH = 2, NN_RELU = 3, NN_SOFTMAX = 4,
                     NN_EXP = 5, NN_ELU = 6, NN_SELU = 7, NN_GELU = 8, NN_SWISH = 9,
                     NN_LEAKY_RELU = 10, NN_SOFTPLUS = 11, NN_SOFTSIGN = 12,
                     NN_HARD_SIGMOID = 13, NN_HARD_SILU = 14, NN_ACTIVATION_COUNT = 15 };
/* Whether activation_backward needs the activation's input z besides its
 * output: the non-monotonic ones, whose output does not determine z. */
static inline int nn_activation_needs_input(int act) {
    return act == NN_GELU || act == NN_SWISH || act == NN_HARD_SILU;
}
enum nn_loss { NN_LOSS_BCE = 0, NN_LOSS_CE = 1, NN_LOSS_MSE = 2, NN_LOSS_POISSON = 3,
               NN_LOSS_MAE = 4, NN_LOSS_MAPE = 5, NN_LOSS_HUBER = 6, NN_LOSS_LOG_COSH = 7,
               NN_LOSS_KLD = 8, NN_LOSS_HINGE = 9, NN_LOSS_SQUARED_HINGE = 10,
               NN_LOSS_COUNT = 11 };
/* Per-epoch metric counts (metric_counts): rows predicted right (see
 * metrics.c), rows whose target is in the top cfg->top_k, and true
 * positives, false positives and false negatives over the output elements
 * at cfg->threshold. */
#define NN_COUNTS 5
/* Keras's AUC: at most this many thresholds (its default is 200). */
#define NN_MAX_AUC_BINS 1024
enum nn_count { NN_COUNT_CORRECT = 0, NN_COUNT_TOP_K = 1, NN_COUNT_TP = 2, NN_COUNT_FP = 3,
                NN_COUNT_FN = 4 };
enum nn_optimizer { NN_OPT_SGD = 0, NN_OPT_MOMENTUM = 1, NN_OPT_ADAM = 2, NN_OPT_RMSPROP = 3,
                    NN_OPT_ADAGRAD = 4, NN_OPT_ADADELTA = 5, NN_OPT_ADAMAX = 6,
                    NN_OPT_NADAM = 7 };
/* Learning-rate schedules (Keras's), evaluated at every update from the
 * number of updates before it. */
enum nn_lr_schedule { NN_LR_CONSTANT = 0, NN_LR_EXPONENTIAL = 1, NN_LR_PIECEWISE = 2,
                      NN_LR_COSINE = 3 };
#define NN_MAX_PIECES 16
/* NN_STOPPED: a hook asked to stop; the parameters are those after the last
 * completed batch (see nn_hook). */
enum nn_status { NN_OK = 0, NN_STOPPED = 1, NN_EINVAL = -1 };
/* What a stage of the network is. Dense stages map sizes[l] inputs to
 * sizes[l+1] units through activations[l]; the others keep the width
 * (sizes[l+1] == sizes[l]): batch normalization (Keras's, over the batch's
 * rows in training and with the moving statistics otherwise), inverted
 * dropout (training only), and an activation on its own. */
enum nn_layer_kind { NN_LAYER_DENSE = 0, NN_LAYER_BATCHNORM = 1, NN_LAYER_DROPOUT = 2,
                     NN_LAYER_ACTIVATION = 3 };

#define NN_MAX_LAYERS 32
#define NN_MAX_THREADS 16
/* A batch's rows are split into at most NN_ROW_BLOCKS blocks of at least
 * NN_MIN_BLOCK_ROWS rows (see nn_row_blocks). The blocking depends on the
 * batch and the network only, never on the thread count: threads only decide
 * who computes which block, and the blocks' gradient and loss sums are
 * combined in block order, so every thread count gives the same bits. */
#ifndef NN_ROW_BLOCKS
/* Measured (bench_kernels, 784-100-10, batch 256, 2 threads, best of 3):
 * 2 blocks 138 ms (f32) / 281 ms (f64) per epoch, 4 blocks 169 / 305 ms,
 * the core before fixed blocks 171 / 253 ms: every extra block is one more
 * gradient buffer to sum per batch. More blocks would let more than two
 * threads share a batch's GEMMs (the element-wise passes and the update are
 * sliced across all threads regardless). */
#define NN_ROW_BLOCKS 2
#endif
#define NN_MIN_BLOCK_ROWS 16

/* A network of n_layers stages (see nn_layer_kind), dense by default.
 * Parameters live in one flat vector, stage by stage: a dense stage's
 * W_l (sizes[l], sizes[l+1]) then b_l (sizes[l+1]) when has_bias[l]; a batch
 * normalization stage's gamma (when bn_scale[l]), beta (when has_bias[l]:
 * Keras's center), then its moving mean and moving variance, which training
 * updates from each batch's statistics and the optimizer never touches. */
typedef struct {
    int n_layers;
    int sizes[NN_MAX_LAYERS + 1];
    int activations[NN_MAX_LAYERS];
    int has_bias[NN_MAX_LAYERS];
    int frozen[NN_MAX_LAYERS]; /* 1: layer l's parameters (and their optimizer
                                  state) are never updated (Keras's
                                  trainable = False); 0: trained */
    int loss;               /* enum nn_loss, applied to the last layer      */
    double zmin;            /* sigmoid/softmax inputs clipped below at zmin
                               (the book: -100; -HUGE_VAL: no clip)         */
    double eps;             /* >0: loss values use a clipped to [eps, 1-eps]
                               (the book: 1e-10); 0: exact, from the logits */
    double l1, l2;          /* penalty l1*sum|W| + l2/2*sum W^2, weights only */
    int optimizer;          /* enum nn_optimizer                             */
    double learning_rate, momentum, beta1, beta2, epsilon, rho;
    int nesterov;
    double weight_decay;    /* Keras's decoupled decay: before each update,
                               param -= param * weight_decay * lr (all trained
                               parameters) */
    int lr_schedule;        /* enum nn_lr_schedule; learning_rate is then its
                               initial rate */
    double lr_decay_steps, lr_decay_rate, lr_alpha;
    int lr_staircase;
    int lr_pieces;          /* piecewise: lr_values[0..pieces] split at
                               lr_boundaries[0..pieces-1] */
    double lr_boundaries[NN_MAX_PIECES], lr_values[NN_MAX_PIECES + 1];
    double parallel_min_flops; /* split batches across threads only when one
                                  batch's forward pass has at least this many
                                  flops (small networks: threads cost more) */
    int penalty_each_batch; /* 1: an epoch's penalty is the sum over its batches
                               of the penalty before the batch's update, scaled
                               as the batch's loss (scikit-learn's loss_); 0:
                               the penalty after the epoch (the book's) */
    int weight_over_rows;   /* with sample weights, a batch's loss is
                               1: sum_i w_i l_i / m (Keras's sum over batch
                               size); 0: sum_i w_i l_i / sum_i w_i
                               (scikit-learn's weighted mean) */
    /* stages (all zero: a dense network) */
    int kinds[NN_MAX_LAYERS];        /* enum nn_layer_kind */
    double rates[NN_MAX_LAYERS];     /* dropout: the fraction of units dropped, [0, 1) */
    double bn_momentum[NN_MAX_LAYERS], bn_epsilon[NN_MAX_LAYERS];
    int bn_scale[NN_MAX_LAYERS];     /* batch normalization: has gamma */
    uint64_t dropout_seed;           /* dropout masks are a function of (seed,
                                        update number, stage, row in batch, unit) */
    /* Keras's regularizers, per stage: l1*sum|v| + l2*sum v^2 over the
     * kernel, the bias, and (activity) the stage's outputs, the last divided
     * by the batch's rows. They are part of the loss: training and forward
     * loss sums include them (rows times the penalty, like the loss terms). */
    double kernel_l1[NN_MAX_LAYERS], kernel_l2[NN_MAX_LAYERS];
    double bias_l1[NN_MAX_LAYERS], bias_l2[NN_MAX_LAYERS];
    double activity_l1[NN_MAX_LAYERS], activity_l2[NN_MAX_LAYERS];
    /* Keras's gradient clipping (0: off), applied to each update's gradients
     * (penalties included) before the weight decay and the optimizer; the
     * first set of clipnorm (per variable), global_clipnorm, clipvalue wins */
    double clipnorm, global_clipnorm, clipvalue;
    double huber_delta;     /* the huber loss's delta (Keras: 1.0)          */
    int top_k;              /* k of the top-k count (Keras: 5)              */
    double threshold;       /* precision/recall counts: a > threshold is a
                               positive prediction (Keras: 0.5)             */
    int auc_bins;           /* > 0: the epoch counts also hold AUC score
                               histograms over this many thresholds (see
                               auc_histogram); 0: none                      */
    int auc_single;         /* the AUC buckets in float32 arithmetic (Keras's
                               metric dtype float32) rather than double     */
} nn_config;

/* Where a long call stands, for its hook. */
typedef struct {
    int epoch;          /* epoch within this call (0-based); -1 in a forward pass */
    int64_t batch;      /* batches (or forward chunks) completed in this epoch */
    int64_t batches;    /* batches (chunks) per epoch */
    int64_t rows;       /* rows completed in this epoch */
    double loss_sum;    /* loss terms of the completed batches of this epoch */
    int64_t correct;    /* rows predicted right in them (counts[NN_COUNT_CORRECT]) */
    int64_t counts[NN_COUNTS]; /* their metric counts (see metric_counts) */
} nn_progress;

/* Called by the calling thread between batches (never inside one) once at
 * least `interval` seconds have passed since the previous call (the time is
 * read every few batches, so a call may come up to about an eighth of the
 * interval later), or after every batch when interval <= 0. A non-zero return stops the call cleanly:
 * no further batch is applied and the call returns NN_STOPPED. The other
 * threads of the call wait meanwhile. */
typedef struct {
    int (*fn)(void *ctx, const nn_progress *progress);
    void *ctx;
    double interval;
} nn_hook;

int nn_check_config(const nn_config *cfg);
/* Entries of one epoch's metric counts: NN_COUNTS, then the AUC histograms
 * of positives and of negatives (auc_bins each). */
int64_t nn_counts_len(const nn_config *cfg);
int64_t nn_param_count(const nn_config *cfg);
/* w_off[l], b_off[l]: where W_l and b_l start in the flat vector (b_off -1: no bias). */
void nn_param_offsets(const nn_config *cfg, int64_t *w_off, int64_t *b_off);
/* Where a batch normalization stage's moving mean starts (its moving
 * variance follows); -1 for other stages. */
int64_t nn_state_offset(const nn_config *cfg, int layer);
/* Whether any stage is batch normalization (its statistics span the whole
 * batch, so batches are not split into row blocks). */
int nn_has_batchnorm(const nn_config *cfg);
/* Scratch entries one thread needs besides its rows (batch statistics). */
int64_t nn_scratch_extra(const nn_config *cfg);
/* Number of optimizer state vectors (each nn_param_count long). */
int nn_optimizer_slots(const nn_config *cfg);
/* Length of the optimizer state: the vectors, then any scalars (Nadam keeps
 * the running product of its momentum schedule as one more entry). */
int64_t nn_optimizer_state_len(const nn_config *cfg);
/* The learning rate of the update that follows `iterations` earlier ones. */
double nn_learning_rate(const nn_config *cfg, int64_t iterations);
/* How many row blocks a batch of m rows is split into (1 for small
 * networks, below cfg->parallel_min_flops of forward work per batch). */
int nn_row_blocks(const nn_config *cfg, int64_t m);
/* Whether training takes a batch of m rows' first-stage weight step inside
 * the product that forms its gradient (plain SGD, a dense first stage wide
 * enough for OpenBLAS; see folds_first_weight in train.c). Like the row
 * blocks, a function of the network and m (and the small-GEMM mode) alone. */
int nn_folds_first_weight(const nn_config *cfg, int64_t m);
/* The part of that rule that does not depend on the batch: whether some
 * batch could take its first-stage step that way (its workspace then holds
 * a whole batch's rows and first-stage dL/dz in one piece). */
int nn_first_weight_foldable(const nn_config *cfg);
/* Length of the scratch buffer network_train_epochs needs for batches of
 * batch_size rows, with a validation pass in chunks of fwd_rows rows (0:
 * none); gather: whether rows are gathered by a permutation, which needs
 * room for a copy of each block. The same for every thread count (each row
 * block has its own scratch; `threads` is kept for callers). */
int64_t nn_train_workspace_len(const nn_config *cfg, int batch_size, int threads, int gather,
                               int fwd_rows);
/* Length of the scratch buffer network_forward needs for chunks of
 * chunk_rows rows on up to `threads` threads. */
int64_t nn_forward_workspace_len(const nn_config *cfg, int chunk_rows, int threads);
/* Scratch entries one batch row needs (activations, deltas, and the gathered
 * x and y when gather). */
int64_t nn_row_width(const nn_config *cfg, int gather);

/* dropout.c: the key of a stage's masks for one update (see dropout_forward). */
uint64_t nn_dropout_key(uint64_t seed, int64_t step, int layer);

/* permutation.c: `count` successive permutations of 0..n-1 into out (count, n),
 * as NumPy's legacy RandomState.permutation draws them from the MT19937
 * state (key[624], pos), which is advanced in place. */
int nn_legacy_permutations(uint32_t *key, int *pos, int64_t n, int count, int64_t *out);

/* blas_threads.c: the vendored BLAS runs single-threaded inside the core
 * (the core's own threads split the work); this pins it there. */
void nn_blas_single_thread(void);
int nn_blas_threads(void);

#define NN_DECLARE_KERNELS(real, S)                                                         \
    /* finite.c: 1 if every x[i] is finite, checked on up to `threads` threads */           \
    int array_is_finite##S(const real *x, int64_t n, int threads);                          \
    /* activations.c */                                                                     \
    void sigmoid_forward##S(real *out, const real *inp, int64_t n, real zmin);              \
    void sigmoid_backward##S(real *dinp, const real *dout, const real *out, int64_t n);     \
    void tanh_forward##S(real *out, const real *inp, int64_t n);                            \
    void tanh_backward##S(real *dinp, const real *dout, const real *out, int64_t n);        \
    void relu_forward##S(real *out, const real *inp, int64_t n);                            \
    void relu_backward##S(real *dinp, const real *dout, const real *out, int64_t n);        \
    void exp_forward##S(real *out, const real *inp, int64_t n);                             \
    void exp_backward##S(real *dinp, const real *dout, const real *out, int64_t n);         \
    void softmax_forward##S(real *out, const real *inp, int B, int K, real zmin);           \
    void softmax_backward##S(real *dinp, const real *dout, const real *out, int B, int K);  \
    void activation_forward##S(real *out, const real *inp, int B, int N, int act, real zmin); \
    void activation_backward##S(real *dinp, const real *dout, const real *out, const real *inp, \
                                int B, int N, int act);                                     \
    /* dense.c */                                                                           \
    void dense_forward##S(real *out, const real *inp, const real *weight, const real *bias, \
                          int B, int C, int OC, int act, real zmin);                        \
    void dense_backward##S(real *dinp, real *dweight, real *dbias, const real *dout,        \
                           const real *inp, const real *weight, int B, int C, int OC);      \
    void dense_weight_sgd_step##S(real *weight, const real *dout, const real *inp, int B,   \
                                  int C, int OC, int ld, real lr, real keep);               \
    /* losses.c */                                                                          \
    double softmax_cross_entropy_forward##S(real *probs, const real *logits, const real *y, \
                                            int B, int K, real zmin, real eps);             \
    double binary_cross_entropy_forward##S(real *probs, const real *logits, const real *y,  \
                                           int64_t n, real zmin, real eps);                 \
    void cross_entropy_backward##S(real *dlogits, const real *probs, const real *y,         \
                                   int64_t n, real scale);                                  \
    double mse_forward##S(const real *out, const real *y, int B, int K);                    \
    void mse_backward##S(real *dout, const real *out, const real *y, int64_t n, real scale);\
    double poisson_forward##S(const real *out, const real *y, int B, int K);                \
    double elementwise_loss_forward##S(int loss, const real *out, const real *y, int B,     \
                                       int K, double huber_delta);                          \
    void elementwise_loss_backward##S(int loss, real *dout, const real *out, const real *y, \
                                      int64_t n, real scale, real huber_delta);             \
    double output_loss_forward##S(const nn_config *cfg, real *a, const real *y, int m);     \
    void output_loss_backward##S(const nn_config *cfg, real *delta, const real *a,          \
                                 const real *y, int mt, double m);                          \
    /* metrics.c */                                                                         \
    void metric_counts##S(const nn_config *cfg, const real *a, const real *y, int m, int K, \
                          int64_t counts[NN_COUNTS]);                                       \
    void auc_histogram##S(const nn_config *cfg, const real *a, const real *y, int m, int K,  \
                          int64_t *pos, int64_t *neg);                                      \
    /* optimizers.c */                                                                      \
    double l1_l2_penalty_forward##S(const real *weight, int64_t n, double l1, double l2);   \
    void l1_l2_penalty_backward##S(real *dweight, const real *weight, int64_t n,            \
                                   real l1, real l2, real inv_m);                           \
    void sgd_update##S(real *param, const real *grad, const real *grad2, int64_t n,        \
                       real lr);                                                            \
    void sgd_momentum_update##S(real *param, real *velocity, const real *grad, int64_t n,   \
                                real lr, real momentum, int nesterov);                      \
    void adam_update##S(real *param, real *m, real *v, const real *grad, int64_t n,         \
                        real lr, real beta1, real beta2, real epsilon, int64_t step);       \
    void rmsprop_update##S(real *param, real *velocity, const real *grad, int64_t n,        \
                           real lr, real rho, real epsilon);                                \
    void adagrad_update##S(real *param, real *accumulator, const real *grad, int64_t n,     \
                           real lr, real epsilon);                                          \
    void adadelta_update##S(real *param, real *acc_grad, real *acc_delta, const real *grad, \
                            int64_t n, real lr, real rho, real epsilon);                    \
    void adamax_update##S(real *param, real *m, real *u, const real *grad, int64_t n,       \
                          real lr, real beta1, real beta2, real epsilon, int64_t step);     \
    void nadam_update##S(real *param, real *m, real *v, const real *grad, int64_t n,        \
                         real lr, real beta1, real beta2, real epsilon, int64_t step,       \
                         real u_product_t, real u_product_t1);                              \
    void weight_decay_update##S(real *param, int64_t n, real weight_decay, real lr);         \
    double sum_of_squares##S(const real *v, int64_t n);                                     \
    void scale_values##S(real *v, int64_t n, real factor);                                  \
    void clip_values##S(real *v, int64_t n, real limit);                                    \
    /* batchnorm.c */                                                                       \
    void batchnorm_forward_train##S(real *out, real *mean, real *var, const real *inp,      \
                                    const real *gamma, const real *beta, int B, int N,      \
                                    double epsilon);                                        \
    void batchnorm_forward_infer##S(real *out, const real *inp, const real *gamma,          \
                                    const real *beta, const real *moving_mean,              \
                                    const real *moving_var, int B, int N, double epsilon);  \
    void batchnorm_backward##S(real *dinp, real *dgamma, real *dbeta, const real *dout,     \
                               const real *inp, const real *mean, const real *var,          \
                               const real *gamma, int B, int N, double epsilon, int batch); \
    void batchnorm_update_moving##S(real *moving_mean, real *moving_var, const real *mean,  \
                                    const real *var, int N, double momentum);               \
    /* dropout.c */                                                                         \
    void dropout_forward##S(real *out, const real *inp, int B, int N, double rate,          \
                            uint64_t key, int64_t row0);                                    \
    void dropout_backward##S(real *dinp, const real *dout, int B, int N, double rate,       \
                             uint64_t key, int64_t row0);                                   \
    /* train.c */                                                                           \
    int network_train_epochs##S(const nn_config *cfg, real *params, real *opt_state,        \
                                real *work, int threads, const real *x, const real *y,      \
                                int64_t n, const int64_t *perms, int n_epochs,              \
                                int batch_size, const real *x_val, const real *y_val,       \
                                int64_t n_val, int fwd_rows, double *val_chunk_loss,        \
                                const real *sample_weight,                                  \
                                const nn_hook *hook, int64_t *step, int *epochs_done,       \
                                double *loss_sums, double *penalties,                       \
                                double *val_loss_sums, int64_t *counts);                    \
    int network_train_epoch##S(const nn_config *cfg, real *params, real *opt_state,         \
                               real *work, int threads, const real *x, const real *y,       \
                               int64_t n, const int64_t *perm, int batch_size,              \
                               int64_t *step, double *loss_sum, int64_t *correct);          \
    double network_penalty##S(const nn_config *cfg, const real *params);                    \
    int network_forward##S(const nn_config *cfg, const real *params, real *work,            \
                           int chunk_rows, int threads, const real *x, int64_t n, real *out,\
                           int logits, const real *y, const real *sample_weight,            \
                           double *chunk_loss, const nn_hook *hook, double *loss_sum);

NN_DECLARE_KERNELS(float, _f32)
NN_DECLARE_KERNELS(double, _f64)

#endif
