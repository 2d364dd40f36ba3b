/* test_lanes.c — blocks of examples in the vector lanes (kiln_rt.h):
 * kiln_lanes_pack / kiln_lanes_unpack give back exactly what they took
 * (full blocks and short ones, element counts that end inside a 16×16
 * transpose, unpack adding), and kiln_conv_grad_input_lanes against a
 * double-precision reference computed example by example from conv2d's
 * definition: LeNet's second layer, padding (taps that land outside dx),
 * rectangular kernels, more tap columns and dy positions than a tile
 * holds, one channel; the packing of padded planes (floats and bytes), and
 * kiln_conv_lanes (forward) and kiln_conv_weight_grad_lanes the same way.  Within a bound from float
 * rounding.  Prints
 * PASS/FAIL lines; the kernel is the CPU's best unless KILN_GEMM_KERNEL=c. */
#include "kiln_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static void pack_unpack(size_t count, int m, uint64_t *seed)
{
    const size_t stride = count + 3;
    float *src = malloc(16 * stride * sizeof(float)), *lanes = malloc(count * 16 * sizeof(float));
    float *back = malloc(16 * stride * sizeof(float));
    for (size_t i = 0; i < 16 * stride; i++) src[i] = frand(seed), back[i] = 0.5f;
    kiln_lanes_pack(src, stride, m, count, lanes);
    char why[160] = "";
    for (size_t q = 0; q < count && !why[0]; q++)
        for (int j = 0; j < 16 && !why[0]; j++) {
            float want = j < m ? src[j * stride + q] : 0.0f;
            if (lanes[q * 16 + j] != want)
                snprintf(why, sizeof why, "packed element %zu of example %d: %g, not %g", q, j, lanes[q * 16 + j], want);
        }
    kiln_lanes_unpack(lanes, count, m, back, stride, 0);
    kiln_lanes_unpack(lanes, count, m, back, stride, 1);   /* added: twice the value */
    for (int j = 0; j < 16 && !why[0]; j++)
        for (size_t q = 0; q < stride && !why[0]; q++) {
            float want = j < m && q < count ? 2.0f * src[j * stride + q] : 0.5f;   /* nothing else touched */
            if (back[j * stride + q] != want)
                snprintf(why, sizeof why, "unpacked element %zu of example %d: %g, not %g", q, j, back[j * stride + q], want);
        }
    printf("%s lanes/pack-unpack-%zu-elements-%d-examples%s%s\n", why[0] ? "FAIL" : "PASS", count, m,
           why[0] ? ": " : "", why);
    free(src), free(lanes), free(back);
}

/* dx of m examples from dy, by conv2d's definition: each output (o, r, c)
 * gathered x(ci, r + u − ph, c + v − pw), so dx(ci, R, C) gets w · dy. */
static void grad_input(int ins, int outs, int h, int w, int kh, int kw, int ph, int pw, int m, uint64_t *seed)
{
    const int oh = h + 2 * ph - kh + 1, ow = w + 2 * pw - kw + 1;
    const size_t in_n = (size_t)ins * h * w, out_n = (size_t)outs * oh * ow;
    float *wt = malloc((size_t)outs * ins * kh * kw * sizeof(float));
    float *dy = malloc(16 * out_n * sizeof(float)), *dyl = malloc(16 * out_n * sizeof(float));
    float *dxl = malloc(16 * in_n * sizeof(float)), *dx = malloc(16 * in_n * sizeof(float));
    double *ref = calloc(16 * in_n, sizeof(double)), *mag = calloc(16 * in_n, sizeof(double));
    for (int i = 0; i < outs * ins * kh * kw; i++) wt[i] = frand(seed);
    for (size_t i = 0; i < 16 * out_n; i++) dy[i] = frand(seed);
    for (int j = 0; j < m; j++)
        for (int o = 0; o < outs; o++)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow; c++)
                    for (int ci = 0; ci < ins; ci++)
                        for (int u = 0; u < kh; u++)
                            for (int v = 0; v < kw; v++) {
                                int R = r + u - ph, C = c + v - pw;
                                if (R < 0 || R >= h || C < 0 || C >= w) continue;
                                double t = (double)wt[((o * ins + ci) * kh + u) * kw + v] *
                                           dy[j * out_n + ((size_t)o * oh + r) * ow + c];
                                size_t at = j * in_n + ((size_t)ci * h + R) * w + C;
                                ref[at] += t, mag[at] += fabs(t);
                            }
    kiln_lanes_pack(dy, out_n, m, out_n, dyl);
    kiln_conv_grad_input_lanes(&(const kiln_lanes_conv){ .ins = ins, .outs = outs, .h = h, .w = w, .oh = oh, .ow = ow,
                                                         .kh = kh, .kw = kw, .ph = ph, .pw = pw, .weight = wt },
                               dyl, dxl);
    kiln_lanes_unpack(dxl, in_n, m, dx, in_n, 0);
    char why[160] = "";
    for (size_t i = 0; i < (size_t)m * in_n && !why[0]; i++)
        if (fabs(dx[i] - ref[i]) > 1.2e-7 * (outs * kh * kw + 1) * mag[i] + 1e-30)
            snprintf(why, sizeof why, "example %zu element %zu: %.9g, reference %.9g", i / in_n, i % in_n, dx[i], ref[i]);
    printf("%s lanes/grad-input-%dx%d-pad-%dx%d-%d-to-%d-%dx%d-%d-examples%s%s\n", why[0] ? "FAIL" : "PASS", kh, kw, ph,
           pw, outs, ins, h, w, m, why[0] ? ": " : "", why);
    free(wt), free(dy), free(dyl), free(dxl), free(dx), free(ref), free(mag);
}

/* kiln_lanes_pack_planes / kiln_lanes_pack_bytes: every element where it
 * belongs, zeros on the border and in the lanes past m. */
static void pack_planes(int planes, int h, int w, int ph, int pw, int m, int bytes, uint64_t *seed)
{
    const int hp = h + 2 * ph, wp = w + 2 * pw;
    const size_t n = (size_t)planes * h * w, stride = n + 5;
    float *src = malloc(16 * stride * sizeof(float)), *dst = malloc((size_t)planes * hp * wp * 16 * sizeof(float));
    uint8_t *b = malloc(16 * stride);
    for (size_t i = 0; i < 16 * stride; i++) src[i] = frand(seed), b[i] = (uint8_t)(i * 37 % 256);
    if (bytes) kiln_lanes_pack_bytes(b, stride, m, planes, h, w, ph, pw, 0.5f, dst);
    else kiln_lanes_pack_planes(src, stride, m, planes, h, w, ph, pw, dst);
    char why[160] = "";
    for (int p = 0; p < planes; p++)
        for (int r = 0; r < hp; r++)
            for (int c = 0; c < wp; c++)
                for (int j = 0; j < 16 && !why[0]; j++) {
                    const int inside = r >= ph && r < ph + h && c >= pw && c < pw + w;
                    const size_t at = (size_t)j * stride + ((size_t)p * h + r - ph) * w + c - pw;
                    float want = !inside || j >= m ? 0.0f : bytes ? 0.5f * b[at] : src[at];
                    float got = dst[(((size_t)p * hp + r) * wp + c) * 16 + j];
                    if (got != want)
                        snprintf(why, sizeof why, "plane %d (%d, %d) of example %d: %g, not %g", p, r, c, j, got, want);
                }
    printf("%s lanes/pack-%s-%d-planes-%dx%d-border-%dx%d-%d-examples%s%s\n", why[0] ? "FAIL" : "PASS",
           bytes ? "bytes" : "floats", planes, h, w, ph, pw, m, why[0] ? ": " : "", why);
    free(src), free(dst), free(b);
}

/* kiln_conv_lanes against conv2d's definition, example by example in
 * double precision. */
static void forward(int ins, int outs, int h, int w, int kh, int kw, int ph, int pw, int m, int with_bias,
                    uint64_t *seed)
{
    const int oh = h + 2 * ph - kh + 1, ow = w + 2 * pw - kw + 1, hp = h + 2 * ph, wp = w + 2 * pw;
    const size_t in_n = (size_t)ins * h * w, out_n = (size_t)outs * oh * ow;
    float *x = malloc(16 * in_n * sizeof(float)), *xl = malloc((size_t)ins * hp * wp * 16 * sizeof(float));
    float *yl = malloc(16 * out_n * sizeof(float)), *y = malloc(16 * out_n * sizeof(float));
    float *wt = malloc((size_t)outs * ins * kh * kw * sizeof(float)), bias[32];
    for (size_t i = 0; i < 16 * in_n; i++) x[i] = frand(seed);
    for (int i = 0; i < outs * ins * kh * kw; i++) wt[i] = frand(seed);
    for (int o = 0; o < outs; o++) bias[o] = frand(seed);
    kiln_lanes_pack_planes(x, in_n, m, ins, h, w, ph, pw, xl);
    kiln_conv_lanes(&(const kiln_lanes_conv){ .ins = ins, .outs = outs, .h = h, .w = w, .oh = oh, .ow = ow, .kh = kh,
                                              .kw = kw, .ph = ph, .pw = pw, .weight = wt,
                                              .bias = with_bias ? bias : NULL },
                    xl, yl);
    kiln_lanes_unpack(yl, out_n, m, y, out_n, 0);
    char why[160] = "";
    for (int j = 0; j < m; j++)
        for (int o = 0; o < outs; o++)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow && !why[0]; c++) {
                    double ref = with_bias ? bias[o] : 0, mag = fabs(ref);
                    for (int ci = 0; ci < ins; ci++)
                        for (int u = 0; u < kh; u++)
                            for (int v = 0; v < kw; v++) {
                                int R = r + u - ph, C = c + v - pw;
                                if (R < 0 || R >= h || C < 0 || C >= w) continue;
                                double t = (double)wt[((o * ins + ci) * kh + u) * kw + v] *
                                           x[j * in_n + ((size_t)ci * h + R) * w + C];
                                ref += t, mag += fabs(t);
                            }
                    float got = y[j * out_n + ((size_t)o * oh + r) * ow + c];
                    if (fabs(got - ref) > 1.2e-7 * (ins * kh * kw + 1) * mag + 1e-30)
                        snprintf(why, sizeof why, "example %d y(%d, %d, %d) %.9g, reference %.9g", j, o, r, c, got, ref);
                }
    printf("%s lanes/forward-%dx%d-pad-%dx%d-%d-to-%d-%dx%d-%d-examples%s%s%s\n", why[0] ? "FAIL" : "PASS", kh, kw, ph,
           pw, ins, outs, h, w, m, with_bias ? "-bias" : "", why[0] ? ": " : "", why);
    free(x), free(xl), free(yl), free(y), free(wt);
}

/* kiln_conv_weight_grad_lanes against conv2d's definition, example by
 * example in double precision. */
static void weight_grad(int ins, int outs, int h, int w, int kh, int kw, int ph, int pw, int m, int with_db,
                        uint64_t *seed)
{
    const int oh = h + 2 * ph - kh + 1, ow = w + 2 * pw - kw + 1, hp = h + 2 * ph, wp = w + 2 * pw;
    const size_t in_n = (size_t)ins * h * w, out_n = (size_t)outs * oh * ow, nw = (size_t)outs * ins * kh * kw;
    float *x = malloc(16 * in_n * sizeof(float)), *dy = malloc(16 * out_n * sizeof(float));
    float *xl = malloc((size_t)ins * hp * wp * 16 * sizeof(float)), *dyl = malloc(16 * out_n * sizeof(float));
    float *dw = malloc(nw * sizeof(float)), db[32];
    for (size_t i = 0; i < 16 * in_n; i++) x[i] = frand(seed);
    for (size_t i = 0; i < 16 * out_n; i++) dy[i] = frand(seed);
    kiln_lanes_pack_planes(x, in_n, m, ins, h, w, ph, pw, xl);
    kiln_lanes_pack(dy, out_n, m, out_n, dyl);
    kiln_conv_weight_grad_lanes(&(const kiln_lanes_conv){ .ins = ins, .outs = outs, .h = h, .w = w, .oh = oh,
                                                          .ow = ow, .kh = kh, .kw = kw, .ph = ph, .pw = pw },
                                xl, dyl, dw, with_db ? db : NULL);
    char why[160] = "";
    for (int o = 0; o < outs && !why[0]; o++) {
        for (int ci = 0; ci < ins; ci++)
            for (int u = 0; u < kh; u++)
                for (int v = 0; v < kw && !why[0]; v++) {
                    double ref = 0, mag = 0;
                    for (int j = 0; j < m; j++)
                        for (int r = 0; r < oh; r++)
                            for (int c = 0; c < ow; c++) {
                                int R = r + u - ph, C = c + v - pw;
                                if (R < 0 || R >= h || C < 0 || C >= w) continue;
                                double t = (double)dy[j * out_n + ((size_t)o * oh + r) * ow + c] *
                                           x[j * in_n + ((size_t)ci * h + R) * w + C];
                                ref += t, mag += fabs(t);
                            }
                    float got = dw[((o * ins + ci) * kh + u) * kw + v];
                    if (fabs(got - ref) > 1.2e-7 * (m * oh * ow + 16) * mag + 1e-30)
                        snprintf(why, sizeof why, "dW(%d, %d, %d, %d) %.9g, reference %.9g", o, ci, u, v, got, ref);
                }
        if (with_db && !why[0]) {
            double ref = 0, mag = 0;
            for (int j = 0; j < m; j++)
                for (int p = 0; p < oh * ow; p++) ref += dy[j * out_n + (size_t)o * oh * ow + p], mag += fabs(dy[j * out_n + (size_t)o * oh * ow + p]);
            if (fabs(db[o] - ref) > 1.2e-7 * (m * oh * ow + 16) * mag + 1e-30)
                snprintf(why, sizeof why, "db[%d] %.9g, reference %.9g", o, db[o], ref);
        }
    }
    printf("%s lanes/weight-grad-%dx%d-pad-%dx%d-%d-to-%d-%dx%d-%d-examples%s%s%s\n", why[0] ? "FAIL" : "PASS", kh, kw,
           ph, pw, ins, outs, h, w, m, with_db ? "-db" : "", why[0] ? ": " : "", why);
    free(x), free(dy), free(xl), free(dyl), free(dw);
}

int main(void)
{
    uint64_t seed = 7;
    pack_unpack(1600, 16, &seed);               /* LeNet's conv2 dy, a full block */
    pack_unpack(1176, 7, &seed);                /* its dx, a short block: ends inside a transpose */
    pack_unpack(5, 1, &seed);                   /* fewer elements than one transpose */
    grad_input(6, 16, 14, 14, 5, 5, 0, 0, 16, &seed);   /* LeNet's conv2 */
    grad_input(6, 16, 14, 14, 5, 5, 0, 0, 3, &seed);    /* the batch's last, short block */
    grad_input(1, 6, 28, 28, 5, 5, 2, 2, 16, &seed);    /* padding: taps that land outside dx */
    grad_input(3, 5, 9, 7, 3, 3, 1, 1, 16, &seed);      /* dy positions past a tile, 3×3 */
    grad_input(2, 3, 8, 11, 7, 7, 3, 3, 9, &seed);      /* more tap columns than a tile */
    grad_input(4, 2, 6, 10, 2, 4, 1, 3, 16, &seed);     /* rectangular, padding as wide as the kernel */
    pack_planes(6, 14, 14, 0, 0, 16, 0, &seed);  /* LeNet's conv2 input */
    pack_planes(1, 28, 28, 2, 2, 5, 1, &seed);   /* its images: bytes, padded, a short block */
    pack_planes(2, 3, 35, 1, 3, 16, 0, &seed);   /* rows longer than two transposes */
    forward(6, 16, 14, 14, 5, 5, 0, 0, 16, 1, &seed);      /* LeNet's conv2 */
    forward(1, 6, 28, 28, 5, 5, 2, 2, 9, 1, &seed);        /* its conv1: padded, a short block */
    forward(3, 17, 9, 8, 3, 7, 1, 3, 16, 0, &seed);        /* tiles cut short, 7 tap columns, no bias */
    forward(2, 1, 5, 5, 1, 1, 0, 0, 1, 1, &seed);          /* 1×1, one output, one example */
    weight_grad(6, 16, 14, 14, 5, 5, 0, 0, 16, 1, &seed);  /* LeNet's conv2 */
    weight_grad(1, 6, 28, 28, 5, 5, 2, 2, 11, 1, &seed);   /* its conv1: padded, a short block */
    weight_grad(3, 7, 9, 8, 3, 7, 1, 3, 16, 0, &seed);     /* tiles cut short, more tap columns than a tile */
    weight_grad(2, 1, 5, 5, 1, 1, 0, 0, 1, 1, &seed);      /* 1×1, one output, one example */
    return 0;
}
