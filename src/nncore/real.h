/* The one place the float/double split is made: every kernel file is
 * compiled twice, once with NN_REAL_FLOAT and once with NN_REAL_DOUBLE. */
#ifndef NN_REAL_H
#define NN_REAL_H

#include <math.h>
#include "nncore.h"
#include "blas.h"
#include "vexp.h"
#include "vtanh.h"

/* Elementwise kernels are compiled once per instruction set (NN_VECTORISE) */
#include "vectorise.h"

#if defined(NN_REAL_FLOAT)
typedef float real;
#define NNF(name) name##_f32
#define R_EXP expf
#define R_VEXP vexp_f32
#define R_LOGISTIC vlogistic_f32
#define R_LOG logf
#define R_LOG1P log1pf
#define R_EXPM1 expm1f
#define R_ERFC erfcf
#define R_FABS fabsf
#define R_SQRT sqrtf
#define R_TANH vtanh_f32
#define GEMM NN_BLAS(cblas_sgemm)
#elif defined(NN_REAL_DOUBLE)
typedef double real;
#define NNF(name) name##_f64
#define R_EXP exp
#define R_VEXP vexp_f64
#define R_LOGISTIC vlogistic_f64
#define R_LOG log
#define R_LOG1P log1p
#define R_EXPM1 expm1
#define R_ERFC erfc
#define R_FABS fabs
#define R_SQRT sqrt
#define R_TANH vtanh_f64
#define GEMM NN_BLAS(cblas_dgemm)
#else
#error "compile with -DNN_REAL_FLOAT or -DNN_REAL_DOUBLE"
#endif

#endif
