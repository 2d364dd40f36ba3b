/* optim.c — optimizers, as PyTorch defines them (weight decay is L2: it is
 * added to the gradient).  Each appends one update node per parameter
 * after the backward pass; state lives in the model's state block.
 *
 * The rate lr is a number or a schedule (schedule.c); the generated C reads
 * it from the trainer's `learning_rate`, which the trainer sets before each
 * epoch.
 *
 *   sgd {lr, momentum = 0, weight_decay = 0}
 *     g = ∇p + wd·p;  v ← μ·v + g (v starts at 0);  p ← p − lr·v
 *     (without momentum: p ← (1 − lr·wd)·p − lr·∇p, which fuses into the
 *     GEMM computing ∇p as beta = 1 − lr·wd, alpha = −lr; see fuse.c)
 *   adam {lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0}
 *     g = ∇p + wd·p;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *     p ← p − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + eps),  t = step
 */
#include <stdio.h>

#include "ops.h"

static void check_range(Call *c, const char *what, double v, double lo, double hi, int open_hi) {
    if (v < lo || v > hi || (open_hi && v == hi))
        call_fail(c, "%s must be from %g to %g%s, got %g", what, lo, hi, open_hi ? " (not included)" : "", v);
}

static const char *const sgd_opts[] = { "lr", "momentum", "weight_decay", NULL };

static void sgd_parse(Call *c, Layer *l) {
    OptimAttr *out = l->attr;
    call_max_args(c, 1);
    if (!call_opts(c, 1, sgd_opts) || !call_opt_rate(c, 1, "lr", &out->lr))
        call_fail(c, "needs a learning rate, e.g. sgd { lr = 0.1 }");
    if (call_opt_number(c, 1, "momentum", &out->momentum)) check_range(c, "momentum", out->momentum, 0, 1, 1);
    if (call_opt_number(c, 1, "weight_decay", &out->weight_decay))
        check_range(c, "weight_decay", out->weight_decay, 0, 1e3, 0);
}

static const char *const adam_opts[] = { "lr", "beta1", "beta2", "eps", "weight_decay", NULL };

static void adam_parse(Call *c, Layer *l) {
    OptimAttr *out = l->attr;
    call_max_args(c, 1);
    out->lr = (Rate){ .lr = 0.001, .loc = c->loc };
    out->beta1 = 0.9, out->beta2 = 0.999, out->eps = 1e-8;
    if (call_opts(c, 1, adam_opts)) {
        call_opt_rate(c, 1, "lr", &out->lr);
        call_opt_number(c, 1, "beta1", &out->beta1);
        call_opt_number(c, 1, "beta2", &out->beta2);
        call_opt_number(c, 1, "eps", &out->eps);
        call_opt_number(c, 1, "weight_decay", &out->weight_decay);
    }
    check_range(c, "beta1", out->beta1, 0, 1, 1);
    check_range(c, "beta2", out->beta2, 0, 1, 1);
    if (!(out->eps > 0) || out->eps > 1) call_fail(c, "eps must be above 0 and at most 1, got %g", out->eps);
    check_range(c, "weight_decay", out->weight_decay, 0, 1e3, 0);
}

static const OptimAttr *attr_of(const Layer *opt) { return opt->attr; }

/* One update node: inputs param, grad, then its state tensors (ORDER
 * UPDATE); a state whose name starts with '+' is never below 0 (the '+' is
 * not part of it). */
static void add_update(Graph *g, const NodeOp *step, const Layer *opt, int param, int grad,
                       const char *const *state_names) {
    char label[96];
    snprintf(label, sizeof label, "%s.%s", opt->op->name, val(g, param)->name);
    int st[2], nst = 0;
    for (; state_names[nst]; nst++) {
        const char *name = state_names[nst] + (state_names[nst][0] == '+');
        snprintf(label, sizeof label, "%s.%s", val(g, param)->name, name);
        st[nst] = graph_state(g, label, val(g, param)->shape);
        val(g, st[nst])->nonnegative = state_names[nst][0] == '+';
    }
    snprintf(label, sizeof label, "%s.%s", opt->op->name, val(g, param)->name);
    Node *n = graph_node(g, step, opt, PHASE_UPDATE, label);
    node_input(g, n, param);   /* UPDATE_PARAM */
    node_input(g, n, grad);    /* UPDATE_GRAD */
    for (int i = 0; i < nst; i++) node_input(g, n, st[i]);   /* UPDATE_STATE, ... */
}

static const NodeOp node_sgd_step, node_adam_step;

static void sgd_update(Graph *g, const Layer *opt, int param, int grad) {
    static const char *const none[] = { NULL }, *const velocity[] = { "momentum", NULL };
    add_update(g, &node_sgd_step, opt, param, grad, attr_of(opt)->momentum > 0 ? velocity : none);
}

static void adam_update(Graph *g, const Layer *opt, int param, int grad) {
    static const char *const moments[] = { "adam_m", "+adam_v", NULL };   /* v: a mean of squares */
    add_update(g, &node_adam_step, opt, param, grad, moments);
}

/* Plain SGD with or without weight decay is p ← (1 − lr·wd)·p − lr·∇p. */
static int sgd_gemm_update(const Node *n, GemmUpdate *u) {
    const OptimAttr *l = attr_of(n->layer);
    if (l->momentum > 0) return 0;
    snprintf(u->alpha, sizeof u->alpha, "(float)-learning_rate");
    u->decays = l->weight_decay > 0;
    char wd[40];
    if (u->decays) snprintf(u->beta, sizeof u->beta, "(float)(1.0 - learning_rate * %s)", double_literal(wd, l->weight_decay));
    else snprintf(u->beta, sizeof u->beta, "1.0f");
    return 1;
}

/* The gradient as the update sees it: with weight decay, g = ∇p + wd·p. */
static void emit_decayed_grad(Emit *e, const OptimAttr *l, const char *p, const char *dp) {
    char wd[40];
    if (l->weight_decay > 0) emit(e, "    const float g = %s[i] + %s * %s[i];", dp, float_literal(wd, l->weight_decay), p);
    else emit(e, "    const float g = %s[i];", dp);
}

static void sgd_step_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const OptimAttr *l = attr_of(n->layer);
    const char *name = n->layer->op->name;
    char mu[40];
    const char *p = cname(g, n->in[UPDATE_PARAM]), *dp = cname(g, n->in[UPDATE_GRAD]);
    kernel_begin(e, g, k);
    if (l->momentum > 0) {
        const char *v = cname(g, n->in[UPDATE_STATE]);
        emit(e, "/* %s: g = %s%s; %s = μ·%s + g; %s -= lr·%s */", name, dp,
             l->weight_decay > 0 ? " + wd·p" : "", v, v, p, v);
    } else {
        emit(e, "/* %s: %s -= lr · (%s%s) */", name, p, dp, l->weight_decay > 0 ? " + wd·p" : "");
    }
    emit(e, "const float lr = (float)learning_rate;");
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < %ld; i++) {", features(g, n->in[UPDATE_PARAM]));
    emit_decayed_grad(e, l, p, dp);
    if (l->momentum > 0) {
        const char *v = cname(g, n->in[UPDATE_STATE]);
        emit(e, "    %s[i] = %s * %s[i] + g;", v, float_literal(mu, l->momentum), v);
        emit(e, "    %s[i] -= lr * %s[i];", p, v);
    } else {
        emit(e, "    %s[i] -= lr * g;", p);
    }
    emit(e, "}");
    kernel_end(e);
}

static void adam_step_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const OptimAttr *l = attr_of(n->layer);
    char b1[40], b2[40], c1[40], c2[40], eps[40];
    const char *p = cname(g, n->in[UPDATE_PARAM]), *dp = cname(g, n->in[UPDATE_GRAD]);
    const char *m = cname(g, n->in[UPDATE_STATE]), *v = cname(g, n->in[UPDATE_STATE + 1]);
    kernel_begin(e, g, k);
    emit(e, "/* adam, step t = steps + 1, with bias correction */");
    emit(e, "const double t = (double)(steps + 1);");
    emit(e, "const float step = (float)(learning_rate / (1.0 - pow(%.17g, t)));", l->beta1);
    emit(e, "const float root = (float)sqrt(1.0 - pow(%.17g, t));", l->beta2);
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < %ld; i++) {", features(g, n->in[UPDATE_PARAM]));
    emit_decayed_grad(e, l, p, dp);
    emit(e, "    %s[i] = %s * %s[i] + %s * g;", m, float_literal(b1, l->beta1), m, float_literal(c1, 1 - l->beta1));
    emit(e, "    %s[i] = %s * %s[i] + %s * g * g;", v, float_literal(b2, l->beta2), v, float_literal(c2, 1 - l->beta2));
    emit(e, "    %s[i] -= step * %s[i] / (sqrtf(%s[i]) / root + %s);", p, m, v, float_literal(eps, l->eps));
    emit(e, "}");
    kernel_end(e);
}

static Rate *rate(const Layer *opt) { return &((OptimAttr *)opt->attr)->lr; }

static const NodeOp node_sgd_step = {
    .name = "sgd.step", .emit = sgd_step_emit, .gemm_update = sgd_gemm_update, .main_input = UPDATE_GRAD,
};
static const NodeOp node_adam_step = { .name = "adam.step", .emit = adam_step_emit, .main_input = UPDATE_GRAD };
static const OptimOp optim_sgd = { .update = sgd_update, .rate = rate };
static const OptimOp optim_adam = { .update = adam_update, .rate = rate };
const OpDef op_sgd = {
    .name = "sgd", .kind = OP_OPTIM, .attr_size = sizeof(OptimAttr), .parse = sgd_parse, .optim = &optim_sgd,
};
const OpDef op_adam = {
    .name = "adam", .kind = OP_OPTIM, .attr_size = sizeof(OptimAttr), .parse = adam_parse, .optim = &optim_adam,
};
