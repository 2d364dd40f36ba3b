/* optim.c — sgd{lr}: plain minibatch SGD, p ← p − lr·∇p, one update node
 * per parameter, appended by autodiff after the backward pass.  Being of
 * the form p ← p + α·∇p (α = −lr), it fuses into the kernel that computes
 * ∇p (fuse.c); the standalone loop below is for gradients that cannot. */
#include <stdio.h>

#include "ops.h"

static const char *const sgd_opts[] = { "lr", NULL };

static void sgd_parse(Call *c, Layer *out) {
    call_max_args(c, 1);
    if (!call_opts(c, 1, sgd_opts) || !call_opt_number(c, 1, "lr", &out->lr))
        call_fail(c, "needs a learning rate, e.g. sgd { lr = 0.1 }");
    if (!(out->lr > 0) || out->lr > 1e6) call_fail(c, "lr must be above 0 and at most 1e6, got %g", out->lr);
}

static void sgd_update(Graph *g, const Layer *opt, int param, int grad) {
    char label[80];
    snprintf(label, sizeof label, "sgd.%s", val(g, param)->name);
    Node *n = graph_node(g, &op_sgd_step, opt, PHASE_UPDATE, label);
    node_input(g, n, param);
    node_input(g, n, grad);
}

static double sgd_scale(const Node *n) { return -n->layer->lr; }

static void sgd_step_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    char lr[40];
    const char *p = cname(g, n->in[0]), *dp = cname(g, n->in[1]);
    kernel_begin(e, g, k);
    emit(e, "/* %s -= lr · %s */", p, dp);
    emit(e, "#pragma omp parallel for");
    emit(e, "for (int i = 0; i < %ld; i++)", features(g, n->in[0]));
    emit(e, "    %s[i] -= %s * %s[i];", p, float_literal(lr, n->layer->lr), dp);
    kernel_end(e);
}

const OpDef op_sgd = { .name = "sgd", .kind = OP_OPTIM, .parse = sgd_parse, .update = sgd_update };
const OpDef op_sgd_step = {
    .name = "sgd.step", .kind = OP_INTERNAL, .emit = sgd_step_emit, .update_scale = sgd_scale, .main_input = 1,
};
