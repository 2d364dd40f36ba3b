/* conv_avx512.c — the AVX-512F kernels of the direct convolution (conv.h).
 *
 * Forward (kiln_conv_planes): a register tile of up to 6 output channels ×
 * 4 vectors of 16 positions (24 accumulators).  Each tap loads the 4
 * source vectors once and broadcasts one weight per channel: 24 FMAs for
 * 10 loads.  The tile walks every tap (ci, u, v) in order and is stored
 * once.
 *
 * Weight gradient (kiln_conv_weight_grad): for one input channel and one
 * kernel row, a tile of up to 6 output channels × 5 taps along the row
 * (at most 24 accumulators) runs down all positions: each step loads the
 * dy vector of each channel and the source vector of each tap once.  The
 * lanes are added at the end in a fixed order.  From packed patches
 * (kiln_conv_weight_grad_rows) the same with rows of x in place of shifted
 * source vectors: 6 channels × 4 taps.
 *
 * The tiles are one always-inline function instantiated for every size, so
 * each instance keeps its accumulators in registers; a table picks the
 * instance.  Compiled with a target attribute, so it builds whatever
 * -march the runtime is compiled with. */
#include "conv.h"

#if KILN_CONV_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))
#define TILE   static inline __attribute__((always_inline)) TARGET
#define UNROLL _Pragma("GCC unroll 8")   /* the loops over a tile's rows and columns */

enum { PLANES_OB = 6, PLANES_QB = 4, GRAD_OB = 6, GRAD_VB = 5, GRAD_ACC = 24 };

TILE void planes_tile(const kiln_conv_op *op, int o0, const int OB, int q0, const int QB, float *dst,
                      size_t dst_stride)
{
    __m512 acc[PLANES_OB][PLANES_QB];
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < QB; b++) acc[a][b] = _mm512_setzero_ps();
    const float *w0 = op->w + o0 * op->w_out;
    for (int ci = 0; ci < op->ins; ci++) {
        const float *s0 = op->src + (size_t)ci * op->src_stride + q0;
        for (int u = 0; u < op->kh; u++) {
            const float *s = s0 + (size_t)u * op->wp, *wu = w0 + ci * op->w_in + u * op->w_row;
            for (int v = 0; v < op->kw; v++) {
                __m512 x[PLANES_QB];
                UNROLL for (int b = 0; b < QB; b++) x[b] = _mm512_loadu_ps(s + v + 16 * b);
                const float *wv = wu + v * op->w_col;
                UNROLL for (int a = 0; a < OB; a++) {
                    __m512 wa = _mm512_set1_ps(wv[a * op->w_out]);
                    UNROLL for (int b = 0; b < QB; b++) acc[a][b] = _mm512_fmadd_ps(wa, x[b], acc[a][b]);
                }
            }
        }
    }
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < QB; b++) _mm512_storeu_ps(dst + (size_t)(o0 + a) * dst_stride + q0 + 16 * b, acc[a][b]);
}

typedef void (*planes_fn)(const kiln_conv_op *op, int o0, int q0, float *dst, size_t dst_stride);
#define PLANES(OB, QB)                                                                              \
    TARGET static void planes_##OB##_##QB(const kiln_conv_op *op, int o0, int q0, float *dst,       \
                                          size_t dst_stride)                                        \
    { planes_tile(op, o0, OB, q0, QB, dst, dst_stride); }
#define PLANES_ROW(OB) PLANES(OB, 1) PLANES(OB, 2) PLANES(OB, 3) PLANES(OB, 4)
PLANES_ROW(1) PLANES_ROW(2) PLANES_ROW(3) PLANES_ROW(4) PLANES_ROW(5) PLANES_ROW(6)
#define PLANES_ENTRY(OB) { planes_##OB##_1, planes_##OB##_2, planes_##OB##_3, planes_##OB##_4 }
static const planes_fn planes_table[PLANES_OB][PLANES_QB] = {
    PLANES_ENTRY(1), PLANES_ENTRY(2), PLANES_ENTRY(3), PLANES_ENTRY(4), PLANES_ENTRY(5), PLANES_ENTRY(6),
};

void conv_planes_avx512(const kiln_conv_op *op, float *dst, size_t dst_stride)
{
    int nv = (op->nq + 15) / 16;
    for (int q = 0; q < nv; q += PLANES_QB) {
        int qb = nv - q < PLANES_QB ? nv - q : PLANES_QB;
        for (int o = 0, ob; o < op->outs; o += ob) {
            ob = conv_block(op->outs - o, PLANES_OB);
            planes_table[ob - 1][qb - 1](op, o, 16 * q, dst, dst_stride);
        }
    }
}

TILE void grad_tile(const kiln_conv_op *op, int o0, const int OB, int ci, int u, int v0, const int VB,
                    const float *dy, size_t dy_stride)
{
    __m512 acc[GRAD_OB][GRAD_VB];
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < VB; b++) acc[a][b] = _mm512_setzero_ps();
    const float *s = op->src + (size_t)ci * op->src_stride + (size_t)u * op->wp + v0;
    const float *g = dy + (size_t)o0 * dy_stride;
    int nq = (op->nq + 15) / 16 * 16;
    for (int q = 0; q < nq; q += 16) {
        __m512 x[GRAD_VB];
        UNROLL for (int b = 0; b < VB; b++) x[b] = _mm512_loadu_ps(s + q + b);
        UNROLL for (int a = 0; a < OB; a++) {
            __m512 d = _mm512_loadu_ps(g + (size_t)a * dy_stride + q);
            UNROLL for (int b = 0; b < VB; b++) acc[a][b] = _mm512_fmadd_ps(d, x[b], acc[a][b]);
        }
    }
    float *dw = (float *)op->w;
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < VB; b++) dw[conv_w_at(op, o0 + a, ci, u, v0 + b)] = _mm512_reduce_add_ps(acc[a][b]);
}

typedef void (*grad_fn)(const kiln_conv_op *op, int o0, int ci, int u, int v0, const float *dy, size_t dy_stride);
#define GRAD(OB, VB)                                                                                 \
    TARGET static void grad_##OB##_##VB(const kiln_conv_op *op, int o0, int ci, int u, int v0,       \
                                        const float *dy, size_t dy_stride)                           \
    { grad_tile(op, o0, OB, ci, u, v0, VB, dy, dy_stride); }
#define GRAD_ROW(OB) GRAD(OB, 1) GRAD(OB, 2) GRAD(OB, 3) GRAD(OB, 4) GRAD(OB, 5)
GRAD_ROW(1) GRAD_ROW(2) GRAD_ROW(3) GRAD_ROW(4) GRAD_ROW(5) GRAD_ROW(6)
#define GRAD_ENTRY(OB) { grad_##OB##_1, grad_##OB##_2, grad_##OB##_3, grad_##OB##_4, grad_##OB##_5 }
static const grad_fn grad_table[GRAD_OB][GRAD_VB] = {
    GRAD_ENTRY(1), GRAD_ENTRY(2), GRAD_ENTRY(3), GRAD_ENTRY(4), GRAD_ENTRY(5), GRAD_ENTRY(6),
};

/* The weight gradient from packed patches: a tile of up to 6 output
 * channels × 4 taps (rows of x), each q step loading every dy and x
 * vector once. */
enum { ROWS_OB = 6, ROWS_TB = 4 };

TILE void rows_tile(int o0, const int OB, int t0, const int TB, int nq, const float *dy, size_t dy_stride,
                    const float *x, size_t x_stride, float *dw, int taps)
{
    __m512 acc[ROWS_OB][ROWS_TB];
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < TB; b++) acc[a][b] = _mm512_setzero_ps();
    const float *g = dy + (size_t)o0 * dy_stride, *s = x + (size_t)t0 * x_stride;
    for (int q = 0; q < nq; q += 16) {
        __m512 xs[ROWS_TB];
        UNROLL for (int b = 0; b < TB; b++) xs[b] = _mm512_loadu_ps(s + (size_t)b * x_stride + q);
        UNROLL for (int a = 0; a < OB; a++) {
            __m512 d = _mm512_loadu_ps(g + (size_t)a * dy_stride + q);
            UNROLL for (int b = 0; b < TB; b++) acc[a][b] = _mm512_fmadd_ps(d, xs[b], acc[a][b]);
        }
    }
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < TB; b++) dw[(size_t)(o0 + a) * taps + t0 + b] = _mm512_reduce_add_ps(acc[a][b]);
}

typedef void (*rows_fn)(int o0, int t0, int nq, const float *dy, size_t dy_stride, const float *x, size_t x_stride,
                        float *dw, int taps);
#define ROWS(OB, TB)                                                                                  \
    TARGET static void rows_##OB##_##TB(int o0, int t0, int nq, const float *dy, size_t dy_stride,    \
                                        const float *x, size_t x_stride, float *dw, int taps)         \
    { rows_tile(o0, OB, t0, TB, nq, dy, dy_stride, x, x_stride, dw, taps); }
#define ROWS_ROW(OB) ROWS(OB, 1) ROWS(OB, 2) ROWS(OB, 3) ROWS(OB, 4)
ROWS_ROW(1) ROWS_ROW(2) ROWS_ROW(3) ROWS_ROW(4) ROWS_ROW(5) ROWS_ROW(6)
#define ROWS_ENTRY(OB) { rows_##OB##_1, rows_##OB##_2, rows_##OB##_3, rows_##OB##_4 }
static const rows_fn rows_table[ROWS_OB][ROWS_TB] = {
    ROWS_ENTRY(1), ROWS_ENTRY(2), ROWS_ENTRY(3), ROWS_ENTRY(4), ROWS_ENTRY(5), ROWS_ENTRY(6),
};

TARGET static float plane_sum(const float *g, int nq)
{
    __m512 acc = _mm512_setzero_ps();
    for (int q = 0; q < nq; q += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(g + q));
    return _mm512_reduce_add_ps(acc);
}

void conv_weight_grad_avx512(const kiln_conv_op *op, const float *dy, size_t dy_stride, float *db)
{
    for (int v = 0, vb; v < op->kw; v += vb) {
        vb = conv_block(op->kw - v, GRAD_VB);
        int max_ob = GRAD_ACC / vb < GRAD_OB ? GRAD_ACC / vb : GRAD_OB;
        for (int o = 0, ob; o < op->outs; o += ob) {
            ob = conv_block(op->outs - o, max_ob);
            for (int ci = 0; ci < op->ins; ci++)
                for (int u = 0; u < op->kh; u++) grad_table[ob - 1][vb - 1](op, o, ci, u, v, dy, dy_stride);
        }
    }
    if (db)
        for (int o = 0; o < op->outs; o++) db[o] = plane_sum(dy + (size_t)o * dy_stride, (op->nq + 15) / 16 * 16);
}
#endif

#if KILN_CONV_X86
void conv_weight_grad_rows_avx512(int outs, int taps, int nq, const float *dy, size_t dy_stride, const float *x,
                                  size_t x_stride, float *dw, float *db)
{
    int nq16 = (nq + 15) / 16 * 16;
    for (int t = 0, tb; t < taps; t += tb) {
        tb = conv_block(taps - t, ROWS_TB);
        for (int o = 0, ob; o < outs; o += ob) {
            ob = conv_block(outs - o, ROWS_OB);
            rows_table[ob - 1][tb - 1](o, t, nq16, dy, dy_stride, x, x_stride, dw, taps);
        }
    }
    if (db)
        for (int o = 0; o < outs; o++) db[o] = plane_sum(dy + (size_t)o * dy_stride, nq16);
}
#endif
