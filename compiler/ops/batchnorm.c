/* batchnorm.c — batch_norm {momentum = 0.1, eps = 1e-5}: PyTorch's
 * nn.BatchNorm1d on (batch, features) values and nn.BatchNorm2d on (batch,
 * channels, height, width) ones.  Per channel c, over the M = batch·h·w
 * values it sees:
 *
 *   training    mean and var (biased) of the batch; y = γ·(x − mean)/√(var +
 *               eps) + β; then running_mean ← (1 − m)·running_mean + m·mean
 *               and running_var ← (1 − m)·running_var + m·var·M/(M − 1)
 *               (unbiased, as PyTorch; with M = 1, var itself)
 *   evaluation  the running statistics in place of the batch's
 *
 * γ and β are parameters starting at 1 and 0; the running statistics are
 * model state starting at 0 and 1: saved in checkpoints after the
 * parameters, never touched by the optimizer.  The gradients (training):
 * dβ = Σ dy, dγ = Σ dy·x̂, dx = γ/σ·(dy − dβ/M − x̂·dγ/M), x̂ = (x − mean)/σ.
 *
 * Two nodes in the forward graph: batch_norm.stats (training only) takes
 * each example's sum per channel and the squares of its deviations from
 * the example's own mean; batch_norm combines them, examples in order, into
 * the batch's mean and variance (Chan et al.'s pairwise update, in double),
 * then normalizes.  So the statistics need no pass over memory of their
 * own: a convolution before runs the stats node on each example while its
 * planes are in cache (fuse.c's "per example" rule), and the elementwise ops
 * after batch norm (relu, a residual add) run in its normalizing loop
 * ("epilogue").  Every sum is each example's, then the examples' in order:
 * the same for any thread count.  The batch's mean and 1/σ are kept, per
 * node, in static arrays the backward kernels read. */
#include <math.h>
#include <stdio.h>

#include "../lower/gemm.h"
#include "../lower/loop.h"
#include "ops.h"



static const char *const bn_opts[] = { "momentum", "eps", NULL };

static void bn_parse(Call *c, Layer *out) {
    BatchNormAttr *a = out->attr;
    call_max_args(c, 1);
    a->momentum = 0.1, a->eps = 1e-5;
    if (call_opts(c, 1, bn_opts)) {
        call_opt_number(c, 1, "momentum", &a->momentum);
        call_opt_number(c, 1, "eps", &a->eps);
    }
    if (!(a->momentum >= 0 && a->momentum <= 1)) call_fail(c, "momentum must be from 0 to 1, got %g", a->momentum);
    if (!(a->eps > 0) || a->eps > 1) call_fail(c, "eps must be above 0 and at most 1, got %g", a->eps);
}

static void bn_describe(const Layer *l, char buf[64]) {
    const BatchNormAttr *a = l->attr;
    if (a->momentum == 0.1 && a->eps == 1e-5) snprintf(buf, 64, "batch_norm()");
    else snprintf(buf, 64, "batch_norm {momentum = %g, eps = %g}", a->momentum, a->eps);
}

static const BatchNormAttr *attr_of(const Node *n) { return n->layer->attr; }

/* Channels and values per channel of an example of the node's input. */
static void geometry(const Graph *g, const Node *fwd, long *channels, long *per) {
    const Shape *x = &val(g, fwd->in[BN_X])->shape;
    *channels = x->dim[0];
    *per = x->rank == 3 ? x->dim[1] * x->dim[2] : 1;
}

static void bn_shape(Graph *g, Node *n) {
    const Layer *l = n->layer;
    const Value *x = val(g, n->in[BN_X]);
    char got[96], call[64];
    if (!x->shape.batched || (x->shape.rank != 1 && x->shape.rank != 3)) {
        shape_str(&x->shape, got, sizeof got);
        fail_at(&l->loc, "%s: expects (batch, features) or (batch, channels, height, width), got %s",
                layer_call(n, call), got);
    }
    val(g, n->out[0])->shape = x->shape;
    long c = x->shape.dim[0];
    Shape per_channel = { .rank = 1, .dim = { c } };
    char name[96];
    snprintf(name, sizeof name, "%s.weight", l->label);
    node_input(g, n, graph_param(g, name, per_channel, (Init){ &op_zeros, 1.0, 0, l->loc }));   /* BN_GAMMA: 1 */
    snprintf(name, sizeof name, "%s.bias", l->label);
    node_input(g, n, graph_param(g, name, per_channel, (Init){ &op_zeros, 0.0, 0, l->loc }));   /* BN_BETA: 0 */
    snprintf(name, sizeof name, "%s.running_mean", l->label);
    int mean = graph_state(g, name, per_channel);          /* BN_MEAN: 0 */
    val(g, mean)->model_state = 1;
    node_input(g, n, mean);
    snprintf(name, sizeof name, "%s.running_var", l->label);
    int var = graph_state(g, name, per_channel);           /* BN_VAR: 1 */
    val(g, var)->init = (Init){ &op_zeros, 1.0, 0, l->loc };
    val(g, var)->nonnegative = 1;
    val(g, var)->model_state = 1;
    node_input(g, n, var);
}

static const NodeOp node_bn_grad_sums, node_bn_grad_params, node_bn_grad_input, node_bn_stats, node_bn;

/* batch_norm.stats: per example, 2 × channels floats (the sums, then the
 * squared deviations) */
static void stats_shape(Graph *g, Node *n) {
    const Shape *x = &val(g, n->in[0])->shape;
    if (!x->batched || (x->rank != 1 && x->rank != 3)) return;   /* batch_norm's own rule says what is wrong */
    val(g, n->out[0])->shape = (Shape){ .rank = 2, .dim = { 2, x->dim[0] }, .batched = 1 };
}

/* Its gradient is part of batch_norm's. */
static void stats_grad(Graph *g, Node *n) { (void)g, (void)n; }


static void bn_grad(Graph *g, Node *n) {
    int x = n->in[BN_X], dy = val(g, n->out[0])->grad;
    char label[80];
    snprintf(label, sizeof label, "%s.grad_sums", n->label);
    Node *s = graph_node(g, &node_bn_grad_sums, n->layer, PHASE_BACKWARD, label);
    node_input(g, s, x);
    node_input(g, s, dy);
    int sums = node_output(g, s, VAL_GRAD, label);
    val(g, sums)->shape = val(g, n->in[BN_STATS])->shape;
    snprintf(label, sizeof label, "%s.grad_params", n->label);
    Node *p = graph_node(g, &node_bn_grad_params, n->layer, PHASE_BACKWARD, label);
    node_input(g, p, sums);
    grad_result(g, p, n->in[BN_GAMMA]);
    grad_result(g, p, n->in[BN_BETA]);
    if (!val(g, x)->needs_grad) return;
    snprintf(label, sizeof label, "%s.grad_input", n->label);
    Node *q = graph_node(g, &node_bn_grad_input, n->layer, PHASE_BACKWARD, label);
    node_input(g, q, x);
    node_input(g, q, dy);
    node_input(g, q, n->in[BN_GAMMA]);
    node_input(g, q, val(g, n->in[BN_GAMMA])->grad);
    node_input(g, q, val(g, n->in[BN_BETA])->grad);
    grad_result(g, q, x);
}

/* The forward node a gradient node comes from. */
static const Node *forward_of(const Graph *g, const Node *n) { return n->fwd >= 0 ? node(g, n->fwd) : n; }

/* Example i's statistics (i in scope) from its values in x: per channel,
 * the sum and the squares of the deviations from the example's own mean
 * (not the sum of squares: no cancellation when the mean is large). */
static void stats_example(Emit *e, const Graph *g, const Kernel *part) {
    const Node *n = node(g, part->nodes[0]);
    long c, per;
    geometry(g, n, &c, &per);
    char inv[40];
    float_literal(inv, 1.0 / (double)per);
    emit(e, "if (training)  /* %s: example i's sum per channel and squared deviations */", n->label);
    emit(e, "for (int c = 0; c < %ld; c++) {", c);
    e->indent++;
    emit(e, "const float *v = %s + ((size_t)i * %ld + c) * %ld;", cname(g, n->in[0]), c, per);
    if (per > 1) {
        emit(e, "const float s = kiln_sum(v, %ld), q = kiln_sum_sqdev(v, %ld, s * %s);", per, per, inv);
    } else {
        emit(e, "const float s = v[0], q = 0.0f;");
    }
    emit(e, "%s[(size_t)i * %ld + c] = s;", cname(g, n->out[0]), 2 * c);
    emit(e, "%s[(size_t)i * %ld + %ld + c] = q;", cname(g, n->out[0]), 2 * c, c);
    e->indent--;
    emit(e, "}");
}

/* The stats node as a kernel of its own (nothing before it hosts it). */
static void stats_emit(Emit *e, const Graph *g, const Kernel *k) {
    kernel_begin(e, g, k);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    stats_example(e, g, k);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

static void bn_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const BatchNormAttr *a = attr_of(n);
    long c, per;
    geometry(g, n, &c, &per);
    const char *x = cname(g, n->in[BN_X]), *stats = cname(g, n->in[BN_STATS]), *l = n->label;
    const char *y = cname(g, node(g, k->nodes[k->nnodes - 1])->out[0]);
    const Node *producer = val(g, n->in[BN_X])->producer >= 0 ? node(g, val(g, n->in[BN_X])->producer) : NULL;
    int folded = producer && producer->op == op_conv2d.node && bn_folded_after(g, producer) == n;
    const char *gamma = cname(g, n->in[BN_GAMMA]), *beta = cname(g, n->in[BN_BETA]);
    const char *rmean = cname(g, n->in[BN_MEAN]), *rvar = cname(g, n->in[BN_VAR]);
    char m[40], m1[40], eps[40];
    float_literal(m, a->momentum);
    float_literal(m1, 1.0 - a->momentum);
    float_literal(eps, a->eps);
    StrBuf formula = {0};
    sb_printf(&formula, "batch_norm(%s)", x);
    if (k->nnodes > 1) {
        StrBuf chain = {0};
        epilogue_formula(&chain, g, k, formula.data);
        sb_free(&formula);
        formula = chain;
    }
    emit(e, "/* %s's batch statistics, this step's: for its backward pass */", l);
    emit(e, "static float %s_mean[%ld], %s_invstd[%ld];", l, c, l, c);
    emit_blank(e);
    kernel_begin(e, g, k);
    emit(e, "/* %s = %s: (n, %ld channels × %ld); training: the batch's statistics from each", y, formula.data, c, per);
    emit(e, " * example's (%s), then the running ones updated (momentum %g); evaluation: the running ones */", stats,
         a->momentum);
    emit(e, "if (training) {");
    e->indent++;
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int c = 0; c < %ld; c++) {  /* the examples in order: mean and squared deviations, pairwise */", c);
    e->indent++;
    emit(e, "double count = 0.0, mean = 0.0, sq = 0.0;");
    emit(e, "for (int i = 0; i < n; i++) {");
    emit(e, "    const double s = %s[(size_t)i * %ld + c], q = %s[(size_t)i * %ld + %ld + c];", stats, 2 * c, stats,
         2 * c, c);
    emit(e, "    const double d = s / %ld.0 - mean, total = count + %ld.0;", per, per);
    emit(e, "    mean += d * %ld.0 / total;", per);
    emit(e, "    sq += q + d * d * count * %ld.0 / total;", per);
    emit(e, "    count = total;");
    emit(e, "}");
    emit(e, "const float var = (float)(sq / count);  /* biased */");
    emit(e, "%s_mean[c] = (float)mean;", l);
    emit(e, "%s_invstd[c] = 1.0f / sqrtf(var + %s);", l, eps);
    emit(e, "%s[c] = %s * %s[c] + %s * %s_mean[c];", rmean, m1, rmean, m, l);
    emit(e, "%s[c] = %s * %s[c] + %s * (count > 1.0 ? (float)(sq / (count - 1.0)) : var);", rvar, m1, rvar, m);
    e->indent--;
    emit(e, "}");
    emit(e, "kiln_sync();");
    e->indent--;
    emit(e, "}");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    emit(e, "float *out = %s + (size_t)i * %ld;", y, c * per);
    if (folded) {
        emit(e, "if (!training)  /* %s's result is already normalized (%s folded into its W and b) */",
             producer->label, l);
        emit(e, "    for (int p = 0; p < %ld; p++) out[p] = %s[(size_t)i * %ld + p];", c * per, x, c * per);
        emit(e, "else");
        e->indent++;
    }
    emit(e, "for (int c = 0; c < %ld; c++) {", c);
    if (folded) {   /* only training gets here */
        emit(e, "    const float mean = %s_mean[c], scale = %s[c] * %s_invstd[c];", l, gamma, l);
    } else {
        emit(e, "    const float mean = training ? %s_mean[c] : %s[c];", l, rmean);
        emit(e, "    const float scale = %s[c] * (training ? %s_invstd[c] : 1.0f / sqrtf(%s[c] + %s));", gamma, l, rvar,
             eps);
    }
    emit(e, "    const float *v = %s + ((size_t)i * %ld + c) * %ld;", x, c, per);
    emit(e, "    for (int p = 0; p < %ld; p++) out[c * %ld + p] = (v[p] - mean) * scale + %s[c];", per, per, beta);
    emit(e, "}");
    if (folded) e->indent--;
    if (k->nnodes > 1) epilogue_loop(e, g, k, "out", "i", c * per);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
    sb_free(&formula);
}

/* Example i's parts of dβ and dγ (i in scope): per channel, Σ dy and
 * Σ dy·x̂ over its values (x̂ = (x − mean)/σ, this step's). */
static void grad_sums_example(Emit *e, const Graph *g, const Kernel *part) {
    const Node *q = node(g, part->nodes[0]), *n = forward_of(g, q);
    long c, per;
    geometry(g, n, &c, &per);
    const char *x = cname(g, q->in[0]), *dy = cname(g, q->in[1]), *out = cname(g, q->out[0]), *l = n->label;
    emit(e, "for (int c = 0; c < %ld; c++) {  /* %s: example i's Σ dy and Σ dy·x̂, per channel */", c, q->label);
    e->indent++;
    emit(e, "const float *v = %s + ((size_t)i * %ld + c) * %ld, *d = %s + ((size_t)i * %ld + c) * %ld;", x, c, per, dy,
         c, per);
    emit(e, "float sb, sd;  /* Σ dy, Σ dy·(x − mean) */");
    if (per > 1) emit(e, "kiln_sum_dy_dev(d, v, %ld, %s_mean[c], &sb, &sd);", per, l);
    else emit(e, "sb = d[0], sd = d[0] * (v[0] - %s_mean[c]);", l);
    emit(e, "%s[(size_t)i * %ld + c] = sb;", out, 2 * c);
    emit(e, "%s[(size_t)i * %ld + %ld + c] = sd * %s_invstd[c];", out, 2 * c, c, l);
    e->indent--;
    emit(e, "}");
}

/* The sums as a kernel of their own (nothing before hosts them). */
static void grad_sums_emit(Emit *e, const Graph *g, const Kernel *k) {
    kernel_begin(e, g, k);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++) {");
    e->indent++;
    grad_sums_example(e, g, k);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

/* dγ and dβ: the examples' sums added in order */
static void bn_grad_params_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *q = node(g, k->nodes[0]), *n = forward_of(g, q);
    long c, per;
    geometry(g, n, &c, &per);
    const char *sums = cname(g, q->in[0]), *dgamma = cname(g, q->out[0]), *dbeta = cname(g, q->out[1]);
    kernel_begin(e, g, k);
    emit(e, "/* %s = Σ dy·x̂, %s = Σ dy over the batch, per channel: the examples' sums (%s) in order */", dgamma,
         dbeta, sums);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int c = 0; c < %ld; c++) {", c);
    emit(e, "    float sb = 0.0f, sg = 0.0f;");
    emit(e, "    for (int i = 0; i < n; i++) sb += %s[(size_t)i * %ld + c], sg += %s[(size_t)i * %ld + %ld + c];", sums,
         2 * c, sums, 2 * c, c);
    emit(e, "    %s[c] %s sg;", dgamma, assign_op(q, 0));
    emit(e, "    %s[c] %s sb;", dbeta, assign_op(q, 1));
    emit(e, "}");
    kernel_end(e);
}

/* dx = γ/σ·(dy − dβ/M − x̂·dγ/M) on example i (in scope), then the
 * elementwise ops fused after it: its kernel's loop, or the prologue of a
 * convolution's input gradient (fuse.c), run just before the example is
 * packed. */
static void grad_input_example(Emit *e, const Graph *g, const Kernel *part) {
    const Node *q = node(g, part->nodes[0]), *n = forward_of(g, q);
    long c, per;
    geometry(g, n, &c, &per);
    const char *x = cname(g, q->in[0]), *dy = cname(g, q->in[1]), *gamma = cname(g, q->in[2]);
    const char *dgamma = cname(g, q->in[3]), *dbeta = cname(g, q->in[4]), *l = n->label;
    const char *dx = cname(g, node(g, part->nodes[part->nnodes - 1])->out[0]);
    emit(e, "{  /* %s %s γ/σ·(dy − dβ/M − x̂·dγ/M), the batch's statistics (M values per channel) */", dx,
         assign_op(q, 0));
    e->indent++;
    emit(e, "const float M = (float)n * %ld.0f;", per);
    emit(e, "float *out = %s + (size_t)i * %ld;", dx, c * per);
    emit(e, "for (int c = 0; c < %ld; c++) {", c);
    emit(e, "    const float mean = %s_mean[c], invstd = %s_invstd[c], k = %s[c] * invstd;", l, l, gamma);
    emit(e, "    const float mb = %s[c] / M, mg = %s[c] / M;", dbeta, dgamma);
    emit(e, "    const size_t at = ((size_t)i * %ld + c) * %ld;", c, per);
    emit(e, "    for (int p = 0; p < %ld; p++)", per);
    emit(e, "        out[c * %ld + p] %s k * (%s[at + p] - mb - (%s[at + p] - mean) * invstd * mg);", per,
         assign_op(q, 0), dy, x);
    emit(e, "}");
    if (part->nnodes > 1) epilogue_loop(e, g, part, "out", "i", c * per);
    e->indent--;
    emit(e, "}");
}

static void bn_grad_input_emit(Emit *e, const Graph *g, const Kernel *k) {
    kernel_begin(e, g, k);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++)");
    grad_input_example(e, g, k);
    kernel_end(e);
}

/* ---- Folding into a convolution, for evaluation ----------------------------
 * γ·(conv(x) + b − mean)/√(var + eps) + β = conv'(x) + b' with, per output
 * channel o, s = γ/√(var + eps), W'[o] = W[o]·s, b' = (b − mean)·s + β: the
 * convolution writes the normalized values and batch norm's kernel only
 * applies the ops fused after it. */

const Node *bn_folded_after(const Graph *g, const Node *conv) {
    if (conv->nin < 3 || conv->nout != 1) return NULL;   /* no bias to fold the shift into */
    int y = conv->out[0];
    const Node *bn = NULL;
    for (int i = conv->id + 1; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (n->phase != PHASE_FORWARD) continue;
        for (int j = 0; j < n->nin; j++) {
            if (storage_of(g, n->in[j]) != storage_of(g, y)) continue;
            if (n->op == &node_bn_stats) break;
            if (n->op != &node_bn || j != BN_X || bn) return NULL;
            bn = n;
        }
    }
    return bn;
}

static void fold_names(const Node *conv, char w[80], char b[80]) {
    snprintf(w, 80, "%s_weight_folded", conv->label);
    snprintf(b, 80, "%s_bias_folded", conv->label);
}

void bn_emit_fold_statics(Emit *e, const Graph *g, const Node *conv, const Node *bn, long taps) {
    char w[80], b[80];
    fold_names(conv, w, b);
    emit(e, "/* %s's weight and bias with %s folded in (evaluation) */", conv->label, bn->label);
    emit(e, "static float %s[%ld], %s[%ld];", w, taps * val(g, conv->in[2])->shape.dim[0], b,
         val(g, conv->in[2])->shape.dim[0]);
    emit_blank(e);
}

void bn_emit_fold(Emit *e, const Graph *g, const Node *conv, const Node *bn, long taps) {
    char w[80], b[80], eps[40];
    fold_names(conv, w, b);
    float_literal(eps, attr_of(bn)->eps);
    long outs = val(g, conv->in[2])->shape.dim[0];
    emit(e, "if (!training) {  /* evaluation: %s folded into W and b (s = γ/√(running var + eps)) */", bn->label);
    e->indent++;
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int o = 0; o < %ld; o++) {", outs);
    emit(e, "    const float s = %s[o] / sqrtf(%s[o] + %s);", cname(g, bn->in[BN_GAMMA]), cname(g, bn->in[BN_VAR]), eps);
    emit(e, "    for (int t = 0; t < %ld; t++) %s[o * %ld + t] = %s[o * %ld + t] * s;", taps, w, taps,
         cname(g, conv->in[1]), taps);
    emit(e, "    %s[o] = (%s[o] - %s[o]) * s + %s[o];", b, cname(g, conv->in[2]), cname(g, bn->in[BN_MEAN]),
         cname(g, bn->in[BN_BETA]));
    emit(e, "}");
    emit(e, "kiln_sync();");
    e->indent--;
    emit(e, "}");
}

static const NodeOp node_bn_stats = { .name = "stats", .shape = stats_shape, .grad = stats_grad,
                                      .emit = stats_emit, .emit_example = stats_example, .training_only = 1 };
static const NodeOp node_bn = { .name = "batch_norm", .shape = bn_shape, .grad = bn_grad, .emit = bn_emit,
                                .training_mode = 1, .gemm_epilogue = 1, .before = &node_bn_stats };
static const NodeOp node_bn_grad_sums = { .name = "batch_norm.grad_sums", .emit = grad_sums_emit,
                                          .emit_example = grad_sums_example };
static const NodeOp node_bn_grad_params = { .name = "batch_norm.grad_params", .emit = bn_grad_params_emit };
static const NodeOp node_bn_grad_input = { .name = "batch_norm.grad_input", .emit = bn_grad_input_emit,
                                           .emit_example = grad_input_example };
const OpDef op_batch_norm = {
    .name = "batch_norm", .kind = OP_LAYER, .attr_size = sizeof(BatchNormAttr), .parse = bn_parse,
    .describe = bn_describe, .node = &node_bn,
};
