/* conv_planes.c — conv2d's kernels over padded planes (conv.h): the
 * generated code packs each example's planes into a working buffer (zero
 * borders for the padding, the input's bytes scaled), the runtime's
 * kiln_conv_planes / kiln_conv_weight_grad run the multiply-adds in
 * vectors of 16 positions, and the unpacking adds the bias and applies the
 * ops fused after the convolution.  Stride 1.
 *
 * Positions are counted in the padded width wp (kiln_rt.h): an output row
 * of ow values takes wp positions, so wp − ow of them per row are computed
 * and dropped — the price of running one vector across rows.
 *
 * grad_input is the forward kernel on dy padded by (kernel − 1 − padding),
 * with W read transposed and flipped through negative strides.
 * grad_params splits the batch into chunks of CONV_CHUNK examples, the
 * same for any thread count: each chunk's dW and db go to their own row
 * of a static array, and the rows are then added in chunk order (with
 * sgd's update, when fused), so the sums do not depend on the team. */
#include <stdio.h>
#include <stdlib.h>

#include "conv.h"
#include "gemm.h"
#include "loop.h"

static long round16(long n) { return (n + 15) / 16 * 16; }

/* Zero the working buffer buf of `size` floats, or only its last 16 (the
 * slack the vectors read past the planes) when every other float is
 * written by the packing. */
static void emit_clear(Emit *e, const char *buf, long size, int bordered) {
    if (bordered) emit(e, "for (size_t p = 0; p < %ld; p++) %s[p] = 0.0f;", size, buf);
    else emit(e, "for (size_t p = %ld; p < %ld; p++) %s[p] = 0.0f;", size - 16, size, buf);
}

/* kiln_conv_op's fields after .src: the source's channel stride and the
 * weight with its strides. */
static void emit_conv_op(Emit *e, const char *call, long ins, long outs, const ConvShape *s, long wp, const char *nq,
                         const char *src_stride, const char *w, long w_out, long w_in, long w_row, long w_col,
                         const char *tail) {
    emit(e, "%s(&(const kiln_conv_op){", call);
    emit(e, "    .ins = %ld, .outs = %ld, .kh = %ld, .kw = %ld, .wp = %ld, .nq = %s,", ins, outs, s->kh, s->kw, wp, nq);
    emit(e, "    .src = pad, .src_stride = %s,", src_stride);
    emit(e, "    .w = %s, .w_out = %ld, .w_in = %ld, .w_row = %ld, .w_col = %ld,", w, w_out, w_in, w_row, w_col);
    emit(e, "}, %s);", tail);
}

/* forward: pack the example padded, convolve, unpack with the bias and the
 * fused ops */
void conv_planes_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw, plane = hp * wp;
    long nq = (s->oh - 1) * wp + s->ow, ldr = round16(nq), padn = s->in * plane + 16;
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, "conv");
    char elem[128], nqs[24], stride[24];
    conv_emit_fold_statics(e, g, c);
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    conv_emit_fold(e, g, c);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    emit(e, "float *pad = kiln_thread_buffer(0, %ld), *res = kiln_thread_buffer(1, %ld);", padn, s->out * ldr);
    emit_clear(e, "pad", padn, s->ph || s->pw);
    emit(e, "const %s *src = %s + (size_t)i * %ld;", conv_source_type(g, c->x), cname(g, c->x), s->in * s->h * s->w);
    emit(e, "for (int ci = 0; ci < %ld; ci++)  /* pack: the example's planes, padded */", s->in);
    emit(e, "    for (int r = 0; r < %ld; r++)", s->h);
    emit(e, "        for (int c = 0; c < %ld; c++)", s->w);
    char index[64];
    snprintf(index, sizeof index, "(ci * %ld + r) * %ld + c", s->h, s->w);
    emit(e, "            pad[(ci * %ld + r + %ld) * %ld + c + %ld] = %s;", hp, s->ph, wp, s->pw,
         conv_source_element(g, c->x, index, elem));
    snprintf(nqs, sizeof nqs, "%ld", nq);
    snprintf(stride, sizeof stride, "%ld", plane);
    char tail[32];
    snprintf(tail, sizeof tail, "res, %ld", ldr);
    emit_conv_op(e, "kiln_conv_planes", s->in, s->out, s, wp, nqs, stride, c->wx, s->in * s->kh * s->kw,
                 s->kh * s->kw, s->kw, 1, tail);
    emit(e, "float *out = %s + (size_t)i * %ld;", cname(g, c->y), s->out * s->oh * s->ow);
    emit(e, "for (int o = 0; o < %ld; o++)  /* unpack: %s */", s->out, c->b >= 0 ? "conv + bias" : "conv");
    emit(e, "    for (int r = 0; r < %ld; r++)", s->oh);
    emit(e, "        for (int c = 0; c < %ld; c++)", s->ow);
    if (c->b >= 0)
        emit(e, "            out[(o * %ld + r) * %ld + c] = res[o * %ld + r * %ld + c] + %s[o];", s->oh, s->ow, ldr, wp,
             c->bx);
    else
        emit(e, "            out[(o * %ld + r) * %ld + c] = res[o * %ld + r * %ld + c];", s->oh, s->ow, ldr, wp);
    /* the fused ops over the example's whole planes: one vector loop, no row remainders */
    if (c->chain.nnodes > 1) epilogue_loop(e, g, &c->chain, "out", "i", s->out * s->oh * s->ow);
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dx (+)= dy convolved with W flipped and transposed: pack dy padded by
 * kernel − 1 − padding, convolve, unpack into dx with the fused ops */
void conv_planes_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    const Node *q = node(g, k->nodes[0]);
    long qh = s->kh - 1 - s->ph, qw = s->kw - 1 - s->pw;
    long hp = s->oh + 2 * qh, wp = s->ow + 2 * qw, plane = hp * wp;
    long nq = (s->h - 1) * wp + s->w, ldr = round16(nq), padn = s->out * plane + 16;
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, q->acc[0] ? "dx + dy ⋆ flip(W)" : "dy ⋆ flip(W)");
    char nqs[24], stride[24], w[96], tail[32];
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    conv_emit_prologue(e, g, k);
    emit(e, "float *pad = kiln_thread_buffer(0, %ld), *res = kiln_thread_buffer(1, %ld);", padn, s->in * ldr);
    emit_clear(e, "pad", padn, qh || qw);
    emit(e, "const float *grad = %s + (size_t)i * %ld;", cname(g, c->dy), s->out * s->oh * s->ow);
    emit(e, "for (int o = 0; o < %ld; o++)  /* pack: the example's dy, padded */", s->out);
    emit(e, "    for (int r = 0; r < %ld; r++)", s->oh);
    emit(e, "        for (int c = 0; c < %ld; c++)", s->ow);
    emit(e, "            pad[(o * %ld + r + %ld) * %ld + c + %ld] = grad[(o * %ld + r) * %ld + c];", hp, qh, wp, qw,
         s->oh, s->ow);
    snprintf(nqs, sizeof nqs, "%ld", nq);
    snprintf(stride, sizeof stride, "%ld", plane);
    snprintf(w, sizeof w, "%s + %ld", cname(g, c->w), (s->kh - 1) * s->kw + s->kw - 1);
    snprintf(tail, sizeof tail, "res, %ld", ldr);
    /* flipped: tap (u, v) of the transposed kernel is W[o][ci][kh−1−u][kw−1−v] */
    emit_conv_op(e, "kiln_conv_planes", s->out, s->in, s, wp, nqs, stride, w, s->kh * s->kw, s->in * s->kh * s->kw,
                 -s->kw, -1, tail);
    emit(e, "float *in = %s + (size_t)i * %ld;", cname(g, c->y), s->in * s->h * s->w);
    emit(e, "for (int ci = 0; ci < %ld; ci++)  /* unpack: %s */", s->in, q->acc[0] ? "dx += dy ⋆ flip(W)" : "dy ⋆ flip(W)");
    emit(e, "    for (int r = 0; r < %ld; r++)", s->h);
    emit(e, "        for (int c = 0; c < %ld; c++)", s->w);
    emit(e, "            in[(ci * %ld + r) * %ld + c] %s res[ci * %ld + r * %ld + c];", s->h, s->w, q->acc[0] ? "+=" : "=",
         ldr, wp);
    if (c->chain.nnodes > 1) epilogue_loop(e, g, &c->chain, "in", "i", s->in * s->h * s->w);
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* The new value of output o's element at index: alpha·sum, plus
 * beta·target where there is a beta (the old gradient is not read). */
static const char *update(char buf[1024], const ConvKernel *c, int o, const char *index) {
    const GemmUpdate *u = &c->update[o];
    if (!u->beta[0]) snprintf(buf, 1024, "%s * sum", u->alpha);
    else snprintf(buf, 1024, "%s * %s[%s] + %s * sum", u->beta, c->target[o], index, u->alpha);
    return buf;
}

/* After the chunks: wait for every chunk's row of parts, then add the rows
 * in chunk order into dW and db (with sgd fused: into the update). */
void conv_emit_chunk_sum(Emit *e, const ConvKernel *c, long wn, long width) {
    char upd[1024], index[48];
    emit(e, "kiln_sync();");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int p = 0; p < %ld; p++) {  /* the chunks in order: %s */", width,
         c->fused ? "p = β·p + α·Σ" : "the gradient");
    e->indent++;
    emit(e, "float sum = 0.0f;");
    emit(e, "for (int ch = 0; ch < chunks; ch++) sum += parts[ch][p];");
    if (c->nout > 1) {
        emit(e, "if (p < %ld) %s[p] = %s;", wn, c->target[0], update(upd, c, 0, "p"));
        snprintf(index, sizeof index, "p - %ld", wn);
        emit(e, "else %s[%s] = %s;", c->target[1], index, update(upd, c, 1, index));
    } else {
        emit(e, "%s[p] = %s;", c->target[0], update(upd, c, 0, "p"));
    }
    e->indent--;
    emit(e, "}");
}

/* The chunks' partial sums, one row per chunk of per examples, and the
 * loop over the chunks a thread takes (opened: the caller closes it). */
void conv_emit_chunks_begin(Emit *e, const Graph *g, const ConvKernel *c, long width, int per) {
    long chunks = (g->spec->batch + per - 1) / per;
    emit(e, "static float parts[%ld][%ld];  /* each chunk's dW%s */", chunks, width, c->nout > 1 ? " and db" : "");
    emit(e, "const int chunks = (n + %d) / %d;", per - 1, per);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int ch = 0; ch < chunks; ch++) {");
    e->indent++;
    emit(e, "const int i0 = ch * %d, m = n - i0 < %d ? n - i0 : %d;", per, per, per);
}

/* dW and db from packed patches (no padding): per chunk, each tap's inputs
 * at every output position of its examples in one row (every lane an
 * output), dy beside them; then the chunks added in order */
void conv_patches_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long ohw = s->oh * s->ow, taps = s->in * s->kh * s->kw, wn = s->out * taps;
    long width = wn + (c->nout > 1 ? s->out : 0);
    char elem[128], index[96];
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, c->fused ? "W and b updated with their gradients (sgd, fused)" : "dW and db", c->strategy);
    conv_emit_chunks_begin(e, g, c, width, CONV_CHUNK);
    emit(e, "const size_t ld = ((size_t)m * %ld + 15) / 16 * 16;  /* the chunk's output positions, whole vectors */", ohw);
    emit(e, "float *cols = kiln_thread_buffer(0, %ld * ld), *grad = kiln_thread_buffer(1, %ld * ld);", taps, s->out);
    emit(e, "for (size_t p = (size_t)m * %ld; p < ld; p++) {  /* zeros past the last position */", ohw);
    emit(e, "    for (int t = 0; t < %ld; t++) cols[t * ld + p] = 0.0f;", taps);
    emit(e, "    for (int o = 0; o < %ld; o++) grad[o * ld + p] = 0.0f;", s->out);
    emit(e, "}");
    emit(e, "for (int j = 0; j < m; j++) {  /* pack: tap (ci, u, v)'s inputs in row (ci·kh + u)·kw + v, dy beside */");
    e->indent++;
    emit(e, "const %s *src = %s + (size_t)(i0 + j) * %ld;", conv_source_type(g, c->x), cname(g, c->x),
         s->in * s->h * s->w);
    emit(e, "const float *dy = %s + (size_t)(i0 + j) * %ld;", cname(g, c->dy), s->out * ohw);
    emit(e, "for (int ci = 0; ci < %ld; ci++)", s->in);
    emit(e, "    for (int u = 0; u < %ld; u++)", s->kh);
    emit(e, "        for (int v = 0; v < %ld; v++) {", s->kw);
    e->indent += 3;
    emit(e, "float *col = cols + (size_t)((ci * %ld + u) * %ld + v) * ld + (size_t)j * %ld;", s->kh, s->kw, ohw);
    snprintf(index, sizeof index, "(ci * %ld + r + u) * %ld + c + v", s->h, s->w);
    emit(e, "for (int r = 0; r < %ld; r++)", s->oh);
    emit(e, "    for (int c = 0; c < %ld; c++) col[r * %ld + c] = %s;", s->ow, s->ow,
         conv_source_element(g, c->x, index, elem));
    e->indent -= 3;
    emit(e, "        }");
    emit(e, "for (int o = 0; o < %ld; o++)", s->out);
    emit(e, "    for (int p = 0; p < %ld; p++) grad[o * ld + (size_t)j * %ld + p] = dy[o * %ld + p];", ohw, ohw, ohw);
    e->indent--;
    emit(e, "}");
    if (c->nout > 1)
        emit(e, "kiln_conv_weight_grad_rows(%ld, %ld, m * %ld, grad, ld, cols, ld, parts[ch], parts[ch] + %ld);", s->out,
             taps, ohw, wn);
    else
        emit(e, "kiln_conv_weight_grad_rows(%ld, %ld, m * %ld, grad, ld, cols, ld, parts[ch], NULL);", s->out, taps, ohw);
    e->indent--;
    emit(e, "}");
    conv_emit_chunk_sum(e, c, wn, width);
    kernel_end(e);
}

/* dW and db per chunk of examples into parts[chunk], then the chunks added
 * in order into the gradient (or, with sgd fused, into the update) */
void conv_planes_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw, plane = hp * wp;
    long nq = (s->oh - 1) * wp + s->ow, wn = s->out * s->in * s->kh * s->kw;
    long width = wn + (c->nout > 1 ? s->out : 0);
    char elem[128], index[64], nqs[48], stride[32], tail[80];
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, c->fused ? "W and b updated with their gradients (sgd, fused)" : "dW and db", c->strategy);
    conv_emit_chunks_begin(e, g, c, width, CONV_CHUNK);
    emit(e, "/* one channel's planes, all the chunk's examples; dy's rows padded to whole vectors (zeros) */");
    emit(e, "const size_t slab = (size_t)m * %ld, dslab = (slab + 15) / 16 * 16;", plane);
    emit(e, "float *pad = kiln_thread_buffer(0, %ld * slab + 16), *grad = kiln_thread_buffer(1, %ld * dslab);",
         s->in, s->out);
    if (s->ph || s->pw) emit(e, "for (size_t p = 0; p < %ld * slab + 16; p++) pad[p] = 0.0f;", s->in);
    else emit(e, "for (size_t p = %ld * slab; p < %ld * slab + 16; p++) pad[p] = 0.0f;", s->in, s->in);
    emit(e, "for (size_t p = 0; p < %ld * dslab; p++) grad[p] = 0.0f;  /* the columns past the outputs stay 0 */",
         s->out);
    emit(e, "for (int j = 0; j < m; j++) {  /* pack: x padded, dy at the same positions */");
    e->indent++;
    emit(e, "const %s *src = %s + (size_t)(i0 + j) * %ld;", conv_source_type(g, c->x), cname(g, c->x),
         s->in * s->h * s->w);
    emit(e, "const float *dy = %s + (size_t)(i0 + j) * %ld;", cname(g, c->dy), s->out * s->oh * s->ow);
    snprintf(index, sizeof index, "(ci * %ld + r) * %ld + c", s->h, s->w);
    emit(e, "for (int ci = 0; ci < %ld; ci++)", s->in);
    emit(e, "    for (int r = 0; r < %ld; r++)", s->h);
    emit(e, "        for (int c = 0; c < %ld; c++)", s->w);
    emit(e, "            pad[ci * slab + (size_t)j * %ld + (r + %ld) * %ld + c + %ld] = %s;", plane, s->ph, wp, s->pw,
         conv_source_element(g, c->x, index, elem));
    emit(e, "for (int o = 0; o < %ld; o++)", s->out);
    emit(e, "    for (int r = 0; r < %ld; r++)", s->oh);
    emit(e, "        for (int c = 0; c < %ld; c++)", s->ow);
    emit(e, "            grad[o * dslab + (size_t)j * %ld + r * %ld + c] = dy[(o * %ld + r) * %ld + c];", plane, wp, s->oh,
         s->ow);
    e->indent--;
    emit(e, "}");
    snprintf(nqs, sizeof nqs, "(m - 1) * %ld + %ld", plane, nq);
    snprintf(stride, sizeof stride, "slab");
    snprintf(tail, sizeof tail, "grad, dslab, NULL");
    if (c->nout > 1) snprintf(tail, sizeof tail, "grad, dslab, parts[ch] + %ld", wn);
    emit_conv_op(e, "kiln_conv_weight_grad", s->in, s->out, s, wp, nqs, stride, "parts[ch]", s->in * s->kh * s->kw,
                 s->kh * s->kw, s->kw, 1, tail);
    e->indent--;
    emit(e, "}");
    conv_emit_chunk_sum(e, c, wn, width);
    kernel_end(e);
}
