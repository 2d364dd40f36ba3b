/* linear.c — linear(n, {init, bias, bias_init}): y = x·W + b with W of
 * shape (in, n), as in the book's from-scratch MLP.
 *
 * Forward is one runtime GEMM whose epilogue adds the bias (and applies a
 * fused activation).  The gradient rule appends grad_input (dx = dy·Wᵀ,
 * when x needs one; its epilogue can apply the previous activation's
 * derivative) and grad_params (dW = xᵀ·dy, db = Σ rows of dy; with sgd
 * fused, W and b are updated in place instead). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lower/gemm.h"
#include "ops.h"

static const char *const linear_opts[] = { "init", "bias", "bias_init", NULL };

static void linear_parse(Call *c, Layer *out) {
    LinearAttr *a = out->attr;
    call_max_args(c, 2);
    a->units = call_size(c, 1, "the number of outputs");
    a->bias = 1;
    if (call_opts(c, 2, linear_opts)) {
        call_opt_init(c, 2, "init", &a->init);
        call_opt_bool(c, 2, "bias", &a->bias);
        if (call_opt_init(c, 2, "bias_init", &a->bias_init) && !a->bias)
            call_fail(c, "bias_init is given but bias = false");
    }
}

/* PyTorch's default for nn.Linear: U(-1/√in, 1/√in) for weight and bias.
 * A spec that sets init (as the book does) gets zero biases by default. */
static Init default_init(long fan_in, Loc loc) {
    double bound = 1.0 / sqrt((double)fan_in);
    return (Init){ &op_uniform, -bound, bound, loc };
}

static void linear_shape(Graph *g, Node *n) {
    const Layer *l = n->layer;
    const LinearAttr *a = l->attr;
    const Value *x = val(g, n->in[LINEAR_X]);
    char got[96], call[64];
    if (!x->shape.batched || x->shape.rank != 1) {
        shape_str(&x->shape, got, sizeof got);
        fail_at(&l->loc, "%s: expects (batch, features), got %s%s", layer_call(n, call), got,
                x->shape.rank > 1 ? "; add flatten() before it" : "");
    }
    long in = x->shape.dim[0];
    if (in * a->units > KILN_MAX_TENSOR)
        fail_at(&l->loc, "%s: its weight would hold %ld × %ld values, above kiln's limit of %ld per tensor",
                layer_call(n, call), in, a->units, KILN_MAX_TENSOR);

    Value *y = val(g, n->out[0]);
    y->shape = (Shape){ .rank = 1, .dim = { a->units }, .batched = 1 };

    char name[64];
    Init winit = a->init.op ? a->init : default_init(in, l->loc);
    if (winit.op->init->resolve) winit.op->init->resolve(&winit, in, a->units);
    snprintf(name, sizeof name, "%s.weight", l->label);
    node_input(g, n, graph_param(g, name, (Shape){ .rank = 2, .dim = { in, a->units } }, winit));   /* LINEAR_W */
    if (a->bias) {
        Init binit = a->bias_init.op ? a->bias_init
                     : a->init.op    ? (Init){ &op_zeros, 0, 0, l->loc }
                                     : default_init(in, l->loc);
        if (binit.op->init->resolve) binit.op->init->resolve(&binit, in, a->units);
        snprintf(name, sizeof name, "%s.bias", l->label);
        node_input(g, n, graph_param(g, name, (Shape){ .rank = 1, .dim = { a->units } }, binit));   /* LINEAR_B */
    }
}

/* The input gradient comes first: it reads W, which the parameter-gradient
 * kernel may update in place once fused with the optimizer. */
static void linear_grad(Graph *g, Node *n) {
    int x = n->in[LINEAR_X], w = n->in[LINEAR_W], b = n->nin > LINEAR_B ? n->in[LINEAR_B] : -1;
    int dy = val(g, n->out[0])->grad;
    char label[80];

    if (val(g, x)->needs_grad) {
        snprintf(label, sizeof label, "%s.grad_input", n->label);
        Node *q = graph_node(g, &node_linear_grad_input, n->layer, PHASE_BACKWARD, label);
        node_input(g, q, dy);
        node_input(g, q, w);
        grad_result(g, q, x);
    }

    snprintf(label, sizeof label, "%s.grad_params", n->label);
    Node *p = graph_node(g, &node_linear_grad_params, n->layer, PHASE_BACKWARD, label);
    node_input(g, p, x);
    node_input(g, p, dy);
    grad_result(g, p, w);                 /* GRAD_PARAMS_DW */
    if (b >= 0) grad_result(g, p, b);     /* GRAD_PARAMS_DB */
}

/* forward: y = x·W + b, then the fused elementwise ops if any (an
 * activation, add), in the epilogue */
static void linear_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    long in = features(g, n->in[LINEAR_X]), out = features(g, n->out[0]);
    const char *x = cname(g, n->in[LINEAR_X]), *w = cname(g, n->in[LINEAR_W]);
    const char *bias = n->nin > LINEAR_B ? cname(g, n->in[LINEAR_B]) : NULL;
    int y = node(g, k->nodes[k->nnodes - 1])->out[0];
    char piece[160], product[256], name[128];
    snprintf(piece, sizeof piece, "piece%s%s", bias ? " + " : "", bias ? bias : "");
    snprintf(product, sizeof product, "%s · %s%s%s", x, w, bias ? " + " : "", bias ? bias : "");
    StrBuf what = {0}, formula = {0};
    sb_printf(&what, "%s = ", cname(g, y));
    epilogue_formula(&what, g, k, piece);
    epilogue_formula(&formula, g, k, product);
    if (bias || k->nnodes > 1) gemm_epilogue(e, g, k, bias, out, what.data);

    kernel_begin(e, g, k);
    emit(e, "/* %s = %s: (n, %ld) · (%ld, %ld) */", cname(g, y), formula.data, in, in, out);
    sb_free(&what);
    sb_free(&formula);
    emit(e, "kiln_gemm(&(const kiln_gemm_op){");
    emit(e, "    .m = n, .n = %ld, .k = %ld, .alpha = 1.0f,", out, in);
    gemm_a_operand(e, g, n->in[LINEAR_X], in);
    emit(e, "    .b = %s, .ldb = %ld,", w, out);
    gemm_operand(e, g, 'c', y, out);
    if (bias || k->nnodes > 1) emit(e, "    .epilogue = %s,", epilogue_name(k, name));
    emit(e, "});");
    kernel_end(e);
}

/* dW = xᵀ·dy and db = Σ_rows dy — or, with the update fused (p ← p + α·∇p),
 * W += α·xᵀ·dy and b += α·Σ_rows dy, with no gradient buffers. */
static void grad_params_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    if (n->acc[GRAD_PARAMS_DW] || (n->nout > 1 && n->acc[GRAD_PARAMS_DB]))   /* one layer object, one use */
        fail("internal error: %s: a parameter's gradient has two contributions", n->label);
    long in = features(g, n->in[0]), out = features(g, n->in[1]);
    const char *x = cname(g, n->in[0]), *dy = cname(g, n->in[1]);
    kernel_begin(e, g, k);
    for (int o = 0; o < n->nout; o++) {
        const Node *up = k->nnodes > 1 + o ? node(g, k->nodes[1 + o]) : NULL;
        const char *target = up ? cname(g, up->in[UPDATE_PARAM]) : cname(g, n->out[o]);
        GemmUpdate u = { "1.0f", "0.0f", 0 };
        if (up) up->op->gemm_update(up, &u);
        const char *alpha = u.alpha, *beta = u.beta;
        if (o == GRAD_PARAMS_DW) {
            if (up && !u.decays)
                emit(e, "/* %s -= lr · %sᵀ · %s: %s, fused (no gradient buffer) */", target, x, dy,
                     up->layer->op->name);
            else if (up)
                emit(e, "/* %s = (1 − lr·wd) · %s − lr · %sᵀ · %s: %s with weight decay, fused (no gradient buffer) */",
                     target, target, x, dy, up->layer->op->name);
            else emit(e, "/* %s = %sᵀ · %s: (%ld, n) · (n, %ld) */", target, x, dy, in, out);
            emit(e, "kiln_gemm(&(const kiln_gemm_op){");
            emit(e, "    .transa = KILN_TRANS, .m = %ld, .n = %ld, .k = n, .alpha = %s, .beta = %s,", in, out, alpha,
                 beta);
            gemm_a_operand(e, g, n->in[0], in);
            gemm_operand(e, g, 'b', n->in[1], out);
            emit(e, "    .c = %s, .ldc = %ld,", target, out);
            emit(e, "});");
        } else {
            if (up && !u.decays)
                emit(e, "/* %s -= lr · column sums of %s: %s, fused */", target, dy, up->layer->op->name);
            else if (up)
                emit(e, "/* %s = (1 − lr·wd) · %s − lr · column sums of %s: %s with weight decay, fused */", target,
                     target, dy, up->layer->op->name);
            else emit(e, "/* %s = column sums of %s */", target, dy);
            if (storage_of(g, n->in[1])->panels)
                emit(e, "kiln_column_sums_paneled(n, %ld, %s, KILN_PANEL, PANEL_STRIDE, %s, %s, %s);", out, dy,
                     alpha, beta, target);
            else
                emit(e, "kiln_column_sums(n, %ld, %s, %ld, %s, %s, %s);", out, dy, out, alpha, beta, target);
        }
    }
    kernel_end(e);
}

/* dx = dy·Wᵀ, then the fused elementwise ops if any (an activation's
 * derivative), in the epilogue; dx += dy·Wᵀ (beta = 1) where x's gradient
 * has other contributions, the epilogue then seeing their sum */
static void grad_input_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const Node *act = k->nnodes > 1 ? node(g, k->nodes[1]) : NULL;
    long out = features(g, n->in[0]), in = features(g, n->out[0]);
    const char *dy = cname(g, n->in[0]), *w = cname(g, n->in[1]);
    int dx = node(g, k->nodes[k->nnodes - 1])->out[0];
    char what[256], name[128], sum[256];
    if (n->acc[0]) snprintf(sum, sizeof sum, "(%s + %s · %sᵀ)", cname(g, n->out[0]), dy, w);
    else snprintf(sum, sizeof sum, "(%s · %sᵀ)", dy, w);
    if (k->nnodes > 2) {   /* several ops: their formula */
        StrBuf chain = {0};
        sb_printf(&chain, "%s = ", cname(g, dx));
        epilogue_formula(&chain, g, k, "piece");
        gemm_epilogue(e, g, k, NULL, in, chain.data);
        sb_free(&chain);
    } else if (act) {
        snprintf(what, sizeof what, "%s = piece ⊙ %s'(%s)", cname(g, dx), act->layer->op->name, cname(g, act->in[0]));
        gemm_epilogue(e, g, k, NULL, in, what);
    }
    kernel_begin(e, g, k);
    if (k->nnodes > 2) {
        StrBuf chain = {0};
        epilogue_formula(&chain, g, k, sum);
        emit(e, "/* %s = %s: (n, %ld) · (%ld, %ld) */", cname(g, dx), chain.data, out, out, in);
        sb_free(&chain);
    } else if (act)
        emit(e, "/* %s = %s ⊙ %s'(%s): (n, %ld) · (%ld, %ld) */", cname(g, dx), sum,
             act->layer->op->name, cname(g, act->in[0]), out, out, in);
    else
        emit(e, "/* %s %s %s · %sᵀ: (n, %ld) · (%ld, %ld) */", cname(g, dx), assign_op(n, 0), dy, w, out, out, in);
    emit(e, "kiln_gemm(&(const kiln_gemm_op){");
    emit(e, "    .transb = KILN_TRANS, .m = n, .n = %ld, .k = %ld, .alpha = 1.0f,%s", in, out,
         n->acc[0] ? " .beta = 1.0f,  /* added to the gradient's other contributions */" : "");
    gemm_operand(e, g, 'a', n->in[0], out);
    emit(e, "    .b = %s, .ldb = %ld,", w, out);
    gemm_operand(e, g, 'c', dx, in);
    if (act) emit(e, "    .epilogue = %s,", epilogue_name(k, name));
    emit(e, "});");
    kernel_end(e);
}

static void linear_describe(const Layer *l, char buf[64]) {
    snprintf(buf, 64, "linear(%ld)", ((const LinearAttr *)l->attr)->units);
}

static const NodeOp node_linear = {
    .name = "linear", .shape = linear_shape, .grad = linear_grad, .emit = linear_emit,
    .gemm_epilogue = 1, .reads_bytes = 1, .panels = 1,
};
const OpDef op_linear = {
    .name = "linear", .kind = OP_LAYER, .attr_size = sizeof(LinearAttr), .params = 1, .parse = linear_parse,
    .describe = linear_describe, .node = &node_linear,
};
const NodeOp node_linear_grad_params = {
    .name = "linear.grad_params", .emit = grad_params_emit, .fuses_update = 1, .panels = 1,
};
const NodeOp node_linear_grad_input = {
    .name = "linear.grad_input", .emit = grad_input_emit, .gemm_epilogue = 1, .panels = 1,
};
