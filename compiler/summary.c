/* summary.c — `kiln summary`: the model as a table, like Keras's
 * model.summary(): one row per layer with its output shape, its parameters
 * and the FLOPs of its products per example, then the exact totals and the
 * memory the trainer holds (parameters, optimizer and model state, and the
 * arena of activations and gradients for one batch).
 *
 * FLOPs are those of the matrix products and convolutions (2 per
 * multiply-add), the work that dominates: a linear layer's forward is
 * 2·in·out per example, a convolution's 2·outputs·in·kh·kw; backward is the
 * weight gradient's as many again plus the input gradient's as many again,
 * except where the input is the data (no gradient is needed there).
 * Elementwise ops, pooling, batch norm, the loss and the update are not
 * counted. */
#include <stdio.h>
#include <string.h>

#include "kiln.h"
#include "ops/ops.h"

/* n with thousands separators: 203530 → "203,530". */
static const char *grouped(long n, char buf[32]) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%ld", n < 0 ? -n : n), at = 0;
    if (n < 0) buf[at++] = '-';
    for (int i = 0; i < len; i++) {
        buf[at++] = digits[i];
        if ((len - i - 1) % 3 == 0 && i < len - 1) buf[at++] = ',';
    }
    buf[at] = 0;
    return buf;
}

/* Bytes as "795.0 KiB" or "1.2 MiB". */
static const char *sized(double bytes, char buf[32]) {
    if (bytes < 1024 * 1024) snprintf(buf, 32, "%.1f KiB", bytes / 1024);
    else snprintf(buf, 32, "%.1f MiB", bytes / (1024 * 1024));
    return buf;
}

/* The parameters of a layer: those named "LABEL.something". */
static long layer_params(const Graph *g, const char *label, long *weight) {
    long total = 0;
    size_t n = strlen(label);
    *weight = 0;
    for (int i = 0; i < g->nparams; i++) {
        const Value *v = val(g, g->params[i]);
        if (strncmp(v->name, label, n) != 0 || v->name[n] != '.') continue;
        long size = shape_size(&v->shape);
        total += size;
        if (!strcmp(v->name + n, ".weight")) *weight = size;
    }
    return total;
}

/* Multiply-adds per example of a linear layer or convolution: every output
 * takes weight / output channels of them. */
static long product_macs(const Graph *g, const Node *n, long weight) {
    const Value *y = val(g, n->out[0]);
    long outs = shape_size(&y->shape);
    long channels = y->shape.dim[0];   /* features, or channels of (c, h, w) */
    return channels > 0 ? outs * (weight / channels) : 0;
}

void dump_summary(StrBuf *out, const Graph *g) {
    const Spec *s = g->spec;
    char shape[96], a[32], b[32], c[32];
    Shape in = { .rank = s->input_rank, .batched = 1 };
    for (int i = 0; i < s->input_rank; i++) in.dim[i] = s->input[i];
    shape_str(&in, shape, sizeof shape);
    sb_printf(out, "model %s (", s->name);
    sb_comment_text(out, s->file);
    if (s->classes) sb_printf(out, "): input %s, batch %ld, %ld classes\n", shape, s->batch, s->classes);
    else sb_printf(out, "): input %s, batch %ld, regression\n", shape, s->batch);
    const char *rule = "----------------------------------------------------------------------------------------";
    sb_printf(out, "%s\n%-20s %-18s %-20s %10s %12s %12s\n%s\n", rule, "layer", "op", "output shape", "params",
              "fwd FLOPs", "bwd FLOPs", rule);
    long total = 0, fwd = 0, bwd = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (n->phase != PHASE_FORWARD || !n->layer || strcmp(n->label, n->layer->label) != 0) continue;
        long weight, params = layer_params(g, n->label, &weight);
        long f = 0, w = 0;
        if (weight > 0 && (n->layer->op == &op_linear || n->layer->op == &op_conv2d)) {
            long macs = product_macs(g, n, weight);
            int from_data = storage_of(g, n->in[0])->kind == VAL_INPUT;
            f = 2 * macs;
            w = 2 * macs * (from_data ? 1 : 2);
        }
        shape_str(&val(g, n->out[0])->shape, shape, sizeof shape);
        sb_printf(out, "%-20s %-18s %-20s %10s", n->label, n->layer->op->name, shape, grouped(params, a));
        if (f) sb_printf(out, " %12s %12s", grouped(f, b), grouped(w, c));
        sb_printf(out, "\n");
        total += params, fwd += f, bwd += w;
    }
    sb_printf(out, "%s\n", rule);
    long opt_state = 0, model_state = 0;
    for (int i = 0; i < g->nstate; i++) {
        const Value *v = val(g, g->state[i]);
        if (v->model_state) model_state += shape_size(&v->shape);
        else opt_state += shape_size(&v->shape);
    }
    sb_printf(out, "parameters       %s (%s)\n", grouped(total, a), sized(4.0 * total, b));
    if (model_state)
        sb_printf(out, "model state      %s floats (%s): batch norm's running statistics, saved, not trained\n",
                  grouped(model_state, a), sized(4.0 * model_state, b));
    sb_printf(out, "optimizer state  %s floats (%s): %s\n", grouped(opt_state, a), sized(4.0 * opt_state, b),
              opt_state ? "momentum or Adam's moments, one per parameter" : "none (sgd without momentum)");
    sb_printf(out, "arena            %s floats (%s): activations and gradients of a batch of %ld\n",
              grouped(g->arena_size, a), sized(4.0 * g->arena_size, b), s->batch);
    sb_printf(out, "FLOPs/example    forward %s, backward %s (products only: 2 per multiply-add)\n", grouped(fwd, a),
              grouped(bwd, c));
}
