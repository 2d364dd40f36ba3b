/* dump.c — `kiln graph`: the graph as text (one node per line, with the
 * shapes of what it produces), as Graphviz dot, or as its kernels. */
#include <stdio.h>
#include <string.h>

#include "kiln.h"
#include "ops/ops.h"

static const char *const phase_name[] = { "forward", "loss", "backward", "update" };

static void value_ref(StrBuf *sb, const Graph *g, int id) {
    char shape[96];
    const Value *v = val(g, id);
    shape_str(&v->shape, shape, sizeof shape);
    sb_printf(sb, "%s %s", v->name, shape);
    if (v->alias >= 0) sb_printf(sb, " [view of %s]", storage_of(g, id)->name);
}

static void init_str(StrBuf *sb, const Init *in) {
    if (!in->op) sb_printf(sb, "-");
    else if (in->op == &op_zeros && in->a == 0) sb_printf(sb, "zeros()");
    else if (in->op == &op_zeros) sb_printf(sb, "constant %g", in->a);   /* kiln's own (batch norm's scale of 1) */
    else sb_printf(sb, "%s(%g, %g)", in->op->name, in->a, in->b);
}

void dump_graph(StrBuf *out, const Graph *g) {
    const Spec *s = g->spec;
    char shape[96];
    sb_printf(out, "model %s (", s->name);
    sb_comment_text(out, s->file);
    sb_printf(out, "), batch %ld, %ld classes\n\ninputs\n", s->batch, s->classes);
    for (int id = 0; id < g->nvals; id++) {
        const Value *v = val(g, id);
        if (v->kind != VAL_INPUT && v->kind != VAL_LABELS) continue;
        shape_str(&v->shape, shape, sizeof shape);
        sb_printf(out, "  %-24s %s\n", v->name, shape);
    }
    sb_printf(out, "\nparameters\n");
    for (int i = 0; i < g->nparams; i++) {
        const Value *v = val(g, g->params[i]);
        shape_str(&v->shape, shape, sizeof shape);
        sb_printf(out, "  %-24s %-16s init ", v->name, shape);
        init_str(out, &v->init);
        sb_printf(out, "\n");
    }
    int model_state = 0;   /* batch norm's running statistics: state, not parameters */
    for (int i = 0; i < g->nstate; i++) {
        const Value *v = val(g, g->state[i]);
        if (!v->model_state) continue;
        if (!model_state++) sb_printf(out, "\nmodel state (saved in checkpoints; not trained)\n");
        shape_str(&v->shape, shape, sizeof shape);
        sb_printf(out, "  %-24s %-16s starts at %g\n", v->name, shape, v->init.op ? v->init.a : 0.0);
    }
    int phase = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if ((int)n->phase != phase) {
            phase = (int)n->phase;
            sb_printf(out, "\n%s\n", phase_name[phase]);
        }
        sb_printf(out, "  %-30s %-28s ", n->label, n->op->name);
        for (int k = 0; k < n->nin; k++) sb_printf(out, "%s%s", k ? ", " : "", val(g, n->in[k])->name);
        sb_printf(out, " -> ");
        if (n->nout == 0) sb_printf(out, "%s (in place)", val(g, n->in[0])->name);
        for (int k = 0; k < n->nout; k++) {
            if (k) sb_printf(out, ", ");
            value_ref(out, g, n->out[k]);
            if (n->acc[k]) sb_printf(out, " (added to)");
        }
        sb_printf(out, "\n");
    }
}

void dump_kernels(StrBuf *out, const Graph *g) {
    int train = 0;
    for (int i = 0; i < g->nkernels; i++) train += g->kernels[i].train;
    sb_printf(out, "model %s: %d kernels per training step (train), evaluation runs those marked eval\n",
              g->spec->name, train);
    Buckets b = { 0 };   /* data parallel (--mpi): when each gradient goes to the other ranks */
    if (g->spec->mpi) buckets_plan(g, &b);
    int summed = 0;
    for (int i = 0; i < g->nkernels; i++) {
        const Kernel *k = &g->kernels[i];
        if (g->spec->mpi && !summed && k->phase == PHASE_UPDATE) {
            long floats = 0;
            for (int p = 0; p < g->nparams; p++) floats += shape_size(&val(g, g->params[p])->shape);
            sb_printf(out, "     -- every rank waits for all the gradients and sums them (kiln_mpi_sum): %d tensors, "
                      "%ld floats; then the updates\n", g->nparams, floats);
            summed = 1;
        }
        sb_printf(out, "  %2d %-44s %-5s %-4s ", i, k->name, k->train ? "train" : "", k->eval ? "eval" : "");
        for (int j = 0; j < k->nnodes; j++) sb_printf(out, "%s%s", j ? ", " : "", node(g, k->nodes[j])->label);
        sb_printf(out, "\n");
        const NodeOp *head = node(g, k->nodes[0])->op;
        if (head->strategy) {
            sb_printf(out, "       ");
            head->strategy(out, g, k);
            sb_printf(out, "\n");
        }
        for (int c = 0; c < b.nbuckets; c++) {
            if (b.after[c] != i) continue;
            sb_printf(out, "     -- complete, sent to the other ranks at the next wait (or with the rest, after the backward pass):");
            for (int t = b.first[c]; t < b.first[c] + b.count[c]; t++)
                sb_printf(out, " %s", val(g, val(g, g->params[b.param[t]])->grad)->name);
            sb_printf(out, "\n");
        }
    }
    if (g->spec->mpi) buckets_free(&b);
}

static void dot_label(StrBuf *out, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_printf(out, "\\%c", *s);
        else if ((unsigned char)*s >= 0x20) sb_printf(out, "%c", *s);
    }
}

/* The picture's colours and shapes, as a box in its corner. */
static void dot_legend(StrBuf *out, int has_state) {
    sb_printf(out, "  subgraph cluster_legend {\n    label=\"legend\"; fontsize=10; color=gray;\n");
    static const char *const what[] = { "forward", "loss", "backward (gradients)", "update (optimizer)" };
    static const char *const color[] = { "lightblue", "gold", "lightpink", "palegreen" };   /* ORDER Phase */
    for (int i = 0; i < 4; i++)
        sb_printf(out, "    legend%d [shape=box, style=filled, fillcolor=%s, label=\"%s\"];\n", i, color[i], what[i]);
    sb_printf(out, "    legend4 [shape=ellipse, label=\"input, parameter\"];\n");
    if (has_state) sb_printf(out, "    legend5 [shape=ellipse, style=dashed, label=\"state (momentum, moments,\\nrunning statistics)\"];\n");
    sb_printf(out, "    legend0 -> legend1 -> legend2 -> legend3 -> legend4%s [style=invis];\n  }\n",
              has_state ? " -> legend5" : "");
}

void dump_dot(StrBuf *out, const Graph *g) {
    char shape[96];
    sb_printf(out, "digraph \"");
    dot_label(out, g->spec->name);
    sb_printf(out, "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    int has_state = 0;
    for (int id = 0; id < g->nvals; id++) {   /* what no node makes: inputs, parameters, state */
        const Value *v = val(g, id);
        if (v->producer >= 0 || v->alias >= 0) continue;
        if (v->kind != VAL_INPUT && v->kind != VAL_LABELS && v->kind != VAL_PARAM && v->kind != VAL_STATE &&
            v->kind != VAL_TARGETS)
            continue;
        has_state |= v->kind == VAL_STATE;
        shape_str(&v->shape, shape, sizeof shape);
        sb_printf(out, "  v%d [shape=ellipse%s, label=\"", id, v->kind == VAL_STATE ? ", style=dashed" : "");
        dot_label(out, v->name);
        sb_printf(out, "\\n%s\"];\n", shape);
    }
    static const char *const color[] = { "lightblue", "gold", "lightpink", "palegreen" };   /* ORDER Phase */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        sb_printf(out, "  n%d [shape=box, style=filled, fillcolor=%s, label=\"", i, color[n->phase]);
        dot_label(out, n->label);
        /* the op under a layer's own name (linear1: linear); a gradient's or
         * an update's name says its op already */
        if (n->phase == PHASE_FORWARD && strcmp(n->label, n->op->name) != 0) sb_printf(out, "\\n%s", n->op->name);
        sb_printf(out, "\"];\n");
    }
    /* edges: producer → consumer; one from a node says the value it carries
     * (an ellipse says its own) */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        for (int k = 0; k < n->nin; k++) {
            int id = n->in[k];
            const Value *src = val(g, id);
            while (src->producer < 0 && src->alias >= 0) src = val(g, src->alias);
            const Value *v = val(g, id);
            if (src->producer < 0) {
                sb_printf(out, "  v%d -> n%d;\n", src->id, i);
                continue;
            }
            shape_str(&v->shape, shape, sizeof shape);
            sb_printf(out, "  n%d -> n%d [label=\"", src->producer, i);
            dot_label(out, v->name);
            sb_printf(out, "\\n%s\", fontsize=8];\n", shape);
        }
    }
    dot_legend(out, has_state);
    sb_printf(out, "}\n");
}

void dump_plan(StrBuf *out, const Graph *g) {
    char shape[96];
    sb_printf(out, "memory plan: arena of %ld floats (%.1f KiB; %ld without reuse), parameters %ld floats",
              g->arena_size, g->arena_size * 4 / 1024.0, g->arena_unshared, g->params_size);
    if (g->state_size > 0) sb_printf(out, ", state %ld floats", g->state_size);
    sb_printf(out, "\n");
    for (int i = 0; i < g->nstate; i++) {   /* saved in checkpoints beside the parameters */
        const Value *v = val(g, g->state[i]);
        shape_str(&v->shape, shape, sizeof shape);
        sb_printf(out, "  %-22s %-16s state at %-7ld %s\n", v->name, shape, v->offset,
                  v->model_state ? "the model's: not trained" : "the optimizer's");
    }
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = val(g, i);
        if ((v->kind != VAL_ACT && v->kind != VAL_GRAD) || v->alias >= 0) continue;
        shape_str(&v->shape, shape, sizeof shape);
        if (v->fused) {
            sb_printf(out, "  %-22s %-16s fused: never stored\n", v->name, shape);
            continue;
        }
        sb_printf(out, "  %-22s %-16s at %-8ld kernels %d-%d", v->name, shape, v->offset, v->first, v->last);
        if (v->panels) sb_printf(out, ", in %d column panels", v->panels);
        sb_printf(out, "\n");
    }
}
