/* registry.c — every op kiln knows, in one table.  Adding an op is one
 * file under ops/ (its parse, shape, gradient and emit code) plus its
 * lines here and in ops.h.  DSL names come from this table too: each
 * non-internal entry becomes a function a spec can call. */
#include <stdio.h>
#include <string.h>

#include "ops.h"

const OpDef *const kiln_ops[] = {
    /* layers */
    &op_flatten, &op_linear, &op_relu, &op_sigmoid, &op_tanh, &op_dropout,
    /* losses */
    &op_softmax_cross_entropy, &op_mse,
    /* optimizers */
    &op_sgd, &op_adam,
    /* initializers */
    &op_normal, &op_uniform, &op_zeros, &op_xavier, &op_kaiming,
    /* data */
    &op_fashion_mnist, &op_idx, &op_synthetic_regression,
    /* internal: gradients and updates */
    &op_linear_grad_params, &op_linear_grad_input, &op_relu_grad, &op_sigmoid_grad, &op_tanh_grad,
    &op_softmax_cross_entropy_grad, &op_sgd_step, &op_adam_step, &op_input_scale, &op_dropout_grad,
    &op_mse_grad, &op_probe_sum, &op_probe_sum_grad,
    NULL,
};

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
