/* dropout.c — dropout(p): inverted dropout.  In training each element is
 * zeroed with probability p and the rest scaled by 1/(1 − p); in
 * evaluation it passes through unchanged.  The mask comes from
 * kiln_keep(key, step, i): seeded (the key is drawn in init), different at
 * every step, the same for any thread count, and recomputed by the
 * backward pass (dx = dy · mask / (1 − p)) instead of stored.  Both
 * directions are pointwise, so a GEMM's epilogue can absorb them. */
#include <math.h>
#include <stdio.h>

#include "../lower/loop.h"
#include "ops.h"

static const NodeOp node_dropout_grad;

static void dropout_parse(Call *c, Layer *out) {
    DropoutAttr *a = out->attr;
    call_max_args(c, 1);
    a->p = call_number(c, 1, "the drop probability p");
    if (a->p < 0 || a->p >= 1) call_fail(c, "p must be from 0 to 1 (not included), got %g", a->p);
}

static double drop_p(const Node *n) { return ((const DropoutAttr *)n->layer->attr)->p; }

static void dropout_shape(Graph *g, Node *n) {
    val(g, n->out[0])->shape = val(g, n->in[0])->shape;
}

static void dropout_grad(Graph *g, Node *n) {
    char label[80];
    snprintf(label, sizeof label, "%s.grad", n->label);
    int dy = val(g, n->out[0])->grad;
    Node *b = graph_node(g, &node_dropout_grad, n->layer, PHASE_BACKWARD, label);
    node_input(g, b, dy);
    grad_result(g, b, n->in[0]);
}

/* training ? (kept ? in · scale : 0) : in — the same mask both ways */
static void dropout_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    (void)g;
    char scale[40];
    double p = drop_p(n);
    uint32_t drop = (uint32_t)fmin(4294967295.0, floor(p * 4294967296.0 + 0.5));
    float_literal(scale, 1.0 / (1.0 - p));
    sb_printf(sb, "!training ? %s : kiln_keep(dropout_key + %d, steps, (uint64_t)(%s), %uu) ? %s * %s : 0.0f",
              in, n->layer->index, at, drop, in, scale);
}

static void dropout_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    char what[256];
    snprintf(what, sizeof what, "%s %s %s with each element dropped with probability %g and the rest scaled, in training",
             cname(g, n->out[0]), assign_op(n, 0), cname(g, n->in[n->op->main_input]), drop_p(n));
    pointwise_kernel(e, g, k, what);
}

static void dropout_describe(const Layer *l, char buf[64]) {
    snprintf(buf, 64, "dropout(%g)", ((const DropoutAttr *)l->attr)->p);
}

static const NodeOp node_dropout = {
    .name = "dropout", .shape = dropout_shape, .grad = dropout_grad, .emit = dropout_emit,
    .pointwise = dropout_pointwise, .reads_index = 1, .training_mode = 1,
};
/* dx = dy · mask / (1 − p): the forward's pointwise rule applied to dy */
static const NodeOp node_dropout_grad = {
    .name = "dropout.grad", .emit = dropout_emit, .pointwise = dropout_pointwise, .reads_index = 1,
    .training_mode = 1,
};
const OpDef op_dropout = {
    .name = "dropout", .kind = OP_LAYER, .attr_size = sizeof(DropoutAttr), .parse = dropout_parse,
    .describe = dropout_describe, .node = &node_dropout,
};
