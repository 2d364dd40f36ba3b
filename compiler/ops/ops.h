/* ops.h — what the files under ops/ share: each op's attributes (the
 * struct its parse hook fills, Layer.attr), the ops and node kinds each file
 * defines, and the small helpers the ops use.  registry.c lists the ops a
 * spec can call. */
#ifndef KILN_OPS_H
#define KILN_OPS_H

#include "../kiln.h"

/* ---- reshape.c ---- */
extern const OpDef op_flatten;
extern const NodeOp node_input_scale;   /* the input bytes as floats, for a layer that cannot read bytes */

/* ---- linear.c ---- */
typedef struct {
    long units;               /* output features */
    int  bias;                /* has a bias (default 1) */
    Init init, bias_init;     /* .op NULL: PyTorch's default (or zeros for the bias, with init) */
} LinearAttr;
/* A linear node's inputs and its gradient node's outputs, by position.
 * ORDER LINEAR: linear.c makes them so. */
enum { LINEAR_X, LINEAR_W, LINEAR_B };
enum { GRAD_PARAMS_DW, GRAD_PARAMS_DB };
extern const OpDef op_linear;
extern const NodeOp node_linear_grad_params, node_linear_grad_input;

/* ---- conv.c ---- */
typedef struct {
    long out;                 /* output channels */
    long kernel[2], stride[2], padding[2];   /* height, width */
    int  bias;                /* has a bias (default 1) */
    Init init, bias_init;     /* .op NULL: PyTorch's default (or zeros for the bias, with init) */
} ConvAttr;
/* A conv node's inputs, by position.  ORDER CONV: conv.c makes them so. */
enum { CONV_X, CONV_W, CONV_B };
/* A convolution's geometry, from its attributes and shapes. */
typedef struct {
    long in, h, w;            /* input channels, height, width */
    long out, oh, ow;         /* output channels, height, width */
    long kh, kw, sh, sw, ph, pw;
} ConvShape;
extern const OpDef op_conv2d;

/* ---- batchnorm.c ---- */
typedef struct { double momentum, eps; } BatchNormAttr;
/* A batch_norm node's inputs, by position.  ORDER BN: batchnorm.c makes them so. */
enum { BN_X, BN_STATS, BN_GAMMA, BN_BETA, BN_MEAN, BN_VAR };
extern const OpDef op_batch_norm;
/* In evaluation, a batch_norm right after a convolution with a bias (the
 * convolution's result read, in the forward pass, by the batch norm and
 * its statistics only) is folded into the convolution's weight and bias:
 * the batch_norm node conv's result feeds so, or NULL. */
const Node *bn_folded_after(const Graph *g, const Node *conv);
/* The statements, in conv's forward kernel, that fold bn into W and b
 * (evaluation only), and their static arrays (before the kernel). */
void bn_emit_fold_statics(Emit *e, const Graph *g, const Node *conv, const Node *bn, long taps);
void bn_emit_fold(Emit *e, const Graph *g, const Node *conv, const Node *bn, long taps);

/* ---- pool.c ---- */
typedef struct {
    long kernel[2], stride[2], padding[2];   /* height, width */
    int  global;   /* global_avg_pool2d: the window is the whole plane, from the input's shape */
} PoolAttr;
extern const OpDef op_max_pool2d, op_avg_pool2d, op_global_avg_pool2d;

/* ---- window.c ---- */
/* The output's height and width (out[0], out[1]) of a window of kernel,
 * stride and padding (height, width) sliding over the 4-D value's shape x;
 * fail_at loc, naming call and the shapes, when it does not fit. */
void window_out(const Loc *loc, const char *call, const Shape *x, const long kernel[2], const long stride[2],
                const long padding[2], long out[2]);

/* ---- merge.c ---- */
extern const OpDef op_add, op_concat;
/* dx (+)= dy, element by element: an identity gradient that cannot share storage */
extern const NodeOp node_grad_pass;

/* ---- activation.c ---- */
typedef struct { double slope; } ActivationAttr;   /* leaky_relu: the slope below 0 */

/* ---- dropout.c ---- */
typedef struct { double p; } DropoutAttr;
extern const OpDef op_dropout;

/* ---- loss.c, mse.c, probe.c ---- */
extern const OpDef op_softmax_cross_entropy, op_mse;
extern const OpDef op_probe_sum;   /* kiln plot's loss: not in the DSL */
extern const NodeOp node_softmax_cross_entropy_grad, node_mse_grad, node_probe_sum_grad;

/* ---- optim.c ---- */
typedef struct {
    Rate   lr;
    double momentum, weight_decay;   /* sgd; adam: weight_decay */
    double beta1, beta2, eps;        /* adam */
} OptimAttr;
extern const OpDef op_sgd, op_adam;

/* ---- schedule.c: a Rate (kiln.h) is a schedule's attributes ---- */
extern const OpDef op_step_lr, op_cosine_lr;

/* ---- init.c: Init (kiln.h) is an initializer's attributes ---- */
extern const OpDef op_normal, op_uniform, op_zeros, op_xavier, op_kaiming;

/* ---- data.c ---- */
typedef struct {
    char  *dir;                      /* directory of the IDX files (--data overrides it) */
    char  *files[4];                 /* train images, train labels, test images, test labels */
    const char *const *class_names;  /* the classes' names, or NULL */
    double synth_w[16];              /* synthetic_regression: true weights, bias, noise, sizes */
    int    synth_dims;
    double synth_b, synth_noise;
    long   synth_train, synth_test;
} DataAttr;
extern const OpDef op_fashion_mnist, op_idx, op_synthetic_regression;

/* ---- registry.c: helpers ---- */
/* A layer with no arguments: relu(), flatten(), ... */
void parse_no_args(Call *c, Layer *out);
/* The node's layer as written, e.g. "linear(256)" or "relu()". */
const char *layer_call(const Node *n, char buf[64]);
/* Rows × features of a batched value, as "n * 256" style bounds. */
long features(const Graph *g, int value);

#endif
