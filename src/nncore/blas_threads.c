/* The vendored OpenBLAS's thread count, so nnbook.set_num_threads() and
 * threadpoolctl can keep it from oversubscribing the cores. */
#include "nncore.h"
#include "blas.h"

void nn_set_num_threads(int n) { NN_BLAS(openblas_set_num_threads)(n); }
int nn_get_num_threads(void) { return NN_BLAS(openblas_get_num_threads)(); }
