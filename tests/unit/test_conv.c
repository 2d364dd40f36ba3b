/* test_conv.c — the runtime's direct convolution (kiln_conv_planes,
 * kiln_conv_weight_grad) against a double-precision reference: channel
 * counts that leave partial register tiles (1 to 17 outputs), kernels 1×1
 * to 7×7 (more taps than a weight-gradient tile holds), positions that end
 * inside a vector, several examples side by side, and weights read
 * transposed and flipped through negative strides.  Within a bound from
 * float rounding (the sum's length times its absolute sum).  Prints
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

static double wat(const kiln_conv_op *op, const float *w, int o, int ci, int u, int v)
{
    return w[o * op->w_out + ci * op->w_in + u * op->w_row + v * op->w_col];
}

static void one(int ins, int outs, int kh, int kw, int hp, int wp, int examples, int flipped, uint64_t *seed)
{
    const int oh = hp - kh + 1, ow = wp - kw + 1, plane = hp * wp;
    const int nq = (examples - 1) * plane + (oh - 1) * wp + ow, nq16 = (nq + 15) / 16 * 16;
    const size_t src_stride = (size_t)examples * plane, dst_stride = (size_t)nq16 + 16;
    float *src = calloc((size_t)ins * src_stride + 16, sizeof(float));
    float *w = malloc((size_t)outs * ins * kh * kw * sizeof(float));
    float *dst = malloc((size_t)outs * dst_stride * sizeof(float));
    float *dy = calloc((size_t)outs * dst_stride, sizeof(float));
    float *dw = malloc((size_t)outs * ins * kh * kw * sizeof(float)), db[32];
    for (size_t i = 0; i < (size_t)ins * src_stride; i++) src[i] = frand(seed);
    for (int i = 0; i < outs * ins * kh * kw; i++) w[i] = frand(seed);
    kiln_conv_op op = { .ins = ins, .outs = outs, .kh = kh, .kw = kw, .wp = wp, .nq = nq, .src = src,
                        .src_stride = src_stride, .w = w, .w_out = ins * kh * kw, .w_in = kh * kw, .w_row = kw,
                        .w_col = 1 };
    if (flipped)   /* (o, ci) swapped roles and taps reversed, as grad_input reads W */
        op = (kiln_conv_op){ .ins = ins, .outs = outs, .kh = kh, .kw = kw, .wp = wp, .nq = nq, .src = src,
                             .src_stride = src_stride, .w = w + (kh - 1) * kw + kw - 1, .w_out = kh * kw,
                             .w_in = outs * kh * kw, .w_row = -kw, .w_col = -1 };
    kiln_conv_planes(&op, dst, dst_stride);
    char name[96], why[160] = "";
    snprintf(name, sizeof name, "conv/%dx%d-%d-to-%d-%dx%d-planes-%d-examples%s", kh, kw, ins, outs, hp, wp, examples,
             flipped ? "-flipped" : "");
    for (int o = 0; o < outs && !why[0]; o++)
        for (int q = 0; q < nq && !why[0]; q++) {
            double ref = 0, mag = 0;
            for (int ci = 0; ci < ins; ci++)
                for (int u = 0; u < kh; u++)
                    for (int v = 0; v < kw; v++) {
                        double t = wat(&op, op.w, o, ci, u, v) * src[(size_t)ci * src_stride + q + u * wp + v];
                        ref += t;
                        mag += fabs(t);
                    }
            double tol = 1.2e-7 * (ins * kh * kw + 1) * mag + 1e-30;
            if (fabs(dst[o * dst_stride + q] - ref) > tol)
                snprintf(why, sizeof why, "forward o %d q %d: %.9g, reference %.9g", o, q, dst[o * dst_stride + q], ref);
        }
    /* weight gradient: dy nonzero at real outputs only */
    for (int o = 0; o < outs; o++)
        for (int e = 0; e < examples; e++)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow; c++) dy[o * dst_stride + (size_t)e * plane + r * wp + c] = frand(seed);
    kiln_conv_op g = op;
    g.w = dw;
    g.w_out = ins * kh * kw, g.w_in = kh * kw, g.w_row = kw, g.w_col = 1;
    kiln_conv_weight_grad(&g, dy, dst_stride, db);
    for (int o = 0; o < outs && !why[0]; o++) {
        double rb = 0, mb = 0;
        for (int q = 0; q < nq; q++) rb += dy[o * dst_stride + q], mb += fabs(dy[o * dst_stride + q]);
        if (fabs(db[o] - rb) > 1.2e-7 * nq * mb + 1e-30)
            snprintf(why, sizeof why, "db[%d] %.9g, reference %.9g", o, db[o], rb);
        for (int ci = 0; ci < ins; ci++)
            for (int u = 0; u < kh; u++)
                for (int v = 0; v < kw; v++) {
                    double ref = 0, mag = 0;
                    for (int q = 0; q < nq; q++) {
                        double t = (double)dy[o * dst_stride + q] * src[(size_t)ci * src_stride + q + u * wp + v];
                        ref += t;
                        mag += fabs(t);
                    }
                    float got = dw[((o * ins + ci) * kh + u) * kw + v];
                    if (fabs(got - ref) > 1.2e-7 * nq * mag + 1e-30 && !why[0])
                        snprintf(why, sizeof why, "dW(%d, %d, %d, %d) %.9g, reference %.9g", o, ci, u, v, got, ref);
                }
    }
    printf("%s %s%s%s\n", why[0] ? "FAIL" : "PASS", name, why[0] ? ": " : "", why);
    free(src), free(w), free(dst), free(dy), free(dw);
}

/* kiln_conv_weight_grad_rows: outs × taps dot products over rows of nq
 * (zeros past nq up to whole vectors). */
static void rows(int outs, int taps, int nq, int with_db, uint64_t *seed)
{
    const size_t ld = (size_t)(nq + 15) / 16 * 16 + 16;
    float *dy = calloc((size_t)outs * ld, sizeof(float)), *x = calloc((size_t)taps * ld, sizeof(float));
    float *dw = malloc((size_t)outs * taps * sizeof(float)), db[32];
    for (int o = 0; o < outs; o++)
        for (int q = 0; q < nq; q++) dy[o * ld + q] = frand(seed);
    for (int t = 0; t < taps; t++)
        for (int q = 0; q < nq; q++) x[t * ld + q] = frand(seed);
    kiln_conv_weight_grad_rows(outs, taps, nq, dy, ld, x, ld, dw, with_db ? db : NULL);
    char why[160] = "";
    for (int o = 0; o < outs && !why[0]; o++) {
        for (int t = 0; t < taps && !why[0]; t++) {
            double ref = 0, mag = 0;
            for (int q = 0; q < nq; q++) ref += (double)dy[o * ld + q] * x[t * ld + q], mag += fabs(dy[o * ld + q] * x[t * ld + q]);
            if (fabs(dw[o * taps + t] - ref) > 1.2e-7 * nq * mag + 1e-30)
                snprintf(why, sizeof why, "dw(%d, %d) %.9g, reference %.9g", o, t, dw[o * taps + t], ref);
        }
        if (with_db && !why[0]) {
            double ref = 0, mag = 0;
            for (int q = 0; q < nq; q++) ref += dy[o * ld + q], mag += fabs(dy[o * ld + q]);
            if (fabs(db[o] - ref) > 1.2e-7 * nq * mag + 1e-30) snprintf(why, sizeof why, "db[%d] %.9g, reference %.9g", o, db[o], ref);
        }
    }
    printf("%s conv/rows-%d-outs-%d-taps-%d-positions%s%s%s\n", why[0] ? "FAIL" : "PASS", outs, taps, nq,
           with_db ? "-db" : "", why[0] ? ": " : "", why);
    free(dy), free(x), free(dw);
}

int main(void)
{
    uint64_t seed = 42;
    one(1, 6, 5, 5, 32, 32, 1, 0, &seed);      /* LeNet's first layer */
    one(6, 16, 5, 5, 14, 14, 1, 0, &seed);     /* and its second */
    one(6, 16, 5, 5, 14, 14, 3, 0, &seed);     /* three examples side by side */
    one(16, 6, 5, 5, 18, 18, 1, 1, &seed);     /* its grad_input: flipped */
    one(3, 17, 3, 3, 9, 7, 2, 0, &seed);       /* tiles cut short */
    one(2, 5, 7, 7, 11, 12, 1, 1, &seed);      /* more taps per row than a tile */
    one(4, 1, 1, 1, 3, 5, 5, 0, &seed);        /* 1×1, one output */
    one(5, 9, 2, 4, 6, 10, 2, 1, &seed);       /* rectangular, flipped */
    rows(16, 150, 800, 1, &seed);              /* LeNet's second layer, a chunk of 8 */
    rows(7, 13, 61, 0, &seed);                 /* tiles cut short, positions inside a vector */
    rows(1, 1, 5, 1, &seed);
    return 0;
}
