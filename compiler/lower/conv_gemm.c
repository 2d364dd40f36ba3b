/* conv_gemm.c — conv2d's kernels as matrix products (conv.h): each
 * example's inputs under every tap are packed into a taps × positions
 * matrix ("columns": row (ci·kh + u)·kw + v holds what tap (ci, u, v) reads
 * at each output position, zeros where it reads padding), and the runtime's
 * GEMM multiplies it with W on the calling thread (kiln_gemm_alone):
 *
 *   forward      y_i (out × positions)    = W (out × taps) · cols_i
 *   grad_input   dcols_i (taps × positions) = Wᵀ · dy_i, then each column
 *                added back onto dx where its tap read (the reverse of the
 *                packing)
 *   grad_params  per chunk of CONV_CHUNK examples, dW (out × taps) =
 *                dy · colsᵀ over the chunk's positions side by side; the
 *                chunks then added in order (conv_emit_chunk_sum)
 *
 * Any stride and padding: the strategy for strided convolutions, whose
 * taps the planes kernels cannot run as vectors along rows.  Every thread
 * computes whole examples (or chunks), each summed in one order, so the
 * results do not depend on the thread count. */
#include <stdio.h>

#include "conv.h"
#include "gemm.h"
#include "loop.h"

/* The loops packing one example into the columns: src is the example's
 * input, col0 the column of its first position in rows ld apart.  Taps
 * reading padding get zeros. */
static void emit_pack(Emit *e, const Graph *g, const ConvKernel *c, const char *ld, const char *col0) {
    const ConvShape *s = &c->s;
    char elem[128], index[96];
    emit(e, "for (int ci = 0; ci < %ld; ci++)  /* pack: tap (ci, u, v)'s inputs in row (ci·%ld + u)·%ld + v */", s->in,
         s->kh, s->kw);
    emit(e, "    for (int u = 0; u < %ld; u++)", s->kh);
    emit(e, "        for (int v = 0; v < %ld; v++) {", s->kw);
    e->indent += 3;
    emit(e, "float *col = cols + (size_t)((ci * %ld + u) * %ld + v) * %s + %s;", s->kh, s->kw, ld, col0);
    emit(e, "const int r0 = kiln_tap_first(u, %ld, %ld), r1 = kiln_tap_end(u, %ld, %ld, %ld, %ld);", s->ph, s->sh, s->ph,
         s->sh, s->h, s->oh);
    emit(e, "const int c0 = kiln_tap_first(v, %ld, %ld), c1 = kiln_tap_end(v, %ld, %ld, %ld, %ld);", s->pw, s->sw, s->pw,
         s->sw, s->w, s->ow);
    emit(e, "for (int r = 0; r < %ld; r++) {", s->oh);
    e->indent++;
    emit(e, "float *row = col + r * %ld;", s->ow);
    emit(e, "if (r < r0 || r >= r1) {");
    emit(e, "    for (int c = 0; c < %ld; c++) row[c] = 0.0f;", s->ow);
    emit(e, "    continue;");
    emit(e, "}");
    emit(e, "const int ir = r * %ld + u - %ld;", s->sh, s->ph);
    snprintf(index, sizeof index, "(ci * %ld + ir) * %ld + c * %ld + v - %ld", s->h, s->w, s->sw, s->pw);
    emit(e, "for (int c = 0; c < c0; c++) row[c] = 0.0f;");
    emit(e, "for (int c = c0; c < c1; c++) row[c] = %s;", conv_source_element(g, c->x, index, elem));
    emit(e, "for (int c = c1; c < %ld; c++) row[c] = 0.0f;", s->ow);
    e->indent--;
    emit(e, "}");
    e->indent -= 3;
    emit(e, "        }");
}

/* kiln_gemm_alone's call: C = alpha·op(A)·op(B) + beta·C */
static void emit_gemm(Emit *e, int transa, int transb, long m, long n, const char *k, const char *a, const char *lda,
                      const char *b, const char *ldb, const char *c, long ldc) {
    emit(e, "kiln_gemm_alone(&(const kiln_gemm_op){");
    emit(e, "    .transa = %s, .transb = %s, .m = %ld, .n = %ld, .k = %s, .alpha = 1.0f, .beta = 0.0f,",
         transa ? "KILN_TRANS" : "KILN_NOTRANS", transb ? "KILN_TRANS" : "KILN_NOTRANS", m, n, k);
    emit(e, "    .a = %s, .a_scale = 1.0f, .lda = %s, .b = %s, .ldb = %s, .c = %s, .ldc = %ld,", a, lda, b, ldb, c, ldc);
    emit(e, "});");
}

/* forward: per example, pack the columns, y = W · cols, then the bias and
 * the fused ops on the example's planes */
void conv_gemm_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long ohw = s->oh * s->ow, taps = s->in * s->kh * s->kw;
    char ohws[24], tapss[24];
    snprintf(ohws, sizeof ohws, "%ld", ohw);
    snprintf(tapss, sizeof tapss, "%ld", taps);
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, "conv");
    conv_emit_fold_statics(e, g, c);
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    conv_emit_fold(e, g, c);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    emit(e, "float *cols = kiln_thread_buffer(0, %ld);", taps * ohw);
    emit(e, "const %s *src = %s + (size_t)i * %ld;", conv_source_type(g, c->x), cname(g, c->x), s->in * s->h * s->w);
    emit_pack(e, g, c, ohws, "0");
    emit(e, "float *out = %s + (size_t)i * %ld;", cname(g, c->y), s->out * ohw);
    emit_gemm(e, 0, 0, s->out, ohw, tapss, c->wx, tapss, "cols", ohws, "out", ohw);
    if (c->b >= 0) {
        emit(e, "for (int o = 0; o < %ld; o++)  /* + bias */", s->out);
        emit(e, "    for (int p = 0; p < %ld; p++) out[o * %ld + p] += %s[o];", ohw, ohw, c->bx);
    }
    if (c->chain.nnodes > 1) epilogue_loop(e, g, &c->chain, "out", "i", s->out * ohw);
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dx (+)= dy through W: per example, dcols = Wᵀ · dy, each column added
 * back where its tap read; then the fused ops */
void conv_gemm_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    const Node *q = node(g, k->nodes[0]);
    long ohw = s->oh * s->ow, taps = s->in * s->kh * s->kw, in_plane = s->h * s->w;
    char ohws[24], tapss[24], outs[24];
    snprintf(ohws, sizeof ohws, "%ld", ohw);
    snprintf(tapss, sizeof tapss, "%ld", taps);
    snprintf(outs, sizeof outs, "%ld", s->out);
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, q->acc[0] ? "dx + Wᵀ·dy, unpacked" : "Wᵀ·dy, unpacked");
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    conv_emit_prologue(e, g, k);
    emit(e, "float *cols = kiln_thread_buffer(0, %ld);", taps * ohw);
    emit(e, "const float *grad = %s + (size_t)i * %ld;", cname(g, c->dy), s->out * ohw);
    emit_gemm(e, 1, 0, taps, ohw, outs, cname(g, c->w), tapss, "grad", ohws, "cols", ohw);
    emit(e, "float *in = %s + (size_t)i * %ld;", cname(g, c->y), s->in * in_plane);
    if (!q->acc[0]) emit(e, "for (int p = 0; p < %ld; p++) in[p] = 0.0f;", s->in * in_plane);
    emit(e, "for (int ci = 0; ci < %ld; ci++)  /* unpack: each tap's column added where it read */", s->in);
    emit(e, "    for (int u = 0; u < %ld; u++)", s->kh);
    emit(e, "        for (int v = 0; v < %ld; v++) {", s->kw);
    e->indent += 3;
    emit(e, "const float *col = cols + (size_t)((ci * %ld + u) * %ld + v) * %ld;", s->kh, s->kw, ohw);
    emit(e, "const int c0 = kiln_tap_first(v, %ld, %ld), c1 = kiln_tap_end(v, %ld, %ld, %ld, %ld);", s->pw, s->sw, s->pw,
         s->sw, s->w, s->ow);
    emit(e, "for (int r = kiln_tap_first(u, %ld, %ld); r < kiln_tap_end(u, %ld, %ld, %ld, %ld); r++) {", s->ph, s->sh,
         s->ph, s->sh, s->h, s->oh);
    emit(e, "    float *dst = in + (ci * %ld + r * %ld + u - %ld) * %ld + v - %ld;", s->h, s->sh, s->ph, s->w, s->pw);
    emit(e, "    for (int c = c0; c < c1; c++) dst[c * %ld] += col[r * %ld + c];", s->sw, s->ow);
    emit(e, "}");
    e->indent -= 3;
    emit(e, "        }");
    if (c->chain.nnodes > 1) epilogue_loop(e, g, &c->chain, "in", "i", s->in * in_plane);
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dW = Σ dy · colsᵀ and db = Σ dy per chunk of examples into parts[chunk]
 * (their positions side by side), then the chunks added in order into the
 * gradient (or, with sgd fused, into the update) */
void conv_gemm_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long ohw = s->oh * s->ow, taps = s->in * s->kh * s->kw, wn = s->out * taps;
    long width = wn + (c->nout > 1 ? s->out : 0);
    char col0[32];
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, c->fused ? "W and b updated with their gradients (sgd, fused)" : "dW and db", c->strategy);
    conv_emit_chunks_begin(e, g, c, width, CONV_CHUNK);
    emit(e, "const int ld = m * %ld;  /* the chunk's output positions */", ohw);
    emit(e, "float *cols = kiln_thread_buffer(0, (size_t)%ld * ld), *grad = kiln_thread_buffer(1, (size_t)%ld * ld);",
         taps, s->out);
    emit(e, "for (int j = 0; j < m; j++) {  /* example j's positions from column j·%ld, dy beside them */", ohw);
    e->indent++;
    emit(e, "const %s *src = %s + (size_t)(i0 + j) * %ld;", conv_source_type(g, c->x), cname(g, c->x),
         s->in * s->h * s->w);
    snprintf(col0, sizeof col0, "(size_t)j * %ld", ohw);
    emit_pack(e, g, c, "ld", col0);
    emit(e, "const float *dy = %s + (size_t)(i0 + j) * %ld;", cname(g, c->dy), s->out * ohw);
    emit(e, "for (int o = 0; o < %ld; o++)", s->out);
    emit(e, "    for (int p = 0; p < %ld; p++) grad[(size_t)o * ld + (size_t)j * %ld + p] = dy[o * %ld + p];", ohw, ohw,
         ohw);
    e->indent--;
    emit(e, "}");
    emit_gemm(e, 0, 1, s->out, taps, "ld", "grad", "ld", "cols", "ld", "parts[ch]", taps);
    if (c->nout > 1) {
        emit(e, "for (int o = 0; o < %ld; o++) {  /* db: dy's positions summed in order */", s->out);
        emit(e, "    float sum = 0.0f;");
        emit(e, "    for (int p = 0; p < ld; p++) sum += grad[(size_t)o * ld + p];");
        emit(e, "    parts[ch][%ld + o] = sum;", wn);
        emit(e, "}");
    }
    e->indent--;
    emit(e, "}");
    conv_emit_chunk_sum(e, c, wn, width);
    kernel_end(e);
}
