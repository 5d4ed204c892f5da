/* The body of one microkernel variant at one precision; gemm_small.c
 * includes it once per (variant, precision) with:
 *   GS_REAL    float or double
 *   GS_VW      lanes per vector (GS_VW * sizeof(GS_REAL) bytes)
 *   GS_(name)  the name with this variant's and precision's suffix
 *   GS_TARGET  the function attribute selecting the instruction set
 *   GS_VFMA    GS_VFMA(a, b, c) = a*b + c per lane, rounded once
 *   GS_SFMA    the scalar fma: fmaf/fma in the baseline (exact everywhere),
 *              __builtin_fmaf/__builtin_fma (the instruction) in the
 *              variants whose target has FMA
 *   GS_SPLAT   GS_SPLAT(s) = a vector of GS_VW copies of s (a broadcast
 *              instruction where there is one: GCC does not turn a loop of
 *              lane stores into one)
 *
 * Register blocking (the BLIS/libxsmm scheme, written here for these
 * shapes): an MR x (NV vectors) tile of C lives in registers while the inner
 * dimension runs; each step loads NV vectors of one row of B, broadcasts one
 * element of each of the MR rows of A and does MR*NV fused multiply-adds.
 * With MR = 6, NV = 2 that is 12 accumulators + 2 B vectors + 1 broadcast:
 * 15 of AVX2's 16 vector registers. Where only one vector of columns is
 * left, tiles are 12 rows x 1 vector, again 12 independent chains: 6 would
 * leave the two FMA units (4-cycle latency) idle half the time. B is read in
 * place when its rows are contiguous (the NN and TN layouts). Narrow
 * products there (N from one to three vectors' width: a layer of 10 units
 * is 3 float64 vectors, 2 float32 ones) take the narrow path: every column
 * in one tile of 12 / vectors rows, the inner dimension in one pass. When N
 * is not a multiple of the vector width, the last columns come from one
 * vector overlapping the one before (N >= VW; with one K block on the
 * general path), else from a zero-padded copy of the last vector's worth of
 * columns (extra lanes discarded). In the NT layout B is packed in KC x NC
 * panels. Panels split the inner dimension only by storing the partial sums
 * in C and loading them back, which keeps every element's fma chain in
 * order. */

#define GS_MR 6   /* rows of a 2-vector tile */
#define GS_MR1 12 /* rows of a 1-vector tile: 12 chains keep both FMA units busy */
#define GS_NV 2
#define GS_KC 128
#define GS_NC 64 /* a multiple of GS_NV * GS_VW for every variant */

typedef GS_REAL GS_(vec) __attribute__((vector_size(GS_VW * sizeof(GS_REAL))));

static inline __attribute__((always_inline)) GS_TARGET GS_(vec) GS_(load)(const GS_REAL *p) {
    GS_(vec) v;
    memcpy(&v, p, sizeof v); /* unaligned: callers pass any pointer */
    return v;
}

static inline __attribute__((always_inline)) GS_TARGET void GS_(store)(GS_REAL *p, GS_(vec) v) {
    memcpy(p, &v, sizeof v);
}

static inline __attribute__((always_inline)) GS_TARGET GS_(vec) GS_(splat)(GS_REAL s) {
    return (GS_(vec))GS_SPLAT(s); /* not 0 + s: that would turn -0 into +0 */
}

/* c (mr, nv*VW; row stride ldc) = [first ? 0 : c] + sum over p < kc of
 * a(r, p) * b(p, :), one fma per step in p order, then + bias(:) on every
 * row when bias is not NULL (the chain's last block only: one add after the
 * whole chain, as a separate pass over C would do it).
 * a(r, p) = a[r*ars + p*acs]; b's rows are ldb apart. Vector v covers
 * columns v*VW.. of b and c, except the last, which covers last.. (the
 * narrow tiles' overlapping last vector; (nv-1)*VW otherwise). mr and nv
 * are compile-time constants at every call (see micro_any), so acc stays in
 * registers. */
static inline __attribute__((always_inline)) GS_TARGET void
GS_(micro)(int mr, int nv, int kc, const GS_REAL *a, ptrdiff_t ars, ptrdiff_t acs,
           const GS_REAL *b, ptrdiff_t ldb, ptrdiff_t last, GS_REAL *c, ptrdiff_t ldc,
           int first, const GS_REAL *bias) {
    GS_(vec) acc[GS_MR1][3]; /* mr * nv <= 12 of them are used */
#define GS_COL(v) ((v) == nv - 1 ? last : (v) * GS_VW)
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            acc[r][v] = first ? (GS_(vec)){0} : GS_(load)(c + r * ldc + GS_COL(v));
    /* two steps a loop iteration: the loop's own add/compare/branch was ~3
     * of a (4 x 3-vector) step's 22 instructions (same fmas, same order) */
#pragma GCC unroll 2
    for (int p = 0; p < kc; p++) {
        const GS_REAL *bp = b + p * ldb, *ap = a + p * acs;
        GS_(vec) bv[3];
        for (int v = 0; v < nv; v++) bv[v] = GS_(load)(bp + GS_COL(v));
        for (int r = 0; r < mr; r++) {
            GS_(vec) ar = GS_(splat)(ap[r * ars]);
            for (int v = 0; v < nv; v++) acc[r][v] = GS_VFMA(ar, bv[v], acc[r][v]);
        }
    }
    if (bias) {
        GS_(vec) bb[3];
        for (int v = 0; v < nv; v++) bb[v] = GS_(load)(bias + GS_COL(v));
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < nv; v++) acc[r][v] = acc[r][v] + bb[v];
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) GS_(store)(c + r * ldc + GS_COL(v), acc[r][v]);
#undef GS_COL
}

#define GS_MICRO_CASE(MR_, NV_)                                                          \
    case (MR_) * 4 + (NV_):                                                              \
        GS_(micro)(MR_, NV_, kc, a, ars, acs, b, ldb, last, c, ldc, first, bias);        \
        break;

/* micro for a runtime (mr, nv): mr <= 12 / nv, nv <= 3. */
static GS_TARGET void GS_(micro_last)(int mr, int nv, int kc, const GS_REAL *a, ptrdiff_t ars,
                                      ptrdiff_t acs, const GS_REAL *b, ptrdiff_t ldb,
                                      ptrdiff_t last, GS_REAL *c, ptrdiff_t ldc, int first,
                                      const GS_REAL *bias) {
    switch (mr * 4 + nv) {
        GS_MICRO_CASE(1, 1) GS_MICRO_CASE(2, 1) GS_MICRO_CASE(3, 1)
        GS_MICRO_CASE(4, 1) GS_MICRO_CASE(5, 1) GS_MICRO_CASE(6, 1)
        GS_MICRO_CASE(7, 1) GS_MICRO_CASE(8, 1) GS_MICRO_CASE(9, 1)
        GS_MICRO_CASE(10, 1) GS_MICRO_CASE(11, 1) GS_MICRO_CASE(12, 1)
        GS_MICRO_CASE(1, 2) GS_MICRO_CASE(2, 2) GS_MICRO_CASE(3, 2)
        GS_MICRO_CASE(4, 2) GS_MICRO_CASE(5, 2) GS_MICRO_CASE(6, 2)
        GS_MICRO_CASE(1, 3) GS_MICRO_CASE(2, 3) GS_MICRO_CASE(3, 3)
        GS_MICRO_CASE(4, 3)
    default:
        break;
    }
}

/* micro_last with whole vectors side by side (no overlap) */
static inline __attribute__((always_inline)) GS_TARGET void
GS_(micro_any)(int mr, int nv, int kc, const GS_REAL *a, ptrdiff_t ars, ptrdiff_t acs,
               const GS_REAL *b, ptrdiff_t ldb, GS_REAL *c, ptrdiff_t ldc, int first,
               const GS_REAL *bias) {
    GS_(micro_last)(mr, nv, kc, a, ars, acs, b, ldb, (ptrdiff_t)(nv - 1) * GS_VW, c, ldc, first,
                    bias);
}

/* Narrow products in the direct layouts (B's rows contiguous): N from one
 * to three vectors' width, the last vector overlapping the one before when
 * N is not a multiple of VW (its columns get the same fma chains twice,
 * which changes no bit). Every column in one tile of 12 / vectors rows, and
 * the whole inner dimension in one pass (B's few columns stay in L1
 * however long K is), so nothing is read back from C. For a 10-unit float64
 * layer (three vectors) that is 4-row tiles instead of 6-row 2-vector tiles
 * plus a second pass of 12-row tiles over the last vector (best of six
 * alternating runs, us: NN 32x10x30 0.657 -> 0.552, TN 30x10x32 0.617 ->
 * 0.583, NN 182x10x30 3.42 -> 3.12, TN 30x10x182 3.86 -> 2.93, the last
 * no longer split at 128 into two passes through C). */
static GS_TARGET void GS_(narrow)(int M, int N, int K, const GS_REAL *a, ptrdiff_t ars,
                                  ptrdiff_t acs, const GS_REAL *b, ptrdiff_t ldb, GS_REAL *c,
                                  ptrdiff_t ldc, const GS_REAL *bias) {
    const int nv = (N + GS_VW - 1) / GS_VW;
    const ptrdiff_t last = N - GS_VW;
    int i0 = 0;
    /* whole tiles with the tile's shape constant, the micro kernel inlined;
     * the last, shorter tile through micro_last */
#define GS_NARROW_TILES(MR_, NV_)                                                      \
    for (; i0 + (MR_) <= M; i0 += (MR_))                                               \
        GS_(micro)(MR_, NV_, K, a + i0 * ars, ars, acs, b, ldb, last, c + i0 * ldc, ldc, 1, bias);
    switch (nv) {
    case 1: GS_NARROW_TILES(GS_MR1, 1) break;
    case 2: GS_NARROW_TILES(GS_MR1 / 2, 2) break;
    default: GS_NARROW_TILES(GS_MR1 / 3, 3) break;
    }
#undef GS_NARROW_TILES
    if (i0 < M)
        GS_(micro_last)(M - i0, nv, K, a + i0 * ars, ars, acs, b, ldb, last, c + i0 * ldc, ldc,
                        1, bias);
}

/* Columns [0, n) of rows [0, M) of C from the kc x n block of B at b (rows
 * ldb apart; n a multiple of VW), every row tile of A; + bias when not NULL
 * (see micro). */
static inline __attribute__((always_inline)) GS_TARGET void
GS_(panel)(int M, int n, int kc, const GS_REAL *a, ptrdiff_t ars, ptrdiff_t acs,
           const GS_REAL *b, ptrdiff_t ldb, GS_REAL *c, ptrdiff_t ldc, int first,
           const GS_REAL *bias) {
    const int n2 = n / (GS_NV * GS_VW) * (GS_NV * GS_VW); /* in 2-vector tiles */
    for (int i0 = 0; i0 < M && n2; i0 += GS_MR) {
        int mr = M - i0 < GS_MR ? M - i0 : GS_MR;
        for (int j = 0; j < n2; j += GS_NV * GS_VW)
            GS_(micro_any)(mr, GS_NV, kc, a + i0 * ars, ars, acs, b + j, ldb, c + i0 * ldc + j,
                           ldc, first, bias ? bias + j : NULL);
    }
    if (n > n2) /* one vector left */
        for (int i0 = 0; i0 < M; i0 += GS_MR1)
            GS_(micro_any)(M - i0 < GS_MR1 ? M - i0 : GS_MR1, 1, kc, a + i0 * ars, ars, acs,
                           b + n2, ldb, c + i0 * ldc + n2, ldc, first, bias ? bias + n2 : NULL);
}

/* The last, partial vector of columns: cols < VW columns of C, computed
 * through a VW-wide scratch tile so no element outside C is read or
 * written. bpad: a packed kc x VW block of B (rows ldb apart), zero in the
 * lanes beyond cols; bias: NULL, or cols values added after the chain. */
static GS_TARGET void GS_(partial)(int M, int cols, int kc, const GS_REAL *a, ptrdiff_t ars,
                                   ptrdiff_t acs, const GS_REAL *bpad, ptrdiff_t ldb,
                                   GS_REAL *c, ptrdiff_t ldc, int first, const GS_REAL *bias) {
    GS_REAL tile[GS_MR1 * GS_VW];
    for (int i0 = 0; i0 < M; i0 += GS_MR1) {
        int mr = M - i0 < GS_MR1 ? M - i0 : GS_MR1;
        GS_REAL *ci = c + i0 * ldc;
        for (int r = 0; r < mr; r++)
            for (int l = 0; l < GS_VW; l++)
                tile[r * GS_VW + l] = first || l >= cols ? 0 : ci[r * ldc + l];
        GS_(micro_any)(mr, 1, kc, a + i0 * ars, ars, acs, bpad, ldb, tile, GS_VW, first, NULL);
        for (int r = 0; r < mr; r++)
            for (int l = 0; l < cols; l++)
                ci[r * ldc + l] = bias ? tile[r * GS_VW + l] + bias[l] : tile[r * GS_VW + l];
    }
}

/* The products of a layer with one output unit (a binary classifier's last
 * layer), where the tiles above would fill one lane of each vector and copy
 * through a scratch tile. Each keeps the rule of this file: every element
 * is one fma chain over p in order, starting from +0. */

/* One element's chain, scalar: sum_p a[p as] b[p bs], fma by fma from +0
 * (the rows the vector loops below leave over). */
static inline __attribute__((always_inline)) GS_TARGET GS_REAL
GS_(dot)(int K, const GS_REAL *a, ptrdiff_t as, const GS_REAL *b, ptrdiff_t bs) {
    GS_REAL acc = 0;
    for (int p = 0; p < K; p++) acc = GS_SFMA(a[p * as], b[p * bs], acc);
    return acc;
}

/* gemv_tn's rows from i0 on: nv whole vectors from row i0, then, when
 * last >= 0, one more vector of rows last..last+VW-1 (it may overlap). */
static inline __attribute__((always_inline)) GS_TARGET void
GS_(gemv_tn_tail)(int nv, int i0, int last, int K, const GS_REAL *A, int lda, const GS_REAL *B,
                  int ldb, GS_REAL *C, int ldc) {
    GS_(vec) acc[4] = {{0}, {0}, {0}, {0}};
    for (int p = 0; p < K; p++) {
        const GS_(vec) bp = GS_(splat)(B[(ptrdiff_t)p * ldb]);
        const GS_REAL *ap = A + (ptrdiff_t)p * lda;
        for (int v = 0; v < nv; v++) acc[v] = GS_VFMA(GS_(load)(ap + i0 + v * GS_VW), bp, acc[v]);
        if (last >= 0) acc[nv] = GS_VFMA(GS_(load)(ap + last), bp, acc[nv]);
    }
    for (int v = 0; v < nv; v++)
        for (int l = 0; l < GS_VW; l++) C[(ptrdiff_t)(i0 + v * GS_VW + l) * ldc] = acc[v][l];
    if (last >= 0)
        for (int l = 0; l < GS_VW; l++) C[(ptrdiff_t)(last + l) * ldc] = acc[nv][l];
}

/* N = 1, TN layout (the weight gradient): c(i) = sum_p A[p lda + i] B[p ldb].
 * A's rows are contiguous in i, so vectors run down i, four in flight. The
 * rows past the last four-vector block (under four vectors, then the last
 * vector overlapping: gemv_tn_tail) run in one pass over p as well, every
 * chain side by side: one after the other, each a K-long chain of dependent
 * fmas, they made a 10-unit layer's gradient over 182 rows four chains long
 * (a third of the time of DualLayer's GEMMs outside the tiles). */
static GS_TARGET void GS_(gemv_tn)(int M, int K, const GS_REAL *A, int lda, const GS_REAL *B,
                                   int ldb, GS_REAL *C, int ldc) {
    int i0 = 0;
    for (; i0 + 4 * GS_VW <= M; i0 += 4 * GS_VW) {
        GS_(vec) acc[4] = {{0}, {0}, {0}, {0}};
        for (int p = 0; p < K; p++) {
            const GS_(vec) bp = GS_(splat)(B[(ptrdiff_t)p * ldb]);
            const GS_REAL *ap = A + (ptrdiff_t)p * lda + i0;
            for (int v = 0; v < 4; v++) acc[v] = GS_VFMA(GS_(load)(ap + v * GS_VW), bp, acc[v]);
        }
        for (int v = 0; v < 4; v++)
            for (int l = 0; l < GS_VW; l++) C[(ptrdiff_t)(i0 + v * GS_VW + l) * ldc] = acc[v][l];
    }
    const int nv = (M - i0) / GS_VW, ns = M - i0 - nv * GS_VW; /* nv < 4, ns < VW */
    if (nv == 0 && ns == 0) return;
    if (M >= GS_VW) {
        /* whole vectors only: the rows past the last whole one are the last
         * vector's, ending at row M-1 and overlapping rows done before.
         * Every row's chain is the same fmas in the same order wherever it
         * is computed, so the overlapping rows come out with the same bits
         * (the scalar chains this replaced, one per left-over row, cost
         * more instructions than the vectors' work) */
        const int last = ns ? M - GS_VW : -1;
        switch (nv) { /* constant vector counts, so each case's loop is unrolled */
        case 0: GS_(gemv_tn_tail)(0, i0, last, K, A, lda, B, ldb, C, ldc); break;
        case 1: GS_(gemv_tn_tail)(1, i0, last, K, A, lda, B, ldb, C, ldc); break;
        case 2: GS_(gemv_tn_tail)(2, i0, last, K, A, lda, B, ldb, C, ldc); break;
        default: GS_(gemv_tn_tail)(3, i0, last, K, A, lda, B, ldb, C, ldc); break;
        }
        return;
    }
    /* fewer rows than a vector: scalar chains side by side */
    GS_REAL sacc[GS_VW] = {0};
    for (int p = 0; p < K; p++) {
        const GS_REAL b = B[(ptrdiff_t)p * ldb];
        const GS_REAL *ap = A + (ptrdiff_t)p * lda;
        for (int l = 0; l < GS_VW; l++)
            if (l < ns) sacc[l] = GS_SFMA(ap[l], b, sacc[l]);
    }
    for (int l = 0; l < ns; l++) C[(ptrdiff_t)l * ldc] = sacc[l];
}

/* N = 1, NN layout (the forward pass): c(i) = sum_p A[i lda + p] B[p ldb].
 * Each row is a dot product along its own contiguous row; eight rows' chains
 * run side by side so that both FMA units stay busy. bias: NULL, or the
 * one value added after each chain. */
static GS_TARGET void GS_(gemv_nn)(int M, int K, const GS_REAL *A, int lda, const GS_REAL *B,
                                   int ldb, GS_REAL *C, int ldc, const GS_REAL *bias) {
    const GS_REAL b0 = bias ? bias[0] : 0;
    enum { ROWS = 8 };
    int i0 = 0;
    for (; i0 + ROWS <= M; i0 += ROWS) {
        GS_REAL acc[ROWS] = {0};
        const GS_REAL *ai = A + (ptrdiff_t)i0 * lda;
        for (int p = 0; p < K; p++) {
            const GS_REAL b = B[(ptrdiff_t)p * ldb];
            for (int r = 0; r < ROWS; r++) acc[r] = GS_SFMA(ai[(ptrdiff_t)r * lda + p], b, acc[r]);
        }
        for (int r = 0; r < ROWS; r++) C[(ptrdiff_t)(i0 + r) * ldc] = bias ? acc[r] + b0 : acc[r];
    }
    for (; i0 < M; i0++) {
        GS_REAL acc = GS_(dot)(K, A + (ptrdiff_t)i0 * lda, 1, B, ldb);
        C[(ptrdiff_t)i0 * ldc] = bias ? acc + b0 : acc;
    }
}

/* K = 1, NT layout (the input gradient of a one-unit layer): the outer
 * product c(i, j) = fma(A[i lda], B[j ldb], +0). B's column is gathered into
 * a contiguous block first (its elements are ldb apart). */
static GS_TARGET void GS_(outer_nt)(int M, int N, const GS_REAL *A, int lda, const GS_REAL *B,
                                    int ldb, GS_REAL *C, int ldc) {
    enum { NB = 256 };
    GS_REAL b[NB];
    GS_(vec) zero = {0}; /* not const: the baseline's fma macro takes its type */
    for (int j0 = 0; j0 < N; j0 += NB) {
        const int nb = N - j0 < NB ? N - j0 : NB, nv = nb / GS_VW * GS_VW;
        for (int j = 0; j < nb; j++) b[j] = B[(ptrdiff_t)(j0 + j) * ldb];
        for (int i = 0; i < M; i++) {
            const GS_REAL ai = A[(ptrdiff_t)i * lda];
            const GS_(vec) av = GS_(splat)(ai);
            GS_REAL *ci = C + (ptrdiff_t)i * ldc + j0;
            for (int j = 0; j < nv; j += GS_VW) GS_(store)(ci + j, GS_VFMA(av, GS_(load)(b + j), zero));
            if (nv < nb && nb >= GS_VW) /* the rest as one vector ending at the last column,
                                          * rewriting columns with the very same products */
                GS_(store)(ci + nb - GS_VW, GS_VFMA(av, GS_(load)(b + nb - GS_VW), zero));
            else
                for (int j = nv; j < nb; j++) ci[j] = GS_SFMA(ai, b[j], (GS_REAL)0);
        }
    }
}

/* The backward products of a one-unit dense layer (N = 1) in one pass over
 * its rows, for C from one to three vectors' width (the last vector
 * overlapping the one before: the columns there get the same operations
 * twice, which changes no bit):
 *   dweight (C)   = inp^T . dout   gemv_tn's chains: fma(inp(i, j), d_i, acc_j) over i in order
 *   dinp (B, C)   = dout . w^T     outer_nt's products: fma(d_i, w_j, +0)
 *   returned      = sum of dout    in double, from +0, in row order (the bias gradient)
 * inp's rows are ldi apart, dinp's ldd. Apart, the two products and the
 * sum were three passes over the rows (plus a call and a dispatch each);
 * here the chains of the weight gradient, which wait on each other, run
 * beside the outer product's independent stores. */
static inline __attribute__((always_inline)) GS_TARGET double
GS_(one_unit_rows)(int nv, int B, int C, const GS_REAL *dout, const GS_REAL *inp, ptrdiff_t ldi,
                   const GS_REAL *w, GS_REAL *dweight, GS_REAL *dinp, ptrdiff_t ldd) {
#define GS_COL(v) ((v) == nv - 1 ? C - GS_VW : (v) * GS_VW)
    GS_(vec) acc[3], wv[3], zero = {0};
    for (int v = 0; v < nv; v++) {
        acc[v] = zero;
        wv[v] = GS_(load)(w + GS_COL(v));
    }
    double sum = 0;
    for (int i = 0; i < B; i++) {
        const GS_REAL d = dout[i];
        const GS_(vec) dv = GS_(splat)(d);
        const GS_REAL *row = inp + i * ldi;
        GS_REAL *drow = dinp + i * ldd;
        for (int v = 0; v < nv; v++) {
            acc[v] = GS_VFMA(GS_(load)(row + GS_COL(v)), dv, acc[v]);
            GS_(store)(drow + GS_COL(v), GS_VFMA(dv, wv[v], zero));
        }
        sum += d;
    }
    for (int v = 0; v < nv; v++) GS_(store)(dweight + GS_COL(v), acc[v]);
    return sum;
#undef GS_COL
}

/* one_unit_rows, with a constant vector count in each case so that the
 * accumulators stay in registers; *dout_sum gets the sum. Returns 0 (and
 * does nothing) unless VW <= C <= 3 VW. */
static GS_TARGET int GS_(one_unit_backward)(int B, int C, const GS_REAL *dout, const GS_REAL *inp,
                                            int ldi, const GS_REAL *w, GS_REAL *dweight,
                                            double *dout_sum, GS_REAL *dinp, int ldd) {
    switch (C >= GS_VW ? (C + GS_VW - 1) / GS_VW : 0) {
    case 1: *dout_sum = GS_(one_unit_rows)(1, B, C, dout, inp, ldi, w, dweight, dinp, ldd); return 1;
    case 2: *dout_sum = GS_(one_unit_rows)(2, B, C, dout, inp, ldi, w, dweight, dinp, ldd); return 1;
    case 3: *dout_sum = GS_(one_unit_rows)(3, B, C, dout, inp, ldi, w, dweight, dinp, ldd); return 1;
    default: return 0;
    }
}

/* C (M,N) = op(A) . op(B) for one layout; see gemm_small.h. bias: NULL, or
 * (NN layout only) N values added to every row of C after its chains: the
 * bits of the product followed by a separate pass adding them, without
 * that pass over C. */
static GS_TARGET void GS_(gemm)(int layout, int M, int N, int K, const GS_REAL *A, int lda,
                                const GS_REAL *B, int ldb, GS_REAL *C, int ldc,
                                const GS_REAL *bias) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(ptrdiff_t)i * ldc + j] = bias ? (GS_REAL)0 + bias[j] : 0;
        return;
    }
    if (N == 1 && layout == NN_GEMM_TN) {
        GS_(gemv_tn)(M, K, A, lda, B, ldb, C, ldc);
        return;
    }
    if (N == 1 && layout == NN_GEMM_NN) {
        GS_(gemv_nn)(M, K, A, lda, B, ldb, C, ldc, bias);
        return;
    }
    if (K == 1 && layout == NN_GEMM_NT) {
        GS_(outer_nt)(M, N, A, lda, B, ldb, C, ldc);
        return;
    }
    const ptrdiff_t ars = layout == NN_GEMM_TN ? 1 : lda, acs = layout == NN_GEMM_TN ? lda : 1;
    const int direct = layout != NN_GEMM_NT; /* B's rows are contiguous */
    if (direct && N >= GS_VW && N <= 3 * GS_VW) {
        GS_(narrow)(M, N, K, A, ars, acs, B, ldb, C, ldc, bias);
        return;
    }
    /* the packed block of B: panels in the NT layout, else the padded tail */
    GS_REAL pack[GS_KC * GS_NC] __attribute__((aligned(64)));
    for (int j0 = 0; j0 < N; j0 += GS_NC) {
        const int nc = N - j0 < GS_NC ? N - j0 : GS_NC;
        const int nfull = nc / GS_VW * GS_VW; /* whole vectors */
        const int cols = nc - nfull;          /* the partial vector */
        GS_REAL *cj = C + j0;
        for (int p0 = 0; p0 < K; p0 += GS_KC) {
            const int kc = K - p0 < GS_KC ? K - p0 : GS_KC, first = p0 == 0;
            /* the bias goes on with the chains' last block */
            const GS_REAL *cbias = bias && p0 + kc == K ? bias + j0 : NULL;
            const GS_REAL *ap = A + p0 * acs;
            if (direct) {
                const GS_REAL *bp = B + (ptrdiff_t)p0 * ldb + j0;
                GS_(panel)(M, nfull, kc, ap, ars, acs, bp, ldb, cj, ldc, first, cbias);
                if (cols && nfull && K <= GS_KC) {
                    /* one whole vector ending at the last column, overlapping
                     * columns already done: they get the very same fma
                     * chains, so rewriting them changes no bit (and with a
                     * single K block nothing reads C back in between) */
                    for (int i0 = 0; i0 < M; i0 += GS_MR1)
                        GS_(micro_any)(M - i0 < GS_MR1 ? M - i0 : GS_MR1, 1, kc, ap + i0 * ars, ars,
                                       acs, bp + nc - GS_VW, ldb, cj + i0 * ldc + nc - GS_VW, ldc,
                                       first, cbias ? cbias + nc - GS_VW : NULL);
                } else if (cols) {
                    for (int p = 0; p < kc; p++)
                        for (int l = 0; l < GS_VW; l++)
                            pack[p * GS_VW + l] = l < cols ? bp[(ptrdiff_t)p * ldb + nfull + l] : 0;
                    GS_(partial)(M, cols, kc, ap, ars, acs, pack, GS_VW, cj + nfull, ldc, first,
                                 cbias ? cbias + nfull : NULL);
                }
            } else {
                /* b(p, j) = B[j*ldb + p]: pack the block transposed, width
                 * rounded up to whole vectors with zero columns */
                const int w = (nc + GS_VW - 1) / GS_VW * GS_VW;
                for (int j = 0; j < nc; j++) {
                    const GS_REAL *bj = B + (ptrdiff_t)(j0 + j) * ldb + p0;
                    for (int p = 0; p < kc; p++) pack[p * w + j] = bj[p];
                }
                for (int j = nc; j < w; j++)
                    for (int p = 0; p < kc; p++) pack[p * w + j] = 0;
                GS_(panel)(M, nfull, kc, ap, ars, acs, pack, w, cj, ldc, first, cbias);
                if (cols)
                    GS_(partial)(M, cols, kc, ap, ars, acs, pack + nfull, w, cj + nfull, ldc, first,
                                 cbias ? cbias + nfull : NULL);
            }
        }
    }
}

#undef GS_MICRO_CASE
#undef GS_MR
#undef GS_MR1
#undef GS_NV
#undef GS_KC
#undef GS_NC
