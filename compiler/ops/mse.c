/* mse.c — mse(): mean squared error, as PyTorch's MSELoss: the mean over
 * the batch and the outputs of (y − target)².  Its gradient is
 * dy = 2·(y − target) / (n·k); in training both share one loop (fuse.c).
 * Targets are floats, one row of k per example (regression data). */
#include "ops.h"

static void mse_shape(Graph *g, Node *n) {
    const Value *y = val(g, n->in[LOSS_OUTPUT]);
    if (!y->shape.batched || y->shape.rank != 1) {
        char got[96];
        shape_str(&y->shape, got, sizeof got);
        fail_at(&n->layer->loc, "mse(): expects outputs (batch, k), got %s; end the layers with linear(k)", got);
    }
    val(g, n->in[LOSS_TARGET])->shape = y->shape;   /* the targets: one row of k per example */
    val(g, n->out[0])->shape = (Shape){ 0 };
}

static void mse_grad(Graph *g, Node *n) {
    Node *b = graph_node(g, &node_mse_grad, n->layer, PHASE_BACKWARD, "mse.grad");
    node_input(g, b, n->in[LOSS_OUTPUT]);
    node_input(g, b, n->in[LOSS_TARGET]);
    grad_result(g, b, n->in[LOSS_OUTPUT]);
}

static void mse_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const Node *grad = kernel_node(g, k, &node_mse_grad);
    long c = features(g, n->in[LOSS_OUTPUT]);
    const char *y = cname(g, n->in[LOSS_OUTPUT]);
    kernel_begin(e, g, k);
    if (grad) emit(e, "/* loss = mean of (y − target)², and %s = 2·(y − target) / (n·%ld), in one pass */",
                   cname(g, grad->out[0]), c);
    else emit(e, "/* loss = mean of (y − target)² over the rows and the %ld outputs */", c);
    emit(e, "(void)correct;  /* no classes: nothing to count */");
    emit(e, "#pragma omp single nowait  /* one thread of the team: the sum keeps its order */");
    emit(e, "{");
    e->indent++;
    emit(e, "double total = 0.0;");
    emit(e, "for (int i = 0; i < n * %ld; i++) {", c);
    emit(e, "    const float d = %s[i] - targets[i];", y);
    emit(e, "    total += (double)d * d;");
    if (grad) emit(e, "    %s[i] = 2.0f * d / (float)(n * %ld);", cname(g, grad->out[0]), c);
    emit(e, "}");
    emit(e, "*loss = (float)(total / ((double)n * %ld));", c);
    e->indent--;
    emit(e, "}");
    kernel_end(e);
}

/* predict(): the outputs themselves */
static void mse_predict(Emit *e, const Graph *g, const Node *n) {
    emit(e, "for (int i = 0; i < n * %ld; i++)", features(g, n->in[LOSS_OUTPUT]));
    emit(e, "    out[i] = %s[i];", cname(g, n->in[LOSS_OUTPUT]));
}

static const NodeOp node_mse = { .name = "mse", .shape = mse_shape, .grad = mse_grad, .emit = mse_emit };
static const LossOp loss_mse = { .emit_predict = mse_predict, .float_targets = 1 };
const OpDef op_mse = { .name = "mse", .kind = OP_LOSS, .parse = parse_no_args, .node = &node_mse, .loss = &loss_mse };
/* Emitted only inside the loss's own kernel (see fuse.c). */
const NodeOp node_mse_grad = { .name = "mse.grad" };
