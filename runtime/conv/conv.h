/* conv.h — what the files of runtime/conv/ share: the direct convolution
 * behind kiln_conv_planes and kiln_conv_weight_grad (kiln_rt.h).
 *
 *   conv.c          the entry points (kiln_conv_planes,
 *                   kiln_conv_weight_grad, kiln_conv_weight_grad_rows), the
 *                   kernel this CPU runs, the portable C kernels and the
 *                   threads' working buffers
 *   conv_avx512.c   the AVX-512F kernels: register tiles of output
 *                   channels × positions (forward) and of output channels
 *                   × taps (weight gradient)
 *
 * Internal to the runtime: generated trainers see only kiln_rt.h. */
#ifndef KILN_CONV_H
#define KILN_CONV_H

#include "../kiln_rt.h"

#if defined(__x86_64__) || defined(__i386__)
#define KILN_CONV_X86 1
#else
#define KILN_CONV_X86 0
#endif

/* Weight element (o, ci, u, v) of op. */
static inline ptrdiff_t conv_w_at(const kiln_conv_op *op, int o, int ci, int u, int v)
{
    return o * op->w_out + ci * op->w_in + u * op->w_row + v * op->w_col;
}

#if KILN_CONV_X86
void conv_planes_avx512(const kiln_conv_op *op, float *dst, size_t dst_stride);
void conv_weight_grad_avx512(const kiln_conv_op *op, const float *dy, size_t dy_stride, float *db);
void conv_weight_grad_rows_avx512(int outs, int taps, int nq, const float *dy, size_t dy_stride, const float *x,
                                  size_t x_stride, float *dw, float *db);
#endif

#endif
