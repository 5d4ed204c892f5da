/* CBLAS through one macro. The scipy-openblas wheel prefixes every symbol
 * (scipy_cblas_sgemm) and its cblas.h declares only the prefixed names; its
 * pkg-config file sets BLAS_SYMBOL_PREFIX=scipy_. A plain system CBLAS needs
 * no prefix. */
#ifndef NN_BLAS_H
#define NN_BLAS_H

#include <cblas.h>

#define NN_CAT_(a, b) a##b
#define NN_CAT(a, b) NN_CAT_(a, b)
#ifdef BLAS_SYMBOL_PREFIX
#define NN_BLAS(name) NN_CAT(BLAS_SYMBOL_PREFIX, name)
#else
#define NN_BLAS(name) name
#endif

#endif
