/* graph.c — pass 2: the IR.  Values (tensors with shapes) and nodes (ops
 * reading and writing values), plus the builder that turns the spec's layer
 * list into the forward graph: x → layer₁ → … → layerₙ → loss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "ops/ops.h"

Value *val(const Graph *g, int id) { return &g->vals[id]; }
Node *node(const Graph *g, int id) { return &g->nodes[id]; }

const Value *storage_of(const Graph *g, int id) {
    while (g->vals[id].alias >= 0) id = g->vals[id].alias;
    return &g->vals[id];
}

/* "linear1.weight" → "linear1_weight"; "d.relu1" → "d_relu1" */
static void c_identifier(const char *name, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < n; i++) out[j++] = name[i] == '.' ? '_' : name[i];
    out[j] = 0;
}

int graph_value(Graph *g, ValKind kind, const char *name) {
    if (g->nvals == g->capvals) {
        g->capvals = g->capvals ? 2 * g->capvals : 64;
        g->vals = xrealloc(g->vals, sizeof *g->vals * (size_t)g->capvals);
    }
    Value *v = &g->vals[g->nvals];
    memset(v, 0, sizeof *v);
    v->id = g->nvals++;
    v->kind = kind;
    v->producer = v->grad = v->alias = -1;
    snprintf(v->name, sizeof v->name, "%s", name);
    c_identifier(name, v->cname, sizeof v->cname);
    return v->id;
}

Node *graph_node(Graph *g, const NodeOp *op, const Layer *l, Phase phase, const char *label) {
    if (g->nnodes == g->capnodes) {
        g->capnodes = g->capnodes ? 2 * g->capnodes : 64;
        g->nodes = xrealloc(g->nodes, sizeof *g->nodes * (size_t)g->capnodes);
    }
    Node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->id = g->nnodes++;
    n->op = op;
    n->layer = l;
    n->phase = phase;
    n->fwd = -1;
    snprintf(n->label, sizeof n->label, "%s", label);
    return n;
}

void node_input(Graph *g, Node *n, int value) {
    (void)g;
    if (n->nin == 4) fail("internal error: node %s has too many inputs", n->label);
    n->in[n->nin++] = value;
}

void node_result(Graph *g, Node *n, int value) {
    if (n->nout == 2) fail("internal error: node %s has too many outputs", n->label);
    if (g->vals[value].producer >= 0)
        fail("internal error: %s is computed twice (a value used by two nodes needs gradient accumulation, "
             "which kiln does not do yet)", g->vals[value].name);
    g->vals[value].producer = n->id;
    n->out[n->nout++] = value;
}

int node_output(Graph *g, Node *n, ValKind kind, const char *name) {
    int v = graph_value(g, kind, name);
    node_result(g, n, v);
    return v;
}

int graph_param(Graph *g, const char *name, Shape shape, Init init) {
    int v = graph_value(g, VAL_PARAM, name);
    g->vals[v].shape = shape;
    g->vals[v].init = init;
    g->vals[v].needs_grad = 1;
    g->params = xrealloc(g->params, sizeof *g->params * (size_t)(g->nparams + 1));
    g->params[g->nparams++] = v;
    return v;
}

int graph_state(Graph *g, const char *name, Shape shape) {
    int v = graph_value(g, VAL_STATE, name);
    g->vals[v].shape = shape;
    g->state = xrealloc(g->state, sizeof *g->state * (size_t)(g->nstate + 1));
    g->state[g->nstate++] = v;
    return v;
}

int node_values(const Node *n, int out[6]) {
    int nv = 0;
    for (int a = 0; a < n->nin; a++) out[nv++] = n->in[a];
    for (int a = 0; a < n->nout; a++) out[nv++] = n->out[a];
    return nv;
}

long shape_size(const Shape *s) {
    long n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->dim[i];
    return n;
}

void shape_str(const Shape *s, char *buf, size_t n) {
    size_t j = (size_t)snprintf(buf, n, "(%s", s->batched ? "batch" : "");
    for (int i = 0; i < s->rank && j < n; i++)
        j += (size_t)snprintf(buf + j, n - j, "%s%ld", i || s->batched ? ", " : "", s->dim[i]);
    if (j < n) snprintf(buf + j, n - j, "%s)", s->rank == 0 && s->batched == 0 ? "scalar" : "");
}

void graph_build(Graph *g, const Spec *s) {
    memset(g, 0, sizeof *g);
    g->spec = s;
    g->input = graph_value(g, VAL_INPUT, "x");
    Value *x = val(g, g->input);
    x->shape.batched = 1;
    x->shape.rank = s->input_rank;
    memcpy(x->shape.dim, s->input, sizeof s->input);
    x->bytes = !s->data.op->data->float_data;
    if (s->loss.op->loss->float_targets) g->labels = graph_value(g, VAL_TARGETS, "targets");
    else g->labels = graph_value(g, VAL_LABELS, "labels");
    val(g, g->labels)->shape.batched = 1;

    /* Input bytes are scaled by the first layer that reads them (linear, as
     * it packs them); if that layer cannot read bytes, convert them first. */
    int cur = g->input;
    int first = 0;
    while (first < s->nlayers && s->layers[first].op->node->view) first++;
    if (x->bytes && first < s->nlayers && !s->layers[first].op->node->reads_bytes) {
        Node *n = graph_node(g, &node_input_scale, &s->layers[first], PHASE_FORWARD, "x.scaled");
        node_input(g, n, cur);
        cur = node_output(g, n, VAL_ACT, "x.scaled");
    }
    for (int i = 0; i < s->nlayers; i++) {
        const Layer *l = &s->layers[i];
        Node *n = graph_node(g, l->op->node, l, PHASE_FORWARD, l->label);
        node_input(g, n, cur);
        cur = node_output(g, n, VAL_ACT, l->label);
    }
    g->logits = cur;
    Node *n = graph_node(g, s->loss.op->node, &s->loss, PHASE_LOSS, s->loss.label);
    node_input(g, n, g->logits);   /* LOSS_OUTPUT */
    node_input(g, n, g->labels);   /* LOSS_TARGET */
    g->loss = node_output(g, n, VAL_LOSS, "loss");
}

void graph_free(Graph *g) {
    free(g->vals);
    free(g->nodes);
    free(g->kernels);
    free(g->params);
    free(g->state);
    memset(g, 0, sizeof *g);
}
