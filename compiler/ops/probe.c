/* probe.c — probe.sum, an internal loss for kiln plot: the plain sum of
 * the model's outputs, so its gradient with respect to them is 1 and
 * autodiff yields the derivative of what comes before.
 *
 *   loss = Σ_i Σ_j z[i][j]   (a sum over the rows, not a mean)
 *   dz   = 1 everywhere
 *
 * Not reachable from the DSL (not in registry.c): kiln plot builds its Spec in C.
 * Like softmax_cross_entropy, the loss and its gradient share one kernel in
 * training (fuse.c); evaluation runs the loss alone.  Labels are ignored. */
#include "ops.h"

static void probe_shape(Graph *g, Node *n) {
    const Value *z = val(g, n->in[LOSS_OUTPUT]);
    if (!z->shape.batched || z->shape.rank != 1) {
        char got[96];
        shape_str(&z->shape, got, sizeof got);
        fail_at(&n->layer->loc, "probe.sum: expects outputs (batch, k), got %s", got);
    }
    val(g, n->out[0])->shape = (Shape){ 0 };
}

static void probe_grad(Graph *g, Node *n) {
    Node *b = graph_node(g, &node_probe_sum_grad, n->layer, PHASE_BACKWARD, "probe.sum.grad");
    node_input(g, b, n->in[LOSS_OUTPUT]);   /* read only so that fuse.c finds it beside the loss */
    grad_result(g, b, n->in[LOSS_OUTPUT]);
}

static void probe_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const Node *grad = kernel_node(g, k, &node_probe_sum_grad);
    long c = features(g, n->in[LOSS_OUTPUT]);
    const char *z = cname(g, n->in[LOSS_OUTPUT]);
    kernel_begin(e, g, k);
    if (grad) emit(e, "/* loss = the sum of every output; %s = 1 */", cname(g, grad->out[0]));
    else emit(e, "/* loss = the sum of every output */");
    for (int i = 1; i < n->nin; i++) {   /* the labels (or targets) it is handed */
        ValKind kind = val(g, n->in[i])->kind;
        if (kind == VAL_LABELS) emit(e, "(void)labels;");
        else if (kind == VAL_TARGETS) emit(e, "(void)targets;");
    }
    emit(e, "(void)correct;  /* nothing to classify */");
    emit(e, "#pragma omp single nowait  /* one thread of the team: the sum keeps its order */");
    emit(e, "{");
    e->indent++;
    emit(e, "double total = 0.0;");
    emit(e, "for (int i = 0; i < n * %ld; i++)", c);
    emit(e, "    total += (double)%s[i];", z);
    if (grad) {
        emit(e, "for (int i = 0; i < n * %ld; i++)", c);
        emit(e, "    %s[i] = 1.0f;", cname(g, grad->out[0]));
    }
    emit(e, "*loss = (float)total;");
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

/* predict(): the outputs as they are */
static void probe_predict(Emit *e, const Graph *g, const Node *n) {
    emit(e, "for (int i = 0; i < n * %ld; i++)", features(g, n->in[LOSS_OUTPUT]));
    emit(e, "    out[i] = %s[i];", cname(g, n->in[LOSS_OUTPUT]));
}

static const NodeOp node_probe_sum = { .name = "probe.sum", .shape = probe_shape, .grad = probe_grad, .emit = probe_emit };
static const LossOp loss_probe_sum = { .emit_predict = probe_predict };
/* Not in registry.c: a spec cannot call it. */
const OpDef op_probe_sum = { .name = "probe.sum", .kind = OP_LOSS, .node = &node_probe_sum, .loss = &loss_probe_sum };
/* Emitted only inside the loss's own kernel (see fuse.c). */
const NodeOp node_probe_sum_grad = { .name = "probe.sum.grad" };
