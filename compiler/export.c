/* export.c — kiln export: a trained model's forward pass as one standalone
 * C file and its header, for inference in someone else's program.  The
 * weights come from a checkpoint (read and checked by the runtime's
 * checkpoint loader) and become constant arrays; the pass is plain loops
 * over one example, in evaluation mode (dropout off, batch norm with its
 * running statistics); nothing from kiln's runtime, no OpenMP, only libm.
 * The trainer's speed is not the point here: the file is meant to be read,
 * and compiled anywhere with -std=c11 -Wall -Wextra -Werror.
 *
 * Each value of the graph's forward pass gets a static buffer of one
 * example, named as in the trainer (relu1, conv2d1, ...); views and the
 * ops that are the identity in evaluation (flatten, dropout, the input's
 * scaling) are pointers to their input. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "ops/ops.h"
#include "../runtime/kiln_rt.h"

static const char kiln_expf_source[] =   /* runtime/expf.h's text (build.sh embeds it) */
#include "expf.inc"
    ;

/* ---- the checkpoint's tensors ------------------------------------------- */

/* The checkpoint at path, loaded (and checked) into blocks laid out as the
 * trainer's: *params (g->params_size floats), *state (g->state_size). */
static void load_tensors(const Graph *g, const char *path, float **params, float **state) {
    int n = g->nparams + g->nstate;
    kiln_tensor *t = xcalloc((size_t)n, sizeof *t);
    *params = xcalloc((size_t)g->params_size + 1, sizeof **params);
    *state = xcalloc((size_t)g->state_size + 1, sizeof **state);
    for (int i = 0; i < n; i++) {
        const Value *v = val(g, i < g->nparams ? g->params[i] : g->state[i - g->nparams]);
        t[i].name = v->name;
        t[i].rank = v->shape.rank;
        for (int d = 0; d < v->shape.rank; d++) t[i].dims[d] = (int)v->shape.dim[d];
        t[i].size = (size_t)shape_size(&v->shape);
        t[i].data = (i < g->nparams ? *params : *state) + v->offset;
        t[i].nonnegative = v->nonnegative;
    }
    uint64_t steps = 0, key = 0;
    kiln_model m = { .name = g->spec->name, .ntensors = g->nparams, .tensors = t, .nstate = g->nstate,
                     .state = t + g->nparams, .steps = &steps, .dropout_key = &key };
    char err[1024];
    if (kiln_checkpoint_load(&m, path, err, sizeof err) != 0) fail("kiln export: %s", err);
    free(t);
}

/* ---- the C file ---------------------------------------------------------- */

typedef struct {
    const Graph *g;
    const float *params, *state;
} Export;

static const char *name_of(const Export *x, int v) { return val(x->g, v)->cname; }

/* A parameter or state tensor as a constant array: 6 values a line. */
static void emit_tensor(Emit *e, const Export *x, int v) {
    const Value *t = val(x->g, v);
    const float *data = (t->kind == VAL_PARAM ? x->params : x->state) + t->offset;
    long size = shape_size(&t->shape);
    char shape[96], f[40];
    shape_str(&t->shape, shape, sizeof shape);
    emit(e, "static const float %s[%ld] = {  /* %s %s */", t->cname, size, t->name, shape);
    StrBuf line = { 0 };
    for (long i = 0; i < size; i++) {
        sb_printf(&line, "%s%s", line.len ? " " : "", float_literal(f, (double)data[i]));
        if (i + 1 < size) sb_printf(&line, ",");
        if ((i + 1) % 6 == 0 || i + 1 == size) {
            emit(e, "    %s", line.data);
            line.len = 0;
            line.data[0] = 0;
        }
    }
    sb_free(&line);
    emit(e, "};");
}

/* Is the node's result its input, seen again (no code, a pointer)? */
static int is_alias(const Node *n) {
    const OpDef *op = n->layer ? n->layer->op : NULL;
    return n->op->view || n->op == &node_input_scale || op == &op_dropout;
}

static void emit_linear(Emit *e, const Export *x, const Node *n) {
    const Shape *in = &val(x->g, n->in[LINEAR_X])->shape;
    long k = shape_size(in), units = shape_size(&val(x->g, n->out[0])->shape);
    const char *y = name_of(x, n->out[0]), *w = name_of(x, n->in[LINEAR_W]);
    emit(e, "for (int j = 0; j < %ld; j++) {", units);
    emit(e, "    float sum = 0.0f;");
    emit(e, "    for (int i = 0; i < %ld; i++) sum += %s[i] * %s[i * %ld + j];", k, name_of(x, n->in[LINEAR_X]), w, units);
    if (n->nin > LINEAR_B) emit(e, "    %s[j] = sum + %s[j];", y, name_of(x, n->in[LINEAR_B]));
    else emit(e, "    %s[j] = sum;", y);
    emit(e, "}");
}

static void emit_conv(Emit *e, const Export *x, const Node *n) {
    const ConvAttr *a = n->layer->attr;
    const Shape *in = &val(x->g, n->in[CONV_X])->shape, *out = &val(x->g, n->out[0])->shape;
    long c = in->dim[0], h = in->dim[1], w = in->dim[2], oh = out->dim[1], ow = out->dim[2];
    long kh = a->kernel[0], kw = a->kernel[1];
    emit(e, "for (int o = 0; o < %ld; o++)", a->out);
    emit(e, "    for (int r = 0; r < %ld; r++)", oh);
    emit(e, "        for (int s = 0; s < %ld; s++) {", ow);
    emit(e, "            float sum = 0.0f;");
    emit(e, "            for (int i = 0; i < %ld; i++)", c);
    emit(e, "                for (int p = 0; p < %ld; p++)", kh);
    emit(e, "                    for (int q = 0; q < %ld; q++) {", kw);
    emit(e, "                        const int row = r * %ld + p - %ld, col = s * %ld + q - %ld;", a->stride[0],
         a->padding[0], a->stride[1], a->padding[1]);
    emit(e, "                        if (row >= 0 && row < %ld && col >= 0 && col < %ld)", h, w);
    emit(e, "                            sum += %s[(i * %ld + row) * %ld + col] * %s[((o * %ld + i) * %ld + p) * %ld + q];",
         name_of(x, n->in[CONV_X]), h, w, name_of(x, n->in[CONV_W]), c, kh, kw);
    emit(e, "                    }");
    emit(e, "            %s[(o * %ld + r) * %ld + s] = sum%s%s%s;", name_of(x, n->out[0]), oh, ow,
         n->nin > CONV_B ? " + " : "", n->nin > CONV_B ? name_of(x, n->in[CONV_B]) : "", n->nin > CONV_B ? "[o]" : "");
    emit(e, "        }");
}

static void emit_pool(Emit *e, const Export *x, const Node *n) {
    const PoolAttr *a = n->layer->attr;
    const Shape *in = &val(x->g, n->in[0])->shape, *out = &val(x->g, n->out[0])->shape;
    long c = in->dim[0], h = in->dim[1], w = in->dim[2], oh = out->dim[1], ow = out->dim[2];
    long kh = a->global ? h : a->kernel[0], kw = a->global ? w : a->kernel[1];
    long sh = a->global ? 1 : a->stride[0], sw = a->global ? 1 : a->stride[1];
    long ph = a->global ? 0 : a->padding[0], pw = a->global ? 0 : a->padding[1];
    int max = n->layer->op == &op_max_pool2d;
    const char *src = name_of(x, n->in[0]);
    emit(e, "for (int ch = 0; ch < %ld; ch++)", c);
    emit(e, "    for (int r = 0; r < %ld; r++)", oh);
    emit(e, "        for (int s = 0; s < %ld; s++) {", ow);
    emit(e, "            float acc = %s;", max ? "-INFINITY" : "0.0f");
    emit(e, "            for (int p = 0; p < %ld; p++)", kh);
    emit(e, "                for (int q = 0; q < %ld; q++) {", kw);
    emit(e, "                    const int row = r * %ld + p - %ld, col = s * %ld + q - %ld;", sh, ph, sw, pw);
    emit(e, "                    if (row < 0 || row >= %ld || col < 0 || col >= %ld) continue;  /* padding */", h, w);
    emit(e, "                    const float v = %s[(ch * %ld + row) * %ld + col];", src, h, w);
    if (max) emit(e, "                    if (v > acc || (v != v && acc == acc)) acc = v;  /* the first of ties; a NaN wins */");
    else emit(e, "                    acc += v;");
    emit(e, "                }");
    if (max) emit(e, "            %s[(ch * %ld + r) * %ld + s] = acc;", name_of(x, n->out[0]), oh, ow);
    else emit(e, "            %s[(ch * %ld + r) * %ld + s] = acc / %ld.0f;  /* the padding counts */", name_of(x, n->out[0]),
              oh, ow, kh * kw);
    emit(e, "        }");
}

static void emit_batch_norm(Emit *e, const Export *x, const Node *n) {
    const double eps = ((const BatchNormAttr *)n->layer->attr)->eps;
    const Shape *in = &val(x->g, n->in[BN_X])->shape;
    long c = in->dim[0], per = in->rank == 3 ? in->dim[1] * in->dim[2] : 1;
    char f[40];
    const char *gamma = name_of(x, n->in[BN_GAMMA]), *beta = name_of(x, n->in[BN_BETA]);
    const char *mean = name_of(x, n->in[BN_MEAN]), *var = name_of(x, n->in[BN_VAR]);
    emit(e, "for (int ch = 0; ch < %ld; ch++) {  /* the running statistics */", c);
    emit(e, "    const float scale = %s[ch] / sqrtf(%s[ch] + %s);", gamma, var, float_literal(f, eps));
    emit(e, "    for (int i = 0; i < %ld; i++)", per);
    emit(e, "        %s[ch * %ld + i] = (%s[ch * %ld + i] - %s[ch]) * scale + %s[ch];", name_of(x, n->out[0]), per,
         name_of(x, n->in[BN_X]), per, mean, beta);
    emit(e, "}");
}

static void emit_merge(Emit *e, const Export *x, const Node *n) {
    const char *y = name_of(x, n->out[0]);
    if (n->layer->op == &op_add) {
        emit(e, "for (int i = 0; i < %ld; i++) %s[i] = %s[i] + %s[i];", shape_size(&val(x->g, n->out[0])->shape), y,
             name_of(x, n->in[0]), name_of(x, n->in[1]));
        return;
    }
    long at = 0;
    for (int k = 0; k < n->nin; k++) {
        long size = shape_size(&val(x->g, n->in[k])->shape);
        emit(e, "memcpy(%s + %ld, %s, %ld * sizeof(float));", y, at, name_of(x, n->in[k]), size);
        at += size;
    }
}

/* An elementwise op: its own formula (the op's pointwise rule). */
static void emit_pointwise(Emit *e, const Export *x, const Node *n) {
    StrBuf f = { 0 }, in = { 0 };
    sb_printf(&in, "%s[i]", name_of(x, n->in[n->op->main_input]));
    n->op->pointwise(&f, x->g, n, in.data, "i");
    emit(e, "for (int i = 0; i < %ld; i++) %s[i] = %s;", shape_size(&val(x->g, n->out[0])->shape),
         name_of(x, n->out[0]), f.data);
    sb_free(&f);
    sb_free(&in);
}

static void emit_node(Emit *e, const Export *x, const Node *n) {
    const OpDef *op = n->layer->op;
    char call[64];
    emit(e, "/* %s: %s */", n->label, layer_call(n, call));
    if (op == &op_linear) emit_linear(e, x, n);
    else if (op == &op_conv2d) emit_conv(e, x, n);
    else if (op == &op_max_pool2d || op == &op_avg_pool2d || op == &op_global_avg_pool2d) emit_pool(e, x, n);
    else if (op == &op_batch_norm) emit_batch_norm(e, x, n);
    else if (op == &op_add || op == &op_concat) emit_merge(e, x, n);
    else if (n->op->pointwise && !n->op->reads_index) emit_pointwise(e, x, n);
    else fail("kiln export: %s (%s) cannot be exported yet", n->label, n->op->name);
}

/* The loss's output for a user: probabilities (softmax) or the outputs. */
static void emit_result(Emit *e, const Export *x, long classes) {
    const char *z = name_of(x, x->g->logits);
    if (!classes) {
        long outs = shape_size(&val(x->g, x->g->logits)->shape);
        emit(e, "for (int j = 0; j < %ld; j++) outputs[j] = %s[j];", outs, z);
        emit(e, "return 0;");
        return;
    }
    emit(e, "/* softmax: probabilities over the classes; the class is the most probable (the first of ties) */");
    emit(e, "int best = 0;");
    emit(e, "for (int j = 1; j < %ld; j++)", classes);
    emit(e, "    if (%s[j] > %s[best]) best = j;", z, z);
    emit(e, "float total = 0.0f;");
    emit(e, "for (int j = 0; j < %ld; j++) total += probabilities[j] = expf(%s[j] - %s[best]);", classes, z, z);
    emit(e, "for (int j = 0; j < %ld; j++) probabilities[j] /= total;", classes);
    emit(e, "return best;");
}

/* Does an elementwise op's formula call kiln_expf (sigmoid)? */
static int uses_kiln_expf(const Graph *g) {
    int uses = 0;
    for (int i = 0; i < g->nnodes && !uses; i++) {
        const Node *n = node(g, i);
        if (n->phase != PHASE_FORWARD || !n->op->pointwise || n->op->reads_index) continue;
        StrBuf f = { 0 };
        n->op->pointwise(&f, g, n, "x", "i");
        uses = strstr(f.data, "kiln_expf") != NULL;
        sb_free(&f);
    }
    return uses;
}

void export_model(StrBuf *c_out, StrBuf *h_out, const Graph *g, const char *ckpt, const char *base) {
    const Spec *s = g->spec;
    Export x = { g, NULL, NULL };
    float *params, *state;
    load_tensors(g, ckpt, &params, &state);
    x.params = params, x.state = state;
    long input = shape_size(&val(g, g->input)->shape), classes = s->classes;
    long outs = shape_size(&val(g, g->logits)->shape);
    const char *result = classes ? "probabilities" : "outputs";
    char upper[sizeof s->cname];
    size_t u = 0;
    for (; u < sizeof upper - 1 && s->cname[u]; u++) upper[u] = (char)toupper((unsigned char)s->cname[u]);
    upper[u] = 0;

    /* the header */
    Emit h = { { 0 }, 0 };
    emit(&h, "/* %s.h — the model \"%s\", trained, for inference: kiln %s exported it from", base,
         comment(s->name), KILN_VERSION);
    emit(&h, " * %s and the checkpoint %s. */", comment(s->file), comment(ckpt));
    char guard[160];
    size_t gl = 0;
    for (; gl < sizeof guard - 3 && base[gl]; gl++)
        guard[gl] = isalnum((unsigned char)base[gl]) ? (char)toupper((unsigned char)base[gl]) : '_';
    snprintf(guard + gl, sizeof guard - gl, "_H");
    emit(&h, "#ifndef %s", guard);
    emit(&h, "#define %s", guard);
    emit_blank(&h);
    emit(&h, "#define %s_INPUTS %ld   /* floats per example%s */", upper, input,
         val(g, g->input)->bytes ? ": each pixel's byte times (1.0f / 255.0f), in [0, 1]" : "");
    if (classes) emit(&h, "#define %s_CLASSES %ld", upper, classes);
    else emit(&h, "#define %s_OUTPUTS %ld", upper, outs);
    emit_blank(&h);
    if (classes) {
        emit(&h, "/* The model's forward pass on one example: the probability of each class");
        emit(&h, " * into probabilities[0 .. %s_CLASSES), and the most probable class as the", upper);
        emit(&h, " * result (from 0).  One call at a time: it works in static buffers. */");
    } else {
        emit(&h, "/* The model's forward pass on one example: its outputs into");
        emit(&h, " * outputs[0 .. %s_OUTPUTS); returns 0.  One call at a time: it works in", upper);
        emit(&h, " * static buffers. */");
    }
    emit(&h, "int %s_predict(const float *input, float *%s);", s->cname, result);
    const DataAttr *d = s->data.attr;
    if (classes && d && d->class_names) {
        emit_blank(&h);
        emit(&h, "extern const char *const %s_class_names[%s_CLASSES];   /* the classes' names */", s->cname, upper);
    }
    emit_blank(&h);
    emit(&h, "#endif");
    *h_out = h.out;

    /* the C file */
    Emit e = { { 0 }, 0 };
    emit(&e, "/* %s.c — the model \"%s\", trained, for inference; see %s.h.", base, comment(s->name), base);
    emit(&e, " * Exported by kiln %s from %s and the checkpoint %s.", KILN_VERSION, comment(s->file), comment(ckpt));
    emit(&e, " * Do not edit: export again.  Standalone C11; link with -lm. */");
    int expf_used = uses_kiln_expf(g);
    emit(&e, "#include <math.h>");
    if (expf_used) emit(&e, "#include <stdint.h>");
    emit(&e, "#include <string.h>");
    emit_blank(&e);
    emit(&e, "#include \"%s.h\"", base);
    emit_blank(&e);
    if (expf_used) sb_printf(&e.out, "%s\n", kiln_expf_source);
    if (classes && d && d->class_names) {
        emit(&e, "const char *const %s_class_names[%s_CLASSES] = {", s->cname, upper);
        for (int i = 0; d->class_names[i]; i++) emit(&e, "    %s,", c_string(d->class_names[i]));
        emit(&e, "};");
        emit_blank(&e);
    }
    emit(&e, "/* ---- the trained parameters, and batch norm's running statistics ---- */");
    for (int i = 0; i < g->nparams; i++) emit_tensor(&e, &x, g->params[i]);
    for (int i = 0; i < g->nstate; i++)
        if (val(g, g->state[i])->model_state) emit_tensor(&e, &x, g->state[i]);
    emit_blank(&e);
    emit(&e, "/* ---- one example's values, layer by layer ---- */");
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (n->phase != PHASE_FORWARD || n->op->training_only || is_alias(n)) continue;
        char shape[96];
        shape_str(&val(g, n->out[0])->shape, shape, sizeof shape);
        emit(&e, "static float %s[%ld];  /* %s */", name_of(&x, n->out[0]), shape_size(&val(g, n->out[0])->shape),
             shape);
    }
    emit_blank(&e);
    emit(&e, "int %s_predict(const float *input, float *%s)", s->cname, result);
    emit(&e, "{");
    e.indent++;
    emit(&e, "const float *const %s = input;", name_of(&x, g->input));
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (n->phase != PHASE_FORWARD || n->op->training_only) continue;
        if (is_alias(n)) emit(&e, "const float *const %s = %s;  /* %s: the same values */", name_of(&x, n->out[0]),
                              name_of(&x, n->in[0]), n->label);
        else emit_node(&e, &x, n);
    }
    emit_result(&e, &x, classes);
    e.indent--;
    emit(&e, "}");
    *c_out = e.out;
    free(params);
    free(state);
}
