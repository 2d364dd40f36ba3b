/* activation.c — elementwise activations relu(), sigmoid(), tanh().
 * Each is described by its formula y = f(x) and its derivative written in
 * terms of the output y (so backward needs only y and dy):
 *   relu     y = max(x, 0)        dx = dy · [y > 0]
 *   sigmoid  y = 1 / (1 + e^-x)   dx = dy · y · (1 − y)
 *   tanh     y = tanh(x)          dx = dy · (1 − y²) */
#include <stdio.h>
#include <string.h>

#include "ops.h"

typedef struct {
    const OpDef *fwd, *bwd;
    const char *forward;    /* C expression of x[i] */
    const char *backward;   /* C expression of y[i] and dy[i] */
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

/* Write expr with X, Y and DY replaced by indexed buffer names. */
static void expand(StrBuf *sb, const char *expr, const char *x, const char *y, const char *dy) {
    for (const char *p = expr; *p;) {
        if (strncmp(p, "DY", 2) == 0) { sb_printf(sb, "%s[i]", dy); p += 2; }
        else if (*p == 'X') { sb_printf(sb, "%s[i]", x); p++; }
        else if (*p == 'Y') { sb_printf(sb, "%s[i]", y); p++; }
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

static void loop(Emit *e, const Graph *g, int value, const char *target, const char *body) {
    emit(e, "#pragma omp parallel for");
    emit(e, "for (int i = 0; i < n * %ld; i++)", features(g, value));
    emit(e, "    %s[i] = %s;", target, body);
}

static void act_emit(Emit *e, const Graph *g, const Node *n) {
    const char *x = cname(g, n->in[0]), *y = cname(g, n->out[0]);
    StrBuf body = {0};
    expand(&body, find(n->op)->forward, x, y, "");
    emit(e, "/* %s = %s(%s) */", y, n->op->name, x);
    loop(e, g, n->out[0], y, body.data);
    sb_free(&body);
}

static void act_grad_emit(Emit *e, const Graph *g, const Node *n) {
    const char *y = cname(g, n->in[0]), *dy = cname(g, n->in[1]), *dx = cname(g, n->out[0]);
    StrBuf body = {0};
    expand(&body, find(n->op)->backward, "", y, dy);
    emit(e, "/* %s = %s ⊙ %s'(…), from the output %s */", dx, dy, find(n->op)->fwd->name, y);
    loop(e, g, n->out[0], dx, body.data);
    sb_free(&body);
}

#define ACTIVATION(NAME)                                                                   \
    const OpDef op_##NAME = { .name = #NAME, .kind = OP_LAYER, .parse = parse_no_args,     \
                              .shape = act_shape, .grad = act_grad, .emit = act_emit };   \
    const OpDef op_##NAME##_grad = { .name = #NAME ".grad", .kind = OP_INTERNAL, .emit = act_grad_emit };

ACTIVATION(relu)
ACTIVATION(sigmoid)
ACTIVATION(tanh)
