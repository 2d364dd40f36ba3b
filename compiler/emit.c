/* emit.c — pass 7: write the trainer's C file.  The layout follows the
 * graph: a banner stating what the file is, the parameter block and the
 * arena with one named pointer per buffer, one function per kernel (its
 * comment lists the graph nodes it holds), then train_step / eval_batch /
 * init, what is particular to the data (class names, synthetic data's
 * weights, a report after training) and the kiln_model that hands them all
 * to the runtime.  Sizes are constants; the only run-time size is n, the
 * rows in this minibatch. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "ops/ops.h"

void emit(Emit *e, const char *fmt, ...) {
    for (int i = 0; i < e->indent; i++) sb_printf(&e->out, "    ");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&e->out, fmt, ap);
    va_end(ap);
    sb_printf(&e->out, "\n");
}

void emit_blank(Emit *e) { sb_printf(&e->out, "\n"); }
static void blank(Emit *e) { emit_blank(e); }

const char *assign_op(const Node *n, int k) { return n->acc[k] ? "+=" : "="; }

const char *cname(const Graph *g, int value) {
    const Value *v = storage_of(g, value);
    return v->cname;
}

const char *float_literal(char buf[40], double v) {
    float f = (float)v;
    /* the ops' parse hooks refuse numbers a float cannot hold, and what is
     * derived from them stays in range: a constant lost here is kiln's bug */
    if (!isfinite(f) || (v != 0 && f == 0)) fail("internal error: the constant %g does not fit a float", v);
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, 36, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    if (!strpbrk(buf, ".en")) strcat(buf, ".0");
    strcat(buf, "f");
    return buf;
}

const char *double_literal(char buf[40], double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".en")) strcat(buf, ".0");
    return buf;
}

void sb_comment_text(StrBuf *sb, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '*' && s[1] == '/') sb_printf(sb, "* ");          /* no comment end */
        else if (c == '/' && s[1] == '*') sb_printf(sb, "/ ");     /* no nested opener (-Wcomment) */
        else if (c == '?' && s[1] == '?') sb_printf(sb, "? ");     /* no trigraph */
        else if (c < 0x20 || c >= 0x7f) sb_printf(sb, "?");
        else sb_printf(sb, "%c", c);
    }
}

void sb_c_string(StrBuf *sb, const char *s) {
    sb_printf(sb, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == '?') sb_printf(sb, "\\%c", c);   /* '?': no trigraphs */
        else if (c < 0x20 || c >= 0x7f) sb_printf(sb, "\\%03o", c);
        else sb_printf(sb, "%c", c);
    }
    sb_printf(sb, "\"");
}

/* Both return one of 8 rotating buffers: enough for one emit() call. */
static StrBuf *scratch(void) {
    static StrBuf sb[8];
    static int next;
    StrBuf *b = &sb[next++ % 8];
    b->len = 0;
    sb_printf(b, "%s", "");
    return b;
}

const char *comment(const char *s) {
    StrBuf *b = scratch();
    sb_comment_text(b, s);
    return b->data;
}

const char *c_string(const char *s) {
    StrBuf *b = scratch();
    sb_c_string(b, s);
    return b->data;
}

/* ---- what a kernel reads ------------------------------------------------ */

typedef struct { int batched, input, labels, targets, bytes; } Uses;

static Uses kernel_uses(const Graph *g, const Kernel *k) {
    Uses u = { 0, 0, 0, 0, 0 };
    for (int i = 0; i < k->nnodes; i++) {
        const Node *n = node(g, k->nodes[i]);
        int vs[KILN_NODE_VALUES], nv = node_values(n, vs);
        for (int j = 0; j < nv; j++) {
            const Value *v = storage_of(g, vs[j]);
            u.batched |= v->shape.batched;
            u.input |= v->kind == VAL_INPUT;
            u.labels |= v->kind == VAL_LABELS;
            u.targets |= v->kind == VAL_TARGETS;
            u.bytes |= v->kind == VAL_INPUT && v->bytes;
        }
    }
    return u;
}

static void kernel_signature(StrBuf *sb, const Graph *g, const Kernel *k, int call) {
    Uses u = kernel_uses(g, k);
    const char *sep = "";
    sb_printf(sb, "%s(", k->name);
    if (u.batched) { sb_printf(sb, "%s", call ? "n" : "int n"); sep = ", "; }
    if (u.input && u.bytes) { sb_printf(sb, "%s%s", sep, call ? "rows.x" : "const uint8_t *x"); sep = ", "; }
    else if (u.input) { sb_printf(sb, "%s%s", sep, call ? "rows.xf" : "const float *x"); sep = ", "; }
    if (u.labels) { sb_printf(sb, "%s%s", sep, call ? "rows.labels" : "const uint8_t *labels"); sep = ", "; }
    if (u.targets) { sb_printf(sb, "%s%s", sep, call ? "rows.targets" : "const float *targets"); sep = ", "; }
    if (k->phase == PHASE_LOSS && !g->spec->loss.op->loss->emit_total) {
        sb_printf(sb, "%s%s", sep, call ? "&loss, correct" : "float *loss, int *correct");
        sep = ", ";
    }
    if (!*sep && !call) sb_printf(sb, "void");
    sb_printf(sb, ")");
}

/* ---- sections of the file ---------------------------------------------- */

static const char *s_classes_comment(const Graph *g) {
    return g->spec->classes ? ": probabilities over the classes." : ".";
}

static int has_training_mode(const Graph *g) {
    for (int i = 0; i < g->nnodes; i++)
        if (node(g, i)->op->training_mode) return 1;
    return 0;
}

/* Whether the plan keeps any buffer in column panels. */
static int any_panels(const Graph *g) {
    for (int i = 0; i < g->nvals; i++)
        if (val(g, i)->panels) return 1;
    return 0;
}

/* The linear node whose weight and bias the trainer prints beside the true
 * w and b after training: the data are synthetic_regression's y = X·w + b +
 * noise and the model is y = X·W + b itself (one linear layer with a bias
 * and one output, reading the input and giving the prediction, and no
 * other parameters).  NULL: the trainer has no report. */
static const Node *learns_synthetic(const Graph *g) {
    const DataAttr *d = g->spec->data.attr;
    if (!d->synth_dims || g->nparams != 2) return NULL;
    int producer = val(g, g->logits)->producer;
    if (producer < 0) return NULL;
    const Node *n = node(g, producer);
    if (n->layer->op != &op_linear || n->nin != 3 || storage_of(g, n->in[LINEAR_X]) != storage_of(g, g->input))
        return NULL;
    const Shape *w = &val(g, n->in[LINEAR_W])->shape;   /* (in, units) */
    return w->rank == 2 && w->dim[0] == d->synth_dims && w->dim[1] == 1 ? n : NULL;
}

static void emit_banner(Emit *e, const Graph *g) {
    const Spec *s = g->spec;
    char shape[96];
    emit(e, "/* %s.c — a trainer for the model \"%s\", generated by kiln %s from %s.", s->cname, comment(s->name),
         KILN_VERSION, comment(s->file));
    emit(e, " *");
    emit(e, " * Do not edit: change the spec and run kiln again.  Build with");
    if (s->mpi) {
        emit(e, " *   mpicc -O3 -fopenmp -I<kiln runtime> %s_mpi.c libkiln_mpi.a libkiln_rt.a -lz -lm", s->cname);
        emit(e, " * and run with mpirun -np N: data parallel, BATCH is the global batch, each");
        emit(e, " * rank takes its share of every minibatch, and the ranks' gradients are");
        emit(e, " * summed before the updates.");
    } else {
        emit(e, " *   cc -O3 -fopenmp -I<kiln runtime> %s.c libkiln_rt.a -lz -lm", s->cname);
    }
    emit(e, " *");
    emit(e, " * Model, batch %ld:", s->batch);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (n->phase != PHASE_FORWARD) continue;
        shape_str(&val(g, n->out[0])->shape, shape, sizeof shape);
        emit(e, " *   %-12s %-20s %s:%d", n->label, shape, comment(s->file), n->layer->loc.line);
    }
    if (s->classes) emit(e, " *   %-12s %ld classes", s->loss.op->name, s->classes);
    else emit(e, " *   %-12s", s->loss.op->name);
    char lr[160];
    emit(e, " *   %-12s lr %s", s->optimizer.op->name,
         rate_describe(s->optimizer.op->optim->rate(&s->optimizer), lr, sizeof lr));
    emit(e, " *");
    emit(e, " * One training step runs these kernels, in order:");
    for (int i = 0; i < g->nkernels; i++)
        if (g->kernels[i].train) emit(e, " *   %d %s", i, g->kernels[i].name);
    emit(e, " * Evaluation runs:");
    for (int i = 0; i < g->nkernels; i++)
        if (g->kernels[i].eval) emit(e, " *   %d %s", i, g->kernels[i].name);
    emit(e, " */");
    emit(e, "#include <math.h>");
    emit(e, "#include <stdint.h>");
    if (learns_synthetic(g)) emit(e, "#include <stdio.h>");
    if (s->mpi) emit(e, "#include <string.h>");
    blank(e);
    emit(e, "#include \"kiln_rt.h\"");
    if (s->mpi) emit(e, "#include \"kiln_mpi.h\"  /* data parallel: kiln build --mpi */");
    blank(e);
    emit(e, "#define BATCH %ld  /* rows per minibatch; the last one may have fewer (n) */", s->batch);
    if (val(g, g->input)->bytes)
        emit(e, "#define INPUT_SCALE (1.0f / 255.0f)  /* input bytes → [0, 1], applied as they are read */");
    if (any_panels(g)) {
        emit(e, "_Static_assert(KILN_PANEL == %d, \"the memory plan was made for panels of %d columns; "
                "rebuild this trainer with the kiln that matches its runtime\");", KILN_PANEL_WIDTH,
             KILN_PANEL_WIDTH);
        emit(e, "/* Hidden layers' buffers are kept in column panels: KILN_PANEL columns of");
        emit(e, " * all BATCH rows, then the next KILN_PANEL columns, so that each thread's");
        emit(e, " * columns are one block of memory.  Element (i, j) of such a buffer: */");
        emit(e, "#define PANEL_STRIDE (BATCH * KILN_PANEL)");
        emit(e, "#define PANEL_AT(i, j) ((j) / KILN_PANEL * PANEL_STRIDE + (i) * KILN_PANEL + (j) %% KILN_PANEL)");
    }
    blank(e);
}

static void emit_buffers(Emit *e, const Graph *g) {
    char shape[96];
    emit(e, "/* ---- parameters: one block, in checkpoint order ---- */");
    emit(e, "static float params[%ld];", g->params_size);
    for (int i = 0; i < g->nparams; i++) {
        const Value *v = val(g, g->params[i]);
        shape_str(&v->shape, shape, sizeof shape);
        emit(e, "static float *const %s = params + %ld;  /* %s */", v->cname, v->offset, shape);
    }
    blank(e);
    if (g->nstate > 0) {
        emit(e, "/* ---- optimizer state: one block, saved in checkpoints after the parameters ---- */");
        emit(e, "static float state[%ld];", g->state_size);
        for (int i = 0; i < g->nstate; i++) {
            const Value *v = val(g, g->state[i]);
            shape_str(&v->shape, shape, sizeof shape);
            emit(e, "static float *const %s = state + %ld;  /* %s */", v->cname, v->offset, shape);
        }
        blank(e);
    }
    emit(e, "static uint64_t steps;  /* optimizer steps taken; checkpoints save it */");
    char lr[40];
    emit(e, "static double learning_rate = %s;  /* the optimizer's: the trainer sets it before each epoch */",
         double_literal(lr, g->spec->optimizer.op->optim->rate(&g->spec->optimizer)->lr));
    if (has_training_mode(g)) {
        emit(e, "static int training;  /* 1 in a training step: dropout is active only then */");
        emit(e, "static uint64_t dropout_key;  /* drawn by init(): dropout masks depend on the seed */");
    }
    blank(e);
    emit(e, "/* ---- activations and gradients: one arena, planned by kiln ----");
    emit(e, " * Buffers whose lifetimes (the kernels, numbered in training order, from");
    emit(e, " * first write to last read) do not overlap share memory: %ld floats", g->arena_size);
    emit(e, " * instead of %ld. */", g->arena_unshared);
    emit(e, "static float arena[%ld];", g->arena_size > 0 ? g->arena_size : 1);
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = val(g, i);
        if ((v->kind != VAL_ACT && v->kind != VAL_GRAD) || v->alias >= 0 || v->fused) continue;
        shape_str(&v->shape, shape, sizeof shape);
        char panels[40] = "";
        if (v->panels) snprintf(panels, sizeof panels, " in %d column panels", v->panels);
        emit(e, "static float *const %s = arena + %ld;  /* %s%s, kernels %d–%d */", v->cname, v->offset, shape,
             panels, v->first, v->last);
    }
    blank(e);
}

const Node *kernel_node(const Graph *g, const Kernel *k, const NodeOp *op) {
    for (int i = 0; i < k->nnodes; i++)
        if (node(g, k->nodes[i])->op == op) return node(g, k->nodes[i]);
    return NULL;
}

const char *epilogue_name(const Kernel *k, char buf[128]) {
    snprintf(buf, 128, "%s_epilogue", k->name);
    return buf;
}

void kernel_begin(Emit *e, const Graph *g, const Kernel *k) {
    StrBuf nodes = {0};
    for (int j = 0; j < k->nnodes; j++) sb_printf(&nodes, "%s%s", j ? ", " : "", node(g, k->nodes[j])->label);
    emit(e, "/* %s — nodes: %s */", k->name, nodes.data);
    sb_free(&nodes);
    StrBuf sig = {0};
    kernel_signature(&sig, g, k, 0);
    emit(e, "static void %s", sig.data);
    sb_free(&sig);
    emit(e, "{");
    e->indent++;
}

void kernel_end(Emit *e) {
    e->indent--;
    emit(e, "}");
}

static void emit_kernels(Emit *e, const Graph *g) {
    emit(e, "/* ---- kernels ---- */");
    for (int i = 0; i < g->nkernels; i++) {
        const Kernel *k = &g->kernels[i];
        blank(e);
        node(g, k->nodes[0])->op->emit(e, g, k);
    }
    blank(e);
}

/* After the team: the batch's loss from the rows' (losses that leave one per row). */
static void emit_total(Emit *e, const Graph *g) {
    const LossOp *loss = g->spec->loss.op->loss;
    if (loss->emit_total) loss->emit_total(e, g);
}

/* Data parallel: the gradients' buckets (buckets.c), and how many of
 * them the step has sent so far, as it is written. */
typedef struct { Buckets b; int posted; } Sends;

/* The names of bucket k's gradients, for a comment. */
static const char *bucket_names(const Graph *g, const Buckets *b, int k, StrBuf *sb) {
    sb->len = 0;
    sb_printf(sb, "%s", "");
    for (int t = b->first[k]; t < b->first[k] + b->count[k]; t++)
        sb_printf(sb, "%s%s", t > b->first[k] ? ", " : "", val(g, val(g, g->params[b->param[t]])->grad)->name);
    return sb->data;
}

/* Data parallel: after a wait, by which every kernel before kernel `at`
 * is done, the step's master sends the buckets those completed. */
static void emit_sends(Emit *e, const Graph *g, Sends *sends, int at) {
    StrBuf names = { 0 };
    for (; sends->posted < sends->b.nbuckets && sends->b.after[sends->posted] < at; sends->posted++) {
        int k = sends->posted;
        emit(e, "#pragma omp master  /* %s: complete; sent while the backward pass goes on */",
             bucket_names(g, &sends->b, k, &names));
        emit(e, "kiln_mpi_post(gradients, gradient_sizes, %d, %d, share);", sends->b.count[k], g->nparams);
    }
    sb_free(&names);
}

/* The kernels of a training step (training), of evaluation, or of predict
 * (the forward ones), called from inside one parallel region: the team is
 * started once, each thread copies the minibatch for itself, each kernel
 * splits its work among the threads without waiting at the end, and
 * kiln_sync() makes the team wait only where a kernel touches memory one
 * since the last wait wrote, or writes memory it touched (sync.c).
 *
 * One parallel region calling kernels [lo, hi) of those the pass runs
 * (training, or evaluation; forward_only: predict), with a kiln_sync
 * where one reads what another wrote; *part counts --profile's parts.
 * sends (data parallel, the backward pass): the gradients go out as they
 * are complete. */
static void emit_region(Emit *e, const Graph *g, int training, int forward_only, int lo, int hi, int *part,
                        Sends *sends) {
    int reads_rows = 0;
    for (int i = lo; i < hi; i++) reads_rows |= g->kernels[i].phase != PHASE_UPDATE;
    emit(e, "#pragma omp parallel  /* one team for every kernel; each splits its work among it */");
    emit(e, "{");
    e->indent++;
    if (training) emit(e, "kiln_mark_start();  /* --profile: each thread times the parts below (kiln_mark) */");
    if (reads_rows) emit(e, "const kiln_rows rows = kiln_fill_batch(b);  /* this thread's own copy of the minibatch */");
    if (training && lo == 0) emit(e, "kiln_mark(0);");
    const Kernel **since = xcalloc((size_t)g->nkernels + 1, sizeof *since);   /* since the last wait */
    int nsince = 0;
    for (int i = lo; i < hi; i++) {
        const Kernel *k = &g->kernels[i];
        if (forward_only && k->phase != PHASE_FORWARD) continue;
        /* forward_loss in mode 1 (the gradient check's reference) runs the
         * forward kernels of training only (batch norm's statistics) too */
        int when_training = !training && !forward_only && k->phase == PHASE_FORWARD && k->train && !k->eval;
        if (training ? !k->train : !k->eval && !when_training) continue;
        int wait = 0;
        for (int j = 0; j < nsince && !wait; j++) wait = kernels_conflict(g, since[j], k);
        if (wait) {
            emit(e, "kiln_sync();");
            if (training) emit(e, "kiln_mark_wait(%d);", *part);
            nsince = 0;
            if (sends) emit_sends(e, g, sends, i);
        }
        since[nsince++] = k;
        StrBuf call = {0};
        kernel_signature(&call, g, k, 1);
        emit(e, "%s%s;", when_training ? "if (training) " : "", call.data);
        sb_free(&call);
        if (training) emit(e, "kiln_mark(%d);", ++*part);
        if (sends && sends->posted > 0 && i + 1 < hi) {
            emit(e, "#pragma omp master  /* lets the sends move (Open MPI makes no progress by itself) */");
            emit(e, "kiln_mpi_progress();");
        }
    }
    if (training) emit(e, "kiln_mark_end(%d);", *part);
    free(since);
    e->indent--;
    emit(e, "}");
}

static void emit_calls(Emit *e, const Graph *g, int training, int forward_only) {
    int part = 0;
    emit_region(e, g, training, forward_only, 0, g->nkernels, &part, NULL);
}

/* The first update kernel: the backward pass ends before it. */
static int first_update(const Graph *g) {
    int i = 0;
    while (i < g->nkernels && g->kernels[i].phase != PHASE_UPDATE) i++;
    return i;
}

/* Data parallel (--mpi): the parameters' gradients, which the ranks sum
 * between the backward pass and the updates, in the order the backward
 * pass completes them (buckets.c). */
static void emit_gradient_table(Emit *e, const Graph *g) {
    Buckets b;
    buckets_plan(g, &b);
    emit(e, "/* data parallel: the gradients every rank sums with the others' before the updates,");
    emit(e, " * in the order the backward pass completes them */");
    emit(e, "static float *const gradients[] = {");
    for (int t = 0; t < g->nparams; t++) emit(e, "    %s,", cname(g, val(g, g->params[b.param[t]])->grad));
    emit(e, "};");
    emit(e, "static const long gradient_sizes[] = {");
    for (int t = 0; t < g->nparams; t++) emit(e, "    %ld,", shape_size(&val(g, g->params[b.param[t]])->shape));
    emit(e, "};");
    blank(e);
    buckets_free(&b);
}

/* The data parallel training step: this rank's rows forward and backward,
 * each bucket of gradients sent as soon as it is complete, the ranks'
 * gradients summed, then the updates. */
static void emit_mpi_step(Emit *e, const Graph *g) {
    int part = 0, split = first_update(g);
    Sends sends = { .posted = 0 };
    buckets_plan(g, &sends.b);
    emit(e, "const float share = b->total > 0 ? (float)n / (float)b->total : 1.0f;  /* this rank's rows of all */");
    emit(e, "if (n > 0) {");
    e->indent++;
    emit_region(e, g, 1, 0, 0, split, &part, &sends);
    emit_total(e, g);
    e->indent--;
    emit(e, "} else {  /* no rows of this minibatch are this rank's: it sends zeros, as the others send */");
    e->indent++;
    emit(e, "for (int i = 0; i < %d; i++) memset(gradients[i], 0, sizeof(float) * (size_t)gradient_sizes[i]);",
         g->nparams);
    for (int k = 0; k < sends.posted; k++)
        emit(e, "kiln_mpi_post(gradients, gradient_sizes, %d, %d, share);", sends.b.count[k], g->nparams);
    e->indent--;
    emit(e, "}");
    emit(e, "/* the rest sent; every rank's gradients, each weighted by its share, summed in rank order */");
    emit(e, "kiln_mpi_sum(gradients, gradient_sizes, %d, share);", g->nparams);
    emit_region(e, g, 1, 0, split, g->nkernels, &part, NULL);
    buckets_free(&sends.b);
}

/* The names of a training step's parts, in the order train_step marks
 * them (--profile). */
static void emit_part_names(Emit *e, const Graph *g) {
    emit(e, "/* A training step's parts, as train_step marks them for --profile. */");
    emit(e, "static const char *const step_parts[] = {");
    emit(e, "    \"kiln_fill_batch (each thread's copy of the minibatch)\",");
    for (int i = 0; i < g->nkernels; i++)
        if (g->kernels[i].train) emit(e, "    \"%s\",", g->kernels[i].name);
    emit(e, "};");
    blank(e);
}

static void emit_steps(Emit *e, const Graph *g) {
    emit(e, "/* ---- one training step, and evaluation ---- */");
    blank(e);
    if (g->spec->mpi) emit_gradient_table(e, g);
    emit(e, "/* Forward, loss, backward and update on one minibatch of n ≤ BATCH rows;");
    emit(e, " * returns the batch-mean loss and adds the correctly classified rows. */");
    emit(e, "static float train_step(const kiln_batch *b, int *correct)");
    emit(e, "{");
    e->indent++;
    emit(e, "const int n = b->n;");
    emit(e, "float loss = 0.0f;");
    if (has_training_mode(g)) emit(e, "training = 1;");
    if (g->spec->mpi) {
        emit_mpi_step(e, g);
    } else {
        emit_calls(e, g, 1, 0);
        emit_total(e, g);
    }
    emit(e, "steps++;");
    emit(e, "return loss;");
    e->indent--;
    emit(e, "}");
    blank(e);
    emit(e, "/* Forward and loss only, with dropout as in training (mode 1) or off (0):");
    emit(e, " * evaluation, and the gradient check's reference. */");
    emit(e, "static float forward_loss(const kiln_batch *b, int *correct, int mode)");
    emit(e, "{");
    e->indent++;
    emit(e, "const int n = b->n;");
    emit(e, "float loss = 0.0f;");
    if (has_training_mode(g)) emit(e, "training = mode;");
    else emit(e, "(void)mode;  /* no layer behaves differently in training */");
    emit_calls(e, g, 0, 0);
    emit_total(e, g);
    emit(e, "return loss;");
    e->indent--;
    emit(e, "}");
    blank(e);
    emit(e, "static float eval_batch(const kiln_batch *b, int *correct)");
    emit(e, "{");
    emit(e, "    return forward_loss(b, correct, 0);");
    emit(e, "}");
    blank(e);
    emit(e, "/* The model's output for each row%s */", s_classes_comment(g));
    emit(e, "static void predict(const kiln_batch *b, float *out)");
    emit(e, "{");
    e->indent++;
    emit(e, "const int n = b->n;");
    if (has_training_mode(g)) emit(e, "training = 0;");
    emit_calls(e, g, 0, 1);
    g->spec->loss.op->loss->emit_predict(e, g, node(g, val(g, g->loss)->producer));
    e->indent--;
    emit(e, "}");
    blank(e);
}

static void emit_init(Emit *e, const Graph *g) {
    emit(e, "/* Initial parameters, drawn in checkpoint order from the trainer's RNG. */");
    emit(e, "static void init(kiln_rng *rng)");
    emit(e, "{");
    e->indent++;
    int draws = 0;
    for (int i = 0; i < g->nparams; i++) {
        const Value *v = val(g, g->params[i]);
        v->init.op->init->emit_init(e, &v->init, v->cname, shape_size(&v->shape));
        draws |= v->init.op->init->draws;
    }
    if (has_training_mode(g)) emit(e, "dropout_key = kiln_rng_next(rng);");
    if (g->nstate > 0) emit(e, "kiln_fill_constant(state, %ld, 0.0f);  /* optimizer state starts at zero */", g->state_size);
    for (int i = 0; i < g->nstate; i++) {   /* model state that starts elsewhere (batch norm's running variance) */
        const Value *v = val(g, g->state[i]);
        if (v->init.op) v->init.op->init->emit_init(e, &v->init, v->cname, shape_size(&v->shape));
    }
    emit(e, "steps = 0;");
    if (!draws && !has_training_mode(g)) emit(e, "(void)rng;  /* every initializer here is a constant */");
    e->indent--;
    emit(e, "}");
    blank(e);
}

/* A kiln_tensor table: each value's name, shape and place in its block. */
static void emit_tensor_table(Emit *e, const Graph *g, const char *table, const int *ids, int n,
                              const char *block) {
    emit(e, "static const kiln_tensor %s[] = {  /* name, rank, dims, elements, data, never below 0 */", table);
    for (int i = 0; i < n; i++) {
        const Value *v = val(g, ids[i]);
        StrBuf dims = {0};
        for (int d = 0; d < v->shape.rank; d++) sb_printf(&dims, "%s%ld", d ? ", " : "", v->shape.dim[d]);
        emit(e, "    { %s, %d, { %s }, %ld, %s + %ld, %d },", c_string(v->name), v->shape.rank, dims.data,
             shape_size(&v->shape), block, v->offset, v->nonnegative);
        sb_free(&dims);
    }
    emit(e, "};");
    blank(e);
}

static void emit_model_struct(Emit *e, const Graph *g) {
    const Spec *s = g->spec;
    const DataAttr *d = s->data.attr;
    emit(e, "/* ---- the model, as the runtime sees it ---- */");
    emit_tensor_table(e, g, "tensors", g->params, g->nparams, "params");
    if (g->nstate > 0) emit_tensor_table(e, g, "state_tensors", g->state, g->nstate, "state");
    long input = 1;
    for (int i = 0; i < s->input_rank; i++) input *= s->input[i];
    if (d->class_names) {
        emit(e, "static const char *const class_names[] = {");
        for (int i = 0; d->class_names[i]; i++) emit(e, "    %s,", c_string(d->class_names[i]));
        emit(e, "    0,");
        emit(e, "};");
        blank(e);
    }
    if (d->synth_dims) {
        StrBuf w = {0};
        for (int i = 0; i < d->synth_dims; i++) sb_printf(&w, "%s%.17g", i ? ", " : "", d->synth_w[i]);
        emit(e, "/* The data's true weights: the runtime generates y = X·w + b + noise (synthetic_regression). */");
        emit(e, "static const double synthetic_w[%d] = { %s };", d->synth_dims, w.data);
        blank(e);
        sb_free(&w);
    }
    const Node *learner = learns_synthetic(g);
    if (learner) {
        char b[40];
        snprintf(b, 36, "%.17g", d->synth_b);
        if (!strpbrk(b, ".e")) strcat(b, ".0");   /* a double for printf's %f */
        emit(e, "/* After training: %s's weight and bias beside the w and b the data were", learner->label);
        emit(e, " * generated from. */");
        emit(e, "static void report(void)");
        emit(e, "{");
        emit(e, "    printf(\"w: learned [\");");
        emit(e, "    for (int j = 0; j < %d; j++) printf(\"%%s%%.4f\", j ? \", \" : \"\", %s[j]);",
             d->synth_dims, cname(g, learner->in[LINEAR_W]));
        emit(e, "    printf(\"], true [\");");
        emit(e, "    for (int j = 0; j < %d; j++) printf(\"%%s%%.4f\", j ? \", \" : \"\", synthetic_w[j]);",
             d->synth_dims);
        emit(e, "    printf(\"]\\nb: learned %%.4f, true %%.4f\\n\", %s[0], %s);", cname(g, learner->in[LINEAR_B]), b);
        emit(e, "}");
        blank(e);
    }
    emit_part_names(e, g);
    emit(e, "static const kiln_model model = {");
    emit(e, "    .name = %s,", c_string(s->name));
    emit(e, "    .file_name = %s,", c_string(s->cname));
    emit(e, "    .spec = %s,", c_string(s->file));
    emit(e, "    .input_size = %ld,", input);
    emit(e, "    .classes = %ld,", s->classes);
    emit(e, "    .batch = BATCH,");
    emit(e, "    .epochs = %ld,", s->epochs);
    emit(e, "    .seed = %llu,", (unsigned long long)s->seed);
    if (d->dir) {
        emit(e, "    .data_dir = %s,", c_string(d->dir));
        emit(e, "    .train_images = %s,", c_string(d->files[0]));
        emit(e, "    .train_labels = %s,", c_string(d->files[1]));
        emit(e, "    .test_images = %s,", c_string(d->files[2]));
        emit(e, "    .test_labels = %s,", c_string(d->files[3]));
    }
    if (d->synth_dims)
        emit(e, "    .synthetic = { .dims = %d, .w = synthetic_w, .b = %.17g, .noise = %.17g, .train = %ld, .test = %ld },",
             d->synth_dims, d->synth_b, d->synth_noise, d->synth_train, d->synth_test);
    emit(e, "    .ntensors = %d,", g->nparams);
    emit(e, "    .tensors = tensors,");
    if (g->nstate > 0) {
        emit(e, "    .nstate = %d,", g->nstate);
        emit(e, "    .state = state_tensors,");
    }
    emit(e, "    .steps = &steps,");
    emit(e, "    .learning_rate = &learning_rate,");
    rate_emit(e, s->optimizer.op->optim->rate(&s->optimizer));
    if (has_training_mode(g)) emit(e, "    .dropout_key = &dropout_key,");
    if (d->class_names) emit(e, "    .class_names = class_names,");
    emit(e, "    .init = init,");
    emit(e, "    .train_step = train_step,");
    emit(e, "    .eval_batch = eval_batch,");
    emit(e, "    .predict = predict,");
    if (learner) emit(e, "    .report = report,");
    emit(e, "    .nparts = (int)(sizeof step_parts / sizeof *step_parts),");
    emit(e, "    .parts = step_parts,");
    emit(e, "    .arena_bytes = sizeof arena,");
    if (s->mpi) emit(e, "    .dist = &kiln_mpi,");
    StrBuf plan_text = {0};
    dump_plan(&plan_text, g);
    emit(e, "    .plan =");
    for (char *line = plan_text.data, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = 0;
        StrBuf withnl = {0};
        sb_printf(&withnl, "%s\n", line);
        emit(e, "        %s%s", c_string(withnl.data), nl[1] ? "" : ",");
        sb_free(&withnl);
    }
    sb_free(&plan_text);
    emit(e, "};");
    blank(e);
    emit(e, "#ifndef KILN_NO_MAIN");
    emit(e, "int main(int argc, char **argv)");
    emit(e, "{");
    emit(e, "    return kiln_main(argc, argv, &model);");
    emit(e, "}");
    emit(e, "#endif");
}

void emit_model(StrBuf *out, const Graph *g) {
    Emit e = { { 0 }, 0 };
    emit_banner(&e, g);
    emit_buffers(&e, g);
    emit_kernels(&e, g);
    emit_steps(&e, g);
    emit_init(&e, g);
    emit_model_struct(&e, g);
    *out = e.out;
}
