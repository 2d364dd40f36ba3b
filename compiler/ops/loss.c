/* loss.c — softmax_cross_entropy(): the mean over the batch of
 * −log softmax(z)[label], computed stably as logsumexp(z) − z[label]
 * (logsumexp(z) = m + log Σ exp(z − m) with m = max z).  The loss kernel
 * also counts correct argmax predictions.  Its gradient,
 * dz = (softmax(z) − onehot(label)) / n, shares the row loop in training
 * (fuse.c puts both nodes in one kernel); evaluation runs the loss alone.
 * The step's team shares the rows, in blocks of KILN_SOFTMAX_ROWS that the
 * runtime computes side by side in vector lanes (kiln_softmax_xent_rows);
 * each row's loss and hit go to row_loss and row_hit, and once the team is
 * done batch_loss() sums them in row order: the loss has the same bits for
 * any thread count. */
#include "ops.h"

static void xent_shape(Graph *g, Node *n) {
    const Value *z = val(g, n->in[LOSS_OUTPUT]);
    long classes = g->spec->classes;
    if (classes == 0)
        fail_at(&n->layer->loc, "softmax_cross_entropy(): the model has no classes; set classes = N in model{}");
    if (!z->shape.batched || z->shape.rank != 1 || z->shape.dim[0] != classes) {
        char got[96];
        shape_str(&z->shape, got, sizeof got);
        fail_at(&n->layer->loc, "softmax_cross_entropy(): expects logits (batch, %ld) for the model's %ld "
                "classes, got %s from the last layer; end the layers with linear(%ld)", classes, classes, got,
                classes);
    }
    val(g, n->out[0])->shape = (Shape){ 0 };
}

static void xent_grad(Graph *g, Node *n) {
    Node *b = graph_node(g, &node_softmax_cross_entropy_grad, n->layer, PHASE_BACKWARD, "softmax_cross_entropy.grad");
    node_input(g, b, n->in[LOSS_OUTPUT]);
    node_input(g, b, n->in[LOSS_TARGET]);
    grad_result(g, b, n->in[LOSS_OUTPUT]);
}

static void xent_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const Node *grad = kernel_node(g, k, &node_softmax_cross_entropy_grad);
    long c = features(g, n->in[LOSS_OUTPUT]);
    const char *dz = grad ? cname(g, grad->out[0]) : NULL;
    if (!grad) {   /* the evaluation kernel, always emitted first (fuse.c), declares them */
        emit(e, "/* Each row's loss and argmax hit, written by whichever thread had the row. */");
        emit(e, "static float row_loss[BATCH];");
        emit(e, "static uint8_t row_hit[BATCH];");
        emit_blank(e);
        emit(e, "/* The batch-mean loss, once the team is done: the rows summed in order on");
        emit(e, " * one thread (the same bits for any thread count); adds the correct rows. */");
        emit(e, "static float batch_loss(int n, int *correct)");
        emit(e, "{");
        emit(e, "    double total = 0.0;");
        emit(e, "    int hits = 0;");
        emit(e, "    for (int i = 0; i < n; i++) {");
        emit(e, "        total += (double)row_loss[i];");
        emit(e, "        hits += row_hit[i];");
        emit(e, "    }");
        emit(e, "    *correct += hits;");
        emit(e, "    return (float)(total / n);");
        emit(e, "}");
        emit_blank(e);
    }
    kernel_begin(e, g, k);
    if (grad) {
        emit(e, "/* per row, in one pass: loss = logsumexp(z) − z[label], the argmax hit,");
        emit(e, " * and %s = (softmax(z) − onehot(label)) / n; the team shares the", dz);
        emit(e, " * blocks of KILN_SOFTMAX_ROWS rows, each computed side by side in vector lanes */");
    } else {
        emit(e, "/* per row: loss = logsumexp(z) − z[label] and the argmax hit; the team");
        emit(e, " * shares the blocks of KILN_SOFTMAX_ROWS rows */");
    }
    emit(e, "#pragma omp for schedule(static) nowait  /* one contiguous share of the blocks a thread */");
    emit(e, "for (int i = 0; i < n; i += KILN_SOFTMAX_ROWS)");
    emit(e, "    kiln_softmax_xent_rows(i, n - i, %ld, %s, labels, %s, (float)n, row_loss, row_hit);",
         c, cname(g, n->in[LOSS_OUTPUT]), grad ? dz : "NULL");
    kernel_end(e);
}

/* After the team: the batch's loss and correct rows from the rows'. */
static void xent_total(Emit *e, const Graph *g) {
    (void)g;
    emit(e, "loss = batch_loss(n, correct);");
}

/* predict(): softmax of each row of logits */
static void xent_predict(Emit *e, const Graph *g, const Node *n) {
    long c = features(g, n->in[LOSS_OUTPUT]);
    emit(e, "for (int i = 0; i < n; i++) {");
    emit(e, "    const float *z = %s + i * %ld;", cname(g, n->in[LOSS_OUTPUT]), c);
    emit(e, "    float *p = out + i * %ld;", c);
    emit(e, "    float max = z[0], sum = 0.0f;");
    emit(e, "    for (int j = 1; j < %ld; j++)", c);
    emit(e, "        max = fmaxf(max, z[j]);");
    emit(e, "    for (int j = 0; j < %ld; j++) {", c);
    emit(e, "        p[j] = expf(z[j] - max);");
    emit(e, "        sum += p[j];");
    emit(e, "    }");
    emit(e, "    for (int j = 0; j < %ld; j++)", c);
    emit(e, "        p[j] /= sum;");
    emit(e, "}");
}

static const NodeOp node_softmax_cross_entropy = {
    .name = "softmax_cross_entropy", .shape = xent_shape, .grad = xent_grad, .emit = xent_emit,
};
static const LossOp loss_softmax_cross_entropy = { .emit_predict = xent_predict, .emit_total = xent_total };
const OpDef op_softmax_cross_entropy = {
    .name = "softmax_cross_entropy", .kind = OP_LOSS, .parse = parse_no_args,
    .node = &node_softmax_cross_entropy, .loss = &loss_softmax_cross_entropy,
};
/* Emitted only inside the loss's own kernel (see fuse.c). */
const NodeOp node_softmax_cross_entropy_grad = { .name = "softmax_cross_entropy.grad" };
