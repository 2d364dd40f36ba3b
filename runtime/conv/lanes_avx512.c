/* lanes_avx512.c — the AVX-512F forms of lanes.c: packing blocks of
 * examples into the lanes and back by 16×16 transposes in registers, and
 * the input gradient's register tile.
 *
 * The input gradient's tile: for one input channel ci and tap row u, tap
 * columns v0 … v0+VB−1 × dy positions c0 … c0+PB−1 of one dy row (at most
 * 5 × 5 accumulators).  Each output channel o loads the PB dy vectors once
 * and broadcasts VB weights: VB·PB multiply-adds for VB + PB loads.  Then
 * the accumulators that land on the same dx position (c + v equal) are
 * added and the VB + PB − 1 sums added onto dx's row — taps landing on
 * padding are dropped there, dy rows whose taps land on padding rows are
 * never read.  Compiled with a target attribute, as conv_avx512.c. */
#include "conv.h"

#if KILN_CONV_X86
#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f")))
#define TILE   static inline __attribute__((always_inline)) TARGET
#define UNROLL _Pragma("GCC unroll 16")

/* r[k] row k of a 16×16 block in, column k out. */
TILE void transpose16(__m512 r[16])
{
    __m512 t[16];
    UNROLL for (int i = 0; i < 8; i++) {   /* pairs of rows: per 128-bit lane, 2 × 2 */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    UNROLL for (int i = 0; i < 4; i++) {   /* r[4i + k], 128-bit lane L: column 4L + k of rows 4i … 4i + 3 */
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i]), _mm512_castps_pd(t[4 * i + 2])));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i]), _mm512_castps_pd(t[4 * i + 2])));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
    }
    UNROLL for (int i = 0; i < 2; i++)     /* t[8i + k]: columns k, 8 + k; t[8i + 4 + k]: 4 + k, 12 + k */
        UNROLL for (int k = 0; k < 4; k++) {
            t[8 * i + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0x88);
            t[8 * i + 4 + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0xdd);
        }
    UNROLL for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
        r[4 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0xdd);
    }
}

TARGET void lanes_pack_avx512(const float *src, size_t stride, int m, size_t count, float *dst)
{
    size_t q = 0;
    for (; q + 16 <= count; q += 16) {
        __m512 r[16];
        UNROLL for (int j = 0; j < 16; j++)
            r[j] = j < m ? _mm512_loadu_ps(src + (size_t)j * stride + q) : _mm512_setzero_ps();
        transpose16(r);
        UNROLL for (int k = 0; k < 16; k++) _mm512_storeu_ps(dst + (q + k) * 16, r[k]);
    }
    for (; q < count; q++)
        for (int j = 0; j < 16; j++) dst[q * 16 + j] = j < m ? src[(size_t)j * stride + q] : 0.0f;
}

TARGET void lanes_unpack_avx512(const float *src, size_t count, int m, float *dst, size_t stride, int add)
{
    size_t q = 0;
    for (; q + 16 <= count; q += 16) {
        __m512 r[16];
        UNROLL for (int k = 0; k < 16; k++) r[k] = _mm512_loadu_ps(src + (q + k) * 16);
        transpose16(r);
        for (int j = 0; j < m; j++) {
            float *d = dst + (size_t)j * stride + q;
            _mm512_storeu_ps(d, add ? _mm512_add_ps(_mm512_loadu_ps(d), r[j]) : r[j]);
        }
    }
    for (; q < count; q++)
        for (int j = 0; j < m; j++) {
            float *d = dst + (size_t)j * stride + q;
            *d = add ? *d + src[q * 16 + j] : src[q * 16 + j];
        }
}

/* One row segment of len ≤ 16 elements of the 16 examples (zeros from
 * example m on), as 16 vectors of the 16 examples each. */
TILE void segment(const float *src, const uint8_t *bytes, float scale, size_t stride, int m, size_t at, int len,
                  __m512 r[16])
{
    const __mmask16 mask = (__mmask16)((1u << len) - 1);
    UNROLL for (int j = 0; j < 16; j++) {
        if (j >= m) r[j] = _mm512_setzero_ps();
        else if (bytes) {
            uint8_t b[16] = { 0 };
            memcpy(b, bytes + (size_t)j * stride + at, (size_t)len);
            __m512i i32 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b));
            r[j] = _mm512_mul_ps(_mm512_cvtepi32_ps(i32), _mm512_set1_ps(scale));
        } else
            r[j] = _mm512_maskz_loadu_ps(mask, src + (size_t)j * stride + at);
    }
    transpose16(r);
}

TARGET void lanes_pack_planes_avx512(const float *src, const uint8_t *bytes, float scale, size_t stride, int m,
                                     int planes, int h, int w, int ph, int pw, float *dst)
{
    const int hp = h + 2 * ph, wp = w + 2 * pw;
    const __m512 zero = _mm512_setzero_ps();
    for (int p = 0; p < planes; p++)
        for (int r = 0; r < hp; r++) {
            float *d = dst + ((size_t)p * hp + r) * wp * 16;
            if (r < ph || r >= ph + h) {   /* a border row */
                for (int c = 0; c < wp; c++) _mm512_storeu_ps(d + c * 16, zero);
                continue;
            }
            for (int c = 0; c < pw; c++) {
                _mm512_storeu_ps(d + c * 16, zero);
                _mm512_storeu_ps(d + (pw + w + c) * 16, zero);
            }
            for (int c = 0; c < w; c += 16) {
                const int len = w - c < 16 ? w - c : 16;
                __m512 v[16];
                segment(src, bytes, scale, stride, m, ((size_t)p * h + r - ph) * w + c, len, v);
                for (int k = 0; k < len; k++) _mm512_storeu_ps(d + (pw + c + k) * 16, v[k]);
            }
        }
}

enum { GI_VB = 5, GI_PB = 5 };

TILE void gi_tile(const kiln_lanes_conv *op, int ci, int u, int v0, const int VB, int r, int c0, const int PB,
                  const float *dy, float *dx)
{
    __m512 acc[GI_VB][GI_PB];
    UNROLL for (int a = 0; a < VB; a++)
        UNROLL for (int b = 0; b < PB; b++) acc[a][b] = _mm512_setzero_ps();
    const size_t w_out = (size_t)op->ins * op->kh * op->kw, dplane = (size_t)op->oh * op->ow * 16;
    const float *wt = op->weight + ((size_t)ci * op->kh + u) * op->kw + v0;
    const float *g = dy + ((size_t)r * op->ow + c0) * 16;
    for (int o = 0; o < op->outs; o++, wt += w_out, g += dplane) {
        __m512 d[GI_PB];
        UNROLL for (int b = 0; b < PB; b++) d[b] = _mm512_loadu_ps(g + 16 * b);
        UNROLL for (int a = 0; a < VB; a++) {
            const __m512 wa = _mm512_set1_ps(wt[a]);
            UNROLL for (int b = 0; b < PB; b++) acc[a][b] = _mm512_fmadd_ps(wa, d[b], acc[a][b]);
        }
    }
    float *row = dx + ((size_t)ci * op->h + (r + u - op->ph)) * op->w * 16;
    UNROLL for (int t = 0; t < VB + PB - 1; t++) {   /* dx position c0 + v0 + t − pw: the (a, b) with a + b = t */
        const int C = c0 + v0 + t - op->pw;
        if (C < 0 || C >= op->w) continue;
        __m512 sum = _mm512_setzero_ps();
        UNROLL for (int a = 0; a < VB; a++)
            if (t - a >= 0 && t - a < PB) sum = _mm512_add_ps(sum, acc[a][t - a]);
        float *at = row + (size_t)C * 16;
        _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), sum));
    }
}

typedef void (*gi_fn)(const kiln_lanes_conv *op, int ci, int u, int v0, int r, int c0, const float *dy, float *dx);
#define GI(VB, PB)                                                                                        \
    TARGET static void gi_##VB##_##PB(const kiln_lanes_conv *op, int ci, int u, int v0, int r, int c0,    \
                                      const float *dy, float *dx)                                         \
    { gi_tile(op, ci, u, v0, VB, r, c0, PB, dy, dx); }
#define GI_ROW(VB) GI(VB, 1) GI(VB, 2) GI(VB, 3) GI(VB, 4) GI(VB, 5)
GI_ROW(1) GI_ROW(2) GI_ROW(3) GI_ROW(4) GI_ROW(5)
#define GI_ENTRY(VB) { gi_##VB##_1, gi_##VB##_2, gi_##VB##_3, gi_##VB##_4, gi_##VB##_5 }
static const gi_fn gi_table[GI_VB][GI_PB] = { GI_ENTRY(1), GI_ENTRY(2), GI_ENTRY(3), GI_ENTRY(4), GI_ENTRY(5) };

void conv_grad_input_lanes_avx512(const kiln_lanes_conv *op, const float *dy, float *dx)
{
    memset(dx, 0, (size_t)op->ins * op->h * op->w * 16 * sizeof *dx);
    for (int ci = 0; ci < op->ins; ci++)
        for (int u = 0; u < op->kh; u++)
            for (int r = 0; r < op->oh; r++) {
                if (r + u - op->ph < 0 || r + u - op->ph >= op->h) continue;   /* the taps land on padding */
                for (int v = 0, vb; v < op->kw; v += vb) {
                    vb = conv_block(op->kw - v, GI_VB);
                    for (int c = 0, pb; c < op->ow; c += pb) {
                        pb = conv_block(op->ow - c, GI_PB);
                        gi_table[vb - 1][pb - 1](op, ci, u, v, r, c, dy, dx);
                    }
                }
            }
}

/* The forward tile: output channels o0 … o0+OB−1 × positions c0 …
 * c0+PB−1 of output row r (at most 25 accumulators, started at the bias),
 * down every tap: PB loads and OB broadcasts for OB·PB multiply-adds. */
enum { FW_OB = 6, FW_PB = 5, FW_ACC = 25 };

TILE void fw_tile(const kiln_lanes_conv *op, const float *x, int o0, const int OB, int r, int c0, const int PB,
                  float *y)
{
    __m512 acc[FW_OB][FW_PB];
    UNROLL for (int a = 0; a < OB; a++) {
        const __m512 b0 = op->bias ? _mm512_set1_ps(op->bias[o0 + a]) : _mm512_setzero_ps();
        UNROLL for (int b = 0; b < PB; b++) acc[a][b] = b0;
    }
    const size_t hp = (size_t)op->h + 2 * op->ph, wp = (size_t)op->w + 2 * op->pw;
    const size_t w_out = (size_t)op->ins * op->kh * op->kw;
    for (int ci = 0; ci < op->ins; ci++)
        for (int u = 0; u < op->kh; u++) {
            const float *s = x + ((ci * hp + r + u) * wp + c0) * 16;
            const float *wt = op->weight + o0 * w_out + ((size_t)ci * op->kh + u) * op->kw;
            for (int v = 0; v < op->kw; v++, s += 16) {
                __m512 xs[FW_PB];
                UNROLL for (int b = 0; b < PB; b++) xs[b] = _mm512_loadu_ps(s + 16 * b);
                UNROLL for (int a = 0; a < OB; a++) {
                    const __m512 wa = _mm512_set1_ps(wt[a * w_out + v]);
                    UNROLL for (int b = 0; b < PB; b++) acc[a][b] = _mm512_fmadd_ps(wa, xs[b], acc[a][b]);
                }
            }
        }
    const size_t plane = (size_t)op->oh * op->ow * 16;
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < PB; b++)
            _mm512_storeu_ps(y + (o0 + a) * plane + ((size_t)r * op->ow + c0 + b) * 16, acc[a][b]);
}

typedef void (*fw_fn)(const kiln_lanes_conv *op, const float *x, int o0, int r, int c0, float *y);
#define FW(OB, PB)                                                                                  \
    TARGET static void fw_##OB##_##PB(const kiln_lanes_conv *op, const float *x, int o0, int r,    \
                                      int c0, float *y)                                             \
    { fw_tile(op, x, o0, OB, r, c0, PB, y); }
#define FW_ROW(OB) FW(OB, 1) FW(OB, 2) FW(OB, 3) FW(OB, 4) FW(OB, 5)
FW_ROW(1) FW_ROW(2) FW_ROW(3) FW_ROW(4) FW_ROW(5) FW_ROW(6)
#define FW_ENTRY(OB) { fw_##OB##_1, fw_##OB##_2, fw_##OB##_3, fw_##OB##_4, fw_##OB##_5 }
static const fw_fn fw_table[FW_OB][FW_PB] = {
    FW_ENTRY(1), FW_ENTRY(2), FW_ENTRY(3), FW_ENTRY(4), FW_ENTRY(5), FW_ENTRY(6),
};

/* A tile's cost per tap in issue slots: its multiply-adds and half its
 * loads and broadcasts (two loads issue with each pair of FMAs). */
static double fw_cost(int outs, int ow, int max_pb)
{
    double cost = 0;
    for (int c = 0, pb; c < ow; c += pb) {
        pb = conv_block(ow - c, max_pb);
        const int max_ob = FW_ACC / pb < FW_OB ? FW_ACC / pb : FW_OB;
        for (int o = 0, ob; o < outs; o += ob) {
            ob = conv_block(outs - o, max_ob);
            cost += ob * pb + 0.5 * (ob + pb);
        }
    }
    return cost;
}

void conv_lanes_avx512(const kiln_lanes_conv *op, const float *x, float *y)
{
    const int max_pb = fw_cost(op->outs, op->ow, 4) <= fw_cost(op->outs, op->ow, 5) ? 4 : 5;
    for (int c = 0, pb; c < op->ow; c += pb) {
        pb = conv_block(op->ow - c, max_pb);
        const int max_ob = FW_ACC / pb < FW_OB ? FW_ACC / pb : FW_OB;
        for (int o = 0, ob; o < op->outs; o += ob) {
            ob = conv_block(op->outs - o, max_ob);
            for (int r = 0; r < op->oh; r++) fw_table[ob - 1][pb - 1](op, x, o, r, c, y);
        }
    }
}

/* The weight gradient's tile: output channels o0 … o0+OB−1 × tap columns
 * v0 … v0+VB−1 of input channel ci and tap row u (at most 25
 * accumulators), down every dy position: OB + VB loads for OB·VB
 * multiply-adds.  The lanes are added at the end, in a fixed order. */
enum { WG_OB = 6, WG_VB = 5, WG_ACC = 25 };

TILE void wg_tile(const kiln_lanes_conv *op, const float *x, const float *dy, int o0, const int OB, int ci, int u,
                  int v0, const int VB, float *dw)
{
    __m512 acc[WG_OB][WG_VB];
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < VB; b++) acc[a][b] = _mm512_setzero_ps();
    const size_t hp = (size_t)op->h + 2 * op->ph, wp = (size_t)op->w + 2 * op->pw;
    const size_t dplane = (size_t)op->oh * op->ow * 16;
    for (int r = 0; r < op->oh; r++) {
        const float *s = x + ((ci * hp + r + u) * wp + v0) * 16;
        const float *g = dy + o0 * dplane + (size_t)r * op->ow * 16;
        for (int c = 0; c < op->ow; c++, s += 16, g += 16) {
            __m512 xs[WG_VB];
            UNROLL for (int b = 0; b < VB; b++) xs[b] = _mm512_loadu_ps(s + 16 * b);
            UNROLL for (int a = 0; a < OB; a++) {
                const __m512 d = _mm512_loadu_ps(g + a * dplane);
                UNROLL for (int b = 0; b < VB; b++) acc[a][b] = _mm512_fmadd_ps(d, xs[b], acc[a][b]);
            }
        }
    }
    UNROLL for (int a = 0; a < OB; a++)
        UNROLL for (int b = 0; b < VB; b++)
            dw[(((size_t)(o0 + a) * op->ins + ci) * op->kh + u) * op->kw + v0 + b] = _mm512_reduce_add_ps(acc[a][b]);
}

typedef void (*wg_fn)(const kiln_lanes_conv *op, const float *x, const float *dy, int o0, int ci, int u, int v0,
                      float *dw);
#define WG(OB, VB)                                                                                          \
    TARGET static void wg_##OB##_##VB(const kiln_lanes_conv *op, const float *x, const float *dy, int o0,  \
                                      int ci, int u, int v0, float *dw)                                     \
    { wg_tile(op, x, dy, o0, OB, ci, u, v0, VB, dw); }
#define WG_ROW(OB) WG(OB, 1) WG(OB, 2) WG(OB, 3) WG(OB, 4) WG(OB, 5)
WG_ROW(1) WG_ROW(2) WG_ROW(3) WG_ROW(4) WG_ROW(5) WG_ROW(6)
#define WG_ENTRY(OB) { wg_##OB##_1, wg_##OB##_2, wg_##OB##_3, wg_##OB##_4, wg_##OB##_5 }
static const wg_fn wg_table[WG_OB][WG_VB] = {
    WG_ENTRY(1), WG_ENTRY(2), WG_ENTRY(3), WG_ENTRY(4), WG_ENTRY(5), WG_ENTRY(6),
};

TARGET void conv_weight_grad_lanes_avx512(const kiln_lanes_conv *op, const float *x, const float *dy, float *dw,
                                          float *db)
{
    for (int v = 0, vb; v < op->kw; v += vb) {
        vb = conv_block(op->kw - v, WG_VB);
        const int max_ob = WG_ACC / vb < WG_OB ? WG_ACC / vb : WG_OB;
        for (int o = 0, ob; o < op->outs; o += ob) {
            ob = conv_block(op->outs - o, max_ob);
            for (int ci = 0; ci < op->ins; ci++)
                for (int u = 0; u < op->kh; u++) wg_table[ob - 1][vb - 1](op, x, dy, o, ci, u, v, dw);
        }
    }
    if (db) {
        const size_t dplane = (size_t)op->oh * op->ow * 16;
        for (int o = 0; o < op->outs; o++) {
            __m512 sum = _mm512_setzero_ps();
            for (size_t q = 0; q < dplane; q += 16) sum = _mm512_add_ps(sum, _mm512_loadu_ps(dy + o * dplane + q));
            db[o] = _mm512_reduce_add_ps(sum);
        }
    }
}
#endif
