/* conv.c — the direct convolution's entry points (kiln_rt.h): which kernel
 * this CPU runs, the portable C kernels, and the working buffers the
 * generated code packs planes into. */
#include "conv.h"

#include "../scratch.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif

/* AVX-512F where the CPU has it, unless KILN_GEMM_KERNEL names another
 * kernel (tests run the portable one that way).  A pure function of the CPU
 * and the environment, so every call and thread agrees. */
int conv_use_avx512(void)
{
    static int chosen = -1;
    int c;
    #pragma omp atomic read
    c = chosen;
    if (c < 0) {
        c = 0;
#if KILN_CONV_X86
        const char *force = getenv("KILN_GEMM_KERNEL");
        __builtin_cpu_init();
        c = !force && __builtin_cpu_supports("avx512f");
#endif
        #pragma omp atomic write
        chosen = c;
    }
    return c;
}

static int round16(int n) { return (n + 15) / 16 * 16; }

static void planes_c(const kiln_conv_op *op, float *dst, size_t dst_stride)
{
    int nq = round16(op->nq);
    for (int o = 0; o < op->outs; o++) {
        float *d = dst + (size_t)o * dst_stride;
        for (int q = 0; q < nq; q++) d[q] = 0.0f;
        for (int ci = 0; ci < op->ins; ci++)
            for (int u = 0; u < op->kh; u++)
                for (int v = 0; v < op->kw; v++) {
                    float wt = op->w[conv_w_at(op, o, ci, u, v)];
                    const float *s = op->src + (size_t)ci * op->src_stride + (size_t)u * op->wp + v;
                    for (int q = 0; q < nq; q++) d[q] += wt * s[q];
                }
    }
}

static void weight_grad_c(const kiln_conv_op *op, const float *dy, size_t dy_stride, float *db)
{
    float *dw = (float *)op->w;
    for (int o = 0; o < op->outs; o++) {
        const float *g = dy + (size_t)o * dy_stride;
        for (int ci = 0; ci < op->ins; ci++)
            for (int u = 0; u < op->kh; u++)
                for (int v = 0; v < op->kw; v++) {
                    const float *s = op->src + (size_t)ci * op->src_stride + (size_t)u * op->wp + v;
                    float sum = 0.0f;
                    for (int q = 0; q < op->nq; q++) sum += g[q] * s[q];
                    dw[conv_w_at(op, o, ci, u, v)] = sum;
                }
        if (db) {
            float sum = 0.0f;
            for (int q = 0; q < op->nq; q++) sum += g[q];
            db[o] = sum;
        }
    }
}

void kiln_conv_planes(const kiln_conv_op *op, float *dst, size_t dst_stride)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { conv_planes_avx512(op, dst, dst_stride); return; }
#endif
    planes_c(op, dst, dst_stride);
}

void kiln_conv_weight_grad(const kiln_conv_op *op, const float *dy, size_t dy_stride, float *db)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { conv_weight_grad_avx512(op, dy, dy_stride, db); return; }
#endif
    weight_grad_c(op, dy, dy_stride, db);
}

static void weight_grad_rows_c(int outs, int taps, int nq, const float *dy, size_t dy_stride, const float *x,
                               size_t x_stride, float *dw, float *db)
{
    for (int o = 0; o < outs; o++) {
        const float *g = dy + (size_t)o * dy_stride;
        for (int t = 0; t < taps; t++) {
            const float *s = x + (size_t)t * x_stride;
            float sum = 0.0f;
            for (int q = 0; q < nq; q++) sum += g[q] * s[q];
            dw[(size_t)o * taps + t] = sum;
        }
        if (db) {
            float sum = 0.0f;
            for (int q = 0; q < nq; q++) sum += g[q];
            db[o] = sum;
        }
    }
}

void kiln_conv_weight_grad_rows(int outs, int taps, int nq, const float *dy, size_t dy_stride, const float *x,
                                size_t x_stride, float *dw, float *db)
{
#if KILN_CONV_X86
    if (conv_use_avx512()) { conv_weight_grad_rows_avx512(outs, taps, nq, dy, dy_stride, x, x_stride, dw, db); return; }
#endif
    weight_grad_rows_c(outs, taps, nq, dy, dy_stride, x, x_stride, dw, db);
}

/* Global, one set per thread number, so nothing is lost when OpenMP
 * retires a thread (as kiln_gemm's packing memory). */
enum { SLOTS = 4 };
static kiln_scratch buffers[KILN_MAX_THREADS][SLOTS];

float *kiln_thread_buffer(int slot, size_t floats)
{
    int me = omp_get_thread_num();
    if (me >= KILN_MAX_THREADS || slot < 0 || slot >= SLOTS) abort();   /* the team is capped at start */
    return kiln_scratch_room(&buffers[me][slot], floats * sizeof(float), "convolution buffers");
}
