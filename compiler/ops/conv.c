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
 * Each of its kernels (forward, grad_input, grad_params) takes one of the
 * strategies of compiler/lower/conv.h, chosen here from the geometry and
 * shown by `kiln graph --kernels`: where the stride is 1, lanes, planes or
 * patches, by the cost models below; else gemm (packed taps times W).  The elementwise
 * ops after a convolution (its activation, a residual add) run as its
 * result is unpacked, and sgd's update fuses into grad_params as for
 * linear.  grad_params sums over the batch in a fixed order (chunks of
 * examples added in order, or one channel per thread), so the weights do
 * not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lower/conv.h"
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

typedef enum { CONV_FORWARD, CONV_GRAD_INPUT, CONV_GRAD_PARAMS } ConvRole;

/* The weight gradient's work per example in vector operations, by
 * strategy: planes multiplies at every position of the padded planes;
 * patches only at the outputs, but first copies each tap's inputs (a load
 * and a store per 16). */
static double planes_cost(const ConvShape *s) {
    return (double)s->out * s->in * s->kh * s->kw * (s->h + 2 * s->ph) * (s->w + 2 * s->pw) / 16.0;
}
static double patches_cost(const ConvShape *s) {
    return (double)(s->out + 2) * s->in * s->kh * s->kw * s->oh * s->ow / 16.0;
}

/* The forward pass in the lanes: the vector multiply-adds it saves an
 * example (over planes, no lanes on the columns past each output row),
 * against the elements it transposes into the lanes and back, which cost
 * about one multiply-add each (they go through L2): LeNet's conv2 saves
 * 6600 for 2776 moved, its conv1 only 1050 for 5728. */
static double fw_lanes_saves(const ConvShape *s) {
    long wp = s->w + 2 * s->pw, nq16 = ((s->oh - 1) * wp + s->ow + 15) / 16 * 16;
    return (double)s->out * s->in * s->kh * s->kw * (nq16 - s->oh * s->ow) / 16.0;
}
static double fw_lanes_moves(const ConvShape *s) {
    return (double)s->in * (s->h + 2 * s->ph) * (s->w + 2 * s->pw) + (double)s->out * s->oh * s->ow;
}

/* The input gradient's work per example in vector operations: planes
 * multiplies over dy padded by kernel − 1 − padding at every position of
 * dx's rows in that width, after clearing and packing the padded dy and
 * before unpacking dx; lanes only the multiply-adds of taps that land in
 * dx, after a transpose of dy and of dx (about two operations per 16
 * elements each). */
/* The weight gradient from blocks in the lanes: the multiply-adds at the
 * real outputs, after transposing x (with its border) and dy. */
static double lanes_cost(const ConvShape *s) {
    return ((double)s->out * s->in * s->kh * s->kw * s->oh * s->ow +
            4.0 * (s->in * (s->h + 2 * s->ph) * (s->w + 2 * s->pw) + s->out * s->oh * s->ow)) / 16.0;
}
static double gi_planes_cost(const ConvShape *s) {
    long dh = s->oh + 2 * (s->kh - 1 - s->ph), dw = s->ow + 2 * (s->kw - 1 - s->pw);
    long nq16 = ((s->h - 1) * dw + s->w + 15) / 16 * 16;
    return ((double)s->out * s->in * s->kh * s->kw * nq16 + 2.0 * s->out * dh * dw + (double)s->in * s->h * s->w) / 16.0;
}
static double gi_lanes_cost(const ConvShape *s) {
    double taps = 0;   /* (u, v, r, c) whose tap lands inside dx */
    for (long u = 0; u < s->kh; u++)
        for (long r = 0; r < s->oh; r++)
            if (r + u - s->ph >= 0 && r + u - s->ph < s->h)
                for (long v = 0; v < s->kw; v++)
                    for (long c = 0; c < s->ow; c++) taps += c + v - s->pw >= 0 && c + v - s->pw < s->w;
    return ((double)s->out * s->in * taps + 4.0 * (s->in * s->h * s->w + s->out * s->oh * s->ow)) / 16.0;
}

/* Kernel k's operands and strategy.  The planes kernels need stride 1
 * (grad_input also a padding below the kernel size, so that dy's padding
 * is not negative); strided convolutions run as gemm. */
static ConvKernel conv_kernel(const Graph *g, const Kernel *k, ConvRole role) {
    const Node *q = node(g, k->nodes[0]), *fwd = forward_of(g, q);
    ConvKernel c = { .s = conv_shape_of(g, fwd), .x = fwd->in[CONV_X], .w = fwd->in[CONV_W],
                     .b = fwd->nin > CONV_B ? fwd->in[CONV_B] : -1, .dy = -1, .y = -1 };
    const ConvShape *s = &c.s;
    int planes = s->sh == 1 && s->sw == 1;
    c.chain = *k;
    c.example_node = -1;
    if (role != CONV_GRAD_PARAMS) {   /* the elementwise ops, then maybe a per-example op (fuse.c) */
        int own = k->nnodes - k->nprologue;   /* the prologue's nodes come last */
        c.chain.nnodes = 1;
        c.chain.nprologue = 0;
        while (c.chain.nnodes < own && node(g, k->nodes[c.chain.nnodes])->op->pointwise) c.chain.nnodes++;
        if (c.chain.nnodes < own) c.example_node = k->nodes[c.chain.nnodes];
        c.y = node(g, k->nodes[c.chain.nnodes - 1])->out[0];
    }
    snprintf(c.wx, sizeof c.wx, "%s", cname(g, c.w));
    if (c.b >= 0) snprintf(c.bx, sizeof c.bx, "%s", cname(g, c.b));
    c.fold = role == CONV_FORWARD ? bn_folded_after(g, fwd) : NULL;
    if (c.fold) {   /* evaluation reads the weight and bias with batch norm folded in */
        snprintf(c.wx, sizeof c.wx, "(training ? %s : %s_weight_folded)", cname(g, c.w), fwd->label);
        snprintf(c.bx, sizeof c.bx, "(training ? %s : %s_bias_folded)", cname(g, c.b), fwd->label);
    }
    if (role == CONV_GRAD_INPUT) {
        c.dy = q->in[0];
        if (planes && 2 * s->ph >= s->kh - 1 && 2 * s->pw >= s->kw - 1 && s->ph < s->kh && s->pw < s->kw) {
            /* "same" padding: dy needs a border no wider than x's, so the
             * forward kernel on dy wastes little on it */
            c.kind = CONV_LANES;
            c.gi_forward = 1;
            snprintf(c.strategy, sizeof c.strategy,
                     "lanes: blocks of 16 examples, one per vector lane; dy with a zero border of %ld×%ld convolved "
                     "with W flipped and transposed by the forward kernel (every lane an output)",
                     s->kh - 1 - s->ph, s->kw - 1 - s->pw);
            return c;
        }
        if (planes && (s->ph >= s->kh || s->pw >= s->kw || gi_lanes_cost(s) < gi_planes_cost(s))) {
            c.kind = CONV_LANES;
            snprintf(c.strategy, sizeof c.strategy,
                     "lanes: blocks of 16 examples, one per vector lane; each dy element times W's column added "
                     "onto dx where its taps land (no multiply-add by padding: %.0f%% of the padded planes' work, "
                     "packing included)",
                     100.0 * gi_lanes_cost(s) / gi_planes_cost(s));
            return c;
        }
    } else if (role == CONV_GRAD_PARAMS) {
        c.dy = q->in[1];
        c.nout = q->nout;
        c.fused = k->nnodes > 1;
        for (int o = 0; o < q->nout; o++) {
            const Node *up = k->nnodes > 1 + o ? node(g, k->nodes[1 + o]) : NULL;
            c.update[o] = (GemmUpdate){ "1.0f", "", 0 };   /* the gradient itself: the old one not read */
            if (up) up->op->gemm_update(up, &c.update[o]);
            c.target[o] = up ? cname(g, up->in[UPDATE_PARAM]) : cname(g, q->out[o]);
            if (q->acc[o]) fail("internal error: %s: a parameter's gradient has two contributions", q->label);
        }
    }
    c.kind = planes ? CONV_PLANES : CONV_GEMM;
    if (!planes) {
        long taps = s->in * s->kh * s->kw, ohw = s->oh * s->ow;
        if (role == CONV_FORWARD)
            snprintf(c.strategy, sizeof c.strategy,
                     "gemm (stride above 1): each example's %ld taps × %ld positions packed, then W times them",
                     taps, ohw);
        else if (role == CONV_GRAD_INPUT)
            snprintf(c.strategy, sizeof c.strategy,
                     "gemm (stride above 1): Wᵀ times each example's dy, then each tap's %ld positions added "
                     "where it read", ohw);
        else
            snprintf(c.strategy, sizeof c.strategy,
                     "gemm (stride above 1): chunks of %d examples, dy times their %ld taps × %ld positions "
                     "packed side by side; the chunks added in order",
                     CONV_CHUNK, taps, ohw);
        return c;
    }
    /* positions per output channel, and how many of them are real outputs */
    long hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw;
    if (role == CONV_FORWARD && fw_lanes_saves(s) > fw_lanes_moves(s)) {
        c.kind = CONV_LANES;
        snprintf(c.strategy, sizeof c.strategy,
                 "lanes: blocks of 16 examples, one per vector lane, every lane an output (%.0f fewer vector "
                 "multiply-adds an example than %ld×%ld planes, more than the %.0f elements transposed)",
                 fw_lanes_saves(s), hp, wp, fw_lanes_moves(s));
    } else if (role == CONV_FORWARD)
        snprintf(c.strategy, sizeof c.strategy,
                 "planes: each example in %ld×%ld planes%s, vectors of 16 positions across rows "
                 "(%.0f%% of the lanes are outputs)",
                 hp, wp, s->ph || s->pw ? " (padded)" : "",
                 100.0 * (double)(s->oh * s->ow) / (double)(((s->oh - 1) * wp + s->ow + 15) / 16 * 16));
    else if (role == CONV_GRAD_INPUT) {
        long dh = s->oh + 2 * (s->kh - 1 - s->ph), dw = s->ow + 2 * (s->kw - 1 - s->pw);
        snprintf(c.strategy, sizeof c.strategy,
                 "planes: each example's dy padded to %ld×%ld, W transposed and flipped, vectors of 16 positions "
                 "(%.0f%% of the lanes are outputs)",
                 dh, dw, 100.0 * (double)(s->h * s->w) / (double)(((s->h - 1) * dw + s->w + 15) / 16 * 16));
    } else if (lanes_cost(s) < planes_cost(s) && (s->ph || s->pw || lanes_cost(s) < patches_cost(s))) {
        c.kind = CONV_LANES;
        snprintf(c.strategy, sizeof c.strategy,
                 "lanes: chunks of 16 examples, one per vector lane, x%s and dy transposed into them "
                 "(every multiply-add at an output: %.0f%% of the padded planes' work, packing included); "
                 "the chunks added in order",
                 s->ph || s->pw ? " with its zero border" : "", 100.0 * lanes_cost(s) / planes_cost(s));
    } else if (!s->ph && !s->pw && patches_cost(s) < planes_cost(s)) {
        c.kind = CONV_PATCHES;
        snprintf(c.strategy, sizeof c.strategy,
                 "patches: chunks of %d examples, each tap's inputs at the %ld×%ld output positions in a row "
                 "(every lane an output: %.0f%% of the padded planes' multiply-adds, packing included); "
                 "the chunks added in order",
                 CONV_CHUNK, s->oh, s->ow, 100.0 * patches_cost(s) / planes_cost(s));
    } else
        snprintf(c.strategy, sizeof c.strategy,
                 "planes: chunks of %d examples in %ld×%ld planes%s beside their dy, vectors of 16 positions "
                 "(%.0f%% of the lanes are outputs); the chunks added in order",
                 CONV_CHUNK, hp, wp, s->ph || s->pw ? " (padded)" : "",
                 100.0 * (double)(s->oh * s->ow) / (double)(hp * wp));
    return c;
}

/* The strategy's line, and what runs after the unpacking. */
static ConvKernel described(const Graph *g, const Kernel *k, ConvRole role) {
    ConvKernel c = conv_kernel(g, k, role);
    int own = k->nnodes - k->nprologue;
    if (k->nprologue) {   /* what makes dy, example by example, before it is packed */
        size_t len = strlen(c.strategy);
        snprintf(c.strategy + len, sizeof c.strategy - len, "; dy made example by example, just before it is read, by");
        for (int j = own; j < k->nnodes; j++) {
            len = strlen(c.strategy);
            snprintf(c.strategy + len, sizeof c.strategy - len, "%s %s", j == own ? "" : ",", node(g, k->nodes[j])->label);
        }
    }
    for (int j = c.chain.nnodes; j < own; j++) {   /* the per-example op and the ops after it */
        size_t len = strlen(c.strategy);
        snprintf(c.strategy + len, sizeof c.strategy - len, "%s%s", j == c.chain.nnodes ? "; then " : ", ",
                 node(g, k->nodes[j])->label);
        if (j + 1 == own) {
            len = strlen(c.strategy);
            snprintf(c.strategy + len, sizeof c.strategy - len, " on each example's planes while in cache");
        }
    }
    return c;
}

static int uses_planes(const ConvKernel *c) { return c->kind == CONV_PLANES; }

static void conv_emit(Emit *e, const Graph *g, const Kernel *k) {
    ConvKernel c = described(g, k, CONV_FORWARD);
    if (c.kind == CONV_LANES) conv_lanes_forward(e, g, k, &c);
    else (uses_planes(&c) ? conv_planes_forward : conv_gemm_forward)(e, g, k, &c);
}

static void grad_input_emit(Emit *e, const Graph *g, const Kernel *k) {
    ConvKernel c = described(g, k, CONV_GRAD_INPUT);
    if (c.kind == CONV_LANES) conv_lanes_grad_input(e, g, k, &c);
    else (uses_planes(&c) ? conv_planes_grad_input : conv_gemm_grad_input)(e, g, k, &c);
}

static void grad_params_emit(Emit *e, const Graph *g, const Kernel *k) {
    ConvKernel c = conv_kernel(g, k, CONV_GRAD_PARAMS);
    if (c.kind == CONV_PATCHES) conv_patches_grad_params(e, g, k, &c);
    else if (c.kind == CONV_LANES) conv_lanes_grad_params(e, g, k, &c);
    else (uses_planes(&c) ? conv_planes_grad_params : conv_gemm_grad_params)(e, g, k, &c);
}

static void conv_strategy(StrBuf *sb, const Graph *g, const Kernel *k) {
    sb_printf(sb, "%s", described(g, k, CONV_FORWARD).strategy);
}
static void grad_input_strategy(StrBuf *sb, const Graph *g, const Kernel *k) {
    sb_printf(sb, "%s", described(g, k, CONV_GRAD_INPUT).strategy);
}
static void grad_params_strategy(StrBuf *sb, const Graph *g, const Kernel *k) {
    sb_printf(sb, "%s", conv_kernel(g, k, CONV_GRAD_PARAMS).strategy);
}

static const NodeOp node_conv = {
    .name = "conv2d", .shape = conv_shape, .grad = conv_grad, .emit = conv_emit, .gemm_epilogue = 1,
    .reads_bytes = 1, .strategy = conv_strategy, .hosts_examples = 1,
};
static const NodeOp node_conv_grad_input = { .name = "conv2d.grad_input", .emit = grad_input_emit, .gemm_epilogue = 1,
                                               .strategy = grad_input_strategy, .hosts_examples = 1,
                                               .hosts_prologue = 1 };
static const NodeOp node_conv_grad_params = { .name = "conv2d.grad_params", .emit = grad_params_emit, .fuses_update = 1,
                                                .strategy = grad_params_strategy };
const OpDef op_conv2d = {
    .name = "conv2d", .kind = OP_LAYER, .attr_size = sizeof(ConvAttr), .params = 1, .parse = conv_parse,
    .describe = conv_describe, .node = &node_conv,
};
