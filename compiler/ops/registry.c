/* registry.c — every op a spec can call, one line each in KILN_DSL_OPS:
 * each becomes a function of the DSL with that name.  Adding a layer is its
 * file under ops/ (defining op_NAME) and its line here.  The nodes autodiff
 * makes (gradients, update steps) and kiln plot's loss are not here: a spec
 * cannot call them. */
#include <stdio.h>
#include <string.h>

#include "ops.h"

#define KILN_DSL_OPS(X)                                                                    \
    /* layers */                                                                           \
    X(flatten) X(linear) X(relu) X(leaky_relu) X(sigmoid) X(tanh) X(dropout)               \
    X(add) X(concat) X(conv2d) X(max_pool2d) X(avg_pool2d) X(global_avg_pool2d)           \
    X(batch_norm)                                                                          \
    /* losses */                                                                           \
    X(softmax_cross_entropy) X(mse)                                                        \
    /* optimizers */                                                                       \
    X(sgd) X(adam)                                                                         \
    /* learning-rate schedules */                                                          \
    X(step_lr) X(cosine_lr)                                                                \
    /* initializers */                                                                     \
    X(normal) X(uniform) X(zeros) X(xavier) X(kaiming)                                     \
    /* data */                                                                             \
    X(fashion_mnist) X(idx) X(synthetic_regression)

#define DECLARE(NAME) extern const OpDef op_##NAME;
KILN_DSL_OPS(DECLARE)

#define ENTRY(NAME) &op_##NAME,
const OpDef *const kiln_ops[] = { KILN_DSL_OPS(ENTRY) NULL };

const OpDef *op_find(const char *name) {
    for (int i = 0; kiln_ops[i]; i++)
        if (strcmp(kiln_ops[i]->name, name) == 0) return kiln_ops[i];
    return NULL;
}

void parse_no_args(Call *c, Layer *out) {
    (void)out;
    call_max_args(c, 0);
}

const char *layer_call(const Node *n, char buf[64]) {
    const Layer *l = n->layer;
    if (l->op->describe) l->op->describe(l, buf);
    else snprintf(buf, 64, "%s()", l->op->name);
    return buf;
}

long features(const Graph *g, int value) { return shape_size(&val(g, value)->shape); }
