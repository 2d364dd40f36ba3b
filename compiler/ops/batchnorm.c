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
 * Every sum is each example's, then the examples' in order: the same for
 * any thread count.  The batch's mean and 1/σ are kept, per node, in static
 * arrays the backward kernels read. */
#include <math.h>
#include <stdio.h>

#include "ops.h"

typedef struct { double momentum, eps; } BatchNormAttr;

enum { BN_X, BN_GAMMA, BN_BETA, BN_MEAN, BN_VAR };   /* the forward node's inputs */

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

static const NodeOp node_bn_grad_params, node_bn_grad_input;

static void bn_grad(Graph *g, Node *n) {
    int x = n->in[BN_X], dy = val(g, n->out[0])->grad;
    char label[80];
    snprintf(label, sizeof label, "%s.grad_params", n->label);
    Node *p = graph_node(g, &node_bn_grad_params, n->layer, PHASE_BACKWARD, label);
    node_input(g, p, x);
    node_input(g, p, dy);
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

/* part[i][c] = Σ over example i's values of channel c of `term` (an
 * expression of v, the value, and c), one example a thread at a time. */
static void emit_example_sums(Emit *e, const char *part, long c, long per, const char *x, const char *term) {
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++)");
    emit(e, "    for (int c = 0; c < %ld; c++) {", c);
    emit(e, "        const float *v = %s + ((size_t)i * %ld + c) * %ld;", x, c, per);
    emit(e, "        float s = 0.0f;");
    emit(e, "        for (int p = 0; p < %ld; p++) s += %s;", per, term);
    emit(e, "        %s[i][c] = s;", part);
    emit(e, "    }");
    emit(e, "kiln_sync();");
}

static void bn_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const BatchNormAttr *a = attr_of(n);
    long c, per;
    geometry(g, n, &c, &per);
    const char *x = cname(g, n->in[BN_X]), *y = cname(g, n->out[0]), *l = n->label;
    const char *gamma = cname(g, n->in[BN_GAMMA]), *beta = cname(g, n->in[BN_BETA]);
    const char *rmean = cname(g, n->in[BN_MEAN]), *rvar = cname(g, n->in[BN_VAR]);
    char m[40], m1[40], eps[40];
    float_literal(m, a->momentum);
    float_literal(m1, 1.0 - a->momentum);
    float_literal(eps, a->eps);
    emit(e, "/* %s's batch statistics, this step's: for its backward pass */", l);
    emit(e, "static float %s_mean[%ld], %s_invstd[%ld];", l, c, l, c);
    emit(e, "static float %s_part[BATCH][%ld];  /* each example's sums, per channel */", l, c);
    emit_blank(e);
    kernel_begin(e, g, k);
    emit(e, "/* %s = batch_norm(%s): (n, %ld channels × %ld); training: the batch's statistics, then the running", y, x, c,
         per);
    emit(e, " * ones updated (momentum %g); evaluation: the running ones */", a->momentum);
    emit(e, "const long M = (long)n * %ld;  /* values per channel */", per);
    emit(e, "if (training) {");
    e->indent++;
    char part[96], term[200];
    snprintf(part, sizeof part, "%s_part", l);
    emit_example_sums(e, part, c, per, x, "v[p]");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int c = 0; c < %ld; c++) {  /* the mean: the examples' sums in order */", c);
    emit(e, "    float s = 0.0f;");
    emit(e, "    for (int i = 0; i < n; i++) s += %s[i][c];", part);
    emit(e, "    %s_mean[c] = s / (float)M;", l);
    emit(e, "}");
    emit(e, "kiln_sync();");
    snprintf(term, sizeof term, "(v[p] - %s_mean[c]) * (v[p] - %s_mean[c])", l, l);
    emit_example_sums(e, part, c, per, x, term);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int c = 0; c < %ld; c++) {  /* the variance (biased), 1/σ, the running statistics */", c);
    emit(e, "    float s = 0.0f;");
    emit(e, "    for (int i = 0; i < n; i++) s += %s[i][c];", part);
    emit(e, "    const float var = s / (float)M;");
    emit(e, "    %s_invstd[c] = 1.0f / sqrtf(var + %s);", l, eps);
    emit(e, "    %s[c] = %s * %s[c] + %s * %s_mean[c];", rmean, m1, rmean, m, l);
    emit(e, "    %s[c] = %s * %s[c] + %s * (M > 1 ? var * (float)M / (float)(M - 1) : var);", rvar, m1, rvar, m);
    emit(e, "}");
    emit(e, "kiln_sync();");
    e->indent--;
    emit(e, "}");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++)");
    emit(e, "    for (int c = 0; c < %ld; c++) {", c);
    emit(e, "        const float mean = training ? %s_mean[c] : %s[c];", l, rmean);
    emit(e, "        const float scale = %s[c] * (training ? %s_invstd[c] : 1.0f / sqrtf(%s[c] + %s));", gamma, l, rvar,
         eps);
    emit(e, "        const float *v = %s + ((size_t)i * %ld + c) * %ld;", x, c, per);
    emit(e, "        float *out = %s + ((size_t)i * %ld + c) * %ld;", y, c, per);
    emit(e, "        for (int p = 0; p < %ld; p++) out[p] = (v[p] - mean) * scale + %s[c];", per, beta);
    emit(e, "    }");
    kernel_end(e);
}

/* dγ and dβ: each example's sums per channel, then the examples in order */
static void bn_grad_params_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *q = node(g, k->nodes[0]), *n = forward_of(g, q);
    long c, per;
    geometry(g, n, &c, &per);
    const char *x = cname(g, q->in[0]), *dy = cname(g, q->in[1]), *l = n->label;
    const char *dgamma = cname(g, q->out[0]), *dbeta = cname(g, q->out[1]);
    emit(e, "static float %s_part2[BATCH][%ld];  /* each example's Σ dy·x̂, per channel */", l, c);
    emit_blank(e);
    kernel_begin(e, g, k);
    emit(e, "/* %s = Σ dy·x̂, %s = Σ dy over the batch, per channel (x̂ = (x − mean)/σ, this step's) */", dgamma, dbeta);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++)");
    emit(e, "    for (int c = 0; c < %ld; c++) {", c);
    emit(e, "        const float *v = %s + ((size_t)i * %ld + c) * %ld, *d = %s + ((size_t)i * %ld + c) * %ld;", x, c,
         per, dy, c, per);
    emit(e, "        float sb = 0.0f, sg = 0.0f;");
    emit(e, "        for (int p = 0; p < %ld; p++) {", per);
    emit(e, "            sb += d[p];");
    emit(e, "            sg += d[p] * (v[p] - %s_mean[c]) * %s_invstd[c];", l, l);
    emit(e, "        }");
    emit(e, "        %s_part[i][c] = sb;", l);
    emit(e, "        %s_part2[i][c] = sg;", l);
    emit(e, "    }");
    emit(e, "kiln_sync();");
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int c = 0; c < %ld; c++) {", c);
    emit(e, "    float sb = 0.0f, sg = 0.0f;");
    emit(e, "    for (int i = 0; i < n; i++) sb += %s_part[i][c], sg += %s_part2[i][c];", l, l);
    emit(e, "    %s[c] %s sg;", dgamma, assign_op(q, 0));
    emit(e, "    %s[c] %s sb;", dbeta, assign_op(q, 1));
    emit(e, "}");
    kernel_end(e);
}

/* dx = γ/σ·(dy − dβ/M − x̂·dγ/M) */
static void bn_grad_input_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *q = node(g, k->nodes[0]), *n = forward_of(g, q);
    long c, per;
    geometry(g, n, &c, &per);
    const char *x = cname(g, q->in[0]), *dy = cname(g, q->in[1]), *gamma = cname(g, q->in[2]);
    const char *dgamma = cname(g, q->in[3]), *dbeta = cname(g, q->in[4]), *dx = cname(g, q->out[0]), *l = n->label;
    kernel_begin(e, g, k);
    emit(e, "/* %s %s γ/σ·(dy − dβ/M − x̂·dγ/M), the batch's statistics */", dx, assign_op(q, 0));
    emit(e, "const float M = (float)n * %ld.0f;", per);
    emit(e, "#pragma omp for schedule(static) nowait");
    emit(e, "for (int i = 0; i < n; i++)");
    emit(e, "    for (int c = 0; c < %ld; c++) {", c);
    emit(e, "        const float mean = %s_mean[c], invstd = %s_invstd[c], k = %s[c] * invstd;", l, l, gamma);
    emit(e, "        const float mb = %s[c] / M, mg = %s[c] / M;", dbeta, dgamma);
    emit(e, "        const size_t at = ((size_t)i * %ld + c) * %ld;", c, per);
    emit(e, "        for (int p = 0; p < %ld; p++)", per);
    emit(e, "            %s[at + p] %s k * (%s[at + p] - mb - (%s[at + p] - mean) * invstd * mg);", dx, assign_op(q, 0),
         dy, x);
    emit(e, "    }");
    kernel_end(e);
}

static const NodeOp node_bn = { .name = "batch_norm", .shape = bn_shape, .grad = bn_grad, .emit = bn_emit,
                                .training_mode = 1 };
static const NodeOp node_bn_grad_params = { .name = "batch_norm.grad_params", .emit = bn_grad_params_emit };
static const NodeOp node_bn_grad_input = { .name = "batch_norm.grad_input", .emit = bn_grad_input_emit };
const OpDef op_batch_norm = {
    .name = "batch_norm", .kind = OP_LAYER, .attr_size = sizeof(BatchNormAttr), .parse = bn_parse,
    .describe = bn_describe, .node = &node_bn,
};
