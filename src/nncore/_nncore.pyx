# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""nnbook._nncore: the Cython binding of the C core.

Every function takes C-contiguous arrays of one precision (float32 or
float64; the fused type `real` picks the C kernel) and releases the GIL
around the C call. Shapes are checked here so a wrong call raises instead of
reading out of bounds; dtype, finiteness and meaning are checked once, in the
Python layer. An empty array stands for "none" where an argument is optional.
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t

import numpy as np
from libc.math cimport HUGE_VAL
from libc.string cimport memcpy, memset
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_GetPointer

cdef extern from "nncore.h" nogil:
    int NN_MAX_LAYERS
    int NN_MAX_THREADS
    ctypedef struct nn_config:
        int n_layers
        int sizes[33]
        int activations[32]
        int has_bias[32]
        int frozen[32]
        int loss
        double zmin, eps, l1, l2
        int optimizer
        double learning_rate, momentum, beta1, beta2, epsilon, rho
        int nesterov
        double weight_decay
        int lr_schedule
        double lr_decay_steps, lr_decay_rate, lr_alpha
        int lr_staircase
        int lr_pieces
        double lr_boundaries[16]
        double lr_values[17]
        double parallel_min_flops
        int penalty_each_batch
        int weight_over_rows
        int kinds[32]
        double rates[32]
        double bn_momentum[32]
        double bn_epsilon[32]
        int bn_scale[32]
        uint64_t dropout_seed
        double kernel_l1[32]
        double kernel_l2[32]
        double bias_l1[32]
        double bias_l2[32]
        double activity_l1[32]
        double activity_l2[32]
        double clipnorm, global_clipnorm, clipvalue
        double huber_delta
        int top_k
        double threshold
        int auc_bins
        int auc_single

    int nn_check_config(const nn_config *cfg)
    int64_t nn_counts_len(const nn_config *cfg)
    int NN_MAX_AUC_BINS
    int64_t nn_param_count(const nn_config *cfg)
    void nn_param_offsets(const nn_config *cfg, int64_t *w_off, int64_t *b_off)
    int64_t nn_state_offset(const nn_config *cfg, int layer)
    int nn_optimizer_slots(const nn_config *cfg)
    int64_t nn_optimizer_state_len(const nn_config *cfg)
    double nn_learning_rate(const nn_config *cfg, int64_t iterations)
    int NN_MAX_PIECES
    ctypedef struct nn_progress:
        int epoch
        int64_t batch, batches, rows
        double loss_sum
        int64_t correct
        int64_t counts[5]
    ctypedef struct nn_hook:
        int (*fn)(void *ctx, const nn_progress *progress) noexcept
        void *ctx
        double interval
    int NN_STOPPED
    int NN_ROW_BLOCKS
    int nn_row_blocks(const nn_config *cfg, int64_t m)
    int nn_folds_first_weight(const nn_config *cfg, int64_t m)
    int64_t nn_train_workspace_len(const nn_config *cfg, int batch_size, int threads, int gather, int fwd_rows)
    int64_t nn_forward_workspace_len(const nn_config *cfg, int chunk_rows, int threads)
    int nn_legacy_permutations(uint32_t *key, int *pos, int64_t n, int count, int64_t *out)
    int array_is_finite_f32(const float *x, int64_t n, int threads)
    int array_is_finite_f64(const double *x, int64_t n, int threads)
    void nn_blas_single_thread()
    int nn_blas_threads()

    void activation_forward_f32(float *out, const float *inp, int B, int N, int act, float zmin)
    void activation_forward_f64(double *out, const double *inp, int B, int N, int act, double zmin)
    void activation_backward_f32(float *dinp, const float *dout, const float *out, const float *inp, int B, int N, int act)
    void activation_backward_f64(double *dinp, const double *dout, const double *out, const double *inp, int B, int N, int act)
    int nn_activation_needs_input(int act)
    void dense_forward_f32(float *out, const float *inp, const float *weight, const float *bias, int B, int C, int OC, int act, float zmin)
    void dense_forward_f64(double *out, const double *inp, const double *weight, const double *bias, int B, int C, int OC, int act, double zmin)
    void dense_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight, int B, int C, int OC)
    void dense_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout, const double *inp, const double *weight, int B, int C, int OC)
    void dense_weight_sgd_step_f32(float *weight, const float *dout, const float *inp, int B, int C, int OC, int ld, float lr, float keep)
    void dense_weight_sgd_step_f64(double *weight, const double *dout, const double *inp, int B, int C, int OC, int ld, double lr, double keep)
    double softmax_cross_entropy_forward_f32(float *probs, const float *logits, const float *y, int B, int K, float zmin, float eps)
    double softmax_cross_entropy_forward_f64(double *probs, const double *logits, const double *y, int B, int K, double zmin, double eps)
    double binary_cross_entropy_forward_f32(float *probs, const float *logits, const float *y, int64_t n, float zmin, float eps)
    double binary_cross_entropy_forward_f64(double *probs, const double *logits, const double *y, int64_t n, double zmin, double eps)
    void cross_entropy_backward_f32(float *dlogits, const float *probs, const float *y, int64_t n, float scale)
    void cross_entropy_backward_f64(double *dlogits, const double *probs, const double *y, int64_t n, double scale)
    double mse_forward_f32(const float *out, const float *y, int B, int K)
    double mse_forward_f64(const double *out, const double *y, int B, int K)
    void mse_backward_f32(float *dout, const float *out, const float *y, int64_t n, float scale)
    void mse_backward_f64(double *dout, const double *out, const double *y, int64_t n, double scale)
    double l1_l2_penalty_forward_f32(const float *weight, int64_t n, double l1, double l2)
    double l1_l2_penalty_forward_f64(const double *weight, int64_t n, double l1, double l2)
    void l1_l2_penalty_backward_f32(float *dweight, const float *weight, int64_t n, float l1, float l2, float inv_m)
    void l1_l2_penalty_backward_f64(double *dweight, const double *weight, int64_t n, double l1, double l2, double inv_m)
    void sgd_update_f32(float *param, const float *grad, const float *grad2, int64_t n, float lr)
    void sgd_update_f64(double *param, const double *grad, const double *grad2, int64_t n,
                        double lr)
    void sgd_momentum_update_f32(float *param, float *velocity, const float *grad, int64_t n, float lr, float momentum, int nesterov)
    void sgd_momentum_update_f64(double *param, double *velocity, const double *grad, int64_t n, double lr, double momentum, int nesterov)
    void adam_update_f32(float *param, float *m, float *v, const float *grad, int64_t n, float lr, float beta1, float beta2, float epsilon, int64_t step)
    void adam_update_f64(double *param, double *m, double *v, const double *grad, int64_t n, double lr, double beta1, double beta2, double epsilon, int64_t step)
    void rmsprop_update_f32(float *param, float *velocity, const float *grad, int64_t n, float lr, float rho, float epsilon)
    void rmsprop_update_f64(double *param, double *velocity, const double *grad, int64_t n, double lr, double rho, double epsilon)
    int network_train_epoch_f32(const nn_config *cfg, float *params, float *opt_state, float *work, int threads, const float *x, const float *y, int64_t n, const int64_t *perm, int batch_size, int64_t *step, double *loss_sum, int64_t *correct)
    int network_train_epoch_f64(const nn_config *cfg, double *params, double *opt_state, double *work, int threads, const double *x, const double *y, int64_t n, const int64_t *perm, int batch_size, int64_t *step, double *loss_sum, int64_t *correct)
    int network_train_epochs_f32(const nn_config *cfg, float *params, float *opt_state, float *work, int threads, const float *x, const float *y, int64_t n, const int64_t *perms, int n_epochs, int batch_size, const float *x_val, const float *y_val, int64_t n_val, int fwd_rows, double *val_chunk_loss, const float *sample_weight, const nn_hook *hook, int64_t *step, int *epochs_done, double *loss_sums, double *penalties, double *val_loss_sums, int64_t *counts)
    int network_train_epochs_f64(const nn_config *cfg, double *params, double *opt_state, double *work, int threads, const double *x, const double *y, int64_t n, const int64_t *perms, int n_epochs, int batch_size, const double *x_val, const double *y_val, int64_t n_val, int fwd_rows, double *val_chunk_loss, const double *sample_weight, const nn_hook *hook, int64_t *step, int *epochs_done, double *loss_sums, double *penalties, double *val_loss_sums, int64_t *counts)
    double elementwise_loss_forward_f32(int loss, const float *out, const float *y, int B, int K, double huber_delta)
    double elementwise_loss_forward_f64(int loss, const double *out, const double *y, int B, int K, double huber_delta)
    void elementwise_loss_backward_f32(int loss, float *dout, const float *out, const float *y, int64_t n, float scale, float huber_delta)
    void elementwise_loss_backward_f64(int loss, double *dout, const double *out, const double *y, int64_t n, double scale, double huber_delta)
    double output_loss_forward_f32(const nn_config *cfg, float *a, const float *y, int m)
    double output_loss_forward_f64(const nn_config *cfg, double *a, const double *y, int m)
    void output_loss_backward_f32(const nn_config *cfg, float *delta, const float *a, const float *y, int mt, double m)
    void output_loss_backward_f64(const nn_config *cfg, double *delta, const double *a, const double *y, int mt, double m)
    int NN_COUNTS
    void metric_counts_f32(const nn_config *cfg, const float *a, const float *y, int m, int K, int64_t *counts)
    void auc_histogram_f32(const nn_config *cfg, const float *a, const float *y, int m, int K, int64_t *pos, int64_t *neg)
    void auc_histogram_f64(const nn_config *cfg, const double *a, const double *y, int m, int K, int64_t *pos, int64_t *neg)
    void metric_counts_f64(const nn_config *cfg, const double *a, const double *y, int m, int K, int64_t *counts)
    double network_penalty_f32(const nn_config *cfg, const float *params)
    double network_penalty_f64(const nn_config *cfg, const double *params)
    int network_forward_f32(const nn_config *cfg, const float *params, float *work, int chunk_rows, int threads, const float *x, int64_t n, float *out, int logits, const float *y, const float *sample_weight, double *chunk_loss, const nn_hook *hook, double *loss_sum)
    int network_forward_f64(const nn_config *cfg, const double *params, double *work, int chunk_rows, int threads, const double *x, int64_t n, double *out, int logits, const double *y, const double *sample_weight, double *chunk_loss, const nn_hook *hook, double *loss_sum)

ctypedef fused real:
    float
    double

# Codes shared with nncore.h; the Python layer names them.
ACTIVATIONS = {"linear": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4, "exponential": 5,
               "elu": 6, "selu": 7, "gelu": 8, "swish": 9, "silu": 9, "leaky_relu": 10,
               "softplus": 11, "softsign": 12, "hard_sigmoid": 13, "hard_silu": 14,
               "hard_swish": 14}
# Activations whose backward pass needs their input z (not only their output):
# they only run as activation stages, which keep z.
ACTIVATIONS_NEEDING_INPUT = tuple(name for name, code in ACTIVATIONS.items()
                                  if nn_activation_needs_input(code))
LOSSES = {"binary_crossentropy": 0, "categorical_crossentropy": 1, "mse": 2, "poisson": 3,
          "mean_absolute_error": 4, "mae": 4, "mean_absolute_percentage_error": 5, "mape": 5,
          "huber": 6, "log_cosh": 7, "kl_divergence": 8, "hinge": 9, "squared_hinge": 10}
# Losses taken as the mean of a row's elementwise terms (kl_divergence: their sum)
# by elementwise_loss_forward/backward; the others have kernels of their own.
ELEMENTWISE_LOSSES = ("mean_absolute_error", "mae", "mean_absolute_percentage_error", "mape",
                      "huber", "log_cosh", "kl_divergence", "hinge", "squared_hinge")
# The counts metric_counts returns, in order.
COUNTS = ("correct", "top_k", "true_positives", "false_positives", "false_negatives")
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "rmsprop": 3, "adagrad": 4, "adadelta": 5,
              "adamax": 6, "nadam": 7}
LR_SCHEDULES = {"constant": 0, "exponential": 1, "piecewise": 2, "cosine": 3}
LAYER_KINDS = {"dense": 0, "batchnorm": 1, "dropout": 2, "activation": 3}
# Per-stage settings of CoreConfig (one value per stage) and their defaults.
STAGE_SETTINGS = {"rates": 0.0, "bn_momentum": 0.99, "bn_epsilon": 1e-3, "bn_scale": True,
                  "kernel_l1": 0.0, "kernel_l2": 0.0, "bias_l1": 0.0, "bias_l2": 0.0,
                  "activity_l1": 0.0, "activity_l2": 0.0}
MAX_LAYERS = NN_MAX_LAYERS
MAX_THREADS = NN_MAX_THREADS
ROW_BLOCKS = NN_ROW_BLOCKS
# Below this many flops in one batch's forward pass, batches are not split
# into row blocks for threads. Measured on 2 cores (interleaved, best of 5):
# the book's breast-cancer batch of 32 (2e4 flops) gains nothing from two
# blocks (0.0258 s -> 0.0266 s for 500 epochs); from DualLayer's full batch
# (2.3e5 flops: 0.076 -> 0.055 s for 2000 epochs) and scikit-learn's batch
# of 200 on breast cancer (1.2e6: 0.062 -> 0.045 s) up, two blocks on two
# threads win. On one thread (a grid search's workers) the split costs
# 0-4% (digits 2 blocks of 100 rows against one of 200); the blocking may
# not depend on the thread count, so that is the price of the 1.4-1.6x.
# Within ~0.1 s of NumPy matrix products, NumPy's OpenBLAS threads still
# busy-wait on one core, and fits this short lose instead (breast cancer
# 0.078 s on one block, 0.14 s on two): nnbook.set_num_threads(1) (results
# unchanged) or threadpoolctl on NumPy's pool avoids that.
PARALLEL_MIN_FLOPS = 1.0e5
NO_CLIP = -HUGE_VAL


def blas_threads():
    """The vendored OpenBLAS's own thread count (1: the core's threads split the work)."""
    return nn_blas_threads()


# The vendored OpenBLAS is private to nnbook: run it single-threaded for good
# (each core thread calls it on its own block). nnbook's thread count is an
# argument of every core call instead.
nn_blas_single_thread()


cdef class BatchHook:
    """What the core calls between batches of a long call (nn_hook).

    Every `interval` seconds (or after every batch when interval <= 0) the
    core's calling thread takes the GIL, checks for signals (Ctrl-C raises
    KeyboardInterrupt here) and calls `callback(progress)` if given, with
    progress = (epoch, batch, batches, rows, loss_sum, correct, counts), counts
    being the epoch's metric counts so far (in the order of COUNTS). A truthy
    return, or any exception, stops the call cleanly after the current batch;
    the exception is kept in `error` for the caller to raise.
    """
    cdef nn_hook hook
    cdef public object callback
    cdef public object error
    cdef public bint stop_requested

    def __init__(self, callback=None, double interval=0.05):
        self.callback = callback
        self.error = None
        self.stop_requested = False
        self.hook.fn = _hook_entry
        self.hook.ctx = <void *>self
        self.hook.interval = interval

    @property
    def interval(self):
        return self.hook.interval


cdef int _hook_entry(void *ctx, const nn_progress *p) noexcept nogil:
    with gil:
        return _run_hook(<BatchHook>ctx, p)


cdef int _run_hook(BatchHook h, const nn_progress *p) noexcept:
    try:
        PyErr_CheckSignals()
        if h.callback is not None and h.callback(
                (p.epoch, p.batch, p.batches, p.rows, p.loss_sum, p.correct,
                 tuple(p.counts[c] for c in range(NN_COUNTS)))):
            h.stop_requested = True
            return 1
    except BaseException as exc:
        h.error = exc
        return 1
    return 0


cdef const nn_hook *_hook_ptr(BatchHook hook):
    return NULL if hook is None else &hook.hook


def array_is_finite(const real[::1] x, int threads):
    """True if every value of x (a flat float32/float64 array) is finite, checked
    in C on up to `threads` threads, with the GIL released.

    Example
    -------
    >>> import numpy as np
    >>> array_is_finite(np.array([1.0, 2.0]), 1), array_is_finite(np.array([1.0, np.nan]), 1)
    (True, False)
    """
    cdef int64_t n = x.shape[0]
    cdef int rc = 1
    if n:
        with nogil:
            if real is float:
                rc = array_is_finite_f32(&x[0], n, threads)
            else:
                rc = array_is_finite_f64(&x[0], n, threads)
    return bool(rc)


# NumPy's C interface to a bit generator (numpy/random/bitgen.h), of which
# only the state pointer is read: `capsule` hands out this struct.
ctypedef struct _bitgen_t:
    void *state

cdef int _mt_state_in_place = -1  # unknown until the first call: see _mt19937_state


cdef uint32_t *_mt19937_state(rng):
    """The MT19937 state of a RandomState in place (key[624], then pos), or NULL.

    NumPy keeps a RandomState's generator as `_bit_generator`, whose
    `capsule` holds a pointer to its state: 624 key words, then the position,
    the layout of NumPy's mt19937 state struct since 1.17. Reading it in
    place spares legacy_permutations a get_state and a set_state (85 and 54
    us: each converts the 624 words to and from a Python tuple), a fifth of
    a one-epoch MinibatchNetwork fit on breast cancer (0.49 -> 0.39 ms). The
    layout is checked once per process against get_state(); where the check
    fails, or the generator is not there or not MT19937, the caller goes
    through get_state/set_state.
    """
    global _mt_state_in_place
    cdef uint32_t *pstate
    bg = getattr(rng, "_bit_generator", None)
    if _mt_state_in_place == 0 or not isinstance(bg, np.random.MT19937):
        return NULL
    cdef _bitgen_t *bitgen = <_bitgen_t *>PyCapsule_GetPointer(bg.capsule, "BitGenerator")
    cdef uint32_t *state = <uint32_t *>bitgen.state
    if _mt_state_in_place == -1:
        probe = np.random.RandomState(12345)
        probe.random_sample(700)  # a position other than the start
        pbg = probe._bit_generator
        pstate = <uint32_t *>(<_bitgen_t *>PyCapsule_GetPointer(pbg.capsule, "BitGenerator")).state
        name, key, pos = probe.get_state()[:3]
        _mt_state_in_place = int(name == "MT19937" and (<int *>(pstate + 624))[0] == pos and
                                 all(pstate[i] == key[i] for i in range(624)))
        if not _mt_state_in_place:
            return NULL
    return state


def legacy_state(rng):
    """A copy of a RandomState's MT19937 key and position, or None.

    The 2.5 KB that legacy_permutations draws from, copied under the
    generator's lock (about 1 us, where get_state takes 85); None where the
    state cannot be reached in place (see _mt19937_state), and the caller
    uses get_state instead. Only these words: a permutation never touches
    the cached Gaussian that get_state also reports.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> saved = legacy_state(rng)
    >>> first = rng.permutation(5)
    >>> set_legacy_state(rng, saved)
    >>> bool((rng.permutation(5) == first).all())
    True
    """
    cdef uint32_t *state = _mt19937_state(rng)
    if state == NULL:
        return None
    with rng._bit_generator.lock:
        return (<char *>state)[:625 * 4]


def set_legacy_state(rng, bytes saved):
    """Put back a key and position that legacy_state copied from this RandomState."""
    cdef uint32_t *state = _mt19937_state(rng)
    if state == NULL or len(saved) != 625 * 4:
        raise ValueError("saved must be what legacy_state returned for this generator")
    cdef const char *src = saved
    with rng._bit_generator.lock:
        memcpy(state, src, 625 * 4)


def legacy_permutations(rng, int64_t n, int count):
    """`count` successive rng.permutation(n), drawn in C: an int64 array (count, n).

    rng must be a numpy.random.RandomState (MT19937); its state advances
    exactly as `count` calls of rng.permutation(n) would advance it, in place
    under the generator's lock where NumPy's layout allows (_mt19937_state).

    Example
    -------
    >>> import numpy as np
    >>> a, b = np.random.RandomState(42), np.random.RandomState(42)
    >>> bool((legacy_permutations(a, 5, 2)[1] == [b.permutation(5) for _ in range(2)][1]).all())
    True
    """
    if not isinstance(rng, np.random.RandomState):
        raise TypeError(f"rng must be a numpy.random.RandomState, got {type(rng).__name__}")
    if n < 0 or count < 0:
        raise ValueError(f"n and count must be >= 0, got n={n}, count={count}")
    out = np.empty((count, n), dtype=np.int64)
    cdef int64_t[:, ::1] view = out
    cdef int rc = 0
    cdef uint32_t *state = _mt19937_state(rng)
    if state != NULL:
        with rng._bit_generator.lock:
            if count and n:
                with nogil:
                    rc = nn_legacy_permutations(state, <int *>(state + 624), n, count,
                                                &view[0, 0])
        _need(rc == 0, "bad generator state")
        return out
    state_tuple = rng.get_state()
    if state_tuple[0] != "MT19937":
        raise ValueError(f"rng must use MT19937, got {state_tuple[0]}")
    cdef uint32_t[::1] key = np.array(state_tuple[1], dtype=np.uint32)
    cdef int pos = state_tuple[2]
    if count and n:
        with nogil:
            rc = nn_legacy_permutations(&key[0], &pos, n, count, &view[0, 0])
        _need(rc == 0, "bad generator state")
    rng.set_state((state_tuple[0], np.asarray(key), pos, state_tuple[3], state_tuple[4]))
    return out


cdef class CoreConfig:
    """A network's shape, loss and optimizer, as the C core sees it (nn_config)."""
    cdef nn_config cfg
    cdef public double initial_accumulator

    def __init__(self, sizes, activations, has_bias=None, frozen=None, loss="binary_crossentropy",
                 double zmin=-HUGE_VAL, double eps=0.0, double l1=0.0, double l2=0.0,
                 optimizer="sgd", double learning_rate=0.1, double momentum=0.0,
                 double beta1=0.9, double beta2=0.999, double epsilon=1e-7, double rho=0.9,
                 bint nesterov=False, double parallel_min_flops=PARALLEL_MIN_FLOPS,
                 bint penalty_each_batch=False, bint weight_over_rows=False,
                 double weight_decay=0.0, double initial_accumulator=0.0,
                 lr_schedule="constant", double lr_decay_steps=1.0, double lr_decay_rate=1.0,
                 double lr_alpha=0.0, bint lr_staircase=False, lr_boundaries=(),
                 lr_values=(), kinds=None, uint64_t dropout_seed=0, double clipnorm=0.0,
                 double global_clipnorm=0.0, double clipvalue=0.0, double huber_delta=1.0,
                 int top_k=5, double threshold=0.5, int auc_bins=0, bint auc_single=True,
                 **stage_settings):
        cdef int L = len(activations), l
        if L < 1 or L > NN_MAX_LAYERS:
            raise ValueError(f"a network has 1 to {NN_MAX_LAYERS} layers, got {L}")
        if len(sizes) != L + 1:
            raise ValueError(f"sizes must have len(activations) + 1 = {L + 1} entries, got {len(sizes)}")
        if has_bias is None:
            has_bias = [True] * L
        if frozen is None:
            frozen = [False] * L
        if kinds is None:
            kinds = ["dense"] * L
        unknown = sorted(set(stage_settings) - set(STAGE_SETTINGS))
        if unknown:
            raise TypeError(f"unknown core settings {unknown}")
        per_stage = {k: list(stage_settings[k]) if stage_settings.get(k) is not None else [v] * L
                     for k, v in STAGE_SETTINGS.items()}
        if any(len(v) != L for v in (has_bias, frozen, kinds, *per_stage.values())):
            raise ValueError(f"has_bias, frozen, kinds and every per-stage setting need one "
                             f"entry per layer ({L})")
        self.cfg.n_layers = L
        for l in range(L + 1):
            self.cfg.sizes[l] = sizes[l]
        for l in range(L):
            self.cfg.activations[l] = ACTIVATIONS[activations[l]]
            self.cfg.has_bias[l] = 1 if has_bias[l] else 0
            self.cfg.frozen[l] = 1 if frozen[l] else 0
            self.cfg.kinds[l] = LAYER_KINDS[kinds[l]]
            self.cfg.rates[l] = per_stage["rates"][l]
            self.cfg.bn_momentum[l] = per_stage["bn_momentum"][l]
            self.cfg.bn_epsilon[l] = per_stage["bn_epsilon"][l]
            self.cfg.bn_scale[l] = 1 if per_stage["bn_scale"][l] else 0
            self.cfg.kernel_l1[l] = per_stage["kernel_l1"][l]
            self.cfg.kernel_l2[l] = per_stage["kernel_l2"][l]
            self.cfg.bias_l1[l] = per_stage["bias_l1"][l]
            self.cfg.bias_l2[l] = per_stage["bias_l2"][l]
            self.cfg.activity_l1[l] = per_stage["activity_l1"][l]
            self.cfg.activity_l2[l] = per_stage["activity_l2"][l]
        self.cfg.dropout_seed = dropout_seed
        self.cfg.clipnorm = clipnorm
        self.cfg.global_clipnorm = global_clipnorm
        self.cfg.clipvalue = clipvalue
        self.cfg.huber_delta = huber_delta
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.cfg.top_k = top_k
        self.cfg.threshold = threshold
        if auc_bins != 0 and not 2 <= auc_bins <= NN_MAX_AUC_BINS:
            raise ValueError(f"auc_bins must be 0 (no AUC) or 2 to {NN_MAX_AUC_BINS}, "
                             f"got {auc_bins}")
        self.cfg.auc_bins = auc_bins
        self.cfg.auc_single = auc_single
        self.cfg.loss = LOSSES[loss]
        self.cfg.zmin = zmin
        self.cfg.eps = eps
        self.cfg.l1 = l1
        self.cfg.l2 = l2
        self.cfg.optimizer = OPTIMIZERS[optimizer]
        self.cfg.learning_rate = learning_rate
        self.cfg.momentum = momentum
        self.cfg.beta1 = beta1
        self.cfg.beta2 = beta2
        self.cfg.epsilon = epsilon
        self.cfg.rho = rho
        self.cfg.nesterov = nesterov
        self.cfg.parallel_min_flops = parallel_min_flops
        self.cfg.penalty_each_batch = penalty_each_batch
        self.cfg.weight_over_rows = weight_over_rows
        self.cfg.weight_decay = weight_decay
        self.initial_accumulator = initial_accumulator
        self.cfg.lr_schedule = LR_SCHEDULES[lr_schedule]
        self.cfg.lr_decay_steps = lr_decay_steps
        self.cfg.lr_decay_rate = lr_decay_rate
        self.cfg.lr_alpha = lr_alpha
        self.cfg.lr_staircase = lr_staircase
        if len(lr_values) != (len(lr_boundaries) + 1 if len(lr_boundaries) else 0) \
                or len(lr_boundaries) > NN_MAX_PIECES:
            raise ValueError(f"lr_values needs one more entry than lr_boundaries (at most "
                             f"{NN_MAX_PIECES} boundaries)")
        self.cfg.lr_pieces = len(lr_boundaries)
        for l in range(len(lr_boundaries)):
            self.cfg.lr_boundaries[l] = lr_boundaries[l]
        for l in range(len(lr_values)):
            self.cfg.lr_values[l] = lr_values[l]
        if nn_check_config(&self.cfg) != 0:
            raise ValueError("inconsistent network configuration (sizes must be >= 1, "
                             "binary_crossentropy needs a sigmoid output and "
                             "categorical_crossentropy a softmax output; stages other than "
                             "dense keep their width, dropout rates lie in [0, 1), batch "
                             "normalization needs epsilon > 0 and momentum in [0, 1], "
                             "penalties and clip values are >= 0)")

    @property
    def n_layers(self):
        return self.cfg.n_layers

    @property
    def sizes(self):
        return tuple(self.cfg.sizes[l] for l in range(self.cfg.n_layers + 1))

    def param_count(self):
        """Length of the flat parameter vector."""
        return nn_param_count(&self.cfg)

    def param_offsets(self):
        """[(w_start, b_start), ...]: where each stage's W (or gamma) and b (or beta) begin (-1: none)."""
        cdef int64_t w_off[32]
        cdef int64_t b_off[32]
        nn_param_offsets(&self.cfg, w_off, b_off)
        return [(w_off[l], b_off[l]) for l in range(self.cfg.n_layers)]

    def counts_len(self):
        """Entries of one epoch's metric counts: COUNTS, then the AUC histograms
        of positives and of negatives (auc_bins each)."""
        return nn_counts_len(&self.cfg)

    def state_offsets(self):
        """[start or -1, ...]: where each batch-normalization stage's moving mean
        begins (its moving variance follows); -1 for other stages."""
        return [nn_state_offset(&self.cfg, l) for l in range(self.cfg.n_layers)]

    def optimizer_state_len(self):
        """Length of the optimizer state (its vectors, then Nadam's one scalar)."""
        return nn_optimizer_state_len(&self.cfg)

    def initial_optimizer_state(self, dtype):
        """A fresh optimizer state: zeros, Adagrad's accumulators at
        initial_accumulator, Nadam's momentum-schedule product at 1."""
        state = np.zeros(nn_optimizer_state_len(&self.cfg), dtype)
        if self.cfg.optimizer == OPTIMIZERS["adagrad"]:
            state[...] = self.initial_accumulator
        if self.cfg.optimizer == OPTIMIZERS["nadam"]:
            state[-1] = 1.0
        return state

    def learning_rate_at(self, int64_t iterations):
        """The learning rate of the update after `iterations` earlier ones (the schedule's)."""
        return nn_learning_rate(&self.cfg, iterations)

    def optimizer_slots(self):
        """How many state vectors (each param_count long) the optimizer keeps."""
        return nn_optimizer_slots(&self.cfg)

    def workspace_len(self, int batch_size, int threads=1, bint gather=True, int fwd_rows=0):
        """Length of the scratch buffer train_epoch(s) need for batches of batch_size
        rows on up to `threads` threads; gather=False when rows are never gathered
        by a permutation; fwd_rows: the chunk rows of a validation pass (0: none)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 1 <= threads <= NN_MAX_THREADS:
            raise ValueError(f"threads must be in [1, {NN_MAX_THREADS}], got {threads}")
        return nn_train_workspace_len(&self.cfg, batch_size, threads, gather, fwd_rows)

    def forward_workspace_len(self, int chunk_rows, int threads=1):
        """Length of the scratch buffer forward() needs for chunks of chunk_rows rows."""
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        if not 1 <= threads <= NN_MAX_THREADS:
            raise ValueError(f"threads must be in [1, {NN_MAX_THREADS}], got {threads}")
        return nn_forward_workspace_len(&self.cfg, chunk_rows, threads)

    def row_blocks(self, int64_t m):
        """The row blocks a batch of m rows is split into (the same on any thread count)."""
        return nn_row_blocks(&self.cfg, m)

    def folds_first_weight(self, int64_t m):
        """Whether a batch of m rows steps the first layer's weight inside the
        product forming its gradient (plain SGD, a first layer wide enough for
        OpenBLAS): the same on any thread count."""
        return bool(nn_folds_first_weight(&self.cfg, m))


cdef inline void _need(bint ok, str what) except *:
    if not ok:
        raise ValueError(what)


cdef void _check_training_call(nn_config *cfg, Py_ssize_t n, Py_ssize_t x_cols, Py_ssize_t y_rows,
                               Py_ssize_t y_cols, Py_ssize_t n_params, Py_ssize_t n_state,
                               Py_ssize_t n_work, int threads, int batch_size,
                               bint gather, int fwd_rows) except *:
    # messages are formatted only on failure: these run once per call
    cdef int L = cfg.n_layers
    if n < 1:
        raise ValueError("x has no rows")
    if x_cols != cfg.sizes[0]:
        raise ValueError(f"x has {x_cols} features, the network takes {cfg.sizes[0]}")
    if y_rows != n or y_cols != cfg.sizes[L]:
        raise ValueError(f"y must be ({n}, {cfg.sizes[L]}), got ({y_rows}, {y_cols})")
    if n_params != nn_param_count(cfg):
        raise ValueError("params has the wrong length")
    if n_state < nn_optimizer_state_len(cfg):
        raise ValueError("opt_state is too short")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 1 <= threads <= NN_MAX_THREADS:
        raise ValueError(f"threads must be in [1, {NN_MAX_THREADS}], got {threads}")
    if n_work < nn_train_workspace_len(cfg, batch_size, threads, gather, fwd_rows):
        raise ValueError("work is too short for batch_size and threads")


cdef void _check_perm(const int64_t[::1] perm, Py_ssize_t n) except *:
    cdef Py_ssize_t i
    for i in range(perm.shape[0]):
        if not 0 <= perm[i] < n:
            raise ValueError(f"perm has an index out of range: {perm[i]} (n = {n})")


def train_epoch(CoreConfig config, real[::1] params, real[::1] opt_state, real[::1] work,
                int threads, const real[:, ::1] x, const real[:, ::1] y,
                const int64_t[::1] perm, int batch_size, int64_t step, BatchHook hook=None):
    """One epoch of mini-batch training in C; returns (loss_sum, step, correct).

    perm: row order (length n), or empty for the rows in order. correct:
    rows predicted right (argmax, or a > 0.5 for one output), each before
    its batch's update: Keras's running training accuracy times n. If the
    hook stops the epoch, its error (KeyboardInterrupt) is raised, or
    StopIteration when its callback asked to stop; the parameters are then
    those after the last completed batch.
    """
    cdef int64_t n = x.shape[0]
    loss_sums = np.zeros(1)
    penalties = np.zeros(1)
    counts = np.zeros((1, config.counts_len()), np.int64)
    if perm.shape[0] not in (0, n):
        raise ValueError("perm must be empty or have one entry per row")
    perms = np.asarray(perm).reshape(1 if perm.shape[0] else 0, perm.shape[0] if perm.shape[0] else 0)
    step, done = train_epochs(config, params, opt_state, work, threads, x, y, perms, 1,
                              batch_size, x[:0], y[:0], step, loss_sums, penalties,
                              np.zeros(0), counts, hook)
    if done < 1:
        if hook.error is not None:
            raise hook.error
        raise StopIteration("the hook stopped the epoch")
    return loss_sums[0], step, counts[0, 0]


def train_epochs(CoreConfig config, real[::1] params, real[::1] opt_state, real[::1] work,
                 int threads, const real[:, ::1] x, const real[:, ::1] y,
                 const int64_t[:, ::1] perms, int n_epochs, int batch_size,
                 const real[:, ::1] x_val, const real[:, ::1] y_val, int64_t step,
                 double[::1] loss_sums, double[::1] penalties, double[::1] val_loss_sums,
                 int64_t[:, ::1] counts, BatchHook hook=None, int fwd_rows=1024,
                 const real[::1] sample_weight=None):
    """n_epochs epochs in one C call; returns (step, epochs_done).

    perms: (n_epochs, n) row orders, or empty for the rows in order.
    x_val/y_val: empty to skip the validation loss (taken in chunks of
    fwd_rows rows, as forward() takes it). Per completed epoch e the core
    writes loss_sums[e], penalties[e] (after the epoch), val_loss_sums[e] and
    counts[e] (its metric counts, in the order of COUNTS, each batch's taken
    before its update; counts with no rows: none are formed). epochs_done <
    n_epochs only when the hook stopped the call (see BatchHook); the
    parameters are then those after the last completed batch. sample_weight
    (n values, or None): each batch's loss is the weighted mean of its rows'
    losses, and loss_sums/penalties hold that mean times the batch's rows.
    """
    cdef nn_config *cfg = &config.cfg
    cdef int64_t n = x.shape[0], n_val = x_val.shape[0]
    cdef Py_ssize_t e
    cdef int rc, done = 0
    _check_training_call(cfg, n, x.shape[1], y.shape[0], y.shape[1], params.shape[0],
                         opt_state.shape[0], work.shape[0], threads, batch_size,
                         perms.shape[0] != 0, min(fwd_rows, n_val))
    if n_epochs < 0:
        raise ValueError(f"n_epochs must be >= 0, got {n_epochs}")
    if perms.shape[0] != 0 and (perms.shape[0] < n_epochs or perms.shape[1] != n):
        raise ValueError(f"perms must be empty or ({n_epochs}, {n})")
    # counts: one row per epoch, or none at all (no metric counts are formed)
    if loss_sums.shape[0] < n_epochs or penalties.shape[0] < n_epochs or 0 < counts.shape[0] < n_epochs:
        raise ValueError("loss_sums, penalties and counts need one entry per epoch")
    _need(counts.shape[1] == nn_counts_len(cfg), "counts needs counts_len() columns")
    if n_val:
        if x_val.shape[1] != cfg.sizes[0] or y_val.shape[0] != n_val or y_val.shape[1] != cfg.sizes[cfg.n_layers]:
            raise ValueError("x_val/y_val do not match the network")
        if val_loss_sums.shape[0] < n_epochs:
            raise ValueError("val_loss_sums needs one entry per epoch")
        if fwd_rows < 1:
            raise ValueError(f"fwd_rows must be >= 1, got {fwd_rows}")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight must have {n} entries (one per row), got {sample_weight.shape[0]}")
    if n_epochs == 0:
        return step, 0
    if perms.shape[0]:
        for e in range(n_epochs):
            _check_perm(perms[e], n)
    cdef double[::1] chunk_loss = np.zeros(max(1, (n_val + fwd_rows - 1) // fwd_rows))
    cdef const int64_t *pp = &perms[0, 0] if perms.shape[0] else NULL
    cdef real *state = &opt_state[0] if opt_state.shape[0] else NULL
    cdef const real *pxv = &x_val[0, 0] if n_val else NULL
    cdef const real *pyv = &y_val[0, 0] if n_val else NULL
    cdef double *pvl = &val_loss_sums[0] if n_val else NULL
    cdef const nn_hook *ph = _hook_ptr(hook)
    cdef const real *psw = NULL if sample_weight is None else &sample_weight[0]
    cdef int64_t *pcounts = &counts[0, 0] if counts.shape[0] else NULL
    with nogil:
        if real is float:
            rc = network_train_epochs_f32(cfg, &params[0], state, &work[0], threads, &x[0, 0], &y[0, 0], n, pp, n_epochs, batch_size, pxv, pyv, n_val, fwd_rows, &chunk_loss[0], psw, ph, &step, &done, &loss_sums[0], &penalties[0], pvl, pcounts)
        else:
            rc = network_train_epochs_f64(cfg, &params[0], state, &work[0], threads, &x[0, 0], &y[0, 0], n, pp, n_epochs, batch_size, pxv, pyv, n_val, fwd_rows, &chunk_loss[0], psw, ph, &step, &done, &loss_sums[0], &penalties[0], pvl, pcounts)
    _need(rc == 0 or rc == NN_STOPPED, "the core rejected the training call")
    return step, done


def network_penalty(CoreConfig config, const real[::1] params):
    """l1 * sum|W| + l2/2 * sum W^2 over every layer's weights."""
    _need(params.shape[0] == nn_param_count(&config.cfg), "params has the wrong length")
    cdef double r
    with nogil:
        if real is float:
            r = network_penalty_f32(&config.cfg, &params[0])
        else:
            r = network_penalty_f64(&config.cfg, &params[0])
    return r


def forward(CoreConfig config, const real[::1] params, real[::1] work, int chunk_rows, int threads,
            const real[:, ::1] x, real[:, ::1] out, bint logits, const real[:, ::1] y,
            BatchHook hook=None, const real[::1] sample_weight=None):
    """Forward pass over all rows of x in chunks of chunk_rows.

    out: (n, units) receives logits or output activations; empty to skip.
    y: targets for the loss sum (returned); empty to skip (returns 0.0).
    The result does not depend on `threads`. If the hook stops the pass, its
    error is raised (StopIteration when its callback asked to stop).
    sample_weight (n values, or None) weighs each row's loss: sum_i w_i l_i.
    """
    cdef nn_config *cfg = &config.cfg
    cdef int64_t n = x.shape[0]
    cdef int L = cfg.n_layers, rc
    cdef double loss = 0
    _need(n >= 1, "x has no rows")
    if x.shape[1] != cfg.sizes[0]:
        raise ValueError(f"x has {x.shape[1]} features, the network takes {cfg.sizes[0]}")
    _need(params.shape[0] == nn_param_count(cfg), "params has the wrong length")
    _need(1 <= threads <= NN_MAX_THREADS, "threads out of range")
    _need(chunk_rows >= 1 and work.shape[0] >= nn_forward_workspace_len(cfg, min(chunk_rows, n), threads), "work is too short for chunk_rows and threads")
    _need(out.shape[0] == 0 or (out.shape[0] == n and out.shape[1] == cfg.sizes[L]), "out has the wrong shape")
    _need(y.shape[0] == 0 or (y.shape[0] == n and y.shape[1] == cfg.sizes[L]), "y has the wrong shape")
    _need(sample_weight is None or sample_weight.shape[0] == n, "sample_weight must have one entry per row")
    cdef double[::1] chunk_loss = np.zeros((n + chunk_rows - 1) // chunk_rows)
    cdef const real *psw = NULL if sample_weight is None else &sample_weight[0]
    cdef real *po = &out[0, 0] if out.shape[0] else NULL
    cdef const real *py = &y[0, 0] if y.shape[0] else NULL
    cdef const nn_hook *ph = _hook_ptr(hook)
    with nogil:
        if real is float:
            rc = network_forward_f32(cfg, &params[0], &work[0], chunk_rows, threads, &x[0, 0], n, po, logits, py, psw, &chunk_loss[0], ph, &loss)
        else:
            rc = network_forward_f64(cfg, &params[0], &work[0], chunk_rows, threads, &x[0, 0], n, po, logits, py, psw, &chunk_loss[0], ph, &loss)
    if rc == NN_STOPPED:
        if hook.error is not None:
            raise hook.error
        raise StopIteration("the hook stopped the forward pass")
    _need(rc == 0, "the core rejected the forward call")
    return loss


# ---- single kernels (the book's forpass/backprop by hand, and the tests) ----

def activation_forward(real[:, ::1] out, const real[:, ::1] inp, act, double zmin=-HUGE_VAL):
    """out = act(inp), row-wise for softmax; out may be inp."""
    cdef int B = inp.shape[0], N = inp.shape[1], a = ACTIVATIONS[act]
    _need(out.shape[0] == B and out.shape[1] == N, "out must have inp's shape")
    if B == 0 or N == 0:
        return
    with nogil:
        if real is float:
            activation_forward_f32(&out[0, 0], &inp[0, 0], B, N, a, <float>zmin)
        else:
            activation_forward_f64(&out[0, 0], &inp[0, 0], B, N, a, zmin)


def activation_backward(real[:, ::1] dinp, const real[:, ::1] dout, const real[:, ::1] out, act,
                        const real[:, ::1] inp=None):
    """dinp = dout * act'(z), written from the forward output a = out (and the
    forward input z = inp, which the activations in ACTIVATIONS_NEEDING_INPUT
    require; the others ignore it)."""
    cdef int B = out.shape[0], N = out.shape[1], a = ACTIVATIONS[act]
    _need(dinp.shape[0] == B and dinp.shape[1] == N and dout.shape[0] == B and dout.shape[1] == N, "dinp, dout and out must share a shape")
    if nn_activation_needs_input(a):
        if inp is None:
            raise ValueError(f"activation_backward of {act!r} needs inp, the activation's input")
        _need(inp.shape[0] == B and inp.shape[1] == N, "inp must have out's shape")
    if B == 0 or N == 0:
        return
    cdef const real *pin = NULL if inp is None or inp.shape[0] == 0 else &inp[0, 0]
    with nogil:
        if real is float:
            activation_backward_f32(&dinp[0, 0], &dout[0, 0], &out[0, 0], pin, B, N, a)
        else:
            activation_backward_f64(&dinp[0, 0], &dout[0, 0], &out[0, 0], pin, B, N, a)


def dense_forward(real[:, ::1] out, const real[:, ::1] inp, const real[:, ::1] weight,
                  const real[::1] bias, act="linear", double zmin=-HUGE_VAL):
    """out (B,OC) = act(inp (B,C) @ weight (C,OC) + bias (OC)); empty bias: none."""
    cdef int B = inp.shape[0], C = inp.shape[1], OC = weight.shape[1], a = ACTIVATIONS[act]
    _need(B >= 1 and C >= 1 and OC >= 1, "dense_forward needs non-empty inputs")
    if not (weight.shape[0] == C):
        raise ValueError(f"weight must have {C} rows, got {weight.shape[0]}")
    if not (bias.shape[0] == 0 or bias.shape[0] == OC):
        raise ValueError(f"bias must have {OC} entries, got {bias.shape[0]}")
    if not (out.shape[0] == B and out.shape[1] == OC):
        raise ValueError(f"out must be ({B}, {OC})")
    cdef const real *pb = &bias[0] if bias.shape[0] else NULL
    with nogil:
        if real is float:
            dense_forward_f32(&out[0, 0], &inp[0, 0], &weight[0, 0], pb, B, C, OC, a, <float>zmin)
        else:
            dense_forward_f64(&out[0, 0], &inp[0, 0], &weight[0, 0], pb, B, C, OC, a, zmin)


def dense_backward(real[:, ::1] dinp, real[:, ::1] dweight, real[::1] dbias,
                   const real[:, ::1] dout, const real[:, ::1] inp, const real[:, ::1] weight):
    """dweight = inp.T @ dout; dbias = dout.sum(0); dinp = dout @ weight.T (empty: skipped)."""
    cdef int B = inp.shape[0], C = inp.shape[1], OC = weight.shape[1]
    _need(B >= 1 and C >= 1 and OC >= 1, "dense_backward needs non-empty inputs")
    _need(weight.shape[0] == C and dweight.shape[0] == C and dweight.shape[1] == OC, "weight and dweight must be (C, OC)")
    _need(dout.shape[0] == B and dout.shape[1] == OC, "dout must be (B, OC)")
    _need(dbias.shape[0] == 0 or dbias.shape[0] == OC, "dbias must be (OC,) or empty")
    _need(dinp.shape[0] == 0 or (dinp.shape[0] == B and dinp.shape[1] == C), "dinp must be (B, C) or empty")
    cdef real *pdb = &dbias[0] if dbias.shape[0] else NULL
    cdef real *pdi = &dinp[0, 0] if dinp.shape[0] else NULL
    with nogil:
        if real is float:
            dense_backward_f32(pdi, &dweight[0, 0], pdb, &dout[0, 0], &inp[0, 0], &weight[0, 0], B, C, OC)
        else:
            dense_backward_f64(pdi, &dweight[0, 0], pdb, &dout[0, 0], &inp[0, 0], &weight[0, 0], B, C, OC)


def softmax_cross_entropy_forward(real[:, ::1] probs, const real[:, ::1] logits, const real[:, ::1] y,
                                  double zmin=-HUGE_VAL, double eps=0.0):
    """probs = softmax(logits); returns sum over rows of -sum_k y log p."""
    cdef int B = logits.shape[0], K = logits.shape[1]
    cdef double loss
    _need(B >= 1 and K >= 1, "empty logits")
    _need(probs.shape[0] == B and probs.shape[1] == K and y.shape[0] == B and y.shape[1] == K, "probs, logits and y must share a shape")
    with nogil:
        if real is float:
            loss = softmax_cross_entropy_forward_f32(&probs[0, 0], &logits[0, 0], &y[0, 0], B, K, <float>zmin, <float>eps)
        else:
            loss = softmax_cross_entropy_forward_f64(&probs[0, 0], &logits[0, 0], &y[0, 0], B, K, zmin, eps)
    return loss


def binary_cross_entropy_forward(real[:, ::1] probs, const real[:, ::1] logits, const real[:, ::1] y,
                                 double zmin=-HUGE_VAL, double eps=0.0):
    """probs = sigmoid(logits); returns sum of -(y log p + (1-y) log(1-p))."""
    cdef int64_t n = logits.shape[0] * logits.shape[1]
    cdef double loss
    _need(n >= 1, "empty logits")
    _need(probs.shape[0] == logits.shape[0] and probs.shape[1] == logits.shape[1] and y.shape[0] == logits.shape[0] and y.shape[1] == logits.shape[1], "probs, logits and y must share a shape")
    with nogil:
        if real is float:
            loss = binary_cross_entropy_forward_f32(&probs[0, 0], &logits[0, 0], &y[0, 0], n, <float>zmin, <float>eps)
        else:
            loss = binary_cross_entropy_forward_f64(&probs[0, 0], &logits[0, 0], &y[0, 0], n, zmin, eps)
    return loss


def cross_entropy_backward(real[:, ::1] dlogits, const real[:, ::1] probs, const real[:, ::1] y, double scale):
    """dlogits = scale * (probs - y)."""
    cdef int64_t n = probs.shape[0] * probs.shape[1]
    _need(dlogits.shape[0] == probs.shape[0] and dlogits.shape[1] == probs.shape[1] and y.shape[0] == probs.shape[0] and y.shape[1] == probs.shape[1], "dlogits, probs and y must share a shape")
    if n == 0:
        return
    with nogil:
        if real is float:
            cross_entropy_backward_f32(&dlogits[0, 0], &probs[0, 0], &y[0, 0], n, <float>scale)
        else:
            cross_entropy_backward_f64(&dlogits[0, 0], &probs[0, 0], &y[0, 0], n, scale)


def mse_forward(const real[:, ::1] out, const real[:, ::1] y):
    """Sum over rows of mean_k (out - y)^2."""
    cdef int B = out.shape[0], K = out.shape[1]
    cdef double loss
    _need(B >= 1 and K >= 1, "empty out")
    _need(y.shape[0] == B and y.shape[1] == K, "out and y must share a shape")
    with nogil:
        if real is float:
            loss = mse_forward_f32(&out[0, 0], &y[0, 0], B, K)
        else:
            loss = mse_forward_f64(&out[0, 0], &y[0, 0], B, K)
    return loss


def mse_backward(real[:, ::1] dout, const real[:, ::1] out, const real[:, ::1] y, double scale):
    """dout = scale * 2 * (out - y)."""
    cdef int64_t n = out.shape[0] * out.shape[1]
    _need(dout.shape[0] == out.shape[0] and dout.shape[1] == out.shape[1] and y.shape[0] == out.shape[0] and y.shape[1] == out.shape[1], "dout, out and y must share a shape")
    if n == 0:
        return
    with nogil:
        if real is float:
            mse_backward_f32(&dout[0, 0], &out[0, 0], &y[0, 0], n, <float>scale)
        else:
            mse_backward_f64(&dout[0, 0], &out[0, 0], &y[0, 0], n, scale)


def l1_l2_penalty_forward(const real[::1] weight, double l1, double l2):
    """l1 * sum|w| + l2/2 * sum w^2."""
    cdef double r
    if weight.shape[0] == 0:
        return 0.0
    with nogil:
        if real is float:
            r = l1_l2_penalty_forward_f32(&weight[0], weight.shape[0], l1, l2)
        else:
            r = l1_l2_penalty_forward_f64(&weight[0], weight.shape[0], l1, l2)
    return r


def l1_l2_penalty_backward(real[::1] dweight, const real[::1] weight, double l1, double l2, double inv_m):
    """dweight += (l1 sign(w) + l2 w) * inv_m."""
    _need(dweight.shape[0] == weight.shape[0], "dweight and weight must have the same length")
    if weight.shape[0] == 0:
        return
    with nogil:
        if real is float:
            l1_l2_penalty_backward_f32(&dweight[0], &weight[0], weight.shape[0], <float>l1, <float>l2, <float>inv_m)
        else:
            l1_l2_penalty_backward_f64(&dweight[0], &weight[0], weight.shape[0], l1, l2, inv_m)


def dense_weight_sgd_step(real[:, ::1] weight, const real[:, ::1] dout, const real[:, ::1] inp,
                          double lr, int col0=0, double keep=1.0):
    """weight = keep * weight - lr * inp[:, col0:col0 + C].T @ dout, C = weight's
    rows (the weight gradient of dense_backward and an SGD step, in one
    product; keep < 1 folds in an L2 penalty or weight decay)."""
    cdef int C = weight.shape[0], OC = weight.shape[1], B = inp.shape[0], F = inp.shape[1]
    _need(B >= 1 and C >= 1 and OC >= 1, "dense_weight_sgd_step needs non-empty inputs")
    _need(0 <= col0 and col0 + C <= F, "inp must have columns col0 .. col0 + weight's rows")
    _need(dout.shape[0] == B and dout.shape[1] == OC, "dout must be (B, OC)")
    with nogil:
        if real is float:
            dense_weight_sgd_step_f32(&weight[0, 0], &dout[0, 0], &inp[0, col0], B, C, OC, F, <float>lr, <float>keep)
        else:
            dense_weight_sgd_step_f64(&weight[0, 0], &dout[0, 0], &inp[0, col0], B, C, OC, F, lr, keep)


def sgd_update(real[::1] param, const real[::1] grad, double lr, const real[::1] grad2=None):
    """param -= lr * grad, or with grad2 param -= lr * (grad + grad2)."""
    _need(param.shape[0] == grad.shape[0], "param and grad must have the same length")
    _need(grad2 is None or grad2.shape[0] == grad.shape[0],
          "grad2 must have the length of grad")
    if param.shape[0] == 0:
        return
    cdef const real *g2 = NULL if grad2 is None else &grad2[0]
    with nogil:
        if real is float:
            sgd_update_f32(&param[0], &grad[0], g2, param.shape[0], <float>lr)
        else:
            sgd_update_f64(&param[0], &grad[0], g2, param.shape[0], lr)


def sgd_momentum_update(real[::1] param, real[::1] velocity, const real[::1] grad, double lr,
                        double momentum, bint nesterov=False):
    """v = momentum v - lr g; param += v (or momentum v - lr g with Nesterov)."""
    _need(param.shape[0] == grad.shape[0] == velocity.shape[0], "param, velocity and grad must have the same length")
    if param.shape[0] == 0:
        return
    with nogil:
        if real is float:
            sgd_momentum_update_f32(&param[0], &velocity[0], &grad[0], param.shape[0], <float>lr, <float>momentum, nesterov)
        else:
            sgd_momentum_update_f64(&param[0], &velocity[0], &grad[0], param.shape[0], lr, momentum, nesterov)


def adam_update(real[::1] param, real[::1] m, real[::1] v, const real[::1] grad, double lr,
                double beta1, double beta2, double epsilon, int64_t step):
    """Adam step number `step` (1-based), Keras's form."""
    _need(param.shape[0] == grad.shape[0] == m.shape[0] == v.shape[0], "param, m, v and grad must have the same length")
    _need(step >= 1, "step is 1-based")
    if param.shape[0] == 0:
        return
    with nogil:
        if real is float:
            adam_update_f32(&param[0], &m[0], &v[0], &grad[0], param.shape[0], <float>lr, <float>beta1, <float>beta2, <float>epsilon, step)
        else:
            adam_update_f64(&param[0], &m[0], &v[0], &grad[0], param.shape[0], lr, beta1, beta2, epsilon, step)


def rmsprop_update(real[::1] param, real[::1] velocity, const real[::1] grad, double lr,
                   double rho, double epsilon):
    """v = rho v + (1-rho) g^2; param -= lr g / sqrt(v + epsilon)."""
    _need(param.shape[0] == grad.shape[0] == velocity.shape[0], "param, velocity and grad must have the same length")
    if param.shape[0] == 0:
        return
    with nogil:
        if real is float:
            rmsprop_update_f32(&param[0], &velocity[0], &grad[0], param.shape[0], <float>lr, <float>rho, <float>epsilon)
        else:
            rmsprop_update_f64(&param[0], &velocity[0], &grad[0], param.shape[0], lr, rho, epsilon)


# ---- Keras's further losses, the output layer's loss and the metric counts ----

cdef int _code(dict table, name, str what) except -1:
    """table[name], or a ValueError naming the argument and the choices."""
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {name!r}")
    return table[name]


cdef void _output_config(nn_config *cfg, int K, loss, act, double zmin, double eps,
                         double huber_delta, int top_k, double threshold) except *:
    """A one-layer nn_config whose output is K units of `act` under `loss`."""
    memset(cfg, 0, sizeof(nn_config))
    cfg.n_layers = 1
    cfg.sizes[0] = 1
    cfg.sizes[1] = K
    cfg.activations[0] = _code(ACTIVATIONS, act, "act")
    cfg.has_bias[0] = 1
    cfg.loss = _code(LOSSES, loss, "loss")
    cfg.zmin = zmin
    cfg.eps = eps
    cfg.huber_delta = huber_delta
    cfg.top_k = top_k
    cfg.threshold = threshold
    if nn_check_config(cfg) != 0:
        raise ValueError(f"loss={loss!r} cannot follow act={act!r} (binary_crossentropy needs "
                         f"sigmoid, categorical_crossentropy softmax, poisson exponential; "
                         f"{', '.join(ACTIVATIONS_NEEDING_INPUT)} only run as activation stages)")


def elementwise_loss_forward(const real[:, ::1] out, const real[:, ::1] y, loss,
                             double huber_delta=1.0):
    """Sum over rows of Keras's `loss` (one of ELEMENTWISE_LOSSES) between out and y:
    per row the mean of its elementwise terms (kl_divergence: their sum).

    Example
    -------
    >>> import numpy as np
    >>> elementwise_loss_forward(np.array([[1.0, -1.0]]), np.zeros((1, 2)), "mae")
    1.0
    """
    cdef int B = out.shape[0], K = out.shape[1], code = _code(LOSSES, loss, "loss")
    cdef double r
    if loss not in ELEMENTWISE_LOSSES:
        raise ValueError(f"loss must be one of {list(ELEMENTWISE_LOSSES)}, got {loss!r}")
    _need(B >= 1 and K >= 1, "out must not be empty")
    _need(y.shape[0] == B and y.shape[1] == K, "out and y must share a shape")
    with nogil:
        if real is float:
            r = elementwise_loss_forward_f32(code, &out[0, 0], &y[0, 0], B, K, huber_delta)
        else:
            r = elementwise_loss_forward_f64(code, &out[0, 0], &y[0, 0], B, K, huber_delta)
    return r


def elementwise_loss_backward(real[:, ::1] dout, const real[:, ::1] out, const real[:, ::1] y,
                              loss, double scale, double huber_delta=1.0):
    """dout = scale * d(term)/d(out) of Keras's elementwise `loss` (scale 1/(m K)
    for a batch mean; 1/m for kl_divergence, which sums over a row)."""
    cdef int64_t n = out.shape[0] * out.shape[1]
    cdef int code = _code(LOSSES, loss, "loss")
    if loss not in ELEMENTWISE_LOSSES:
        raise ValueError(f"loss must be one of {list(ELEMENTWISE_LOSSES)}, got {loss!r}")
    _need(dout.shape[0] == out.shape[0] and dout.shape[1] == out.shape[1] and y.shape[0] == out.shape[0] and y.shape[1] == out.shape[1], "dout, out and y must share a shape")
    if n == 0:
        return
    with nogil:
        if real is float:
            elementwise_loss_backward_f32(code, &dout[0, 0], &out[0, 0], &y[0, 0], n, <float>scale, <float>huber_delta)
        else:
            elementwise_loss_backward_f64(code, &dout[0, 0], &out[0, 0], &y[0, 0], n, scale, huber_delta)


def output_loss_forward(real[:, ::1] a, const real[:, ::1] y, loss, act, double zmin=-HUGE_VAL,
                        double eps=0.0, double huber_delta=1.0):
    """The output layer's forward: a (logits) becomes act(a) in place; returns the
    rows' loss sum against y (0.0 when y is empty), as the training loop forms it.

    Example
    -------
    >>> import numpy as np
    >>> a = np.array([[0.0, 0.0]])
    >>> round(output_loss_forward(a, np.array([[1.0, 0.0]]), "categorical_crossentropy", "softmax"), 6)
    0.693147
    >>> a
    array([[0.5, 0.5]])
    """
    cdef nn_config cfg
    cdef int B = a.shape[0], K = a.shape[1]
    cdef double r
    _need(B >= 1 and K >= 1, "a must not be empty")
    _need(y.shape[0] == 0 or (y.shape[0] == B and y.shape[1] == K), "y must be empty or have a's shape")
    _output_config(&cfg, K, loss, act, zmin, eps, huber_delta, 5, 0.5)
    cdef const real *py = &y[0, 0] if y.shape[0] else NULL
    with nogil:
        if real is float:
            r = output_loss_forward_f32(&cfg, &a[0, 0], py, B)
        else:
            r = output_loss_forward_f64(&cfg, &a[0, 0], py, B)
    return r


def output_loss_backward(real[:, ::1] delta, const real[:, ::1] a, const real[:, ::1] y, loss, act,
                         double m, double huber_delta=1.0):
    """delta = dL/dlogits of the output layer for a's rows, part of a batch of m
    rows whose loss is the mean over its rows; a = the output activations."""
    cdef nn_config cfg
    cdef int B = a.shape[0], K = a.shape[1]
    _need(B >= 1 and K >= 1, "a must not be empty")
    _need(delta.shape[0] == B and delta.shape[1] == K and y.shape[0] == B and y.shape[1] == K, "delta, a and y must share a shape")
    if not m >= B:
        raise ValueError(f"m (the batch's rows) must be >= a's {B} rows, got {m}")
    if &delta[0, 0] == &a[0, 0]:
        raise ValueError("delta must not be a: the activation's gradient reads a")
    _output_config(&cfg, K, loss, act, -HUGE_VAL, 0.0, huber_delta, 5, 0.5)
    with nogil:
        if real is float:
            output_loss_backward_f32(&cfg, &delta[0, 0], &a[0, 0], &y[0, 0], B, m)
        else:
            output_loss_backward_f64(&cfg, &delta[0, 0], &a[0, 0], &y[0, 0], B, m)


def metric_counts(const real[:, ::1] a, const real[:, ::1] y, loss="mse", int top_k=5,
                  double threshold=0.5):
    """The per-batch metric counts of output activations a against targets y: an
    int64 array in the order of COUNTS (correct rows by the training accuracy's
    rule, which depends on `loss`; rows whose target is in the top_k; true
    positives, false positives, false negatives of a > threshold against y != 0).

    Example
    -------
    >>> import numpy as np
    >>> metric_counts(np.array([[0.2, 0.7, 0.1]]), np.array([[0.0, 1.0, 0.0]]), top_k=1).tolist()
    [1, 1, 1, 0, 0]
    """
    cdef nn_config cfg
    cdef int B = a.shape[0], K = a.shape[1]
    _need(B >= 1 and K >= 1, "a must not be empty")
    _need(y.shape[0] == B and y.shape[1] == K, "a and y must share a shape")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    _output_config(&cfg, K, loss, {"binary_crossentropy": "sigmoid",
                                   "categorical_crossentropy": "softmax",
                                   "poisson": "exponential"}.get(loss, "linear"),
                   -HUGE_VAL, 0.0, 1.0, top_k, threshold)
    counts = np.zeros(NN_COUNTS, np.int64)
    cdef int64_t[::1] c = counts
    with nogil:
        if real is float:
            metric_counts_f32(&cfg, &a[0, 0], &y[0, 0], B, K, &c[0])
        else:
            metric_counts_f64(&cfg, &a[0, 0], &y[0, 0], B, K, &c[0])
    return counts


cdef extern from "nncore.h" nogil:
    void batchnorm_forward_train_f32(float *out, float *mean, float *var, const float *inp, const float *gamma, const float *beta, int B, int N, double epsilon)
    void batchnorm_forward_train_f64(double *out, double *mean, double *var, const double *inp, const double *gamma, const double *beta, int B, int N, double epsilon)
    void batchnorm_forward_infer_f32(float *out, const float *inp, const float *gamma, const float *beta, const float *moving_mean, const float *moving_var, int B, int N, double epsilon)
    void batchnorm_forward_infer_f64(double *out, const double *inp, const double *gamma, const double *beta, const double *moving_mean, const double *moving_var, int B, int N, double epsilon)
    void batchnorm_backward_f32(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp, const float *mean, const float *var, const float *gamma, int B, int N, double epsilon, int batch)
    void batchnorm_backward_f64(double *dinp, double *dgamma, double *dbeta, const double *dout, const double *inp, const double *mean, const double *var, const double *gamma, int B, int N, double epsilon, int batch)
    void batchnorm_update_moving_f32(float *moving_mean, float *moving_var, const float *mean, const float *var, int N, double momentum)
    void batchnorm_update_moving_f64(double *moving_mean, double *moving_var, const double *mean, const double *var, int N, double momentum)
    void dropout_forward_f32(float *out, const float *inp, int B, int N, double rate, uint64_t key, int64_t row0)
    void dropout_forward_f64(double *out, const double *inp, int B, int N, double rate, uint64_t key, int64_t row0)
    uint64_t nn_dropout_key(uint64_t seed, int64_t step, int layer)


cdef inline const real *_optional(const real[::1] v, int n, str what) except? NULL:
    if v.shape[0] == 0:
        return NULL
    _need(v.shape[0] == n, f"{what} must hold one value per unit")
    return &v[0]


def batchnorm_forward_train(real[:, ::1] out, real[::1] mean, real[::1] var,
                            const real[:, ::1] inp, const real[::1] gamma, const real[::1] beta,
                            double epsilon):
    """out (B,N) = gamma (inp - mean) / sqrt(var + eps) + beta with the batch's
    mean and biased variance, which land in mean and var (N,); an empty gamma
    or beta stands for 1 or 0."""
    cdef int B = inp.shape[0], N = inp.shape[1]
    _need(B >= 1 and N >= 1, "inp must not be empty")
    _need(out.shape[0] == B and out.shape[1] == N, "out must have inp's shape")
    _need(mean.shape[0] == N and var.shape[0] == N, "mean and var need one value per unit")
    _need(epsilon > 0, "epsilon must be > 0")
    cdef const real *g = _optional(gamma, N, "gamma")
    cdef const real *b = _optional(beta, N, "beta")
    with nogil:
        if real is float:
            batchnorm_forward_train_f32(&out[0, 0], &mean[0], &var[0], &inp[0, 0], g, b, B, N, epsilon)
        else:
            batchnorm_forward_train_f64(&out[0, 0], &mean[0], &var[0], &inp[0, 0], g, b, B, N, epsilon)


def batchnorm_forward_infer(real[:, ::1] out, const real[:, ::1] inp, const real[::1] gamma,
                            const real[::1] beta, const real[::1] moving_mean,
                            const real[::1] moving_var, double epsilon):
    """out (B,N) = gamma (inp - moving_mean) / sqrt(moving_var + eps) + beta."""
    cdef int B = inp.shape[0], N = inp.shape[1]
    _need(B >= 1 and N >= 1, "inp must not be empty")
    _need(out.shape[0] == B and out.shape[1] == N, "out must have inp's shape")
    _need(moving_mean.shape[0] == N and moving_var.shape[0] == N,
          "the moving statistics need one value per unit")
    _need(epsilon > 0, "epsilon must be > 0")
    cdef const real *g = _optional(gamma, N, "gamma")
    cdef const real *b = _optional(beta, N, "beta")
    with nogil:
        if real is float:
            batchnorm_forward_infer_f32(&out[0, 0], &inp[0, 0], g, b, &moving_mean[0], &moving_var[0], B, N, epsilon)
        else:
            batchnorm_forward_infer_f64(&out[0, 0], &inp[0, 0], g, b, &moving_mean[0], &moving_var[0], B, N, epsilon)


def batchnorm_backward(real[:, ::1] dinp, real[::1] dgamma, real[::1] dbeta,
                       const real[:, ::1] dout, const real[:, ::1] inp, const real[::1] mean,
                       const real[::1] var, const real[::1] gamma, double epsilon, bint batch):
    """dinp (B,N), dgamma, dbeta (N,) of batch normalization given dout = dL/dy;
    batch: mean/var are the batch's own (else fixed moving statistics);
    empty dgamma/dbeta are skipped, an empty gamma stands for 1."""
    cdef int B = inp.shape[0], N = inp.shape[1]
    _need(B >= 1 and N >= 1, "inp must not be empty")
    _need(dinp.shape[0] == B and dinp.shape[1] == N and dout.shape[0] == B and
          dout.shape[1] == N, "dinp and dout must have inp's shape")
    _need(mean.shape[0] == N and var.shape[0] == N, "mean and var need one value per unit")
    _need(epsilon > 0, "epsilon must be > 0")
    cdef real *dg = <real *>_optional(dgamma, N, "dgamma")
    cdef real *db = <real *>_optional(dbeta, N, "dbeta")
    cdef const real *g = _optional(gamma, N, "gamma")
    with nogil:
        if real is float:
            batchnorm_backward_f32(&dinp[0, 0], dg, db, &dout[0, 0], &inp[0, 0], &mean[0], &var[0], g, B, N, epsilon, batch)
        else:
            batchnorm_backward_f64(&dinp[0, 0], dg, db, &dout[0, 0], &inp[0, 0], &mean[0], &var[0], g, B, N, epsilon, batch)


def batchnorm_update_moving(real[::1] moving_mean, real[::1] moving_var, const real[::1] mean,
                            const real[::1] var, double momentum):
    """moving = moving * momentum + batch * (1 - momentum), in place."""
    cdef int N = moving_mean.shape[0]
    _need(N >= 1 and moving_var.shape[0] == N and mean.shape[0] == N and var.shape[0] == N,
          "the statistics must share one length >= 1")
    with nogil:
        if real is float:
            batchnorm_update_moving_f32(&moving_mean[0], &moving_var[0], &mean[0], &var[0], N, momentum)
        else:
            batchnorm_update_moving_f64(&moving_mean[0], &moving_var[0], &mean[0], &var[0], N, momentum)


def dropout_forward(real[:, ::1] out, const real[:, ::1] inp, double rate, uint64_t seed,
                    int64_t step, int layer, int64_t row0=0):
    """out (B,N) = inp * mask / (1 - rate), the mask of stage `layer` at update
    `step` for batch rows row0.. (the same call on dL/dout is the backward pass)."""
    cdef int B = inp.shape[0], N = inp.shape[1]
    _need(B >= 1 and N >= 1, "inp must not be empty")
    _need(out.shape[0] == B and out.shape[1] == N, "out must have inp's shape")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must lie in [0, 1), got {rate}")
    cdef uint64_t key = nn_dropout_key(seed, step, layer)
    with nogil:
        if real is float:
            dropout_forward_f32(&out[0, 0], &inp[0, 0], B, N, rate, key, row0)
        else:
            dropout_forward_f64(&out[0, 0], &inp[0, 0], B, N, rate, key, row0)


def auc_histogram(const real[:, ::1] a, const real[:, ::1] y, int bins, bint single=True):
    """(positives, negatives): Keras's AUC bucket counts of the scores a against
    the labels y over `bins` evenly spaced thresholds (float32 buckets when
    `single`); see auc_histogram in metrics.c."""
    cdef nn_config cfg
    cdef int B = a.shape[0], K = a.shape[1]
    _need(B >= 1 and K >= 1, "a must not be empty")
    _need(y.shape[0] == B and y.shape[1] == K, "a and y must share a shape")
    if not 2 <= bins <= NN_MAX_AUC_BINS:
        raise ValueError(f"bins must lie in 2..{NN_MAX_AUC_BINS}, got {bins}")
    cfg.auc_bins = bins
    cfg.auc_single = single
    pos = np.zeros(bins, np.int64)
    neg = np.zeros(bins, np.int64)
    cdef int64_t[::1] p = pos
    cdef int64_t[::1] q = neg
    with nogil:
        if real is float:
            auc_histogram_f32(&cfg, &a[0, 0], &y[0, 0], B, K, &p[0], &q[0])
        else:
            auc_histogram_f64(&cfg, &a[0, 0], &y[0, 0], B, K, &p[0], &q[0])
    return pos, neg
