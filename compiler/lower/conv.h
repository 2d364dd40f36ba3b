/* conv.h — emitting conv2d's three kernels (forward, grad_input,
 * grad_params) by one of four strategies, which compiler/ops/conv.c picks
 * per kernel and `kiln graph --kernels` shows:
 *
 *   planes  (conv_planes.c) each example's planes are packed padded into a
 *           working buffer (bytes scaled) and the runtime's AVX-512 kernels
 *           (kiln_conv_planes, kiln_conv_weight_grad) run vectors of 16
 *           positions across rows; unpacking adds the bias and applies the
 *           fused elementwise ops.  Stride 1 (and, for grad_input, padding
 *           below the kernel size).
 *   patches (conv_planes.c, weight gradient) per chunk of examples, each
 *           tap's inputs at every output position packed in a row, so
 *           every lane is an output (kiln_conv_weight_grad_rows): where
 *           that saves more multiply-adds on padding positions than the
 *           packing costs.  Stride 1, no padding.
 *   lanes   (conv_lanes.c) blocks of 16 examples, one per vector lane
 *           (kiln_lanes_pack), so every lane is an output: forward and
 *           weight gradient multiply at the real output positions only;
 *           the input gradient adds each dy element times W's column onto
 *           dx where its taps land, so no multiply-add is by dy's zero
 *           padding — or, where the padding keeps the size, it is the
 *           forward kernel on dy with W flipped and transposed.  Stride 1,
 *           any padding.
 *   gemm    (conv_gemm.c) each example's inputs under every tap packed
 *           into a taps × positions matrix (zeros for the padding) and
 *           multiplied with W by the runtime's GEMM on the calling thread
 *           (kiln_gemm_alone); the input gradient is Wᵀ·dy added back where
 *           each tap read.  Any stride and padding: strided convolutions.
 *
 * conv_common.c holds what they share. */
#ifndef KILN_LOWER_CONV_H
#define KILN_LOWER_CONV_H

#include "../kiln.h"
#include "../ops/ops.h"

/* Examples per call of the planes strategy's weight gradient: the batch's
 * chunks, the same for any thread count. */
enum { CONV_CHUNK = 8 };

typedef enum { CONV_GEMM, CONV_PLANES, CONV_PATCHES, CONV_LANES } ConvStrategy;

/* The operands of a conv kernel. */
typedef struct {
    ConvShape   s;
    int         x, w, b;            /* value ids: input, weight, bias (-1: none) */
    int         dy;                 /* backward: the output's gradient */
    int         y;                  /* forward: the last fused node's output;
                                       grad_input: dx */
    /* grad_params: where dW and db go (the parameters themselves when sgd is
     * fused: target = beta·target + alpha·sum) */
    const char *target[2];
    GemmUpdate  update[2];          /* alpha and beta, as C expressions */
    int         nout, fused;
    ConvStrategy kind;
    char        strategy[480];      /* which strategy and why (conv.c) */
    /* forward and grad_input: the kernel's head and the elementwise ops
     * after it (what the unpacking applies), and the op fuse.c's
     * per-example rule added after them (a pooling or its gradient, run on
     * each example's planes), or -1 */
    Kernel      chain;
    int         example_node;
    /* forward: the weight and bias as the kernel reads them (in evaluation
     * the folded ones when fold, a batch_norm after it, is folded in) */
    const Node *fold;
    char        wx[160], bx[160];
    /* grad_input in the lanes as the forward kernel on dy (zero border
     * kh − 1 − ph) with W flipped and transposed, instead of scattering */
    int         gi_forward;
} ConvKernel;

/* One of x's elements as a float: a byte scaled as it is read, or a float;
 * `index` is the C expression of its offset from src. */
const char *conv_source_element(const Graph *g, int x, const char *index, char buf[128]);
const char *conv_source_type(const Graph *g, int x);
/* The comment line giving the geometry and what the kernel computes. */
void conv_geometry_comment(Emit *e, const ConvShape *s, const char *what, const char *strategy);
/* The per-example op after the head's chain (and the ops after it), on
 * example i's planes. */
void conv_emit_example(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
/* Forward: the folded weight's static arrays (before kernel_begin) and the
 * statements that fold batch norm into them in evaluation (after it). */
void conv_emit_fold_statics(Emit *e, const Graph *g, const ConvKernel *c);
void conv_emit_fold(Emit *e, const Graph *g, const ConvKernel *c);
/* The kernel's prologue (fuse.c), if any: what makes dy, on example i. */
void conv_emit_prologue(Emit *e, const Graph *g, const Kernel *k);

/* The grad_params kernels' chunks (conv_planes.c): the static array of
 * each chunk's partial dW and db, the loop over the chunks of per
 * examples a thread takes (opened: the caller closes it), and, after it,
 * the chunks added in order into the gradient or sgd's update. */
void conv_emit_chunks_begin(Emit *e, const Graph *g, const ConvKernel *c, long width, int per);
void conv_emit_chunk_sum(Emit *e, const ConvKernel *c, long wn, long width);

void conv_gemm_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_gemm_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_gemm_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);

void conv_planes_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_planes_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_planes_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_patches_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_lanes_forward(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_lanes_grad_input(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);
void conv_lanes_grad_params(Emit *e, const Graph *g, const Kernel *k, const ConvKernel *c);

#endif
