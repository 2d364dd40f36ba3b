/* activation.c — elementwise activations: relu(), leaky_relu(slope),
 * sigmoid(), tanh().  Each is one row of ACTIVATIONS: its formula y = f(x)
 * and its derivative written in terms of the output y (so backward needs
 * only y and dy), with A standing for its one optional argument:
 *   relu        y = max(x, 0)            dx = dy · [y > 0]
 *   leaky_relu  y = x > 0 ? x : A·x      dx = y > 0 ? dy : A·dy   (A ≥ 0: y > 0 ⇔ x > 0)
 *   sigmoid     y = 1 / (1 + e^-x)       dx = dy · y · (1 − y)
 *   tanh        y = tanh(x)              dx = dy · (1 − y²)
 * Both directions are pointwise: a GEMM before them applies them in its
 * epilogue (fuse.c); alone, each is one parallel loop.  Adding an
 * activation is one row here and one line in registry.c. */
#include <stdio.h>
#include <string.h>

#include "../lower/loop.h"
#include "ops.h"

/* name, forward (X: the input element), backward (Y: the output element,
 * DY: its gradient), the argument A (NULL: none), its default and range */
#define ACTIVATIONS(X)                                                                                     \
    X(relu, "X > 0.0f ? X : 0.0f", "Y > 0.0f ? DY : 0.0f", NULL, 0, 0, 0)                                  \
    X(leaky_relu, "X > 0.0f ? X : A * X", "Y > 0.0f ? DY : A * DY", "slope", 0.01, 0, 1)                   \
    X(sigmoid, "1.0f / (1.0f + kiln_expf(-X))", "DY * Y * (1.0f - Y)", NULL, 0, 0, 0)                           \
    X(tanh, "tanhf(X)", "DY * (1.0f - Y * Y)", NULL, 0, 0, 0)

typedef struct {
    const OpDef *op;
    const NodeOp *fwd, *bwd;
    const char *forward, *backward;
    const char *arg;        /* the argument's name, or NULL */
    double dflt, lo, hi;    /* its default and range [lo, hi) */
} Activation;

#define DECLARE(NAME, F, B, ARG, DFLT, LO, HI) \
    extern const OpDef op_##NAME;              \
    static const NodeOp node_##NAME, node_##NAME##_grad;
ACTIVATIONS(DECLARE)

#define ROW(NAME, F, B, ARG, DFLT, LO, HI) { &op_##NAME, &node_##NAME, &node_##NAME##_grad, F, B, ARG, DFLT, LO, HI },
static const Activation activations[] = { ACTIVATIONS(ROW) };

static const Activation *find_op(const OpDef *op) {
    for (size_t i = 0; i < sizeof activations / sizeof *activations; i++)
        if (activations[i].op == op) return &activations[i];
    return NULL;
}

static const Activation *find_node(const NodeOp *op) {
    for (size_t i = 0; i < sizeof activations / sizeof *activations; i++)
        if (activations[i].fwd == op || activations[i].bwd == op) return &activations[i];
    return NULL;
}

static void act_parse(Call *c, Layer *out) {
    const Activation *a = find_op(out->op);
    ActivationAttr *at = out->attr;
    call_max_args(c, a->arg ? 1 : 0);
    at->slope = a->dflt;
    if (a->arg && c->nargs >= 1) {
        char what[64];
        snprintf(what, sizeof what, "the %s", a->arg);
        at->slope = call_number(c, 1, what);
        if (at->slope < a->lo || at->slope >= a->hi)
            call_fail(c, "%s must be from %g to %g (not included), got %g", a->arg, a->lo, a->hi, at->slope);
    }
}

static void act_describe(const Layer *l, char buf[64]) {
    const Activation *a = find_op(l->op);
    if (a->arg) snprintf(buf, 64, "%s(%g)", l->op->name, ((const ActivationAttr *)l->attr)->slope);
    else snprintf(buf, 64, "%s()", l->op->name);
}

/* Write expr with X → x, DY → dy, Y → y and A → the layer's argument. */
static void expand(StrBuf *sb, const char *expr, const Layer *l, const char *x, const char *y, const char *dy) {
    for (const char *p = expr; *p;) {
        if (strncmp(p, "DY", 2) == 0) { sb_printf(sb, "%s", dy); p += 2; }
        else if (*p == 'X') { sb_printf(sb, "%s", x); p++; }
        else if (*p == 'Y') { sb_printf(sb, "%s", y); p++; }
        else if (*p == 'A') {
            char lit[40];
            sb_printf(sb, "%s", float_literal(lit, ((const ActivationAttr *)l->attr)->slope));
            p++;
        }
        else sb_printf(sb, "%c", *p++);
    }
}

static void act_shape(Graph *g, Node *n) {
    val(g, n->out[0])->shape = val(g, n->in[0])->shape;
}

static void act_grad(Graph *g, Node *n) {
    char label[80];
    snprintf(label, sizeof label, "%s.grad", n->label);
    int y = n->out[0], dy = val(g, y)->grad, x = n->in[0];
    Node *b = graph_node(g, find_node(n->op)->bwd, n->layer, PHASE_BACKWARD, label);
    node_input(g, b, y);
    node_input(g, b, dy);
    grad_result(g, b, x);
}

/* forward: in is the input element */
static void act_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    (void)g;
    (void)at;
    expand(sb, find_node(n->op)->forward, n->layer, in, "", "");
}

/* backward: in is the element of dy; y is read from the forward output */
static void act_grad_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    char y[160];
    snprintf(y, sizeof y, "%s[%s]", cname(g, n->in[0]), at);
    expand(sb, find_node(n->op)->backward, n->layer, "", y, in);
}

/* Standalone: one parallel loop over the (n, features) elements. */
static void act_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const char *x = cname(g, n->in[n->op->main_input]), *y = cname(g, n->out[0]);
    char what[256];
    if (n->phase == PHASE_FORWARD) snprintf(what, sizeof what, "%s = %s(%s)", y, n->op->name, x);
    else snprintf(what, sizeof what, "%s %s %s ⊙ %s'(…), from the output %s", y, assign_op(n, 0), x,
                  n->layer->op->name, cname(g, n->in[0]));
    pointwise_kernel(e, g, k, what);
}

#define DEFINE(NAME, F, B, ARG, DFLT, LO, HI)                                                                  \
    static const NodeOp node_##NAME = { .name = #NAME, .shape = act_shape, .grad = act_grad,                  \
                                        .emit = act_emit, .pointwise = act_pointwise };                       \
    static const NodeOp node_##NAME##_grad = { .name = #NAME ".grad", .emit = act_emit,                       \
                                               .pointwise = act_grad_pointwise, .main_input = 1,              \
                                               .reads_index = 1 };                                            \
    const OpDef op_##NAME = { .name = #NAME, .kind = OP_LAYER, .attr_size = sizeof(ActivationAttr),           \
                              .parse = act_parse, .describe = act_describe, .node = &node_##NAME };
ACTIVATIONS(DEFINE)
