/* reshape.c — flatten(): (batch, c, h, w) → (batch, c·h·w).  A view: its
 * output shares its input's storage, so it emits no code, and its gradient
 * is the output's gradient seen with the input's shape. */
#include "ops.h"

static void flatten_shape(Graph *g, Node *n) {
    const Value *x = val(g, n->in[0]);
    Value *y = val(g, n->out[0]);
    y->shape.batched = 1;
    y->shape.rank = 1;
    y->shape.dim[0] = shape_size(&x->shape);
    y->alias = n->in[0];
}

static void flatten_grad(Graph *g, Node *n) {
    int dx = grad_of(g, n->in[0]);
    val(g, dx)->alias = val(g, n->out[0])->grad;
}

const OpDef op_flatten = {
    .name = "flatten", .kind = OP_LAYER,
    .parse = parse_no_args, .shape = flatten_shape, .grad = flatten_grad,
};
