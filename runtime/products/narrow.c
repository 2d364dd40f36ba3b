/* narrow.c — kiln_gemm's narrow path (products.h): products with at most 16
 * columns (a layer with few outputs, such as a classifier's last over a
 * few classes) and float A, when the AVX-512 kernel is picked.  C is cut
 * into blocks of 16 rows, each a 16 × 16 masked tile computed over all of
 * k at once, reading A in place (A is used once here: packing it would
 * cost as much as the product) against op(B) packed k × 16 (pack.c).  A
 * team splits the blocks by rows (gemm_narrow); when A is a hidden layer
 * kept in column panels, share.c splits k instead and sums the panels by a
 * fixed tree, a leaf at a time through gemm_narrow_rows.  Compiled with
 * target attributes, so it builds whatever -march the runtime is compiled
 * with. */
#include "products.h"

#if KILN_X86
/* ---- AVX-512F narrow kernels (16 rows × ≤ 16 columns) --------------------------
 * C(i0.., 0..n) = alpha·acc + beta·C over all of k at once, with b the k × 16
 * zero-padded packed op(B) and A read where it lies (16 full rows): each
 * element is one chain of fused multiply-adds, A(i, p)·b_p[j] for p in
 * order.  narrow_n keeps one zmm per row (acc_i += A(i, p)·b_p); narrow_t,
 * whose A has the 16 rows side by side, one zmm per column.  Masked stores
 * keep columns ≥ n untouched. */
/* One row of C: ci[j] = alpha·acc[j] + beta·ci[j] for the columns in mask. */
__attribute__((always_inline, target("avx512f")))
static inline void narrow_store_row(float *ci, __m512 acc, __mmask16 mask, __m512 va, __m512 vb,
                                    float beta)
{
    __m512 v = _mm512_mul_ps(va, acc);
    if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask, ci)));
    _mm512_mask_storeu_ps(ci, mask, v);
}
#define NARROW_STORE(i) narrow_store_row(c + (size_t)(i) * ldc, acc##i, mask, va, vb, beta);
#define NARROW_ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
        X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define NARROW_DECL(i) __m512 acc##i = _mm512_setzero_ps();

/* A(i, p) = a[p*lda + i]: each step's 16 consecutive floats are the 16 rows,
 * so here the rows lie in the lanes instead: one load of A a step, and one
 * accumulator a column, col_j += A(·, p) · b_p[j], for the N columns that
 * exist (the other way round, only N of a row's 16 lanes would be used).
 * Each element is the same chain of fused multiply-adds in the same order,
 * so C is bitwise what one zmm per row gives.  At the end the N × 16 sums
 * are turned back into rows and stored as above. */
__attribute__((always_inline, target("avx512f")))
static inline void narrow_t_cols(const int N, int k, const float *a, size_t lda, const float *b,
                                 float *c, int ldc, float alpha, float beta)
{
    __m512 col[NARROW_N];
    for (int j = 0; j < N; j++) col[j] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++, a += lda, b += NARROW_N) {
        const __m512 ap = _mm512_loadu_ps(a);
        for (int j = 0; j < N; j++) col[j] = _mm512_fmadd_ps(ap, _mm512_set1_ps(b[j]), col[j]);
    }
    _Alignas(64) float sums[NARROW_N][NARROW_MR];   /* sums[j][i] = C(i, j) before alpha, beta */
    for (int j = 0; j < N; j++) _mm512_store_ps(sums[j], col[j]);
    const __mmask16 mask = (__mmask16)((1u << N) - 1u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < NARROW_MR; i++) {
        _Alignas(64) float row[NARROW_N] = {0};
        for (int j = 0; j < N; j++) row[j] = sums[j][i];
        narrow_store_row(c + (size_t)i * ldc, _mm512_load_ps(row), mask, va, vb, beta);
    }
}

/* One instance of narrow_t_cols per column count, so that its accumulators
 * are registers. */
#define NARROW_T_N(N) \
    __attribute__((target("avx512f"))) \
    static void narrow_t_##N(int k, const float *a, size_t lda, const float *b, float *c, int ldc, \
                             float alpha, float beta) \
    { narrow_t_cols(N, k, a, lda, b, c, ldc, alpha, beta); }
NARROW_T_N(1) NARROW_T_N(2) NARROW_T_N(3) NARROW_T_N(4) NARROW_T_N(5) NARROW_T_N(6)
NARROW_T_N(7) NARROW_T_N(8) NARROW_T_N(9) NARROW_T_N(10) NARROW_T_N(11) NARROW_T_N(12)
NARROW_T_N(13) NARROW_T_N(14) NARROW_T_N(15) NARROW_T_N(16)
#undef NARROW_T_N

static void narrow_t(int k, const float *a, size_t lda, const float *b,
                     float *c, int ldc, int n, float alpha, float beta)
{
    typedef void (*narrow_t_fn)(int, const float *, size_t, const float *, float *, int, float,
                                float);
    static const narrow_t_fn by_n[NARROW_N + 1] = {
        NULL, narrow_t_1, narrow_t_2, narrow_t_3, narrow_t_4, narrow_t_5, narrow_t_6,
        narrow_t_7, narrow_t_8, narrow_t_9, narrow_t_10, narrow_t_11, narrow_t_12,
        narrow_t_13, narrow_t_14, narrow_t_15, narrow_t_16,
    };
    by_n[n](k, a, lda, b, c, ldc, alpha, beta);
}

/* A(i, p) = a[i*lda + p]: 16 row streams, addressed from four group
 * pointers g + {0, 1, 2, 3}·lda.  A is often rows whose columns other cores
 * just wrote (a hidden layer's activations), so each row's line NARROW_AHEAD
 * floats on is fetched ahead.  With A in column panels (pstride ≠ 0, lda =
 * KILN_PANEL), k runs through the panels one after another: the same sums
 * in the same order, from a new base at each panel. */
enum { NARROW_AHEAD = 128 };
__attribute__((target("avx512f")))
static void narrow_n(int k, const float *a, size_t lda, size_t pstride, const float *b,
                     float *c, int ldc, int n, float alpha, float beta)
{
    NARROW_ALL(NARROW_DECL)
    const float *g0 = a, *g1 = a + 4 * lda, *g2 = a + 8 * lda, *g3 = a + 12 * lda;
    const size_t l2 = 2 * lda, l3 = 3 * lda;
    for (int p = 0; p < k; p++, g0++, g1++, g2++, g3++, b += 16) {
        if (pstride && p % KILN_PANEL == 0) {   /* a new panel; fetch the next one's rows */
            const float *base = a + (size_t)(p / KILN_PANEL) * pstride;
            g0 = base, g1 = base + 4 * lda, g2 = base + 8 * lda, g3 = base + 12 * lda;
            if (p + KILN_PANEL < k)
                for (int i = 0; i < 16; i++) {
                    _mm_prefetch((const char *)(base + pstride + (size_t)i * lda), _MM_HINT_T0);
                    _mm_prefetch((const char *)(base + pstride + (size_t)i * lda + 16), _MM_HINT_T0);
                }
        } else if (!pstride && (p & 15) == 0) {   /* each row's line NARROW_AHEAD on; near the end, the next rows' */
            const float *ahead = p + NARROW_AHEAD < k ? a + p + NARROW_AHEAD
                                                      : a + 16 * lda + (p + NARROW_AHEAD - k);
            for (int i = 0; i < 16; i++)
                _mm_prefetch((const char *)(ahead + (size_t)i * lda), _MM_HINT_T0);
        }
        __m512 bp = _mm512_load_ps(b);
#define NN_STEP(i, g, o) acc##i = _mm512_fmadd_ps(_mm512_set1_ps(g[o]), bp, acc##i);
        NN_STEP(0, g0, 0) NN_STEP(1, g0, lda) NN_STEP(2, g0, l2) NN_STEP(3, g0, l3)
        NN_STEP(4, g1, 0) NN_STEP(5, g1, lda) NN_STEP(6, g1, l2) NN_STEP(7, g1, l3)
        NN_STEP(8, g2, 0) NN_STEP(9, g2, lda) NN_STEP(10, g2, l2) NN_STEP(11, g2, l3)
        NN_STEP(12, g3, 0) NN_STEP(13, g3, lda) NN_STEP(14, g3, l2) NN_STEP(15, g3, l3)
#undef NN_STEP
    }
    const __mmask16 mask = (__mmask16)((1u << n) - 1u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    NARROW_ALL(NARROW_STORE)
}
#undef NARROW_STORE
#undef NARROW_ALL
#undef NARROW_DECL

/* Row blocks [b0, b1) of NARROW_MR rows; bp is op(B) packed k × 16;
 * scratch (16·k floats) is this thread's, for a last partial block. */
void gemm_narrow_rows(const kiln_gemm_op *op, int b0, int b1, const float *bp, float *scratch)
{
    const int m = op->m, n = op->n, k = op->k, ldc = op->ldc;
    for (int blk = b0; blk < b1; blk++) {
        int i0 = blk * NARROW_MR, mr = m - i0 < NARROW_MR ? m - i0 : NARROW_MR;
        float *c = c_at(op, i0, 0);
        const size_t ps = op->a_panel_stride;
        if (mr == NARROW_MR) {   /* (16 rows of op(A) in one panel: 16 divides KILN_PANEL) */
            if (op->transa)
                narrow_t(k, op->a + at(0, ps, 0, (size_t)i0), (size_t)op->lda, bp, c, ldc, n,
                         op->alpha, op->beta);
            else
                narrow_n(k, op->a + at((size_t)op->lda, ps, (size_t)i0, 0), (size_t)op->lda, ps,
                         bp, c, ldc, n, op->alpha, op->beta);
        } else {  /* last rows: copy them, zero-padded, then as a full block */
            _Alignas(64) float t[NARROW_MR * NARROW_N];
            a_src src = {op->a, NULL, (size_t)op->lda, op->transa != KILN_NOTRANS, 1.0f, ps};
            gemm_pack_a_16(&src, i0, mr, 0, k, scratch);
            narrow_t(k, scratch, NARROW_MR, bp, t, NARROW_N, NARROW_N, op->alpha, 0.0f);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < n; j++) {
                    float *cij = c + (size_t)i * ldc + j;
                    float v = t[i * NARROW_N + j];   /* alpha·acc, as in the kernel */
                    *cij = op->beta == 0.0f ? v : v + op->beta * *cij;
                }
        }
        if (op->epilogue) op->epilogue(op, i0, 0, mr, n, c, ldc);
    }
}

/* Thread me of w takes a contiguous range of the row blocks (no more
 * threads than blocks), with op(B) packed in its own slot. */
void gemm_narrow(const kiln_gemm_op *op, int me, int w)
{
    const int m = op->m, k = op->k;
    int blocks = (m + NARROW_MR - 1) / NARROW_MR;
    if (w > blocks) w = blocks;
    if (me >= w) return;
    size_t packed = round16((size_t)k * NARROW_MR);   /* B, then scratch for a last block */
    float *bp = gemm_slot(2 * packed);
    gemm_pack_b_narrow(op, bp);
    gemm_narrow_rows(op, (int)((long)blocks * me / w), (int)((long)blocks * (me + 1) / w), bp,
                     bp + packed);
}
#endif
