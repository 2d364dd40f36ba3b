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
 *   lanes.c         blocks of examples in the vector lanes: packing them
 *                   there and back, and the portable C kernels
 *   lanes_avx512.c  their AVX-512F forms: 16×16 transposes, and the input
 *                   gradient's tile of taps × positions
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

/* The size of the next of the blocks that share what is left (at most
 * max each): 16 channels in blocks of ≤ 6 are 6, 5, 5. */
static inline int conv_block(int left, int max)
{
    int blocks = (left + max - 1) / max;
    return (left + blocks - 1) / blocks;
}

/* AVX-512F where the CPU has it and KILN_GEMM_KERNEL does not name
 * another kernel: the same answer for every call and thread. */
int conv_use_avx512(void);

#if KILN_CONV_X86
void conv_planes_avx512(const kiln_conv_op *op, float *dst, size_t dst_stride);
void conv_weight_grad_avx512(const kiln_conv_op *op, const float *dy, size_t dy_stride, float *db);
void conv_weight_grad_rows_avx512(int outs, int taps, int nq, const float *dy, size_t dy_stride, const float *x,
                                  size_t x_stride, float *dw, float *db);
void lanes_pack_avx512(const float *src, size_t stride, int m, size_t count, float *dst);
void lanes_unpack_avx512(const float *src, size_t count, int m, float *dst, size_t stride, int add);
void conv_grad_input_lanes_avx512(const kiln_lanes_conv *op, const float *dy, float *dx);
void lanes_pack_planes_avx512(const float *src, const uint8_t *bytes, float scale, size_t stride, int m, int planes,
                              int h, int w, int ph, int pw, float *dst);
void conv_lanes_avx512(const kiln_lanes_conv *op, const float *x, float *y);
void conv_weight_grad_lanes_avx512(const kiln_lanes_conv *op, const float *x, const float *dy, float *dw, float *db);
#endif

#endif
