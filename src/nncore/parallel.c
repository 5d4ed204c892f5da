/* Threads for the data-parallel batch loop (see train.c). A batch is split by
 * rows across the threads; between phases they meet at a barrier. With two
 * cores and per-batch phases of ~0.5 ms, a spinning barrier costs little and
 * wakes in nanoseconds; it yields after a while so an oversubscribed machine
 * still makes progress. */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "nncore.h"
#include "parallel.h"

void nn_barrier_init(nn_barrier *b, int n) {
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
    b->n = n;
}

void nn_barrier_wait(nn_barrier *b) {
    if (b->n <= 1) return;
    int phase = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == b->n - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
        return;
    }
    for (long spins = 0; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; spins++)
        if (spins > 2000) sched_yield();
}

typedef struct {
    void (*fn)(void *, int);
    void *arg;
    int t;
    atomic_int *go; /* 0: wait, 1: run fn, -1: leave without running */
} start_info;

static void *thread_main(void *p) {
    start_info *s = p;
    int go;
    for (long spins = 0; (go = atomic_load_explicit(s->go, memory_order_acquire)) == 0; spins++)
        if (spins > 2000) sched_yield();
    if (go > 0) s->fn(s->arg, s->t);
    return NULL;
}

int nn_run_parallel(int n_threads, void (*fn)(void *arg, int t), void *arg) {
    nn_blas_single_thread();
    if (n_threads <= 1) {
        fn(arg, 0);
        return NN_OK;
    }
    if (n_threads > NN_MAX_THREADS) return NN_EINVAL;
    pthread_t ids[NN_MAX_THREADS];
    start_info info[NN_MAX_THREADS];
    atomic_int go;
    atomic_init(&go, 0);
    /* start every thread before any work begins, so a failure can still back
     * out cleanly: nobody is waiting at a barrier yet */
    int started = 1;
    for (; started < n_threads; started++) {
        info[started] = (start_info){fn, arg, started, &go};
        if (pthread_create(&ids[started], NULL, thread_main, &info[started]) != 0) break;
    }
    if (started < n_threads) {
        atomic_store_explicit(&go, -1, memory_order_release);
        for (int t = 1; t < started; t++) pthread_join(ids[t], NULL);
        return NN_EINVAL;
    }
    atomic_store_explicit(&go, 1, memory_order_release);
    fn(arg, 0);
    for (int t = 1; t < n_threads; t++) pthread_join(ids[t], NULL);
    return NN_OK;
}

double nn_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
