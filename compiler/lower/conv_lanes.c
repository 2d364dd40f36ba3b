/* conv_lanes.c — conv2d's kernels on blocks of 16 examples in the vector
 * lanes (conv.h): the generated code packs a block's tensors so that
 * element q of example j is at [q·16 + j] (kiln_lanes_pack), the runtime
 * convolves whole blocks, and each example is unpacked back and given the
 * fused ops in turn.  Stride 1.
 *
 * Blocks are the batch's, 16 examples each (the last may be short), the
 * same for any thread count; each example's result depends only on its
 * own lane, so nothing depends on the team. */
#include <stdio.h>

#include "conv.h"
#include "gemm.h"
#include "loop.h"

/* The loop over the blocks a thread takes (opened: the caller closes it). */
static void emit_blocks_begin(Emit *e) {
    emit(e, "const int blocks = (n + 15) / 16;");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int blk = 0; blk < blocks; blk++) {");
    e->indent++;
    emit(e, "const int i0 = blk * 16, m = n - i0 < 16 ? n - i0 : 16;");
}

/* The fused ops after the kernel's head on each of the block's examples,
 * buf naming the example's planes. */
static void emit_each_example(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c, const char *buf,
                              int value, long size) {
    if (c->chain.nnodes == 1 && c->example_node < 0) return;
    emit(e, "for (int i = i0; i < i0 + m; i++) {  /* the fused ops, example by example while in cache */");
    e->indent++;
    if (c->chain.nnodes > 1) {
        emit(e, "float *%s = %s + (size_t)i * %ld;", buf, cname(g, value), size);
        epilogue_loop(e, g, &c->chain, buf, "i", size);
    }
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
}

/* The block's x packed into the lanes with its zero border (bytes scaled),
 * into the buffer x_lanes. */
static void emit_pack_x(Emit *e, const Graph *g, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long in_n = s->in * s->h * s->w;
    if (storage_of(g, c->x)->kind == VAL_INPUT && storage_of(g, c->x)->bytes)
        emit(e, "kiln_lanes_pack_bytes(%s + (size_t)i0 * %ld, %ld, m, %ld, %ld, %ld, %ld, %ld, INPUT_SCALE, x_lanes);",
             cname(g, c->x), in_n, in_n, s->in, s->h, s->w, s->ph, s->pw);
    else
        emit(e, "kiln_lanes_pack_planes(%s + (size_t)i0 * %ld, %ld, m, %ld, %ld, %ld, %ld, %ld, x_lanes);", cname(g, c->x),
             in_n, in_n, s->in, s->h, s->w, s->ph, s->pw);
}

/* The operands' shapes, the head of a kiln_lanes_conv literal. */
static void emit_shapes(Emit *e, const ConvShape *s) {
    emit(e, "    .ins = %ld, .outs = %ld, .h = %ld, .w = %ld, .oh = %ld, .ow = %ld,", s->in, s->out, s->h, s->w, s->oh,
         s->ow);
    emit(e, "    .kh = %ld, .kw = %ld, .ph = %ld, .pw = %ld,", s->kh, s->kw, s->ph, s->pw);
}

/* y = b + x ⋆ W: pack the block's x into the lanes, convolve, unpack y
 * into the examples, then the fused ops example by example */
void conv_lanes_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long out_n = s->out * s->oh * s->ow, padded = s->in * (s->h + 2 * s->ph) * (s->w + 2 * s->pw);
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, "conv");
    conv_emit_fold_statics(e, g, c);
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    conv_emit_fold(e, g, c);
    emit_blocks_begin(e);
    emit(e, "float *x_lanes = kiln_thread_buffer(0, %ld), *y_lanes = kiln_thread_buffer(1, %ld);", 16 * padded,
         16 * out_n);
    emit_pack_x(e, g, c);
    emit(e, "kiln_conv_lanes(&(const kiln_lanes_conv){");
    emit_shapes(e, s);
    if (c->b >= 0) emit(e, "    .weight = %s, .bias = %s,", c->wx, c->bx);
    else emit(e, "    .weight = %s,", c->wx);
    emit(e, "}, x_lanes, y_lanes);");
    emit(e, "kiln_lanes_unpack(y_lanes, %ld, m, %s + (size_t)i0 * %ld, %ld, 0);  /* %s */", out_n, cname(g, c->y), out_n,
         out_n, c->b >= 0 ? "conv + bias" : "conv");
    emit_each_example(e, g, k, c, "out", c->y, out_n);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dx (+)= dy ⋆ W's transpose: pack the block's dy into the lanes, scatter
 * each dy element times W's column onto dx where its taps land, unpack dx
 * into the examples, then the fused ops example by example */
void conv_lanes_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    const Node *q = node(g, k->nodes[0]);
    long in_n = s->in * s->h * s->w, out_n = s->out * s->oh * s->ow;
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, q->acc[0] ? "dx + dy ⋆ flip(W)" : "dy ⋆ flip(W)");
    if (c->gi_forward) {
        emit(e, "/* %s flipped and transposed: (in, out, kh, kw), tap (u, v) from (kh − 1 − u, kw − 1 − v) */",
             cname(g, c->w));
        emit(e, "static float %s_flipped[%ld];", cname(g, c->w), s->in * s->out * s->kh * s->kw);
        emit_blank(e);
    }
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    if (c->gi_forward) {
        emit(e, "#pragma omp for schedule(static) nowait");
        emit(e, "for (int ci = 0; ci < %ld; ci++)", s->in);
        emit(e, "    for (int o = 0; o < %ld; o++)", s->out);
        emit(e, "        for (int t = 0; t < %ld; t++)", s->kh * s->kw);
        emit(e, "            %s_flipped[(ci * %ld + o) * %ld + t] = %s[(o * %ld + ci) * %ld + %ld - t];", cname(g, c->w),
             s->out, s->kh * s->kw, cname(g, c->w), s->in, s->kh * s->kw, s->kh * s->kw - 1);
        emit(e, "kiln_sync();");
    }
    emit_blocks_begin(e);
    if (k->nprologue) {
        emit(e, "for (int i = i0; i < i0 + m; i++) {  /* dy, example by example, just before it is packed */");
        e->indent++;
        conv_emit_prologue(e, g, k);
        e->indent--;
        emit(e, "}");
    }
    if (c->gi_forward) {   /* dy with its zero border, W flipped and transposed, the forward kernel */
        long qh = s->kh - 1 - s->ph, qw = s->kw - 1 - s->pw;
        emit(e, "float *dy_lanes = kiln_thread_buffer(0, %ld), *dx_lanes = kiln_thread_buffer(1, %ld);",
             16 * s->out * (s->oh + 2 * qh) * (s->ow + 2 * qw), 16 * in_n);
        emit(e, "kiln_lanes_pack_planes(%s + (size_t)i0 * %ld, %ld, m, %ld, %ld, %ld, %ld, %ld, dy_lanes);", cname(g, c->dy),
             out_n, out_n, s->out, s->oh, s->ow, qh, qw);
        emit(e, "kiln_conv_lanes(&(const kiln_lanes_conv){");
        emit(e, "    .ins = %ld, .outs = %ld, .h = %ld, .w = %ld, .oh = %ld, .ow = %ld,", s->out, s->in, s->oh, s->ow, s->h,
             s->w);
        emit(e, "    .kh = %ld, .kw = %ld, .ph = %ld, .pw = %ld,", s->kh, s->kw, qh, qw);
        emit(e, "    .weight = %s_flipped,", cname(g, c->w));
        emit(e, "}, dy_lanes, dx_lanes);");
    } else {
        emit(e, "float *dy_lanes = kiln_thread_buffer(0, %ld), *dx_lanes = kiln_thread_buffer(1, %ld);", 16 * out_n,
             16 * in_n);
        emit(e, "kiln_lanes_pack(%s + (size_t)i0 * %ld, %ld, m, %ld, dy_lanes);", cname(g, c->dy), out_n, out_n, out_n);
        emit(e, "kiln_conv_grad_input_lanes(&(const kiln_lanes_conv){");
        emit_shapes(e, s);
        emit(e, "    .weight = %s,", cname(g, c->w));
        emit(e, "}, dy_lanes, dx_lanes);");
    }
    emit(e, "kiln_lanes_unpack(dx_lanes, %ld, m, %s + (size_t)i0 * %ld, %ld, %d);  /* %s */", in_n, cname(g, c->y), in_n, in_n,
         q->acc[0], q->acc[0] ? "dx += dy ⋆ flip(W)" : "dx = dy ⋆ flip(W)");
    emit_each_example(e, g, k, c, "in", c->y, in_n);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dW and db per chunk of 16 examples into parts[chunk]: pack the chunk's
 * x (with its zero border, bytes scaled) and dy into the lanes, multiply
 * at every real output position; then the chunks added in order into the
 * gradient (or, with sgd fused, into the update) */
void conv_lanes_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long out_n = s->out * s->oh * s->ow, wn = s->out * s->in * s->kh * s->kw;
    long padded = s->in * (s->h + 2 * s->ph) * (s->w + 2 * s->pw);
    long width = wn + (c->nout > 1 ? s->out : 0);
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, c->fused ? "W and b updated with their gradients (sgd, fused)" : "dW and db", c->strategy);
    conv_emit_chunks_begin(e, g, c, width, 16);
    emit(e, "float *x_lanes = kiln_thread_buffer(0, %ld), *dy_lanes = kiln_thread_buffer(1, %ld);", 16 * padded, 16 * out_n);
    emit_pack_x(e, g, c);
    emit(e, "kiln_lanes_pack(%s + (size_t)i0 * %ld, %ld, m, %ld, dy_lanes);", cname(g, c->dy), out_n, out_n, out_n);
    emit(e, "kiln_conv_weight_grad_lanes(&(const kiln_lanes_conv){");
    emit_shapes(e, s);
    if (c->nout > 1) emit(e, "}, x_lanes, dy_lanes, parts[ch], parts[ch] + %ld);", wn);
    else emit(e, "}, x_lanes, dy_lanes, parts[ch], NULL);");
    e->indent--;
    emit(e, "}");
    conv_emit_chunk_sum(e, c, wn, width);
    kernel_end(e);
}
