/* A few threads for one call into the core, and a barrier between them.
 * Private to the core (not part of nncore.h). */
#ifndef NN_PARALLEL_H
#define NN_PARALLEL_H

#include <stdatomic.h>

#include "nncore.h"

typedef struct {
    atomic_int arrived;
    atomic_int phase;
    int n;
} nn_barrier;

void nn_barrier_init(nn_barrier *b, int n);
/* Blocks until all n threads have arrived; also orders their memory. */
void nn_barrier_wait(nn_barrier *b);

/* Runs fn(arg, t) for t = 0..n_threads-1, t = 0 on the calling thread, and
 * returns when all are done; t >= 1 run on the core's kept worker threads
 * (or, while another call uses them, on threads started for this call).
 * Each thread runs its own single-threaded GEMMs (the BLAS is pinned to one
 * thread: see blas_threads.c). Returns NN_OK, or NN_EINVAL if a thread
 * could not be started (then nothing ran). */
int nn_run_parallel(int n_threads, void (*fn)(void *arg, int t), void *arg);

/* The threads a call runs on: `threads` within [1, NN_MAX_THREADS], and no
 * more than it has work items (at least one). */
static inline int nn_clamp_threads(int threads, int64_t work_items) {
    int T = threads < 1 ? 1 : threads > NN_MAX_THREADS ? NN_MAX_THREADS : threads;
    return work_items < T ? (int)(work_items < 1 ? 1 : work_items) : T;
}

/* Monotonic seconds, for the hook's interval. */
double nn_seconds(void);

#endif
