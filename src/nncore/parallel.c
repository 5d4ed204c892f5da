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

/* ---- the pool --------------------------------------------------------------
 * Worker threads are started on first use and then kept between calls:
 * starting a thread per call cost ~150 us on this project's 2-core VM (a
 * DualLayer epoch run by one core call at a time took 185 us on two
 * threads, 59 us on one, against 19 us inside one call that runs many
 * epochs), which every epoch-by-epoch loop, predict call and partial_fit
 * paid. One call at a time owns the pool; a call that finds it taken
 * (another thread's model training at the same time, or a hook that trains
 * a model from inside a batch) starts threads of its own for that call, as
 * before. Worker t runs fn(arg, t) for t = 1..n-1 of each call; which OS
 * thread runs which t changes no result (train.c). */
typedef struct {
    pthread_mutex_t lock; /* guards everything below but `call` */
    pthread_cond_t wake;  /* a new call, for the workers asleep */
    pthread_cond_t done;  /* the last worker of a call finished */
    int n_workers;        /* workers 1..n_workers exist */
    int sleepers;         /* workers waiting on `wake` */
    atomic_ulong call;    /* counts calls, so a worker knows a new one */
    void (*fn)(void *, int);
    void *arg;
    int n_threads; /* of the current call */
    int pending;   /* its workers still running */
} pool_state;

static pool_state pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                          PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0, 0};
/* held by the call that is using the pool, from dispatch to the last worker */
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;

/* How long a worker keeps checking for the next call before it sleeps: a
 * loop that makes one core call per epoch comes back within tens of
 * microseconds, and a sleeping thread took ~100 us to wake on this
 * project's VM (the DualLayer epoch by epoch: 132 us a call with the
 * workers asleep, 64 us with this wait, 185 us with a thread started per
 * call). Short, unlike a BLAS pool's spinning, so an idle nnbook costs the
 * cores nothing after a moment. */
#define POOL_SPIN_SECONDS 100e-6

typedef struct {
    int t;
    unsigned long seen; /* the call count when it was started */
} worker_start;
static worker_start starts[NN_MAX_THREADS];

/* Waits until pool.call differs from seen: spinning for a while first if
 * `spin`, then asleep. Returns with pool.lock held. */
static void await_call(unsigned long seen, int spin) {
    double until = spin ? nn_seconds() + POOL_SPIN_SECONDS : 0;
    for (long spins = 1; spin && atomic_load_explicit(&pool.call, memory_order_acquire) == seen;
         spins++)
        if (spins % 64 == 0 && nn_seconds() > until) break;
    pthread_mutex_lock(&pool.lock);
    while (atomic_load_explicit(&pool.call, memory_order_relaxed) == seen) {
        pool.sleepers++;
        pthread_cond_wait(&pool.wake, &pool.lock);
        pool.sleepers--;
    }
}

/* A worker spins for the next call only after it ran one: one left out
 * (a call on fewer threads than an earlier one) sleeps at once, so workers
 * a larger thread count once started never compete for the cores. */
static void *pool_worker(void *p) {
    const int t = ((worker_start *)p)->t;
    unsigned long seen = ((worker_start *)p)->seen;
    int ran = 0;
    for (;;) {
        await_call(seen, ran);
        seen = atomic_load_explicit(&pool.call, memory_order_relaxed);
        ran = t < pool.n_threads;
        if (!ran) { /* a call that needs fewer threads */
            pthread_mutex_unlock(&pool.lock);
            continue;
        }
        void (*fn)(void *, int) = pool.fn;
        void *arg = pool.arg;
        pthread_mutex_unlock(&pool.lock);
        fn(arg, t);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.lock);
    }
    return NULL;
}

/* A child of fork() has none of the parent's threads: it starts with an
 * empty pool, unowned (a call of the parent's may have owned it). */
static void pool_after_fork_child(void) {
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&pool_owner, NULL);
    pool.n_workers = 0;
    pool.sleepers = 0;
    pool.pending = 0;
}

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static void pool_register_fork(void) { pthread_atfork(NULL, NULL, pool_after_fork_child); }

/* Starts workers up to n - 1 of them (pool_owner held); 0 if all exist. */
static int pool_grow(int n) {
    pthread_once(&pool_once, pool_register_fork);
    unsigned long call = atomic_load_explicit(&pool.call, memory_order_relaxed);
    while (pool.n_workers < n - 1) {
        int t = pool.n_workers + 1;
        starts[t] = (worker_start){t, call};
        pthread_attr_t attr;
        pthread_t id;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&id, &attr, pool_worker, &starts[t]);
        pthread_attr_destroy(&attr);
        if (rc != 0) return -1;
        pool.n_workers = t;
    }
    return 0;
}

static void pool_run(int n, void (*fn)(void *arg, int t), void *arg) {
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.arg = arg;
    pool.n_threads = n;
    pool.pending = n - 1;
    atomic_fetch_add_explicit(&pool.call, 1, memory_order_release);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(arg, 0);
    pthread_mutex_lock(&pool.lock);
    while (pool.pending) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}

/* ---- threads of one call's own (when the pool is taken) ------------------ */
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

static int run_own_threads(int n_threads, void (*fn)(void *arg, int t), void *arg) {
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

int nn_run_parallel(int n_threads, void (*fn)(void *arg, int t), void *arg) {
    nn_blas_single_thread();
    if (n_threads <= 1) {
        fn(arg, 0);
        return NN_OK;
    }
    if (n_threads > NN_MAX_THREADS) return NN_EINVAL;
    if (pthread_mutex_trylock(&pool_owner) != 0) return run_own_threads(n_threads, fn, arg);
    if (pool_grow(n_threads) != 0) {
        /* workers started so far stay for later calls; this one backs out */
        pthread_mutex_unlock(&pool_owner);
        return NN_EINVAL;
    }
    pool_run(n_threads, fn, arg);
    pthread_mutex_unlock(&pool_owner);
    return NN_OK;
}

double nn_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
