/* ops.h — the OpDefs each file under ops/ defines, for the registry, and
 * the small helpers the ops share. */
#ifndef KILN_OPS_H
#define KILN_OPS_H

#include "../kiln.h"

/* reshape.c */
extern const OpDef op_flatten, op_input_scale;
/* linear.c */
extern const OpDef op_linear, op_linear_grad_params, op_linear_grad_input;
/* activation.c */
extern const OpDef op_relu, op_relu_grad, op_sigmoid, op_sigmoid_grad, op_tanh, op_tanh_grad;
/* loss.c */
extern const OpDef op_softmax_cross_entropy, op_softmax_cross_entropy_grad;
/* mse.c */
extern const OpDef op_mse, op_mse_grad;
/* probe.c (kiln plot) */
extern const OpDef op_probe_sum, op_probe_sum_grad;
/* optim.c */
extern const OpDef op_sgd, op_sgd_step, op_adam, op_adam_step;
/* init.c */
extern const OpDef op_normal, op_uniform, op_zeros, op_xavier, op_kaiming;
/* dropout.c */
extern const OpDef op_dropout, op_dropout_grad;
/* data.c */
extern const OpDef op_fashion_mnist, op_idx, op_synthetic_regression;

/* A layer with no arguments: relu(), flatten(), ... */
void parse_no_args(Call *c, Layer *out);
/* The node's layer as written, e.g. "linear(256)" or "relu()". */
const char *layer_call(const Node *n, char buf[64]);
/* Rows × features of a batched value, as "n * 256" style bounds. */
long features(const Graph *g, int value);

#endif
