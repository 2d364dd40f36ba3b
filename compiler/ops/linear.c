/* linear.c — linear(n, {init, bias, bias_init}): y = x·W + b with W of
 * shape (in, n), as in the book's from-scratch MLP.
 *
 * Forward is one runtime GEMM plus a bias loop; the gradient rule appends
 * grad_params (dW = xᵀ·dy, db = Σ rows of dy) and, when x needs one,
 * grad_input (dx = dy·Wᵀ). */
#include <math.h>
#include <stdio.h>

#include "ops.h"

static const char *const linear_opts[] = { "init", "bias", "bias_init", NULL };

static void linear_parse(Call *c, Layer *out) {
    call_max_args(c, 2);
    out->units = call_size(c, 1, "the number of outputs");
    out->bias = 1;
    if (call_opts(c, 2, linear_opts)) {
        call_opt_init(c, 2, "init", &out->init);
        call_opt_bool(c, 2, "bias", &out->bias);
        if (call_opt_init(c, 2, "bias_init", &out->bias_init) && !out->bias)
            call_fail(c, "bias_init is given but bias = false");
    }
}

/* PyTorch's default for nn.Linear: U(-1/√in, 1/√in) for weight and bias.
 * A spec that sets init (as the book does) gets zero biases by default. */
static Init default_init(long fan_in, Loc loc) {
    double bound = 1.0 / sqrt((double)fan_in);
    return (Init){ op_find("uniform"), -bound, bound, loc };
}

static void linear_shape(Graph *g, Node *n) {
    const Layer *l = n->layer;
    const Value *x = val(g, n->in[0]);
    char got[96], call[64];
    if (!x->shape.batched || x->shape.rank != 1) {
        shape_str(&x->shape, got, sizeof got);
        fail_at(&l->loc, "%s: expects (batch, features), got %s%s", layer_call(n, call), got,
                x->shape.rank > 1 ? "; add flatten() before it" : "");
    }
    long in = x->shape.dim[0];
    if (in * l->units > KILN_MAX_TENSOR)
        fail_at(&l->loc, "%s: its weight would hold %ld × %ld values, above kiln's limit of %ld per tensor",
                layer_call(n, call), in, l->units, KILN_MAX_TENSOR);

    Value *y = val(g, n->out[0]);
    y->shape = (Shape){ .rank = 1, .dim = { l->units }, .batched = 1 };

    char name[64];
    Init winit = l->init.op ? l->init : default_init(in, l->loc);
    snprintf(name, sizeof name, "%s.weight", l->label);
    node_input(g, n, graph_param(g, name, (Shape){ .rank = 2, .dim = { in, l->units } }, winit));
    if (l->bias) {
        Init binit = l->bias_init.op ? l->bias_init
                     : l->init.op    ? (Init){ op_find("zeros"), 0, 0, l->loc }
                                     : default_init(in, l->loc);
        snprintf(name, sizeof name, "%s.bias", l->label);
        node_input(g, n, graph_param(g, name, (Shape){ .rank = 1, .dim = { l->units } }, binit));
    }
}

static void linear_grad(Graph *g, Node *n) {
    int x = n->in[0], w = n->in[1], b = n->nin > 2 ? n->in[2] : -1;
    int dy = val(g, n->out[0])->grad;
    char label[80];

    snprintf(label, sizeof label, "%s.grad_params", n->label);
    Node *p = graph_node(g, &op_linear_grad_params, n->layer, PHASE_BACKWARD, label);
    node_input(g, p, x);
    node_input(g, p, dy);
    node_result(g, p, grad_of(g, w));
    if (b >= 0) node_result(g, p, grad_of(g, b));

    if (val(g, x)->needs_grad) {
        snprintf(label, sizeof label, "%s.grad_input", n->label);
        Node *q = graph_node(g, &op_linear_grad_input, n->layer, PHASE_BACKWARD, label);
        node_input(g, q, dy);
        node_input(g, q, w);
        node_result(g, q, grad_of(g, x));
    }
}

/* y = x·W + b */
static void linear_emit(Emit *e, const Graph *g, const Node *n) {
    long in = features(g, n->in[0]), out = features(g, n->out[0]);
    const char *x = cname(g, n->in[0]), *y = cname(g, n->out[0]), *w = cname(g, n->in[1]);
    emit(e, "/* %s = %s · %s%s%s: (n, %ld) · (%ld, %ld) */", y, x, w, n->nin > 2 ? " + " : "",
         n->nin > 2 ? cname(g, n->in[2]) : "", in, in, out);
    emit(e, "kiln_sgemm(KILN_NOTRANS, KILN_NOTRANS, n, %ld, %ld, 1.0f, %s, %ld, %s, %ld, 0.0f, %s, %ld);",
         out, in, x, in, w, out, y, out);
    if (n->nin > 2) {
        emit(e, "#pragma omp parallel for");
        emit(e, "for (int i = 0; i < n; i++)");
        emit(e, "    for (int j = 0; j < %ld; j++)", out);
        emit(e, "        %s[i * %ld + j] += %s[j];", y, out, cname(g, n->in[2]));
    }
}

/* dW = xᵀ·dy; db = Σ_rows dy (each column summed in row order: the same
 * bits for any thread count) */
static void grad_params_emit(Emit *e, const Graph *g, const Node *n) {
    long in = features(g, n->in[0]), out = features(g, n->in[1]);
    const char *x = cname(g, n->in[0]), *dy = cname(g, n->in[1]), *dw = cname(g, n->out[0]);
    emit(e, "/* %s = %sᵀ · %s: (%ld, n) · (n, %ld) */", dw, x, dy, in, out);
    emit(e, "kiln_sgemm(KILN_TRANS, KILN_NOTRANS, %ld, %ld, n, 1.0f, %s, %ld, %s, %ld, 0.0f, %s, %ld);",
         in, out, x, in, dy, out, dw, out);
    if (n->nout > 1) {
        const char *db = cname(g, n->out[1]);
        emit(e, "/* %s = column sums of %s */", db, dy);
        emit(e, "#pragma omp parallel for");
        emit(e, "for (int j = 0; j < %ld; j++) {", out);
        emit(e, "    float sum = 0.0f;");
        emit(e, "    for (int i = 0; i < n; i++)");
        emit(e, "        sum += %s[i * %ld + j];", dy, out);
        emit(e, "    %s[j] = sum;", db);
        emit(e, "}");
    }
}

/* dx = dy·Wᵀ */
static void grad_input_emit(Emit *e, const Graph *g, const Node *n) {
    long out = features(g, n->in[0]), in = features(g, n->out[0]);
    const char *dy = cname(g, n->in[0]), *w = cname(g, n->in[1]), *dx = cname(g, n->out[0]);
    emit(e, "/* %s = %s · %sᵀ: (n, %ld) · (%ld, %ld) */", dx, dy, w, out, out, in);
    emit(e, "kiln_sgemm(KILN_NOTRANS, KILN_TRANS, n, %ld, %ld, 1.0f, %s, %ld, %s, %ld, 0.0f, %s, %ld);",
         in, out, dy, out, w, out, dx, in);
}

const OpDef op_linear = {
    .name = "linear", .kind = OP_LAYER,
    .parse = linear_parse, .shape = linear_shape, .grad = linear_grad, .emit = linear_emit,
};
const OpDef op_linear_grad_params = { .name = "linear.grad_params", .kind = OP_INTERNAL, .emit = grad_params_emit };
const OpDef op_linear_grad_input = { .name = "linear.grad_input", .kind = OP_INTERNAL, .emit = grad_input_emit };
