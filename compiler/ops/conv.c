/* conv.c — conv2d(out_channels, kernel, {stride = 1, padding = 0, bias =
 * true, init, bias_init}): PyTorch's nn.Conv2d on (batch, channels, height,
 * width) values, a cross-correlation with weight (out, in, kh, kw):
 *
 *   y[o][r][c] = b[o] + Σ_{i, u, v} W[o][i][u][v] · x[i][r·s + u − p][c·s + v − p]
 *
 * (taps outside the input read zeros: the padding).  Square kernels,
 * strides and paddings take one number, others {height, width}.  PyTorch's
 * default initialization (weight and bias uniform in ±1/√fan_in, fan_in =
 * in·kh·kw); with init given the bias starts at zero, as for linear.
 *
 * The kernels are direct: each example's output planes are accumulated tap
 * by tap, the innermost loop running along an output row (what the C
 * compiler vectorizes); the input bytes of a first layer are scaled as they
 * are read.  The elementwise ops after a convolution (its activation, a
 * residual add) run in its epilogue, on each example's planes while they
 * are in cache.  The gradient rule appends grad_input (dx: each dy tap
 * scattered back through W, per example) and grad_params (dW, db: summed
 * over the batch by output channel, so each sum has one order whatever the
 * thread count); sgd's update fuses into grad_params as for linear. */
#include <math.h>
#include <stdio.h>

#include "../lower/gemm.h"
#include "../lower/loop.h"
#include "ops.h"

static const char *const conv_opts[] = { "stride", "padding", "bias", "init", "bias_init", NULL };

static void conv_parse(Call *c, Layer *out) {
    ConvAttr *a = out->attr;
    call_max_args(c, 3);
    a->out = call_size(c, 1, "the number of output channels");
    call_pair(c, 2, "the kernel size", 1, KILN_MAX_DIM, a->kernel);
    a->stride[0] = a->stride[1] = 1;
    a->bias = 1;
    if (call_opts(c, 3, conv_opts)) {
        call_opt_pair(c, 3, "stride", 1, KILN_MAX_DIM, a->stride);
        call_opt_pair(c, 3, "padding", 0, KILN_MAX_DIM, a->padding);
        call_opt_bool(c, 3, "bias", &a->bias);
        call_opt_init(c, 3, "init", &a->init);
        if (call_opt_init(c, 3, "bias_init", &a->bias_init) && !a->bias)
            call_fail(c, "bias_init is given but bias = false");
    }
}

static void conv_describe(const Layer *l, char buf[64]) {
    const ConvAttr *a = l->attr;
    if (a->kernel[0] == a->kernel[1]) snprintf(buf, 64, "conv2d(%ld, %ld)", a->out, a->kernel[0]);
    else snprintf(buf, 64, "conv2d(%ld, {%ld, %ld})", a->out, a->kernel[0], a->kernel[1]);
}

static const ConvAttr *attr_of(const Node *n) { return n->layer->attr; }

/* The geometry of the conv node n (forward or gradient). */
static ConvShape conv_shape_of(const Graph *g, const Node *fwd) {
    const ConvAttr *a = attr_of(fwd);
    const Shape *x = &val(g, fwd->in[CONV_X])->shape, *y = &val(g, fwd->out[0])->shape;
    return (ConvShape){ .in = x->dim[0], .h = x->dim[1], .w = x->dim[2], .out = a->out,
                        .oh = y->dim[1], .ow = y->dim[2], .kh = a->kernel[0], .kw = a->kernel[1],
                        .sh = a->stride[0], .sw = a->stride[1], .ph = a->padding[0], .pw = a->padding[1] };
}

static void conv_shape(Graph *g, Node *n) {
    const Layer *l = n->layer;
    const ConvAttr *a = l->attr;
    const Value *x = val(g, n->in[CONV_X]);
    char got[96], call[64];
    if (!x->shape.batched || x->shape.rank != 3) {
        shape_str(&x->shape, got, sizeof got);
        fail_at(&l->loc, "%s: expects (batch, channels, height, width), got %s", layer_call(n, call), got);
    }
    long in = x->shape.dim[0], o[2];
    window_out(&l->loc, layer_call(n, call), &x->shape, a->kernel, a->stride, a->padding, o);
    if (in * a->kernel[0] * a->kernel[1] * a->out > KILN_MAX_TENSOR)
        fail_at(&l->loc, "%s: its weight would hold %ld values, above kiln's limit of %ld per tensor",
                layer_call(n, call), in * a->kernel[0] * a->kernel[1] * a->out, KILN_MAX_TENSOR);
    val(g, n->out[0])->shape = (Shape){ .rank = 3, .dim = { a->out, o[0], o[1] }, .batched = 1 };

    long fan_in = in * a->kernel[0] * a->kernel[1], fan_out = a->out * a->kernel[0] * a->kernel[1];
    double bound = 1.0 / sqrt((double)fan_in);
    Init dflt = { &op_uniform, -bound, bound, l->loc };
    Init winit = a->init.op ? a->init : dflt;
    if (winit.op->init->resolve) winit.op->init->resolve(&winit, fan_in, fan_out);
    char name[64];
    snprintf(name, sizeof name, "%s.weight", l->label);
    node_input(g, n, graph_param(g, name, (Shape){ .rank = 4, .dim = { a->out, in, a->kernel[0], a->kernel[1] } },
                                 winit));   /* CONV_W */
    if (a->bias) {
        Init binit = a->bias_init.op ? a->bias_init : a->init.op ? (Init){ &op_zeros, 0, 0, l->loc } : dflt;
        if (binit.op->init->resolve) binit.op->init->resolve(&binit, fan_in, fan_out);
        snprintf(name, sizeof name, "%s.bias", l->label);
        node_input(g, n, graph_param(g, name, (Shape){ .rank = 1, .dim = { a->out } }, binit));   /* CONV_B */
    }
}

static const NodeOp node_conv_grad_input, node_conv_grad_params;

static void conv_grad(Graph *g, Node *n) {
    int x = n->in[CONV_X], w = n->in[CONV_W], b = n->nin > CONV_B ? n->in[CONV_B] : -1;
    int dy = val(g, n->out[0])->grad;
    char label[80];
    if (val(g, x)->needs_grad) {
        snprintf(label, sizeof label, "%s.grad_input", n->label);
        Node *q = graph_node(g, &node_conv_grad_input, n->layer, PHASE_BACKWARD, label);
        node_input(g, q, dy);
        node_input(g, q, w);
        grad_result(g, q, x);
    }
    snprintf(label, sizeof label, "%s.grad_params", n->label);
    Node *p = graph_node(g, &node_conv_grad_params, n->layer, PHASE_BACKWARD, label);
    node_input(g, p, x);
    node_input(g, p, dy);
    grad_result(g, p, w);                 /* GRAD_PARAMS_DW */
    if (b >= 0) grad_result(g, p, b);     /* GRAD_PARAMS_DB */
}

/* The node a gradient node differentiates (whose attributes and shapes it
 * uses): autodiff.c sets fwd once the rule has run. */
static const Node *forward_of(const Graph *g, const Node *n) {
    return n->fwd >= 0 ? node(g, n->fwd) : n;
}

/* Element src[ir·width + ic] of value v as a float: a byte scaled as it is
 * read, or a float. */
static const char *element(const Graph *g, int v, long width, char buf[96]) {
    if (storage_of(g, v)->kind == VAL_INPUT && storage_of(g, v)->bytes)
        snprintf(buf, 96, "(INPUT_SCALE * (float)src[ir * %ld + ic])", width);
    else
        snprintf(buf, 96, "src[ir * %ld + ic]", width);
    return buf;
}

/* The C type of value v's elements. */
static const char *element_type(const Graph *g, int v) {
    return storage_of(g, v)->kind == VAL_INPUT && storage_of(g, v)->bytes ? "uint8_t" : "float";
}

/* The loops over one tap's valid output rows and columns, opening two
 * blocks the caller closes: r and c are the output row and column, ir and
 * ic the input row and column they read through tap (u, v). */
static void emit_tap_loops(Emit *e, const ConvShape *s) {
    emit(e, "for (int r = kiln_tap_first(u, %ld, %ld); r < kiln_tap_end(u, %ld, %ld, %ld, %ld); r++) {", s->ph, s->sh,
         s->ph, s->sh, s->h, s->oh);
    emit(e, "    const int ir = r * %ld + u - %ld;", s->sh, s->ph);
    emit(e, "    for (int c = kiln_tap_first(v, %ld, %ld); c < kiln_tap_end(v, %ld, %ld, %ld, %ld); c++) {", s->pw,
         s->sw, s->pw, s->sw, s->w, s->ow);
    emit(e, "        const int ic = c * %ld + v - %ld;", s->sw, s->pw);
}

static void emit_geometry(Emit *e, const ConvShape *s, const char *what) {
    emit(e, "/* %s: (n, %ld, %ld, %ld) → (n, %ld, %ld, %ld), kernel %ld×%ld, stride %ld×%ld, padding %ld×%ld */",
         what, s->in, s->h, s->w, s->out, s->oh, s->ow, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw);
}

/* forward: per example, the bias, then each tap's contribution, then the
 * fused elementwise ops on the example's planes */
static void conv_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    ConvShape s = conv_shape_of(g, n);
    const char *x = cname(g, n->in[CONV_X]), *w = cname(g, n->in[CONV_W]);
    const char *b = n->nin > CONV_B ? cname(g, n->in[CONV_B]) : NULL;
    int y = node(g, k->nodes[k->nnodes - 1])->out[0];
    long plane = s.oh * s.ow, in_plane = s.h * s.w;
    StrBuf formula = {0};
    epilogue_formula(&formula, g, k, "conv");
    kernel_begin(e, g, k);
    emit_geometry(e, &s, formula.data);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    char bias[80], elem[96];
    snprintf(bias, sizeof bias, b ? "%s[o]" : "0.0f", b);
    emit(e, "float *out = %s + (size_t)i * %ld;", cname(g, y), s.out * plane);
    emit(e, "for (int o = 0; o < %ld; o++) {", s.out);
    emit(e, "    for (int p = 0; p < %ld; p++) out[o * %ld + p] = %s;", plane, plane, bias);
    emit(e, "    for (int ci = 0; ci < %ld; ci++)", s.in);
    emit(e, "        for (int u = 0; u < %ld; u++)", s.kh);
    emit(e, "            for (int v = 0; v < %ld; v++) {", s.kw);
    e->indent += 4;
    emit(e, "const float wt = %s[((o * %ld + ci) * %ld + u) * %ld + v];", w, s.in, s.kh, s.kw);
    emit(e, "const %s *src = %s + (size_t)i * %ld + ci * %ld;", element_type(g, n->in[CONV_X]), x, s.in * in_plane,
         in_plane);
    emit_tap_loops(e, &s);
    emit(e, "        out[(o * %ld + r) * %ld + c] += wt * %s;", s.oh, s.ow, element(g, n->in[CONV_X], s.w, elem));
    emit(e, "    }");
    emit(e, "}");
    e->indent -= 4;
    emit(e, "            }");
    emit(e, "}");
    if (k->nnodes > 1) epilogue_loop(e, g, k, "out", "i", s.out * plane);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* dx (+)= dy scattered back through W, per example; then the fused ops */
static void grad_input_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *q = node(g, k->nodes[0]), *fwd = forward_of(g, q);
    ConvShape s = conv_shape_of(g, fwd);
    const char *dy = cname(g, q->in[0]), *w = cname(g, q->in[1]);
    int dx = node(g, k->nodes[k->nnodes - 1])->out[0];
    long plane = s.oh * s.ow, in_plane = s.h * s.w;
    kernel_begin(e, g, k);
    emit_geometry(e, &s, q->acc[0] ? "dx += dy scattered back through W" : "dx = dy scattered back through W");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    emit(e, "float *in = %s + (size_t)i * %ld;", cname(g, dx), s.in * in_plane);
    emit(e, "const float *grad = %s + (size_t)i * %ld;", dy, s.out * plane);
    if (!q->acc[0]) emit(e, "for (int p = 0; p < %ld; p++) in[p] = 0.0f;", s.in * in_plane);
    emit(e, "for (int o = 0; o < %ld; o++)", s.out);
    emit(e, "    for (int ci = 0; ci < %ld; ci++)", s.in);
    emit(e, "        for (int u = 0; u < %ld; u++)", s.kh);
    emit(e, "            for (int v = 0; v < %ld; v++) {", s.kw);
    e->indent += 4;
    emit(e, "const float wt = %s[((o * %ld + ci) * %ld + u) * %ld + v];", w, s.in, s.kh, s.kw);
    emit_tap_loops(e, &s);
    emit(e, "        in[(ci * %ld + ir) * %ld + ic] += wt * grad[(o * %ld + r) * %ld + c];", s.h, s.w, s.oh, s.ow);
    emit(e, "    }");
    emit(e, "}");
    e->indent -= 4;
    emit(e, "            }");
    if (k->nnodes > 1) epilogue_loop(e, g, k, "in", "i", s.in * in_plane);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

/* dW = Σ over the batch and the output positions of dy · x through each
 * tap, db = Σ dy: the team shares the output channels, each summing in one
 * order — or, with sgd fused, W = β·W + α·dW and b = β·b + α·db */
static void grad_params_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *q = node(g, k->nodes[0]), *fwd = forward_of(g, q);
    ConvShape s = conv_shape_of(g, fwd);
    const char *x = cname(g, q->in[0]), *dy = cname(g, q->in[1]);
    long plane = s.oh * s.ow, in_plane = s.h * s.w;
    const char *target[2];
    char alpha[2][40], beta[2][40];
    for (int o = 0; o < q->nout; o++) {
        const Node *up = k->nnodes > 1 + o ? node(g, k->nodes[1 + o]) : NULL;
        double a = 1.0, bt = 0.0;
        if (up) up->op->gemm_update(up, &a, &bt);
        target[o] = up ? cname(g, up->in[UPDATE_PARAM]) : cname(g, q->out[o]);
        float_literal(alpha[o], a);
        float_literal(beta[o], bt);
        if (q->acc[o]) fail("internal error: %s: a parameter's gradient has two contributions", q->label);
    }
    int fused = k->nnodes > 1;
    kernel_begin(e, g, k);
    emit_geometry(e, &s, fused ? "W and b updated with their gradients (sgd, fused)" : "dW and db");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int o = 0; o < %ld; o++) {", s.out);
    e->indent++;
    emit(e, "for (int ci = 0; ci < %ld; ci++)", s.in);
    emit(e, "    for (int u = 0; u < %ld; u++)", s.kh);
    emit(e, "        for (int v = 0; v < %ld; v++) {", s.kw);
    e->indent += 3;
    emit(e, "float sum = 0.0f;");
    emit(e, "for (int i = 0; i < n; i++) {");
    char elem[96];
    emit(e, "    const %s *src = %s + (size_t)i * %ld + ci * %ld;", element_type(g, q->in[0]), x, s.in * in_plane, in_plane);
    emit(e, "    const float *grad = %s + (size_t)i * %ld + o * %ld;", dy, s.out * plane, plane);
    e->indent++;
    emit_tap_loops(e, &s);
    emit(e, "        sum += grad[r * %ld + c] * %s;", s.ow, element(g, q->in[0], s.w, elem));
    emit(e, "    }");
    emit(e, "}");
    e->indent--;
    emit(e, "}");
    emit(e, "float *t = &%s[((o * %ld + ci) * %ld + u) * %ld + v];", target[0], s.in, s.kh, s.kw);
    emit(e, "*t = %s * *t + %s * sum;", beta[0], alpha[0]);
    e->indent -= 3;
    emit(e, "        }");
    if (q->nout > 1) {
        emit(e, "float sum = 0.0f;");
        emit(e, "for (int i = 0; i < n; i++)");
        emit(e, "    for (int p = 0; p < %ld; p++)", plane);
        emit(e, "        sum += %s[(size_t)i * %ld + o * %ld + p];", dy, s.out * plane, plane);
        emit(e, "%s[o] = %s * %s[o] + %s * sum;", target[1], beta[1], target[1], alpha[1]);
    }
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

static const NodeOp node_conv = {
    .name = "conv2d", .shape = conv_shape, .grad = conv_grad, .emit = conv_emit, .gemm_epilogue = 1,
    .reads_bytes = 1,
};
static const NodeOp node_conv_grad_input = { .name = "conv2d.grad_input", .emit = grad_input_emit, .gemm_epilogue = 1 };
static const NodeOp node_conv_grad_params = { .name = "conv2d.grad_params", .emit = grad_params_emit, .fuses_update = 1 };
const OpDef op_conv2d = {
    .name = "conv2d", .kind = OP_LAYER, .attr_size = sizeof(ConvAttr), .params = 1, .parse = conv_parse,
    .describe = conv_describe, .node = &node_conv,
};
