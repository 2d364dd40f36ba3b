/* graph.c — pass 2: the IR.  Values (tensors with shapes) and nodes (ops
 * reading and writing values), plus the builder that turns the layers the
 * spec applies into the forward graph: x → … → loss, a chain for a layers
 * list, any DAG for forward. */
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
    v->producer = v->grad = v->alias = v->of = -1;
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
    if (n->nin == KILN_MAX_INPUTS) fail("internal error: node %s has too many inputs", n->label);
    n->in[n->nin++] = value;
}

void node_result(Graph *g, Node *n, int value) {
    if (n->nout == 2) fail("internal error: node %s has too many outputs", n->label);
    if (g->vals[value].producer >= 0) fail("internal error: %s is computed twice", g->vals[value].name);
    g->vals[value].producer = n->id;
    n->out[n->nout++] = value;
}

void node_accumulate(Graph *g, Node *n, int value) {
    if (n->nout == 2) fail("internal error: node %s has too many outputs", n->label);
    n->acc[n->nout] = 1;
    n->out[n->nout++] = value;
    (void)g;
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

int node_values(const Node *n, int out[KILN_NODE_VALUES]) {
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

    /* Input bytes are scaled by the layers that read them (linear, as it
     * packs them), views passing them on; if any reader cannot read bytes,
     * the input is converted to floats once, first, for all of them. */
    int *bytes = xcalloc((size_t)s->napps + 1, sizeof *bytes);   /* bytes[i + 1]: Apply i's output is bytes */
    bytes[0] = x->bytes;
    int scale = 0;
    for (int i = 0; i < s->napps; i++) {
        const Apply *a = &s->apps[i];
        int reads = 0;
        for (int k = 0; k < a->nin; k++) reads |= bytes[a->in[k] + 1];
        if (reads && a->layer.op->node->view) bytes[i + 1] = 1;
        else if (reads && !a->layer.op->node->reads_bytes) scale = 1;
    }
    free(bytes);
    int input = g->input;
    if (scale) {
        Node *n = graph_node(g, &node_input_scale, &s->apps[0].layer, PHASE_FORWARD, "x.scaled");
        node_input(g, n, input);
        input = node_output(g, n, VAL_ACT, "x.scaled");
    }
    int *out = xcalloc((size_t)s->napps, sizeof *out);   /* the value each Apply makes */
    for (int i = 0; i < s->napps; i++) {
        const Layer *l = &s->apps[i].layer;
        int before = -1;
        if (l->op->node->before) {   /* its own node first, on the same inputs */
            char label[64];
            snprintf(label, sizeof label, "%s.%s", l->label, l->op->node->before->name);
            Node *b = graph_node(g, l->op->node->before, l, PHASE_FORWARD, label);
            for (int k = 0; k < s->apps[i].nin; k++) node_input(g, b, s->apps[i].in[k] < 0 ? input : out[s->apps[i].in[k]]);
            before = node_output(g, b, VAL_ACT, label);
        }
        Node *n = graph_node(g, l->op->node, l, PHASE_FORWARD, l->label);
        for (int k = 0; k < s->apps[i].nin; k++) node_input(g, n, s->apps[i].in[k] < 0 ? input : out[s->apps[i].in[k]]);
        if (before >= 0) node_input(g, n, before);
        out[i] = node_output(g, n, VAL_ACT, l->label);
    }
    int cur = out[s->napps - 1];
    free(out);
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
