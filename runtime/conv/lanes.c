/* lanes.c — blocks of up to 16 examples in the vector lanes (kiln_rt.h):
 * packing them there and back, and the input gradient of a stride-1
 * convolution on them; the AVX-512F forms are in lanes_avx512.c, the
 * portable C forms here.
 *
 * Why lanes: with one example per lane, a vector is one position of every
 * example, so no lane is spent on a padding position or the columns past a
 * row's end, and a tap that falls on padding is skipped rather than
 * multiplied by zero.  The input gradient gains most: over padded planes
 * (conv_planes.c) dy is padded by kernel − 1 on every side, and most of
 * its multiply-adds are by zeros. */
#include "conv.h"

void kiln_lanes_pack(const float *src, size_t stride, int m, size_t count, float *dst)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { lanes_pack_avx512(src, stride, m, count, dst); return; }
#endif
    for (size_t q = 0; q < count; q++)
        for (int j = 0; j < 16; j++) dst[q * 16 + j] = j < m ? src[(size_t)j * stride + q] : 0.0f;
}

void kiln_lanes_unpack(const float *src, size_t count, int m, float *dst, size_t stride, int add)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { lanes_unpack_avx512(src, count, m, dst, stride, add); return; }
#endif
    for (int j = 0; j < m; j++) {
        float *d = dst + (size_t)j * stride;
        if (add)
            for (size_t q = 0; q < count; q++) d[q] += src[q * 16 + j];
        else
            for (size_t q = 0; q < count; q++) d[q] = src[q * 16 + j];
    }
}

/* Where element (p, r, c) of the padded planes comes from in an example,
 * or −1 on the border. */
static ptrdiff_t source_of(int p, int r, int c, int h, int w, int ph, int pw)
{
    if (r < ph || r >= ph + h || c < pw || c >= pw + w) return -1;
    return ((ptrdiff_t)p * h + r - ph) * w + c - pw;
}

void kiln_lanes_pack_planes(const float *src, size_t stride, int m, int planes, int h, int w, int ph, int pw,
                            float *dst)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { lanes_pack_planes_avx512(src, NULL, 1.0f, stride, m, planes, h, w, ph, pw, dst); return; }
#endif
    const int hp = h + 2 * ph, wp = w + 2 * pw;
    for (int p = 0; p < planes; p++)
        for (int r = 0; r < hp; r++)
            for (int c = 0; c < wp; c++) {
                const ptrdiff_t at = source_of(p, r, c, h, w, ph, pw);
                float *d = dst + (((size_t)p * hp + r) * wp + c) * 16;
                for (int j = 0; j < 16; j++) d[j] = at >= 0 && j < m ? src[(size_t)j * stride + (size_t)at] : 0.0f;
            }
}

void kiln_lanes_pack_bytes(const uint8_t *src, size_t stride, int m, int planes, int h, int w, int ph, int pw,
                           float scale, float *dst)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { lanes_pack_planes_avx512(NULL, src, scale, stride, m, planes, h, w, ph, pw, dst); return; }
#endif
    const int hp = h + 2 * ph, wp = w + 2 * pw;
    for (int p = 0; p < planes; p++)
        for (int r = 0; r < hp; r++)
            for (int c = 0; c < wp; c++) {
                const ptrdiff_t at = source_of(p, r, c, h, w, ph, pw);
                float *d = dst + (((size_t)p * hp + r) * wp + c) * 16;
                for (int j = 0; j < 16; j++)
                    d[j] = at >= 0 && j < m ? scale * (float)src[(size_t)j * stride + (size_t)at] : 0.0f;
            }
}

/* y = b + x ⋆ W, one output element at a time over the taps in order. */
static void conv_lanes_c(const kiln_lanes_conv *op, const float *x, float *y)
{
    const int hp = op->h + 2 * op->ph, wp = op->w + 2 * op->pw;
    for (int o = 0; o < op->outs; o++)
        for (int r = 0; r < op->oh; r++)
            for (int c = 0; c < op->ow; c++) {
                float *d = y + (((size_t)o * op->oh + r) * op->ow + c) * 16;
                for (int j = 0; j < 16; j++) d[j] = op->bias ? op->bias[o] : 0.0f;
                for (int ci = 0; ci < op->ins; ci++)
                    for (int u = 0; u < op->kh; u++)
                        for (int v = 0; v < op->kw; v++) {
                            const float wt = op->weight[((o * op->ins + ci) * op->kh + u) * op->kw + v];
                            const float *s = x + (((size_t)ci * hp + r + u) * wp + c + v) * 16;
                            for (int j = 0; j < 16; j++) d[j] += wt * s[j];
                        }
            }
}

void kiln_conv_lanes(const kiln_lanes_conv *op, const float *x, float *y)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { conv_lanes_avx512(op, x, y); return; }
#endif
    conv_lanes_c(op, x, y);
}

/* For each input channel ci and tap row u, each dy row r whose taps land
 * in dx (row R = r + u − ph), each dy position c and tap column v landing
 * inside (C = c + v − pw): dx(ci, R, C) += Σ_o w(o, ci, u, v) · dy(o, r, c).
 * The AVX-512F form adds in the same loop order, the taps of one (r, c)
 * summed over o first. */
static void grad_input_lanes_c(const kiln_lanes_conv *op, const float *dy, float *dx)
{
    const size_t plane = (size_t)op->h * op->w * 16, dplane = (size_t)op->oh * op->ow * 16;
    const size_t w_out = (size_t)op->ins * op->kh * op->kw;
    for (size_t p = 0; p < (size_t)op->ins * plane; p++) dx[p] = 0.0f;
    for (int ci = 0; ci < op->ins; ci++)
        for (int u = 0; u < op->kh; u++)
            for (int r = 0; r < op->oh; r++) {
                const int R = r + u - op->ph;
                if (R < 0 || R >= op->h) continue;
                float *row = dx + ci * plane + (size_t)R * op->w * 16;
                for (int c = 0; c < op->ow; c++)
                    for (int v = 0; v < op->kw; v++) {
                        const int C = c + v - op->pw;
                        if (C < 0 || C >= op->w) continue;
                        const float *wt = op->weight + ((size_t)ci * op->kh + u) * op->kw + v;
                        for (int j = 0; j < 16; j++) {
                            float sum = 0.0f;
                            for (int o = 0; o < op->outs; o++)
                                sum += wt[o * w_out] * dy[o * dplane + ((size_t)r * op->ow + c) * 16 + j];
                            row[(size_t)C * 16 + j] += sum;
                        }
                    }
            }
}

void kiln_conv_grad_input_lanes(const kiln_lanes_conv *op, const float *dy, float *dx)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { conv_grad_input_lanes_avx512(op, dy, dx); return; }
#endif
    grad_input_lanes_c(op, dy, dx);
}

static void weight_grad_lanes_c(const kiln_lanes_conv *op, const float *x, const float *dy, float *dw, float *db)
{
    const int hp = op->h + 2 * op->ph, wp = op->w + 2 * op->pw;
    const size_t dplane = (size_t)op->oh * op->ow * 16;
    for (int o = 0; o < op->outs; o++) {
        const float *g = dy + o * dplane;
        for (int ci = 0; ci < op->ins; ci++)
            for (int u = 0; u < op->kh; u++)
                for (int v = 0; v < op->kw; v++) {
                    float sum = 0.0f;
                    for (int r = 0; r < op->oh; r++)
                        for (int c = 0; c < op->ow; c++) {
                            const float *s = x + (((size_t)ci * hp + r + u) * wp + c + v) * 16;
                            const float *d = g + ((size_t)r * op->ow + c) * 16;
                            for (int j = 0; j < 16; j++) sum += d[j] * s[j];
                        }
                    dw[((o * op->ins + ci) * op->kh + u) * op->kw + v] = sum;
                }
        if (db) {
            float sum = 0.0f;
            for (size_t q = 0; q < dplane; q++) sum += g[q];
            db[o] = sum;
        }
    }
}

void kiln_conv_weight_grad_lanes(const kiln_lanes_conv *op, const float *x, const float *dy, float *dw, float *db)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { conv_weight_grad_lanes_avx512(op, x, dy, dw, db); return; }
#endif
    weight_grad_lanes_c(op, x, dy, dw, db);
}
