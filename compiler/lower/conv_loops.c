/* conv_loops.c — conv2d's kernels as plain loops (conv.h): each example's
 * output planes accumulated tap by tap, the innermost loop along an output
 * row; the input bytes of a first layer scaled as they are read.  Any
 * stride and padding: the strategy for what the planes kernels do not
 * take. */
#include <stdio.h>

#include "conv.h"
#include "gemm.h"
#include "loop.h"

const char *conv_source_element(const Graph *g, int x, const char *index, char buf[128]) {
    if (storage_of(g, x)->kind == VAL_INPUT && storage_of(g, x)->bytes)
        snprintf(buf, 128, "(INPUT_SCALE * (float)src[%s])", index);
    else
        snprintf(buf, 128, "src[%s]", index);
    return buf;
}

const char *conv_source_type(const Graph *g, int x) {
    return storage_of(g, x)->kind == VAL_INPUT && storage_of(g, x)->bytes ? "uint8_t" : "float";
}

void conv_geometry_comment(Emit *e, const ConvShape *s, const char *what, const char *strategy) {
    emit(e, "/* %s: (n, %ld, %ld, %ld) → (n, %ld, %ld, %ld), kernel %ld×%ld, stride %ld×%ld, padding %ld×%ld;", what,
         s->in, s->h, s->w, s->out, s->oh, s->ow, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw);
    emit(e, " * %s */", strategy);
}

/* The loops over one tap's valid output rows and columns, opening two
 * blocks the caller closes: r and c are the output row and column, ir and
 * ic the input row and column they read through tap (u, v). */
void conv_emit_example(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    if (c->example_node < 0) return;
    Kernel part = *k;   /* the per-example op and the ops after it */
    part.nnodes = k->nnodes - k->nprologue - c->chain.nnodes;
    part.nprologue = 0;
    for (int j = 0; j < part.nnodes; j++) part.nodes[j] = k->nodes[c->chain.nnodes + j];
    node(g, part.nodes[0])->op->emit_example(e, g, &part);
}

void conv_emit_prologue(Emit *e, const Graph *g, const Kernel *k) {
    if (!k->nprologue) return;
    Kernel part = *k;   /* the nodes that make dy, in order */
    part.nnodes = k->nprologue;
    part.nprologue = 0;
    for (int j = 0; j < part.nnodes; j++) part.nodes[j] = k->nodes[k->nnodes - k->nprologue + j];
    node(g, part.nodes[0])->op->emit_example(e, g, &part);
}

static void emit_tap_loops(Emit *e, const ConvShape *s) {
    emit(e, "for (int r = kiln_tap_first(u, %ld, %ld); r < kiln_tap_end(u, %ld, %ld, %ld, %ld); r++) {", s->ph, s->sh,
         s->ph, s->sh, s->h, s->oh);
    emit(e, "    const int ir = r * %ld + u - %ld;", s->sh, s->ph);
    emit(e, "    for (int c = kiln_tap_first(v, %ld, %ld); c < kiln_tap_end(v, %ld, %ld, %ld, %ld); c++) {", s->pw,
         s->sw, s->pw, s->sw, s->w, s->ow);
    emit(e, "        const int ic = c * %ld + v - %ld;", s->sw, s->pw);
}



/* forward: per example, the bias, then each tap's contribution, then the
 * fused elementwise ops on the example's planes */
void conv_loops_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long plane = s->oh * s->ow, in_plane = s->h * s->w;
    StrBuf formula = {0};
    epilogue_formula(&formula, g, &c->chain, "conv");
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, formula.data, c->strategy);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    char bias[80], elem[128];
    snprintf(bias, sizeof bias, c->b >= 0 ? "%s[o]" : "0.0f", c->b >= 0 ? cname(g, c->b) : "");
    emit(e, "float *out = %s + (size_t)i * %ld;", cname(g, c->y), s->out * plane);
    emit(e, "for (int o = 0; o < %ld; o++) {", s->out);
    emit(e, "    for (int p = 0; p < %ld; p++) out[o * %ld + p] = %s;", plane, plane, bias);
    emit(e, "    for (int ci = 0; ci < %ld; ci++)", s->in);
    emit(e, "        for (int u = 0; u < %ld; u++)", s->kh);
    emit(e, "            for (int v = 0; v < %ld; v++) {", s->kw);
    e->indent += 4;
    emit(e, "const float wt = %s[((o * %ld + ci) * %ld + u) * %ld + v];", cname(g, c->w), s->in, s->kh, s->kw);
    emit(e, "const %s *src = %s + (size_t)i * %ld + ci * %ld;", conv_source_type(g, c->x), cname(g, c->x),
         s->in * in_plane, in_plane);
    emit_tap_loops(e, s);
    char index[64];
    snprintf(index, sizeof index, "ir * %ld + ic", s->w);
    emit(e, "        out[(o * %ld + r) * %ld + c] += wt * %s;", s->oh, s->ow, conv_source_element(g, c->x, index, elem));
    emit(e, "    }");
    emit(e, "}");
    e->indent -= 4;
    emit(e, "            }");
    emit(e, "}");
    if (c->chain.nnodes > 1) epilogue_loop(e, g, &c->chain, "out", "i", s->out * plane);
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dx (+)= dy scattered back through W, per example; then the fused ops */
void conv_loops_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    const Node *q = node(g, k->nodes[0]);
    long plane = s->oh * s->ow, in_plane = s->h * s->w;
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, q->acc[0] ? "dx += dy scattered back through W" : "dx = dy scattered back through W",
                          c->strategy);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    conv_emit_prologue(e, g, k);
    emit(e, "float *in = %s + (size_t)i * %ld;", cname(g, c->y), s->in * in_plane);
    emit(e, "const float *grad = %s + (size_t)i * %ld;", cname(g, c->dy), s->out * plane);
    if (!q->acc[0]) emit(e, "for (int p = 0; p < %ld; p++) in[p] = 0.0f;", s->in * in_plane);
    emit(e, "for (int o = 0; o < %ld; o++)", s->out);
    emit(e, "    for (int ci = 0; ci < %ld; ci++)", s->in);
    emit(e, "        for (int u = 0; u < %ld; u++)", s->kh);
    emit(e, "            for (int v = 0; v < %ld; v++) {", s->kw);
    e->indent += 4;
    emit(e, "const float wt = %s[((o * %ld + ci) * %ld + u) * %ld + v];", cname(g, c->w), s->in, s->kh, s->kw);
    emit_tap_loops(e, s);
    emit(e, "        in[(ci * %ld + ir) * %ld + ic] += wt * grad[(o * %ld + r) * %ld + c];", s->h, s->w, s->oh, s->ow);
    emit(e, "    }");
    emit(e, "}");
    e->indent -= 4;
    emit(e, "            }");
    if (c->chain.nnodes > 1) epilogue_loop(e, g, &c->chain, "in", "i", s->in * in_plane);
    conv_emit_example(e, g, k, c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

/* dW = Σ over the batch and the output positions of dy · x through each
 * tap, db = Σ dy: the team shares the output channels, each summing in one
 * order — or, with sgd fused, W = β·W + α·dW and b = β·b + α·db */
void conv_loops_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c) {
    const ConvShape *s = &c->s;
    long plane = s->oh * s->ow, in_plane = s->h * s->w;
    const char *x = cname(g, c->x), *dy = cname(g, c->dy);
    kernel_begin(e, g, k);
    conv_geometry_comment(e, s, c->fused ? "W and b updated with their gradients (sgd, fused)" : "dW and db", c->strategy);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int o = 0; o < %ld; o++) {", s->out);
    e->indent++;
    emit(e, "for (int ci = 0; ci < %ld; ci++)", s->in);
    emit(e, "    for (int u = 0; u < %ld; u++)", s->kh);
    emit(e, "        for (int v = 0; v < %ld; v++) {", s->kw);
    e->indent += 3;
    emit(e, "float sum = 0.0f;");
    emit(e, "for (int i = 0; i < n; i++) {");
    char elem[128], index[64];
    snprintf(index, sizeof index, "ir * %ld + ic", s->w);
    emit(e, "    const %s *src = %s + (size_t)i * %ld + ci * %ld;", conv_source_type(g, c->x), x, s->in * in_plane,
         in_plane);
    emit(e, "    const float *grad = %s + (size_t)i * %ld + o * %ld;", dy, s->out * plane, plane);
    e->indent++;
    emit_tap_loops(e, s);
    emit(e, "        sum += grad[r * %ld + c] * %s;", s->ow, conv_source_element(g, c->x, index, elem));
    emit(e, "    }");
    emit(e, "}");
    e->indent--;
    emit(e, "}");
    emit(e, "float *t = &%s[((o * %ld + ci) * %ld + u) * %ld + v];", c->target[0], s->in, s->kh, s->kw);
    emit(e, "*t = %s * *t + %s * sum;", c->beta[0], c->alpha[0]);
    e->indent -= 3;
    emit(e, "        }");
    if (c->nout > 1) {
        emit(e, "float sum = 0.0f;");
        emit(e, "for (int i = 0; i < n; i++)");
        emit(e, "    for (int p = 0; p < %ld; p++)", plane);
        emit(e, "        sum += %s[(size_t)i * %ld + o * %ld + p];", dy, s->out * plane, plane);
        emit(e, "%s[o] = %s * %s[o] + %s * sum;", c->target[1], c->beta[1], c->target[1], c->alpha[1]);
    }
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}
