/* The vendored OpenBLAS runs single-threaded: the core splits its work
 * across its own threads (train.c), each calling the BLAS on its own block,
 * so BLAS threads would only oversubscribe the cores and busy-wait. It is
 * pinned at import and re-pinned if something (threadpoolctl) changed it;
 * this copy of OpenBLAS is private to nnbook, so no other library sees it.
 * The thread count of a core call is an argument of that call. */
#include "nncore.h"
#include "blas.h"

void nn_blas_single_thread(void) {
    if (NN_BLAS(openblas_get_num_threads)() != 1) NN_BLAS(openblas_set_num_threads)(1);
}

int nn_blas_threads(void) { return NN_BLAS(openblas_get_num_threads)(); }
