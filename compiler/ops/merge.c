/* merge.c — layers that join values, for graphs with branches: add(a, b)
 * sums two values of the same shape (a residual connection); concat {a, b,
 * ...} joins values along the features axis (for 4-D values, the channels
 * axis), each example's values one after the other.  Both are called on
 * values directly, in forward.
 *
 *   add     y = a + b                 da = dy, db = dy (shared storage
 *                                     where autodiff.c finds it safe)
 *   concat  y[i] = a[i] | b[i] | …    da[i] = dy[i][0 : |a|], db[i] = …
 *
 * add is elementwise: the product computing a or b applies it in its
 * epilogue (fuse.c); alone it is one parallel loop.  concat copies each
 * example's values once, and its gradient takes them apart again.
 *
 * Also grad.pass, the node autodiff makes where an identity gradient
 * (flatten's, add's) cannot share storage: dx = dy, or dx += dy. */
#include <stdio.h>

#include "../lower/loop.h"
#include "ops.h"

static int same_shape(const Shape *a, const Shape *b) {
    if (a->rank != b->rank || a->batched != b->batched) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

/* ---- add ---- */

static void add_shape(Graph *g, Node *n) {
    const Value *a = val(g, n->in[0]), *b = val(g, n->in[1]);
    if (!same_shape(&a->shape, &b->shape)) {
        char sa[96], sb[96];
        shape_str(&a->shape, sa, sizeof sa);
        shape_str(&b->shape, sb, sizeof sb);
        fail_at(&n->layer->loc, "add: its two values differ in shape, %s and %s; add sums values of the same "
                "shape", sa, sb);
    }
    val(g, n->out[0])->shape = a->shape;
}

static void add_grad(Graph *g, Node *n) {
    int dy = val(g, n->out[0])->grad;
    for (int k = 0; k < n->nin; k++)
        if (val(g, n->in[k])->needs_grad) grad_pass(g, n, n->in[k], dy);
}

/* in: the element of the main input (in[0]: fuse.c puts the value the
 * product computes there); the other is read at the same place */
static void add_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    sb_printf(sb, "%s + %s[%s]", in, cname(g, n->in[1]), at);
}

static void add_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    char what[256];
    snprintf(what, sizeof what, "%s = %s + %s", cname(g, n->out[0]), cname(g, n->in[0]), cname(g, n->in[1]));
    pointwise_kernel(e, g, k, what);
}

static const NodeOp node_add = {
    .name = "add", .shape = add_shape, .grad = add_grad, .emit = add_emit, .pointwise = add_pointwise,
    .reads_index = 1, .commutative = 1,
};
const OpDef op_add = { .name = "add", .kind = OP_LAYER, .values_args = 1, .node = &node_add };

/* ---- concat ---- */

static void concat_shape(Graph *g, Node *n) {
    const Value *a = val(g, n->in[0]);
    Shape y = a->shape;
    for (int k = 1; k < n->nin; k++) {
        const Shape *b = &val(g, n->in[k])->shape;
        int fits = b->rank == y.rank && b->batched == y.batched;
        for (int i = 1; fits && i < y.rank; i++) fits = b->dim[i] == y.dim[i];
        if (!fits || !y.batched) {
            char sa[96], sb[96];
            shape_str(&a->shape, sa, sizeof sa);
            shape_str(b, sb, sizeof sb);
            fail_at(&n->layer->loc, "concat: value %d is %s but value 1 is %s; concat joins values that differ "
                    "only in their features (or channels), the first size after the batch", k + 1, sb, sa);
        }
        y.dim[0] += b->dim[0];
    }
    if (y.dim[0] > KILN_MAX_DIM)
        fail_at(&n->layer->loc, "concat: the joined value has %ld features, above kiln's limit of %d for one "
                "dimension", y.dim[0], KILN_MAX_DIM);
    val(g, n->out[0])->shape = y;
}

static const NodeOp node_concat_grad;

static void concat_grad(Graph *g, Node *n) {
    int dy = val(g, n->out[0])->grad;
    for (int k = 0; k < n->nin; k++) {
        if (!val(g, n->in[k])->needs_grad) continue;
        char label[80];
        snprintf(label, sizeof label, "%s.grad%d", n->label, k + 1);
        Node *q = graph_node(g, &node_concat_grad, n->layer, PHASE_BACKWARD, label);
        q->aux = k;
        node_input(g, q, dy);
        grad_result(g, q, n->in[k]);
    }
}

/* Where value k of the concat node n starts in each example of its output. */
static long offset_of(const Graph *g, const Node *n, int k) {
    long at = 0;
    for (int j = 0; j < k; j++) at += features(g, n->in[j]);
    return at;
}

static void concat_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    long total = features(g, n->out[0]);
    const char *y = cname(g, n->out[0]);
    kernel_begin(e, g, k);
    emit(e, "/* %s = each example's values of the %d inputs, one after the other */", y, n->nin);
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    for (int j = 0; j < n->nin; j++) {
        long size = features(g, n->in[j]);
        emit(e, "    for (int j = 0; j < %ld; j++)", size);
        emit(e, "        %s[i * %ld + %ld + j] = %s[i * %ld + j];", y, total, offset_of(g, n, j), cname(g, n->in[j]), size);
    }
    emit(e, "}");
    kernel_end(e);
}

/* dx_k = dy's columns of input k, per example (+= where dx_k has other contributions) */
static void concat_grad_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *q = node(g, k->nodes[0]), *fwd = node(g, q->fwd);
    long total = features(g, fwd->out[0]), size = features(g, fwd->in[q->aux]), at = offset_of(g, fwd, q->aux);
    const char *dx = cname(g, q->out[0]), *dy = cname(g, q->in[0]);
    kernel_begin(e, g, k);
    emit(e, "/* %s %s the columns %ld to %ld of %s, per example */", dx, assign_op(q, 0), at, at + size - 1, dy);
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < n; i++)");
    emit(e, "    for (int j = 0; j < %ld; j++)", size);
    emit(e, "        %s[i * %ld + j] %s %s[i * %ld + %ld + j];", dx, size, assign_op(q, 0), dy, total, at);
    kernel_end(e);
}

static const NodeOp node_concat = { .name = "concat", .shape = concat_shape, .grad = concat_grad, .emit = concat_emit };
static const NodeOp node_concat_grad = { .name = "concat.grad", .emit = concat_grad_emit };
const OpDef op_concat = { .name = "concat", .kind = OP_LAYER, .values_args = 2, .node = &node_concat };

/* ---- grad.pass ---- */

static void pass_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    (void)g, (void)n, (void)at;
    sb_printf(sb, "%s", in);
}

static void pass_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    char what[256];
    snprintf(what, sizeof what, "%s %s %s: %s's gradient passed on", cname(g, n->out[0]), assign_op(n, 0),
             cname(g, n->in[0]), n->layer->op->name);
    pointwise_kernel(e, g, k, what);
}

const NodeOp node_grad_pass = { .name = "grad.pass", .emit = pass_emit, .pointwise = pass_pointwise, .inplace = 1 };
