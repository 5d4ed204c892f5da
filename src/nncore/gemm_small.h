/* Our own GEMM microkernels for the small products of a dense layer, where a
 * cblas call costs more than its arithmetic (batches of 32 through layers of
 * tens of units), and the switch that picks them or OpenBLAS.
 *
 * Every kernel here computes each output element as one fused multiply-add
 * chain over the inner dimension in order,
 *     acc = +0; for p = 0..K-1: acc = fma(a(i,p), b(p,j), acc); C(i,j) = acc,
 * whatever the register blocking, the vector width or the variant. So the
 * portable baseline, the AVX2+FMA and the AVX-512 variant give the same bits,
 * and the bits depend only on the shapes and the data (never on threads).
 * This is also the order OpenBLAS's FMA kernels use for inner dimensions up
 * to their K block, which is why the two paths usually agree bit for bit;
 * where they do not (OpenBLAS's gemv path, K split into blocks) both are
 * within a few ulps of the exact product. */
#ifndef NN_GEMM_SMALL_H
#define NN_GEMM_SMALL_H

/* The three layouts a dense layer needs (all row-major):
 *   NN_GEMM_NN  C (M,N) = A (M,K)   . B (K,N)     forward      out = inp . W
 *   NN_GEMM_NT  C (M,N) = A (M,K)   . B (N,K)^T   input grad   dinp = dout . W^T
 *   NN_GEMM_TN  C (M,N) = A (K,M)^T . B (K,N)     weight grad  dW = inp^T . dout */
enum { NN_GEMM_NN = 0, NN_GEMM_NT = 1, NN_GEMM_TN = 2 };

/* Which implementation products use: NNBOOK_SMALL_GEMM=auto (default: our
 * kernels below the measured size threshold on a CPU with FMA, OpenBLAS
 * above), always (our kernels for every shape), never (OpenBLAS only). */
enum { NN_SMALL_GEMM_AUTO = 0, NN_SMALL_GEMM_ALWAYS = 1, NN_SMALL_GEMM_NEVER = 2 };

/* The mode read from NNBOOK_SMALL_GEMM when the library was loaded (an
 * unrecognised value counts as auto), or the last nn_small_gemm_set_mode. */
int nn_small_gemm_mode(void);
/* Overrides the mode for the whole process (tests and benchmarks); returns
 * the previous one. Not to be called while another thread trains. */
int nn_small_gemm_set_mode(int mode);

/* The compiled variants, fastest first; a variant runs only where
 * nn_small_gemm_variant_supported says the CPU has its instructions. */
enum { NN_SMALL_GEMM_AVX512 = 0, NN_SMALL_GEMM_AVX2 = 1, NN_SMALL_GEMM_BASELINE = 2,
       NN_SMALL_GEMM_N_VARIANTS = 3 };
const char *nn_small_gemm_variant_name(int variant);
int nn_small_gemm_variant_supported(int variant);
/* The variant picked at load time for this CPU. */
int nn_small_gemm_variant(void);

/* C = op(A) . op(B) [+ bias] with our kernels, variant `variant` (which
 * must be supported), C overwritten. lda, ldb, ldc are row strides as in
 * CBLAS. bias: NULL, or (NN layout only) N values added to every row of C
 * once its chains are done, inside the kernels' store: the bits of a
 * separate pass adding them (each element's chain, then one add), without
 * the pass over C (a 32 x 10 float64 layer's bias pass was 5% of a breast
 * cancer batch's instructions). */
void nn_gemm_small_f32(int variant, int layout, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, const float *bias, float *C, int ldc);
void nn_gemm_small_f64(int variant, int layout, int M, int N, int K, const double *A,
                       int lda, const double *B, int ldb, const double *bias, double *C,
                       int ldc);

/* C = op(A) . op(B) [+ bias], C overwritten: our kernels or OpenBLAS (then a
 * pass adding the bias) as the mode and the size threshold say. The entry
 * point dense.c uses. */
void nn_gemm_f32(int layout, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *bias, float *C, int ldc);
void nn_gemm_f64(int layout, int M, int N, int K, const double *A, int lda, const double *B,
                 int ldb, const double *bias, double *C, int ldc);

/* The backward products of a dense layer with one output unit (a binary
 * classifier's last layer) in one pass over its B rows:
 *   dweight (C) = inp^T . dout, dinp (B, C) = dout . w^T, *dout_sum = sum of dout
 * (the bias gradient, in double from +0 in row order), inp's rows ldi
 * apart, dinp's ldd. Every value has the bits nn_gemm_* and a separate sum
 * would give it (the same chains and products). Returns 1 when done, 0
 * (nothing written) when those products would not both run on our kernels
 * (mode, size threshold) or C is outside one to three of the variant's
 * vectors: then the caller makes the separate calls. */
/* The same with variant `variant`'s kernel (which must be supported),
 * whatever the mode and the threshold: 0 only when B < 1 or C is outside
 * one to three of that variant's vectors. */
int nn_one_unit_backward_small_f32(int variant, int B, int C, const float *dout,
                                   const float *inp, int ldi, const float *w, float *dweight,
                                   double *dout_sum, float *dinp, int ldd);
int nn_one_unit_backward_small_f64(int variant, int B, int C, const double *dout,
                                   const double *inp, int ldi, const double *w,
                                   double *dweight, double *dout_sum, double *dinp, int ldd);
int nn_one_unit_backward_f32(int B, int C, const float *dout, const float *inp, int ldi,
                             const float *w, float *dweight, double *dout_sum, float *dinp,
                             int ldd);
int nn_one_unit_backward_f64(int B, int C, const double *dout, const double *inp, int ldi,
                             const double *w, double *dweight, double *dout_sum, double *dinp,
                             int ldd);

/* Whether nn_gemm_* would use our kernels for this shape (mode and threshold). */
int nn_gemm_uses_small(int layout, int M, int N, int K);

#endif
