/* reshape.c — ops that change how values are seen, not what they hold.
 * flatten(): (batch, c, h, w) → (batch, c·h·w).  A view: its output shares
 * its input's storage, so it emits no code, and its gradient is the
 * output's gradient seen with the input's shape (a copy, or an added pass,
 * only where the input's gradient has other contributions).
 * input.scale (internal): the raw input bytes as floats, for models whose
 * first layer cannot read bytes itself (linear scales them while packing). */
#include "ops.h"

static void flatten_shape(Graph *g, Node *n) {
    const Value *x = val(g, n->in[0]);
    Value *y = val(g, n->out[0]);
    y->shape.batched = 1;
    y->shape.rank = 1;
    y->shape.dim[0] = shape_size(&x->shape);
    y->alias = n->in[0];
}

/* dx is dy seen with x's shape (autodiff.c shares the storage when it can) */
static void flatten_grad(Graph *g, Node *n) {
    grad_pass(g, n, n->in[0], val(g, n->out[0])->grad);
}

static const NodeOp node_flatten = {
    .name = "flatten", .shape = flatten_shape, .grad = flatten_grad, .view = 1, .reads_bytes = 1,
};
const OpDef op_flatten = { .name = "flatten", .kind = OP_LAYER, .parse = parse_no_args, .node = &node_flatten };

static void scale_shape(Graph *g, Node *n) {
    val(g, n->out[0])->shape = val(g, n->in[0])->shape;
}

static void scale_emit(Emit *e, const Graph *g, const Kernel *k) {
    const Node *n = node(g, k->nodes[0]);
    const char *x = cname(g, n->in[0]), *y = cname(g, n->out[0]);
    kernel_begin(e, g, k);
    emit(e, "/* %s = the input bytes %s, scaled */", y, x);
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < n * %ld; i++)", features(g, n->out[0]));
    emit(e, "    %s[i] = (float)%s[i] * INPUT_SCALE;", y, x);
    kernel_end(e);
}

const NodeOp node_input_scale = { .name = "input.scale", .shape = scale_shape, .emit = scale_emit };
