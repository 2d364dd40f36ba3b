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
    if (winit.op->resolve) winit.op->resolve(&winit, in, l->units);
    snprintf(name, sizeof name, "%s.weight", l->label);
    node_input(g, n, graph_param(g, name, (Shape){ .rank = 2, .dim = { in, l->units } }, winit));
    if (l->bias) {
        Init binit = l->bias_init.op ? l->bias_init
                     : l->init.op    ? (Init){ op_find("zeros"), 0, 0, l->loc }
                                     : default_init(in, l->loc);
        if (binit.op->resolve) binit.op->resolve(&binit, in, l->units);
        snprintf(name, sizeof name, "%s.bias", l->label);
        node_input(g, n, graph_param(g, name, (Shape){ .rank = 1, .dim = { l->units } }, binit));
    }
}

/* The input gradient comes first: it reads W, which the parameter-gradient
 * kernel may update in place once fused with the optimizer. */
static void linear_grad(Graph *g, Node *n) {
    int x = n->in[0], w = n->in[1], b = n->nin > 2 ? n->in[2] : -1;
    int dy = val(g, n->out[0])->grad;
    char label[80];

    if (val(g, x)->needs_grad) {
        snprintf(label, sizeof label, "%s.grad_input", n->label);
        Node *q = graph_node(g, &op_linear_grad_input, n->layer, PHASE_BACKWARD, label);
        node_input(g, q, dy);
        node_input(g, q, w);
        node_result(g, q, grad_of(g, x));
    }

    snprintf(label, sizeof label, "%s.grad_params", n->label);
    Node *p = graph_node(g, &op_linear_grad_params, n->layer, PHASE_BACKWARD, label);
    node_input(g, p, x);
    node_input(g, p, dy);
    node_result(g, p, grad_of(g, w));
    if (b >= 0) node_result(g, p, grad_of(g, b));
}

/* Operand X (a, b or c) of a GEMM: value v, rows ld floats apart, or a
 * hidden layer's buffer in column panels (plan.c). */
static void emit_operand(Emit *e, const Graph *g, char x, int v, long ld) {
    if (storage_of(g, v)->panels)
        emit(e, "    .%c = %s, .ld%c = KILN_PANEL, .%c_panel_stride = PANEL_STRIDE,", x, cname(g, v), x, x);
    else
        emit(e, "    .%c = %s, .ld%c = %ld,", x, cname(g, v), x, ld);
}

/* The A operand of a GEMM reading value v: the raw input bytes (scaled as
 * they are packed) or a float buffer. */
static void emit_a_operand(Emit *e, const Graph *g, int v, long ld) {
    if (storage_of(g, v)->kind == VAL_INPUT && storage_of(g, v)->bytes)
        emit(e, "    .a_u8 = %s, .a_scale = INPUT_SCALE, .lda = %ld,", cname(g, v), ld);
    else
        emit_operand(e, g, 'a', v, ld);
}

/* An epilogue function applying `bias` (or NULL) and then the pointwise op p
 * (or NULL) to each finished piece of a GEMM's C, whose rows are `width`
 * apart in the (batch, width) buffers the pointwise op indexes — or which,
 * like C, are in column panels (a piece never spans two). */
static void emit_epilogue(Emit *e, const Graph *g, const Kernel *k, const char *bias, const Node *p,
                          long width, const char *what) {
    char name[128];
    StrBuf expr = {0};
    if (p) {
        char at[128];
        if (storage_of(g, p->out[0])->panels)   /* (the piece lies in one panel) */
            snprintf(at, sizeof at, "PANEL_AT(i0 + i, j0) + j");
        else
            snprintf(at, sizeof at, "(i0 + i) * %ld + j0 + j", width);
        p->op->pointwise(&expr, g, p, "v", at);
    }
    emit(e, "/* %s, on each finished piece of the product: %s */", epilogue_name(k, name), what);
    emit(e, "static void %s(const kiln_gemm_op *op, int i0, int j0, int rows, int cols, float *c, int ldc)", name);
    emit(e, "{");
    e->indent++;
    emit(e, "(void)op;");
    if (!expr.data || !strstr(expr.data, "i0")) emit(e, "(void)i0;");
    if (!bias && (!expr.data || !strstr(expr.data, "j0"))) emit(e, "(void)j0;");
    emit(e, "for (int i = 0; i < rows; i++)");
    emit(e, "    for (int j = 0; j < cols; j++) {");
    if (!p) {
        emit(e, "        c[i * ldc + j] += %s[j0 + j];", bias);
    } else {
        if (bias) emit(e, "        const float v = c[i * ldc + j] + %s[j0 + j];", bias);
        else emit(e, "        const float v = c[i * ldc + j];");
        emit(e, "        c[i * ldc + j] = %s;", expr.data);
    }
    emit(e, "    }");
    e->indent--;
    emit(e, "}");
    emit_blank(e);
    sb_free(&expr);
}

/* forward: y = x·W + b, then the fused activation if any, in the epilogue */
static void linear_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const Node *act = k->nnodes > 1 ? node(g, k->nodes[1]) : NULL;
    long in = features(g, n->in[0]), out = features(g, n->out[0]);
    const char *x = cname(g, n->in[0]), *w = cname(g, n->in[1]);
    const char *bias = n->nin > 2 ? cname(g, n->in[2]) : NULL;
    int y = act ? act->out[0] : n->out[0];
    char what[256], name[128];
    if (act) snprintf(what, sizeof what, "%s = %s(piece%s%s)", cname(g, y), act->op->name, bias ? " + " : "", bias ? bias : "");
    else snprintf(what, sizeof what, "%s = piece + %s", cname(g, y), bias ? bias : "");
    if (bias || act) emit_epilogue(e, g, k, bias, act, out, what);

    kernel_begin(e, g, k);
    emit(e, "/* %s = %s%s%s · %s%s%s%s: (n, %ld) · (%ld, %ld) */", cname(g, y), act ? act->op->name : "",
         act ? "(" : "", x, w, bias ? " + " : "", bias ? bias : "", act ? ")" : "", in, in, out);
    emit(e, "kiln_gemm(&(const kiln_gemm_op){");
    emit(e, "    .m = n, .n = %ld, .k = %ld, .alpha = 1.0f,", out, in);
    emit_a_operand(e, g, n->in[0], in);
    emit(e, "    .b = %s, .ldb = %ld,", w, out);
    emit_operand(e, g, 'c', y, out);
    if (bias || act) emit(e, "    .epilogue = %s,", epilogue_name(k, name));
    emit(e, "});");
    kernel_end(e);
}

/* dW = xᵀ·dy and db = Σ_rows dy — or, with the update fused (p ← p + α·∇p),
 * W += α·xᵀ·dy and b += α·Σ_rows dy, with no gradient buffers. */
static void grad_params_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    long in = features(g, n->in[0]), out = features(g, n->in[1]);
    const char *x = cname(g, n->in[0]), *dy = cname(g, n->in[1]);
    kernel_begin(e, g, k);
    for (int o = 0; o < n->nout; o++) {
        const Node *up = k->nnodes > 1 + o ? node(g, k->nodes[1 + o]) : NULL;
        char alpha[40], beta[40];
        const char *target = up ? cname(g, up->in[0]) : cname(g, n->out[o]);
        double a = 1.0, bt = 0.0;
        if (up) up->op->gemm_update(up, &a, &bt);
        float_literal(alpha, a);
        float_literal(beta, bt);
        if (o == 0) {
            if (up && bt == 1.0)
                emit(e, "/* %s += %s · %sᵀ · %s: %s, fused (no gradient buffer) */", target, alpha, x, dy,
                     up->layer->op->name);
            else if (up)
                emit(e, "/* %s = %s · %s + %s · %sᵀ · %s: %s with weight decay, fused (no gradient buffer) */",
                     target, beta, target, alpha, x, dy, up->layer->op->name);
            else emit(e, "/* %s = %sᵀ · %s: (%ld, n) · (n, %ld) */", target, x, dy, in, out);
            emit(e, "kiln_gemm(&(const kiln_gemm_op){");
            emit(e, "    .transa = KILN_TRANS, .m = %ld, .n = %ld, .k = n, .alpha = %s, .beta = %s,", in, out, alpha,
                 beta);
            emit_a_operand(e, g, n->in[0], in);
            emit_operand(e, g, 'b', n->in[1], out);
            emit(e, "    .c = %s, .ldc = %ld,", target, out);
            emit(e, "});");
        } else {
            if (up && bt == 1.0)
                emit(e, "/* %s += %s · column sums of %s: %s, fused */", target, alpha, dy, up->layer->op->name);
            else if (up)
                emit(e, "/* %s = %s · %s + %s · column sums of %s: %s with weight decay, fused */", target, beta,
                     target, alpha, dy, up->layer->op->name);
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

/* dx = dy·Wᵀ, then the fused activation derivative if any, in the epilogue */
static void grad_input_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const Node *act = k->nnodes > 1 ? node(g, k->nodes[1]) : NULL;
    long out = features(g, n->in[0]), in = features(g, n->out[0]);
    const char *dy = cname(g, n->in[0]), *w = cname(g, n->in[1]);
    int dx = act ? act->out[0] : n->out[0];
    char what[256], name[128];
    if (act) {
        snprintf(what, sizeof what, "%s = piece ⊙ %s'(%s)", cname(g, dx), act->layer->op->name, cname(g, act->in[0]));
        emit_epilogue(e, g, k, NULL, act, in, what);
    }
    kernel_begin(e, g, k);
    if (act)
        emit(e, "/* %s = (%s · %sᵀ) ⊙ %s'(%s): (n, %ld) · (%ld, %ld) */", cname(g, dx), dy, w,
             act->layer->op->name, cname(g, act->in[0]), out, out, in);
    else
        emit(e, "/* %s = %s · %sᵀ: (n, %ld) · (%ld, %ld) */", cname(g, dx), dy, w, out, out, in);
    emit(e, "kiln_gemm(&(const kiln_gemm_op){");
    emit(e, "    .transb = KILN_TRANS, .m = n, .n = %ld, .k = %ld, .alpha = 1.0f,", in, out);
    emit_operand(e, g, 'a', n->in[0], out);
    emit(e, "    .b = %s, .ldb = %ld,", w, out);
    emit_operand(e, g, 'c', dx, in);
    if (act) emit(e, "    .epilogue = %s,", epilogue_name(k, name));
    emit(e, "});");
    kernel_end(e);
}

static void linear_describe(const Layer *l, char buf[64]) { snprintf(buf, 64, "linear(%ld)", l->units); }

const OpDef op_linear = {
    .name = "linear", .kind = OP_LAYER,
    .parse = linear_parse, .shape = linear_shape, .grad = linear_grad, .emit = linear_emit,
    .gemm_epilogue = 1, .reads_bytes = 1, .panels = 1, .describe = linear_describe,
};
const OpDef op_linear_grad_params = {
    .name = "linear.grad_params", .kind = OP_INTERNAL, .emit = grad_params_emit, .fuses_update = 1,
    .panels = 1,
};
const OpDef op_linear_grad_input = {
    .name = "linear.grad_input", .kind = OP_INTERNAL, .emit = grad_input_emit, .gemm_epilogue = 1,
    .panels = 1,
};
