/* pool.c — max_pool2d(k, {stride = k, padding = 0}), avg_pool2d(k,
 * {stride = k, padding = 0}) and global_avg_pool2d(): PyTorch's
 * nn.MaxPool2d, nn.AvgPool2d and nn.AdaptiveAvgPool2d(1) on (batch,
 * channels, height, width) values, each channel on its own.  The global
 * pool is the average pool whose one window is the whole plane, its size
 * taken from the input's shape: (batch, c, h, w) → (batch, c, 1, 1).
 *
 *   max  y = the largest x in the window; a tie goes to the first in the
 *        window's row-major order, and a NaN wins (as PyTorch's CPU kernel);
 *        padding never wins (it is −∞)
 *   avg  y = Σ x in the window / (kh·kw): the padding counts as zeros in
 *        the divisor too (PyTorch's count_include_pad = true)
 *
 * As in PyTorch the padding is at most half the kernel, and the output has
 * ⌊(n + 2p − k) / s⌋ + 1 positions along each axis.  Each example is one
 * unit of the team's work; the elementwise ops after a pool run in its
 * epilogue.  The gradients: avg spreads dy / (kh·kw) over the window; max
 * finds the window's winner again from x (nothing is stored in forward)
 * and gives it dy. */
#include <stdio.h>

#include "../lower/loop.h"
#include "ops.h"

static const char *const pool_opts[] = { "stride", "padding", NULL };

static void pool_parse(Call *c, Layer *out) {
    PoolAttr *a = out->attr;
    call_max_args(c, 2);
    call_pair(c, 1, "the kernel size", 1, KILN_MAX_DIM, a->kernel);
    a->stride[0] = a->kernel[0], a->stride[1] = a->kernel[1];
    if (call_opts(c, 2, pool_opts)) {
        call_opt_pair(c, 2, "stride", 1, KILN_MAX_DIM, a->stride);
        call_opt_pair(c, 2, "padding", 0, KILN_MAX_DIM, a->padding);
    }
    for (int d = 0; d < 2; d++)
        if (2 * a->padding[d] > a->kernel[d])
            call_fail(c, "padding %ld is more than half the kernel's %ld; pad at most %ld", a->padding[d],
                      a->kernel[d], a->kernel[d] / 2);
}

static void global_parse(Call *c, Layer *out) {
    PoolAttr *a = out->attr;
    call_max_args(c, 0);
    a->global = 1;
}

static void pool_describe(const Layer *l, char buf[64]) {
    const PoolAttr *a = l->attr;
    if (a->global) snprintf(buf, 64, "%s()", l->op->name);
    else if (a->kernel[0] == a->kernel[1]) snprintf(buf, 64, "%s(%ld)", l->op->name, a->kernel[0]);
    else snprintf(buf, 64, "%s({%ld, %ld})", l->op->name, a->kernel[0], a->kernel[1]);
}

static int is_max(const Node *n) { return n->layer->op == &op_max_pool2d; }

/* The window of node n's layer on input shape x: the whole plane for the
 * global pool. */
static PoolAttr window_of(const Layer *l, const Shape *x) {
    PoolAttr a = *(const PoolAttr *)l->attr;
    if (a.global)
        for (int d = 0; d < 2; d++) a.kernel[d] = a.stride[d] = x->dim[1 + d], a.padding[d] = 0;
    return a;
}

static void pool_shape(Graph *g, Node *n) {
    const Layer *l = n->layer;
    const Value *x = val(g, n->in[0]);
    char got[96], call[64];
    if (!x->shape.batched || x->shape.rank != 3) {
        shape_str(&x->shape, got, sizeof got);
        fail_at(&l->loc, "%s: expects (batch, channels, height, width), got %s", layer_call(n, call), got);
    }
    long o[2];
    const PoolAttr a = window_of(l, &x->shape);
    window_out(&l->loc, layer_call(n, call), &x->shape, a.kernel, a.stride, a.padding, o);
    val(g, n->out[0])->shape = (Shape){ .rank = 3, .dim = { x->shape.dim[0], o[0], o[1] }, .batched = 1 };
}

static const NodeOp node_pool_grad;

static void pool_grad(Graph *g, Node *n) {
    char label[80];
    snprintf(label, sizeof label, "%s.grad", n->label);
    Node *q = graph_node(g, &node_pool_grad, n->layer, PHASE_BACKWARD, label);
    node_input(g, q, n->in[0]);   /* x: max pooling finds the winner again */
    node_input(g, q, val(g, n->out[0])->grad);
    grad_result(g, q, n->in[0]);
}

typedef struct { long c, h, w, oh, ow, kh, kw, sh, sw, ph, pw; } PoolShape;

static PoolShape pool_shape_of(const Graph *g, const Node *n) {
    const Node *fwd = n->fwd >= 0 ? node(g, n->fwd) : n;
    const Shape *x = &val(g, fwd->in[0])->shape, *y = &val(g, fwd->out[0])->shape;
    const PoolAttr a = window_of(fwd->layer, x);
    return (PoolShape){ x->dim[0], x->dim[1], x->dim[2], y->dim[1], y->dim[2], a.kernel[0], a.kernel[1],
                        a.stride[0], a.stride[1], a.padding[0], a.padding[1] };
}

/* The loops over every window (ch, r, c) of example i, and inside, over
 * its taps that read the input (ir, ic); src is the example's input.
 * Opens blocks: the caller writes the window's head, then calls
 * emit_taps, the tap's body, and closes with emit_window_end. */
static void emit_window_begin(Emit *e, const PoolShape *s) {
    emit(e, "for (int ch = 0; ch < %ld; ch++)", s->c);
    emit(e, "    for (int r = 0; r < %ld; r++)", s->oh);
    emit(e, "        for (int c = 0; c < %ld; c++) {", s->ow);
    e->indent += 3;
    if (s->ph == 0 && s->pw == 0) {   /* every window inside: bounds the C compiler unrolls */
        emit(e, "const int top = r * %ld, left = c * %ld;", s->sh, s->sw);
        emit(e, "const int u0 = 0, u1 = %ld, v0 = 0, v1 = %ld;   /* no padding: the whole window */", s->kh, s->kw);
    } else {
        emit(e, "const int top = r * %ld - %ld, left = c * %ld - %ld;", s->sh, s->ph, s->sw, s->pw);
        emit(e, "const int u0 = top < 0 ? -top : 0, u1 = top + %ld > %ld ? %ld - top : %ld;", s->kh, s->h, s->h,
             s->kh);
        emit(e, "const int v0 = left < 0 ? -left : 0, v1 = left + %ld > %ld ? %ld - left : %ld;", s->kw, s->w, s->w,
             s->kw);
    }
    emit(e, "const int at = (ch * %ld + r) * %ld + c;   /* the window's output */", s->oh, s->ow);
}

static void emit_taps(Emit *e, const PoolShape *s) {
    emit(e, "for (int u = u0; u < u1; u++)");
    emit(e, "    for (int v = v0; v < v1; v++) {");
    emit(e, "        const int from = (ch * %ld + top + u) * %ld + left + v;", s->h, s->w);
}

static void emit_window_end(Emit *e) {
    e->indent -= 3;
    emit(e, "        }");
}

/* The window's winner: best and where (the first of the largest; a NaN
 * wins, the last NaN if several: PyTorch's rule). */
static void emit_argmax(Emit *e, const PoolShape *s) {
    emit(e, "float best = -INFINITY;");
    emit(e, "int where = -1;");
    emit_taps(e, s);
    emit(e, "        if (src[from] > best || src[from] != src[from] || where < 0) {");
    emit(e, "            best = src[from];");
    emit(e, "            where = from;");
    emit(e, "            if (best != best) u = u1, v = v1;   /* a NaN wins: stop here */");
    emit(e, "        }");
    emit(e, "    }");
}

/* The comment line naming what pool node n computes. */
static void pool_comment(Emit *e, const Graph *g, const Node *n, const PoolShape *s) {
    emit(e, "/* %s = %s(%s): (n, %ld, %ld, %ld) → (n, %ld, %ld, %ld), window %ld×%ld, stride %ld×%ld, padding %ld×%ld */",
         cname(g, n->out[0]), n->layer->op->name, cname(g, n->in[0]), s->c, s->h, s->w, s->c, s->oh, s->ow, s->kh,
         s->kw, s->sh, s->sw, s->ph, s->pw);
}

/* Example i's windows: src its input planes, out its output's. */
static void pool_windows(Emit *e, const Graph *g, const Node *n, const PoolShape *s, const char *out) {
    emit(e, "const float *src = %s + (size_t)i * %ld;", cname(g, n->in[0]), s->c * s->h * s->w);
    emit(e, "float *out = %s + (size_t)i * %ld;", out, s->c * s->oh * s->ow);
    emit_window_begin(e, s);
    if (is_max(n)) {
        emit_argmax(e, s);
        emit(e, "out[at] = best;");
    } else {
        char scale[40];
        emit(e, "float sum = 0.0f;");
        emit_taps(e, s);
        emit(e, "        sum += src[from];");
        emit(e, "    }");
        emit(e, "out[at] = sum * %s;   /* / (kh·kw): the padding counts */",
             float_literal(scale, 1.0 / (double)(s->kh * s->kw)));
    }
    emit_window_end(e);
}

/* In a convolution's kernel (fuse.c's per-example rule): example i's
 * planes, just written, then the ops fused after the pool on its result. */
static void pool_example(Emit *e, const Graph *g, const Kernel *part) {
    const Node *n = node(g, part->nodes[0]);
    PoolShape s = pool_shape_of(g, n);
    emit(e, "{");
    e->indent++;
    pool_comment(e, g, n, &s);
    pool_windows(e, g, n, &s, cname(g, node(g, part->nodes[part->nnodes - 1])->out[0]));
    if (part->nnodes > 1) epilogue_loop(e, g, part, "out", "i", s.c * s.oh * s.ow);
    e->indent--;
    emit(e, "}");
}

static void pool_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    PoolShape s = pool_shape_of(g, n);
    int y = node(g, k->nodes[k->nnodes - 1])->out[0];
    kernel_begin(e, g, k);
    pool_comment(e, g, n, &s);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    pool_windows(e, g, n, &s, cname(g, y));
    if (k->nnodes > 1) epilogue_loop(e, g, k, "out", "i", s.c * s.oh * s.ow);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

/* Example i of pool.grad node q, its result into dx's planes (in place,
 * then the ops fused after it). */
static void pool_grad_windows(Emit *e, const Graph *g, const Kernel *part) {
    const Node *q = node(g, part->nodes[0]);
    PoolShape s = pool_shape_of(g, q);
    int max = is_max(q);
    int dx = node(g, part->nodes[part->nnodes - 1])->out[0];
    long in_size = s.c * s.h * s.w, out_size = s.c * s.oh * s.ow;
    emit(e, "/* %s %s %s: each window's gradient %s */", cname(g, dx), assign_op(q, 0), q->label,
         max ? "to the input that won it" : "spread over its inputs, / (kh·kw)");
    if (max) emit(e, "const float *src = %s + (size_t)i * %ld;", cname(g, q->in[0]), in_size);
    emit(e, "const float *grad = %s + (size_t)i * %ld;", cname(g, q->in[1]), out_size);
    emit(e, "float *in = %s + (size_t)i * %ld;", cname(g, dx), in_size);
    /* Windows that tile the planes exactly write each input once: no
     * clearing first, no adding. */
    int tiled = !q->acc[0] && s.sh == s.kh && s.sw == s.kw && !s.ph && !s.pw && s.oh * s.kh == s.h && s.ow * s.kw == s.w;
    if (tiled) emit(e, "/* the windows tile the planes: each input written once */");
    else if (!q->acc[0]) emit(e, "for (int p = 0; p < %ld; p++) in[p] = 0.0f;", in_size);
    emit_window_begin(e, &s);
    if (max) {
        emit_argmax(e, &s);
        if (tiled) {
            emit_taps(e, &s);
            emit(e, "        in[from] = from == where ? grad[at] : 0.0f;");
            emit(e, "    }");
        } else
            emit(e, "in[where] += grad[at];");
    } else {
        char scale[40];
        emit(e, "const float share = grad[at] * %s;", float_literal(scale, 1.0 / (double)(s.kh * s.kw)));
        emit_taps(e, &s);
        emit(e, "        in[from] %s share;", tiled ? "=" : "+=");
        emit(e, "    }");
    }
    emit_window_end(e);
    if (part->nnodes > 1) epilogue_loop(e, g, part, "in", "i", in_size);
}

static void pool_grad_example(Emit *e, const Graph *g, const Kernel *part) {
    emit(e, "{");
    e->indent++;
    pool_grad_windows(e, g, part);
    e->indent--;
    emit(e, "}");
}

static void pool_grad_emit(Emit *e, const Graph *g, const Kernel *k) {
    kernel_begin(e, g, k);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    pool_grad_windows(e, g, k);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

static const NodeOp node_max_pool = { .name = "max_pool2d", .shape = pool_shape, .grad = pool_grad, .emit = pool_emit,
                                      .gemm_epilogue = 1, .emit_example = pool_example };
static const NodeOp node_avg_pool = { .name = "avg_pool2d", .shape = pool_shape, .grad = pool_grad, .emit = pool_emit,
                                      .gemm_epilogue = 1, .emit_example = pool_example };
static const NodeOp node_pool_grad = { .name = "pool2d.grad", .emit = pool_grad_emit, .gemm_epilogue = 1,
                                       .emit_example = pool_grad_example };
const OpDef op_max_pool2d = {
    .name = "max_pool2d", .kind = OP_LAYER, .attr_size = sizeof(PoolAttr), .parse = pool_parse,
    .describe = pool_describe, .node = &node_max_pool,
};
const OpDef op_avg_pool2d = {
    .name = "avg_pool2d", .kind = OP_LAYER, .attr_size = sizeof(PoolAttr), .parse = pool_parse,
    .describe = pool_describe, .node = &node_avg_pool,
};
const OpDef op_global_avg_pool2d = {
    .name = "global_avg_pool2d", .kind = OP_LAYER, .attr_size = sizeof(PoolAttr), .parse = global_parse,
    .describe = pool_describe, .node = &node_avg_pool,
};
