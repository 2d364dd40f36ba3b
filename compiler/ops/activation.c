/* activation.c — elementwise activations relu(), sigmoid(), tanh().
 * Each is described by its formula y = f(x) and its derivative written in
 * terms of the output y (so backward needs only y and dy):
 *   relu     y = max(x, 0)        dx = dy · [y > 0]
 *   sigmoid  y = 1 / (1 + e^-x)   dx = dy · y · (1 − y)
 *   tanh     y = tanh(x)          dx = dy · (1 − y²)
 * Both directions are pointwise: a GEMM before them applies them in its
 * epilogue (fuse.c); alone, each is one parallel loop. */
#include <stdio.h>
#include <string.h>

#include "ops.h"

typedef struct {
    const OpDef *fwd, *bwd;
    const char *forward;    /* C expression of X, the input element */
    const char *backward;   /* C expression of Y (output element) and DY */
} Activation;

static const Activation activations[] = {
    { &op_relu, &op_relu_grad, "X > 0.0f ? X : 0.0f", "Y > 0.0f ? DY : 0.0f" },
    { &op_sigmoid, &op_sigmoid_grad, "1.0f / (1.0f + expf(-X))", "DY * Y * (1.0f - Y)" },
    { &op_tanh, &op_tanh_grad, "tanhf(X)", "DY * (1.0f - Y * Y)" },
};

static const Activation *find(const OpDef *op) {
    for (size_t i = 0; i < sizeof activations / sizeof *activations; i++)
        if (activations[i].fwd == op || activations[i].bwd == op) return &activations[i];
    return NULL;
}

/* Write expr with X → x, DY → dy and Y → y (each a C expression). */
static void expand(StrBuf *sb, const char *expr, const char *x, const char *y, const char *dy) {
    for (const char *p = expr; *p;) {
        if (strncmp(p, "DY", 2) == 0) { sb_printf(sb, "%s", dy); p += 2; }
        else if (*p == 'X') { sb_printf(sb, "%s", x); p++; }
        else if (*p == 'Y') { sb_printf(sb, "%s", y); p++; }
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
    Node *b = graph_node(g, find(n->op)->bwd, n->layer, PHASE_BACKWARD, label);
    node_input(g, b, y);
    node_input(g, b, dy);
    node_result(g, b, grad_of(g, x));
}

/* forward: in is the input element */
static void act_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    (void)g;
    (void)at;
    expand(sb, find(n->op)->forward, in, "", "");
}

/* backward: in is the element of dy; y is read from the forward output */
static void act_grad_pointwise(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at) {
    char y[160];
    snprintf(y, sizeof y, "%s[%s]", cname(g, n->in[0]), at);
    expand(sb, find(n->op)->backward, "", y, in);
}

/* Standalone: one parallel loop over the (n, features) elements. */
static void act_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    int in = n->in[n->op->main_input];
    const char *x = cname(g, in), *y = cname(g, n->out[0]);
    char elem[96];
    snprintf(elem, sizeof elem, "%s[i]", x);
    StrBuf body = {0};
    n->op->pointwise(&body, g, n, elem, "i");
    kernel_begin(e, g, k);
    if (n->phase == PHASE_FORWARD) emit(e, "/* %s = %s(%s) */", y, n->op->name, x);
    else emit(e, "/* %s = %s ⊙ %s'(…), from the output %s */", y, x, n->layer->op->name, cname(g, n->in[0]));
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < n * %ld; i++)", features(g, n->out[0]));
    emit(e, "    %s[i] = %s;", y, body.data);
    kernel_end(e);
    sb_free(&body);
}

#define ACTIVATION(NAME)                                                                        \
    const OpDef op_##NAME = { .name = #NAME, .kind = OP_LAYER, .parse = parse_no_args,          \
                              .shape = act_shape, .grad = act_grad, .emit = act_emit,           \
                              .pointwise = act_pointwise };                                     \
    const OpDef op_##NAME##_grad = { .name = #NAME ".grad", .kind = OP_INTERNAL, .emit = act_emit, \
                                     .pointwise = act_grad_pointwise, .main_input = 1 };

ACTIVATION(relu)
ACTIVATION(sigmoid)
ACTIVATION(tanh)
