/* kiln.h — the compiler's one header: the data each pass hands to the next,
 * and one section per pass (spec → graph → shape → autodiff → fuse → plan →
 * emit), in pipeline order.  Ops plug in through the OpDef table
 * (ops/registry.c); each op family lives in its own file under ops/. */
#ifndef KILN_H
#define KILN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define KILN_VERSION "0.1.0"

/* Limits a spec may not exceed; checked before anything is allocated. */
#define KILN_MAX_DIM     (1 << 24)   /* any one dimension (units, features) */
#define KILN_MAX_TENSOR  (1L << 28)  /* elements in one tensor (1 GiB of floats) */
#define KILN_MAX_BATCH   65536
#define KILN_MAX_LAYERS  256         /* layers applied in one model */
#define KILN_MAX_INPUTS  8           /* values one layer reads (concat {a, b, ...}) */
#define KILN_NODE_VALUES (KILN_MAX_INPUTS + 2)   /* a node's inputs and outputs */
#define KILN_MAX_RANK    4

/* ---- util.c ------------------------------------------------------------ */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* A growable text buffer: all generated text goes through sb_printf. */
typedef struct { char *data; size_t len, cap; } StrBuf;
void sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
void sb_free(StrBuf *sb);

/* The name in names[] nearest to word (edit distance ≤ 2), or NULL. */
const char *nearest_name(const char *word, const char *const *names);
/* Write names as "a, b, c" into sb. */
void sb_join(StrBuf *sb, const char *const *names);
/* What a stat mode is, for messages: "a directory", "a FIFO", "a character device", … */
const char *file_kind(unsigned mode);

/* ---- error.c: the one funnel every user-facing error goes through ------- */
typedef struct { const char *file; int line; } Loc;   /* a place in a spec */

/* Print "file:line: message" (or "kiln: message" without a place) on one
 * line (control characters escaped: \n, \x1b), remove any half-written
 * output, exit 1. */
_Noreturn void fail_at(const Loc *loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "kiln: message" on stderr, one line escaped the same way: what a command did. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A command-line mistake: the line as formatted (escaped the same way), exit status 2. */
_Noreturn void fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The text at s as it may reach a terminal, into piece (NUL-terminated):
 * printable ASCII and well-formed UTF-8 as they are, any other byte (a
 * control character, a C1 control, a stray byte) as an escape: \n, \t, \r,
 * \x1b.  keep_lines: newlines and tabs as they are.  Returns the bytes of s
 * it covers. */
int escape_piece(const char *s, char piece[8], int keep_lines);
/* The line fail prints, into out (cap bytes), for text printed where fail
 * cannot run (a signal handler). */
void fail_format(char *out, size_t cap, const Loc *loc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A temporary output file to unlink, and a temporary directory to remove
 * after it, if kiln fails before renaming them (NULL: none). */
void fail_cleanup_file(const char *path);
void fail_cleanup_dir(const char *dir);
/* Recovery for an in-process host (the fuzzer, tests/fuzz/); kiln never
 * sets it.  With jb set (NULL: back to print-and-exit), a failure keeps its
 * line for fail_last_message() instead of printing it, unlinks the cleanup
 * file, runs the callback last given to fail_on_recover (once; NULL: none)
 * and longjmps to *jb.  The host then frees the Spec and Graph it passed in
 * (spec_free, graph_free; both must start zeroed). */
void fail_recover(jmp_buf *jb);
int  fail_recovering(void);
const char *fail_last_message(void);
void fail_on_recover(void (*fn)(void *), void *arg);

/* ---- the op tables -----------------------------------------------------
 * An op is what a spec can call: an OpDef gives its DSL name, its kind, how
 * it reads its arguments into attributes of its own (Layer.attr) and, by
 * kind, the hooks that kind uses.  Layers and losses make graph nodes
 * (NodeOp: shape, gradient, emission, fusion); a loss also predicts and
 * totals (LossOp); an optimizer appends update nodes (OptimOp); an
 * initializer fills a tensor (InitOp); a data source checks the model and
 * says what the trainer reads (DataOp).  The nodes autodiff makes (a
 * gradient, an update step) have a NodeOp and no OpDef. */
typedef struct Graph Graph;
typedef struct Node Node;
typedef struct Layer Layer;
typedef struct Emit Emit;
typedef struct Call Call;
typedef struct Spec Spec;
typedef struct Kernel Kernel;
typedef struct OpDef OpDef;

typedef enum {
    OP_LAYER,      /* a layer: in model.layers, or called on a value in forward */
    OP_LOSS,       /* model.loss */
    OP_OPTIM,      /* model.optimizer */
    OP_INIT,       /* an initializer, e.g. normal(0, 0.01) */
    OP_DATA,       /* model.data */
    OP_SCHEDULE,   /* a learning-rate schedule, e.g. step_lr {lr = 0.1, every = 5} */
} OpKind;

/* A parameter initializer, as written in the spec: the init op's own
 * attributes. */
typedef struct {
    const OpDef *op;          /* NULL: the layer's default */
    double a, b;              /* normal: mean, std; uniform: lo, hi */
    Loc    loc;
} Init;

/* An optimizer's learning rate as the spec gives it: a number, or a
 * schedule over the epochs (ops/schedule.c, PyTorch's definitions). */
typedef struct {
    const OpDef *op;          /* NULL: the rate is the number lr throughout */
    double lr;                /* the base rate (the trainer's --lr replaces it) */
    long   every;             /* step_lr: times gamma every `every` epochs */
    double gamma;
    long   epochs, warmup;    /* cosine_lr: warmup epochs, then a cosine to min_lr at
                                 epoch `epochs` (0 until the spec's epochs fill it in) */
    double min_lr;
    Loc    loc;
} Rate;

/* ops/schedule.c: fill in what the rest of the spec decides (cosine_lr's
 * epochs), describe it for people, write it into the trainer's kiln_model. */
void rate_resolve(Rate *r, long spec_epochs);
void rate_check(Call *c, const char *what, double lr);   /* above 0, at most 1e6, or call_fail */
const char *rate_describe(const Rate *r, char *buf, size_t n);
void rate_emit(Emit *e, const Rate *r);

/* An update p ← β·p + α·∇p (gemm_update), α and β as C expressions of the
 * trainer's learning_rate. */
typedef struct {
    char alpha[96], beta[96];
    int  decays;              /* β is not 1 (weight decay) */
} GemmUpdate;

/* What a graph node does in each pass. */
typedef struct NodeOp {
    const char *name;    /* "linear", "linear.grad_input": in kiln graph and error messages */
    /* Shape rule: given the node's input shapes, set its output shapes and
     * create any parameters; fail_at the layer's place when they don't fit. */
    void (*shape)(Graph *g, Node *n);
    /* Gradient rule: given the gradients of n's outputs, append the nodes
     * that compute the gradients of n's inputs (those that need one). */
    void (*grad)(Graph *g, Node *n);
    /* Write the kernel k, whose first node has this op, as a C function
     * (kernel_begin … kernel_end), fusing k's other nodes as fuse.c chose.
     * NULL: the node has no code of its own (a view; a gradient its
     * forward's kernel computes). */
    void (*emit)(Emit *e, const Graph *g, const Kernel *k);
    /* Elementwise ops: the C expression of one output element, given the
     * expression of the main input's element (in) and the flat index of
     * the element in a (batch, features) buffer (at).  Lets a GEMM fuse
     * the op into its epilogue. */
    void (*pointwise)(StrBuf *sb, const Graph *g, const Node *n, const char *in, const char *at);
    int main_input;      /* pointwise: which input is the elementwise one */
    int reads_index;     /* pointwise: its expression reads `at` (another buffer, or a mask) */
    int gemm_epilogue;   /* its kernel is a GEMM that can absorb a pointwise successor */
    int fuses_update;    /* produces parameter gradients an update can consume in-kernel */
    int panels;          /* its kernels can read and write batch buffers kept in column
                            panels (plan.c): GEMMs and what their epilogues fuse */
    int reads_bytes;     /* accepts the raw uint8 input batch (scaled while packing) */
    int view;            /* its output is its input seen with another shape */
    int commutative;     /* a binary op whose two inputs may trade places (fuse.c makes the
                            one a GEMM produces in[0], its main input) */
    int inplace;         /* element i of its output reads only element i of its inputs: the
                            output may share storage with an input (autodiff.c) */
    int training_mode;   /* behaves differently in training (reads `training`, `dropout_key`) */
    int training_only;   /* its result is used in training only: no kernel in evaluation */
    /* A node of this op is put before each node of a layer with this op,
     * on the same inputs; its result becomes the layer's node's last
     * input: work the layer's op needs first that a kernel before it may
     * do (batch norm's statistics, fuse.c's "per example" rule). */
    const struct NodeOp *before;
    /* Update steps of the form p ← β·p + α·∇p: return 1 and set α and β, so
     * the kernel that computes ∇p can apply the update itself (a GEMM with
     * alpha = α, beta = β, C = p).  0 if the update is not of that form. */
    int (*gemm_update)(const Node *update, GemmUpdate *u);
    /* Ops that work one example at a time (pooling and its gradient): the
     * statements for example i (in scope) of part, a piece of a kernel: this
     * op's node, then the elementwise ops fused after it (run in place on
     * the example's planes, where the last of them leaves its result).
     * Lets a kernel that makes the input example by example (hosts_examples:
     * a convolution) run it while the example is in cache. */
    void (*emit_example)(Emit *e, const Graph *g, const Kernel *part);
    int hosts_examples;
    /* Reads its input (in[0]) example by example, so the op that makes it
     * one example at a time (a pooling's gradient) can run in its kernel,
     * on each example just before it is read (fuse.c's "prologue"). */
    int hosts_prologue;
    /* Ops with more than one way to compute a kernel headed by them: which
     * one kernel k takes and why, one line for `kiln graph --kernels`. */
    void (*strategy)(StrBuf *sb, const Graph *g, const Kernel *k);
} NodeOp;

/* A loss node's inputs, by position: the model's output and what it is
 * compared with (labels or targets).  ORDER LOSS: graph.c makes them so. */
enum { LOSS_OUTPUT, LOSS_TARGET };

/* An update node's inputs, by position.  ORDER UPDATE: optim.c makes them
 * so; fuse.c, plan.c and sync.c read them so. */
enum { UPDATE_PARAM, UPDATE_GRAD, UPDATE_STATE };

typedef struct {
    /* Write the statements of predict(): the model's output rows as
     * probabilities over the classes (or the outputs), into out. */
    void (*emit_predict)(Emit *e, const Graph *g, const Node *loss);
    /* A loss whose kernel leaves one result per row: write the statement,
     * run once the team is done, that sets `loss` to the batch's (and adds
     * its correct rows to *correct).  NULL: the kernel sets *loss itself. */
    void (*emit_total)(Emit *e, const Graph *g);
    int float_targets;   /* compares with float targets (regression), not class labels */
} LossOp;

typedef struct {
    /* Append the node(s) that update param with its gradient grad. */
    void (*update)(Graph *g, const Layer *opt, int param, int grad);
    Rate *(*rate)(const Layer *opt);   /* its learning rate (schedule) */
} OptimOp;

typedef struct {
    /* A rule like xavier(): turn it into a concrete uniform or normal for a
     * weight of fan_in × fan_out.  NULL: the init is concrete. */
    void (*resolve)(Init *init, long fan_in, long fan_out);
    /* Write the C statement that fills a tensor of size floats. */
    void (*emit_init)(Emit *e, const Init *init, const char *tensor, long size);
    int draws;           /* its fill draws from the trainer's RNG */
} InitOp;

typedef struct {
    /* Check the data fits the model (fail_at the data's place if not). */
    void (*check)(const Spec *s, const Layer *data);
    int float_data;      /* features and targets are floats (no bytes, no labels) */
} DataOp;

struct OpDef {
    const char *name;    /* the DSL name */
    OpKind      kind;
    size_t      attr_size;   /* its attributes' struct (Layer.attr), zeroed before parse; 0: none */
    int         params;      /* a layer that makes parameters: one layer object, one use */
    /* A layer called on values directly, add(a, b) or concat {a, b}: 1 when
     * its arguments are the values, 2 when its first is a list of them. */
    int         values_args;
    /* Check the call's arguments into out->attr (errors at c->loc). */
    void (*parse)(Call *c, Layer *out);
    /* The call as written, e.g. "linear(256)"; NULL: "name()". */
    void (*describe)(const Layer *l, char buf[64]);
    const NodeOp  *node;     /* OP_LAYER, OP_LOSS: the node it makes */
    const LossOp  *loss;     /* OP_LOSS */
    const OptimOp *optim;    /* OP_OPTIM */
    const InitOp  *init;     /* OP_INIT */
    const DataOp  *data;     /* OP_DATA */
};

/* ops/registry.c: the ops a spec can call */
extern const OpDef *const kiln_ops[];
const OpDef *op_find(const char *name);

/* ---- spec.c: run the spec in a sandboxed Lua state -------------------- */

/* One DSL call, e.g. linear(256, {init = normal(0, 0.01)}), parsed by its op. */
struct Layer {
    const OpDef *op;
    Loc          loc;         /* where the spec called it */
    char         label[32];   /* "linear2": op name + its count in the model */
    int          index;       /* position in the model's layers (dropout's streams) */
    void        *attr;        /* the op's own attributes (op->attr_size bytes), or NULL */
};

/* One layer applied to values: a node of the model's forward graph, as the
 * spec made it (from the layers list, or in forward). */
typedef struct {
    Layer layer;                     /* its op, attributes and label; loc: where it was applied */
    int   in[KILN_MAX_INPUTS], nin;  /* what it reads: -1 the model's input, else an earlier Apply */
} Apply;

struct Spec {
    char   *file;            /* the spec's path, as given */
    char   *name;            /* model name, as written */
    char    cname[64];       /* model name made safe for C identifiers and paths */
    int     input_rank;
    long    input[KILN_MAX_RANK];
    long    classes;
    long    batch, epochs;
    uint64_t seed;
    Apply  *apps; int napps;         /* in order: each reads earlier ones; the last is the output */
    Layer   loss, optimizer, data;
    Loc     loc;             /* where model{...} was called */
    int     mpi;             /* kiln --mpi: a data parallel trainer (not from the spec) */
};

void spec_load(const char *path, Spec *out);   /* fails with file:line on any error */
void spec_free(Spec *s);

/* Helpers the ops' parse hooks use to read their DSL arguments. */
struct Call {
    void        *L;          /* lua_State*, arguments at stack slots 1..nargs */
    int          nargs;
    const char  *name;
    Loc          loc;
    const OpDef *op;         /* the op being called */
};
long   call_size(Call *c, int arg, const char *what);            /* a positive integer ≤ KILN_MAX_DIM */
double call_number(Call *c, int arg, const char *what);          /* any finite number */
int    call_opts(Call *c, int arg, const char *const *valid);    /* 1 if an options table is there */
int    call_opt_number(Call *c, int arg, const char *key, double *out);
int    call_opt_bool(Call *c, int arg, const char *key, int *out);
int    call_opt_string(Call *c, int arg, const char *key, char **out);
int    call_opt_path(Call *c, int arg, const char *key, char **out);     /* relative: to the spec's directory */
int    call_opt_init(Call *c, int arg, const char *key, Init *out);
/* A learning rate: a number or a schedule like step_lr {...}. */
int    call_opt_rate(Call *c, int arg, const char *key, Rate *out);
/* Sizes per axis, e.g. a kernel of 5 or {3, 5}: a whole number from lo to hi
 * for both, or a pair {height, width}; out[0] height, out[1] width. */
void   call_pair(Call *c, int arg, const char *what, long lo, long hi, long out[2]);
int    call_opt_pair(Call *c, int arg, const char *key, long lo, long hi, long out[2]);
/* A list of 1..max finite numbers, e.g. w = {2, -3.4}. */
int    call_opt_numbers(Call *c, int arg, const char *key, double *out, int max, int *count);
void   call_max_args(Call *c, int max);
_Noreturn void call_fail(Call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- graph.c: the IR ---------------------------------------------------- */
typedef enum { VAL_INPUT, VAL_LABELS, VAL_PARAM, VAL_ACT, VAL_GRAD, VAL_LOSS, VAL_STATE, VAL_TARGETS } ValKind;

typedef struct {
    int  rank;               /* not counting the batch dimension */
    long dim[KILN_MAX_RANK];
    int  batched;            /* leading batch dimension */
} Shape;

typedef struct {
    int     id;
    char    name[64];        /* e.g. "linear1.weight", "d.relu1" */
    char    cname[64];       /* the C identifier of its buffer */
    ValKind kind;
    Shape   shape;
    int     producer;        /* node id, -1 for inputs and parameters */
    int     needs_grad;      /* a parameter depends on... / it feeds one */
    int     grad;            /* value id of its gradient, -1 if none */
    int     of;              /* a gradient: the value it is the gradient of */
    int     contributions;   /* a gradient: the nodes (or aliases) that add to it so far */
    int     alias;           /* value whose storage this one shares, -1 */
    Init    init;            /* parameters */
    int     fused;           /* computed and consumed inside one kernel: no buffer */
    int     bytes;           /* the input batch as raw bytes (scaled when read), not floats */
    long    offset;          /* plan: offset in params[] or arena[] */
    int     panels;          /* plan: stored in this many column panels (0: row-major) */
    int     nonnegative;     /* state that is never below 0 (Adam's v): checkpoints are checked */
    int     model_state;     /* state of the model (batch norm's running statistics), not the optimizer's */
    int     first, last;     /* plan: kernels that write it first and read it last */
} Value;

typedef enum { PHASE_FORWARD, PHASE_LOSS, PHASE_BACKWARD, PHASE_UPDATE } Phase;

struct Node {
    int           id;
    const NodeOp *op;
    const Layer *layer;      /* the DSL call it comes from (loc, attrs) */
    Phase        phase;
    char         label[64];  /* e.g. "linear1", "linear1.grad_weight" */
    int          in[KILN_MAX_INPUTS], nin;
    int          out[2], nout;
    int          acc[2];     /* out[k] is added to (a gradient's later contribution), not written */
    int          aux;        /* op-specific: concat.grad's input number */
    int          fwd;        /* backward nodes: the forward node they differentiate */
};

struct Kernel {
    int   id;
    char  name[96];          /* the C function's name */
    int   nodes[8], nnodes;  /* nodes[0] is the head: its op emits the kernel */
    int   nprologue;         /* the last nprologue nodes make the head's input,
                                example by example, before the head reads it */
    Phase phase;
    int   train, eval;       /* called by the training step / by evaluation */
};

struct Graph {
    const Spec *spec;
    Value *vals;   int nvals, capvals;
    Node  *nodes;  int nnodes, capnodes;
    Kernel *kernels; int nkernels;
    int    input, labels, logits, loss;
    int   *params; int nparams;     /* value ids, in checkpoint order */
    int   *state; int nstate;       /* optimizer state (VAL_STATE), in checkpoint order */
    long   params_size, arena_size; /* plan: floats */
    long   state_size;              /* plan: floats of optimizer state */
    long   arena_unshared;          /* plan: floats without reuse, for comparison */
};

void  graph_build(Graph *g, const Spec *s);          /* layers → forward nodes */
void  graph_free(Graph *g);
int   graph_value(Graph *g, ValKind kind, const char *name);
Node *graph_node(Graph *g, const NodeOp *op, const Layer *l, Phase phase, const char *label);
void  node_input(Graph *g, Node *n, int value);
int   node_output(Graph *g, Node *n, ValKind kind, const char *name);
void  node_result(Graph *g, Node *n, int value);   /* an existing value becomes n's output */
void  node_accumulate(Graph *g, Node *n, int value);   /* n adds to an existing value */
int   graph_param(Graph *g, const char *name, Shape shape, Init init);
int   graph_state(Graph *g, const char *name, Shape shape);   /* optimizer state, starts at 0 */
Value *val(const Graph *g, int id);
int   node_values(const Node *n, int out[KILN_NODE_VALUES]);   /* its inputs, then its outputs */
Node  *node(const Graph *g, int id);
const Value *storage_of(const Graph *g, int id);   /* follows aliases */
long  shape_size(const Shape *s);                  /* elements per example (or in total) */
void  shape_str(const Shape *s, char *buf, size_t n); /* "(batch, 1, 28, 28)" */

/* ---- shape.c ------------------------------------------------------------ */
void shape_infer(Graph *g);

/* ---- autodiff.c --------------------------------------------------------- */
void autodiff(Graph *g);
/* For gradient rules: the gradient value of v, created on first use. */
int  grad_of(Graph *g, int v);
/* n's contribution to the gradient of x, as n's next output: the first
 * contribution writes it, later ones (other readers of x) add to it. */
void grad_result(Graph *g, Node *n, int x);
/* An identity contribution (flatten, add): x's gradient gets dy — the same
 * storage as dy where that is safe, else a copy or an added pass. */
void grad_pass(Graph *g, const Node *fwd, int x, int dy);

/* ---- fuse.c ------------------------------------------------------------- */
void fuse(Graph *g);

/* ---- plan.c ------------------------------------------------------------- */
void plan(Graph *g);
/* Floats of the arena a stored value takes: a full batch, 16-float aligned;
 * in column panels, KILN_PANEL columns each (the last one padded). */
long value_footprint(const Graph *g, const Value *v);
#define KILN_PANEL_WIDTH 32   /* the runtime's KILN_PANEL: trainers assert they agree */

/* ---- emit.c ------------------------------------------------------------- */
struct Emit { StrBuf out; int indent; };
void emit(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_blank(Emit *e);
void emit_model(StrBuf *out, const Graph *g);        /* the whole trainer C file */
/* A kernel's function: its comment, signature and braces; the op writes the body. */
void kernel_begin(Emit *e, const Graph *g, const Kernel *k);
void kernel_end(Emit *e);
/* The name of k's epilogue function, "<kernel>_epilogue". */
const char *epilogue_name(const Kernel *k, char buf[128]);
/* The node of k with this op (or NULL). */
const Node *kernel_node(const Graph *g, const Kernel *k, const NodeOp *op);
const char *cname(const Graph *g, int value);        /* C expression for a value's data */
/* How node n stores its output k: "+=" when it adds to a gradient, else "=". */
const char *assign_op(const Node *n, int k);
/* The shortest C float literal that reads back as (float)v, e.g. "0.1f". */
const char *float_literal(char buf[40], double v);
/* The shortest C literal of the double v that reads back as v, e.g. 0.05. */
const char *double_literal(char buf[40], double v);
/* Text made safe to sit inside a C block comment or a C string literal. */
void sb_comment_text(StrBuf *sb, const char *s);
void sb_c_string(StrBuf *sb, const char *s);
/* The same as a string for one emit() call (one of 8 rotating buffers). */
const char *comment(const char *s);
const char *c_string(const char *s);

/* ---- sync.c: where the step's team waits ------------------------------- */
/* 1 if kernel b may not start on any thread before kernel a has finished on
 * all: they touch the same memory and one of them writes it. */
int kernels_conflict(const Graph *g, const Kernel *a, const Kernel *b);

/* ---- dump.c: kiln graph ------------------------------------------------- */
void dump_graph(StrBuf *out, const Graph *g);
void dump_dot(StrBuf *out, const Graph *g);
void dump_kernels(StrBuf *out, const Graph *g);
void dump_plan(StrBuf *out, const Graph *g);
/* ---- summary.c: kiln summary ---------------------------------------------- */
void dump_summary(StrBuf *out, const Graph *g);

/* ---- build.c: files and the C compiler ------------------------------- */
/* Where an output at path really goes, into out: path, or the file a
 * symbolic link at path points to.  Fails (one line) when the target exists
 * and is not a regular file, or is a dangling link: call it before the work. */
void output_target(const char *path, char *out, size_t n);
void write_file_atomic(const char *path, const char *data, size_t len);
int  build_trainer(const char *c_file, const char *exe, int verbose, int mpi);
/* The same for any program: its C sources (file paths) before the runtime. */
int  build_program(const char *const *sources, int nsources, const char *exe, int verbose, int mpi);
const char *kiln_home(void);      /* directory holding libkiln_rt.a and kiln_rt.h */

/* ---- buckets.c: data parallel (--mpi), the gradients' sends ------------ */
typedef struct {
    int *param;                  /* table entry t: which of g->params */
    int *first, *count, *after;  /* bucket b: entries [first, first + count),
                                    complete after training kernel `after` */
    int  nbuckets;
} Buckets;
void buckets_plan(const Graph *g, Buckets *b);
void buckets_free(Buckets *b);

/* ---- compile.c: the pipeline, spec path → graph ----------------------- */
/* batch: the batch size instead of the spec's (kiln's --batch), 0: the
 * spec's; mpi: a data parallel trainer (kiln's --mpi) */
void compile_spec(const char *path, long batch, int mpi, Spec *spec, Graph *g);

/* ---- export.c: kiln export ----------------------------------------------- */
/* The trained model (the checkpoint ckpt, read and checked) as a standalone
 * C file for inference (c, to be named base.c) and its header (h, base.h). */
void export_model(StrBuf *c, StrBuf *h, const Graph *g, const char *ckpt, const char *base);
void compile_graph(const Spec *spec, Graph *g);   /* passes 2–6 on a Spec built in C */

/* ---- plot.c: kiln plot (gnuplot) --------------------------------------- */
int cmd_plot(int argc, char **argv);

#endif
