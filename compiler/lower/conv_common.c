/* conv_common.c — what conv2d's strategies share (conv.h): reading the
 * input (a first layer's bytes scaled as they are read), the geometry
 * comment, and the per-example ops fuse.c puts after a kernel's head or
 * before it (its prologue). */
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

void conv_emit_fold_statics(Emit *e, const Graph *g, const ConvKernel *c) {
    if (c->fold) bn_emit_fold_statics(e, g, node(g, c->chain.nodes[0]), c->fold, c->s.in * c->s.kh * c->s.kw);
}

void conv_emit_fold(Emit *e, const Graph *g, const ConvKernel *c) {
    if (c->fold) bn_emit_fold(e, g, node(g, c->chain.nodes[0]), c->fold, c->s.in * c->s.kh * c->s.kw);
}
