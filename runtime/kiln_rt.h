/* kiln_rt.h — the contract between the C that kiln emits and kiln's runtime.
 *
 * Every trainer kiln emits is one generated C file plus this runtime:
 * GEMM, seeded RNG, IDX/gzip data loading, checkpoints and the trainer's
 * command line.  The generated file describes its model in a kiln_model and
 * hands it to kiln_main(); everything generic lives here, once.
 */
#ifndef KILN_RT_H
#define KILN_RT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* ---- GEMM ---------------------------------------------------------------
 * C = alpha * op(A) * op(B) + beta * C, all row-major, op(X) = X or Xᵀ.
 * op(A) is m×k, op(B) is k×n, C is m×n.  Every matrix product of a trainer
 * goes through kiln_gemm, the one entry point; the generated code describes
 * each product, and what is fused around it, in a kiln_gemm_op.
 *
 * A may be bytes (a_u8, each scaled by a_scale while it is packed: the data
 * set stays uint8 in memory) instead of floats (a).
 *
 * The epilogue, when set, runs once on every finished piece of C — all of k
 * summed in, alpha and beta applied — on the thread that computed it, while
 * the piece is still in cache: rows [i0, i0+m), columns [j0, j0+n), with c
 * pointing at C(i0, j0) and rows ldc apart.  It may rewrite the piece in
 * place (bias, activation, an activation's derivative...).  ctx is for it.
 *
 * Results are bitwise identical for any OpenMP thread count: each element of
 * C is summed over k in a fixed order, and the epilogue sees the same pieces.
 * beta == 0 means C is written without being read (it may hold NaNs).
 *
 * Called outside a parallel region, kiln_gemm starts a team of its own when
 * the product is big enough, and returns with C complete.  Called inside
 * one it is a work-sharing construct, like `omp for nowait`: every thread
 * of the team must call it with the same op and computes its share of C;
 * call kiln_sync() before any thread reads C.  Only one team at a time may
 * use it (its packing memory is per thread number). */
enum { KILN_NOTRANS = 0, KILN_TRANS = 1 };

typedef struct kiln_gemm_op kiln_gemm_op;
typedef void (*kiln_epilogue)(const kiln_gemm_op *op, int i0, int j0, int m, int n,
                              float *c, int ldc);
struct kiln_gemm_op {
    int            transa, transb;
    int            m, n, k;
    float          alpha, beta;
    const float   *a;          /* A as floats, or... */
    const uint8_t *a_u8;       /* ...as bytes, times a_scale */
    float          a_scale;
    int            lda;
    const float   *b;
    int            ldb;
    float         *c;
    int            ldc;
    kiln_epilogue  epilogue;   /* NULL: none */
    const void    *ctx;        /* for the epilogue */
    /* A matrix whose panel stride is not 0 is stored in column panels:
     * KILN_PANEL columns wide, each all its rows × KILN_PANEL row-major (its
     * ld must be KILN_PANEL), panel q at X + q·stride (floats). */
    size_t         a_panel_stride, b_panel_stride, c_panel_stride;
};
enum { KILN_PANEL = 32 };
void kiln_gemm(const kiln_gemm_op *op);
/* The whole product on the calling thread, inside a parallel region or
 * not, with the same results as kiln_gemm: for a product per example that
 * each thread computes on its own examples (kiln_thread_buffer's operands).
 * Its operands may not be in column panels with A narrow (n ≤ 16). */
void kiln_gemm_alone(const kiln_gemm_op *op);

/* From kiln_balance_begin to the next kiln_balance_begin or to
 * kiln_balance_end (all called outside any parallel region), the large
 * products a team computes with kiln_gemm share out their work while they
 * run: a thread done with its own part takes over the rest of a slower
 * thread's, with the same results bitwise.  The trainer opens such a
 * bracket for each call of a step function.  Every parallel region inside
 * one bracket must have the same team, and each bracket may hold a few tens
 * of in-team kiln_gemm calls (beyond that, the rest are split as usual). */
void kiln_balance_begin(void);
void kiln_balance_end(void);

/* Softmax cross-entropy for rows [i0, i0 + rows) (rows ≤ KILN_SOFTMAX_ROWS)
 * of z, n × classes logits, in one pass over each row: row_loss[i] =
 * logsumexp(z_i) − z_i[labels[i]], row_hit[i] = whether the first largest
 * logit of the row is its label's, and, unless dz is NULL, dz_i =
 * (softmax(z_i) − onehot(labels[i])) / count, the row's part of the
 * gradient of the mean loss over count rows.  A row's results depend on the
 * row alone, not on the block or the thread it is computed in. */
enum { KILN_SOFTMAX_ROWS = 16 };
void kiln_softmax_xent_rows(int i0, int rows, int classes, const float *z, const uint8_t *labels,
                            float *dz, float count, float *row_loss, uint8_t *row_hit);

/* The plain BLAS-style form: kiln_gemm without bytes or epilogue. */
void kiln_sgemm(int transa, int transb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc);

/* Column sums: out[j] = beta·out[j] + alpha·Σ_i a[i·lda + j] for j < cols,
 * i < rows.  Each column is summed in row order, so the result is the same
 * for any thread count (bias gradients; with beta = 1, alpha = −lr, the
 * SGD update of a bias).  Inside a parallel region, every thread of the team
 * calls it and the team splits the columns without waiting at the end, as
 * with kiln_gemm. */
void kiln_column_sums(int rows, int cols, const float *a, int lda, float alpha, float beta,
                      float *out);
/* The same for a stored in column panels pstride floats apart (pstride 0:
 * row-major with lda, as kiln_column_sums). */
void kiln_column_sums_paneled(int rows, int cols, const float *a, int lda, size_t pstride,
                              float alpha, float beta, float *out);

/* Sums along a row of n floats, in a fixed order that vectorizes
 * (sums.c): Σ v, Σ (v − m)², and Σ dy with Σ dy·(x − m). */
float kiln_sum(const float *v, int n);
float kiln_sum_sqdev(const float *v, int n, float m);
void  kiln_sum_dy_dev(const float *dy, const float *x, int n, float m, float *sum_dy, float *sum_dy_dev);

/* The barrier between kernels inside a parallel region: returns once every
 * thread of the team has called it, and everything they wrote before is
 * visible to all (much cheaper than `omp barrier`).  Outside a region, or
 * in a team of one, it returns at once. */
void kiln_sync(void);

/* ---- Timing a step's parts (--profile, profile.c) -------------------------
 * The generated train_step calls kiln_mark_start() as its parallel region
 * begins, kiln_mark(p) after part p (the minibatch copy is part 0, then
 * each kernel), kiln_mark_wait(p) after the kiln_sync that follows it, and
 * kiln_mark_end(p) after the last.  Each thread adds the time since its
 * previous mark to part p's work or wait.  Off (kiln_profiling 0), a mark
 * costs one predictable branch. */
extern int kiln_profiling;
int  kiln_profile_enable(int parts);    /* before the first step; -1: out of memory */
void kiln_profile_start(void);
void kiln_profile_mark(int part, int waited);
void kiln_profile_end(int part);
/* The table, on stderr: names[p] each part's name, train_seconds the
 * epochs' training time. */
void kiln_profile_report(const char *const *names, double train_seconds);
static inline void kiln_mark_start(void) { if (kiln_profiling) kiln_profile_start(); }
static inline void kiln_mark(int part) { if (kiln_profiling) kiln_profile_mark(part, 0); }
static inline void kiln_mark_wait(int part) { if (kiln_profiling) kiln_profile_mark(part, 1); }
static inline void kiln_mark_end(int part) { if (kiln_profiling) kiln_profile_end(part); }

/* ---- Sliding windows ------------------------------------------------------
 * Along one axis of a convolution or a pooling (input size n, padding p,
 * stride s, outs outputs): the outputs o in [kiln_tap_first, kiln_tap_end)
 * whose tap k (0 ≤ k < kernel) reads inside the input, o·s + k − p ∈ [0, n).
 * The others read the padding. */
static inline int kiln_tap_first(int k, int p, int s) { return k >= p ? 0 : (p - k + s - 1) / s; }
static inline int kiln_tap_end(int k, int p, int s, int n, int outs)
{
    int last = n - 1 + p - k;   /* the largest o·s that reads inside */
    if (last < 0) return 0;
    return last / s + 1 < outs ? last / s + 1 : outs;
}

/* ---- Direct convolution over padded planes ---------------------------------
 * The hot loops of conv2d (stride 1); the generated code packs the planes
 * (padding, bytes scaled, a gradient's derivatives applied) and unpacks the
 * result (bias, activation, pooling).  A plane here is hp × wp floats of
 * rows wp apart, and positions are counted in that width: position q of an
 * output plane is row q / wp, column q % wp, and a tap (u, v) of it reads
 * source element q + u·wp + v.  Columns past the real output's width are
 * computed (or, in dy, must be zero) and ignored: that is what lets one
 * vector run across rows.
 *
 * Planes of one channel may be laid out for several examples one after the
 * other (plane stride P ≥ hp·wp): then a position runs over all of them,
 * q < (examples − 1)·P + nq.  The source must be readable 16 floats past
 * its last position's last tap, and hold finite values there.
 *
 * Weight element (o, ci, u, v) is at w[o·w_out + ci·w_in + u·w_row + v·w_col]:
 * any strides, negative ones too — grad_input runs the forward kernel on
 * the transposed, flipped weight without copying it.  Each output element
 * is summed over (ci, u, v) in that order: results do not depend on the
 * thread count.  The CPU's best kernel is chosen once (AVX-512F, else
 * portable C; KILN_GEMM_KERNEL=c forces C, as for kiln_gemm). */
typedef struct {
    int          ins, outs;         /* channels summed over / produced */
    int          kh, kw;
    int          wp;                /* the source's row width */
    int          nq;                /* positions computed per output channel */
    const float *src;
    size_t       src_stride;        /* floats between source channels */
    const float *w;
    ptrdiff_t    w_out, w_in, w_row, w_col;
} kiln_conv_op;

/* dst[o·dst_stride + q] = Σ_{ci,u,v} w(o, ci, u, v) · src[ci·src_stride + q
 * + u·wp + v] for q < nq rounded up to 16 (dst_stride ≥ that). */
void kiln_conv_planes(const kiln_conv_op *op, float *dst, size_t dst_stride);

/* dw(o, ci, u, v) = Σ_{q < nq} dy[o·dy_stride + q] · src[ci·src_stride + q
 * + u·wp + v], written through op->w's strides (op->w is written: cast);
 * and db[o] = Σ_q dy[o·dy_stride + q] unless db is NULL.  dy must hold
 * zeros at the positions that are not real outputs, up to nq rounded up to
 * 16. */
void kiln_conv_weight_grad(const kiln_conv_op *op, const float *dy, size_t dy_stride, float *db);

/* The weight gradient from packed patches: dw[o·taps + t] = Σ_{q < nq}
 * dy[o·dy_stride + q] · x[t·x_stride + q], and db[o] = Σ_q dy[o·dy_stride
 * + q] unless db is NULL — each row of x one tap's inputs at every output
 * position of a chunk of examples (no padding positions: every lane is an
 * output).  Rows hold nq rounded up to 16 floats, zeros past nq. */
void kiln_conv_weight_grad_rows(int outs, int taps, int nq, const float *dy, size_t dy_stride, const float *x,
                                size_t x_stride, float *dw, float *db);

/* ---- Examples in the lanes ----------------------------------------------
 * A block of up to 16 examples laid out with the example innermost: element
 * q of example j at [q·16 + j], so a vector holds one element of every
 * example and no lane is ever a padding position.  kiln_lanes_pack puts
 * count elements of m ≤ 16 examples (example j at src + j·stride) into
 * that layout, zeros in lanes m to 15; kiln_lanes_unpack writes (or, with
 * add, adds) them back. */
void kiln_lanes_pack(const float *src, size_t stride, int m, size_t count, float *dst);
void kiln_lanes_unpack(const float *src, size_t count, int m, float *dst, size_t stride, int add);
/* The same for planes × h × w per example, each plane laid out with a zero
 * border (ph rows, pw columns): element (p, r, c) of example j at
 * [((p·(h + 2ph) + r + ph)·(w + 2pw) + c + pw)·16 + j]; from floats, or
 * from bytes times scale. */
void kiln_lanes_pack_planes(const float *src, size_t stride, int m, int planes, int h, int w, int ph, int pw,
                            float *dst);
void kiln_lanes_pack_bytes(const uint8_t *src, size_t stride, int m, int planes, int h, int w, int ph, int pw,
                           float scale, float *dst);

/* A stride-1 convolution on blocks in the lanes: ins input channels of
 * h×w, outs output channels of oh×ow, padding ph×pw, the weight w as
 * conv2d stores it, (outs, ins, kh, kw). */
typedef struct {
    int          ins, outs, h, w, oh, ow, kh, kw, ph, pw;
    const float *weight;
    const float *bias;              /* forward: added first; NULL: none */
} kiln_lanes_conv;

/* y = b + x ⋆ W, in the lanes: y(o, r, c) = b(o) + Σ w(o, ci, u, v) ·
 * x(ci, r + u, c + v), x packed with its zero border
 * (kiln_lanes_pack_planes), y's outs·oh·ow·16 floats written.  Each output
 * summed over (ci, u, v) in that order after the bias. */
void kiln_conv_lanes(const kiln_lanes_conv *op, const float *x, float *y);

/* dx = dy ⋆ W's transpose, in the lanes: dx(ci, R, C) = Σ w(o, ci, u, v) ·
 * dy(o, r, c) over the (o, r, c, u, v) with R = r + u − ph, C = c + v − pw
 * inside dx.  Each dy element times a row of W is added onto dx where its
 * taps land (no multiply-add on padding); dx (ins·h·w·16 floats) is
 * written.  The sums' order is fixed by the shapes alone. */
void kiln_conv_grad_input_lanes(const kiln_lanes_conv *op, const float *dy, float *dx);

/* dW and db of a block in the lanes: dw(o, ci, u, v) = Σ over the lanes
 * and dy's positions (r, c) of dy(o, r, c) · x(ci, r + u, c + v), x packed
 * with its zero border (kiln_lanes_pack_planes), dw laid out as conv2d
 * stores W; db(o) = Σ dy(o, ·) unless db is NULL.  Every multiply-add is
 * at a real output; op->weight is not read.  Lanes past the block's
 * examples must hold zeros in dy. */
void kiln_conv_weight_grad_lanes(const kiln_lanes_conv *op, const float *x, const float *dy, float *dw, float *db);

/* This thread's working buffer number slot (0 to 3) of at least floats
 * floats, 64-byte aligned, kept between calls (its contents are not kept
 * when it grows).  Per thread number of the team, as kiln_gemm's packing. */
float *kiln_thread_buffer(int slot, size_t floats);

#include "expf.h"   /* kiln_expf: e^x for elementwise ops */

/* ---- Random numbers -----------------------------------------------------
 * xoshiro256** seeded through splitmix64: same seed, same stream, on every
 * machine and for every thread count (only one thread ever draws). */
typedef struct { uint64_t s[4]; } kiln_rng;
void     kiln_rng_seed(kiln_rng *r, uint64_t seed);
uint64_t kiln_rng_next(kiln_rng *r);
double   kiln_rng_uniform(kiln_rng *r);             /* [0, 1) */
double   kiln_rng_normal(kiln_rng *r);              /* N(0, 1) */
void     kiln_fill_normal(float *p, size_t n, double mean, double std, kiln_rng *r);
void     kiln_fill_uniform(float *p, size_t n, double lo, double hi, kiln_rng *r);
void     kiln_fill_constant(float *p, size_t n, float value);
void     kiln_shuffle(uint32_t *perm, size_t n, kiln_rng *r);  /* Fisher–Yates */

/* Dropout's mask, counter-based: whether element i of a layer's output is
 * kept at this step, with probability 1 − p (drop = p·2³², rounded).  A pure
 * function of (key, step, i): the backward pass recomputes the forward
 * mask instead of storing it, and any thread count draws the same mask. */
static inline int kiln_keep(uint64_t key, uint64_t step, uint64_t i, uint32_t drop)
{
    uint64_t z = key + step * 0x9E3779B97F4A7C15ull + i * 0xD1B54A32D192ED03ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z >> 32) >= drop;
}

/* ---- Data -----------------------------------------------------------------
 * An IDX file (optionally gzip-compressed, detected by its magic bytes, not
 * its name).  On failure these return -1 and write one line into err that
 * names the file and the problem; they never abort and never crash on a
 * truncated or corrupted file. */
typedef struct {
    int      rank;       /* 1 for labels, 3 for images */
    int      dims[4];    /* dims[0] = item count */
    uint8_t *data;       /* unsigned bytes, dims[0]*...*dims[rank-1] */
} kiln_idx;
int  kiln_idx_load(const char *path, kiln_idx *out, char *err, size_t errlen);
void kiln_idx_free(kiln_idx *x);

/* One split of a data set: count examples of sample_size values each, either
 * bytes with class labels (loaded from IDX files) or floats with float
 * targets (generated: kiln_synthetic).  kiln_dataset_load tries NAME and then
 * NAME.gz inside dir, checks that an image holds sample_size bytes, that both
 * files hold the same count and that every label is below classes. */
typedef struct {
    int      count;
    int      sample_size;   /* values per example: bytes, or floats for features */
    uint8_t *images;        /* count * sample_size */
    uint8_t *labels;        /* count */
    float   *features;      /* float data instead: count * sample_size */
    float   *targets;       /* count (one output) */
} kiln_dataset;
int  kiln_dataset_load(kiln_dataset *d, const char *dir, const char *images_name,
                       const char *labels_name, int sample_size, int classes,
                       char *err, size_t errlen);
void kiln_dataset_free(kiln_dataset *d);

/* One minibatch as the generated step functions see it: n ≤ batch rows,
 * either raw bytes (x, n × input_size, which the generated code scales as it
 * reads them) and their labels, or floats and their targets. */
typedef struct {
    int            n;
    const uint8_t *x;         /* byte data: n × input_size bytes */
    const uint8_t *labels;    /* ...and their classes */
    const float   *xf;        /* float data: n × input_size floats */
    const float   *targets;   /* ...and n × outputs float targets */
    /* Or, when from is set (the trainer's batches), rows idx[0..n) of from,
     * which each thread of the step copies for itself (kiln_fill_batch);
     * the four buffers above are then unused. */
    const kiln_dataset *from;
    const uint32_t     *idx;
    /* Data parallel (kiln build --mpi): the rows of the whole minibatch,
     * these n and the other ranks' together (0: just these n). */
    int            total;
} kiln_batch;

/* A minibatch as one thread of a training step reads it. */
typedef struct {
    const uint8_t *x, *labels;
    const float   *xf, *targets;
} kiln_rows;

/* The calling thread's rows of b: with b->from set, its own copy of rows
 * idx[0..n) of the data set, made now; else b's buffers as they are.  Every
 * thread of a team calls it and copies the whole batch, and none waits for
 * another: the products after it split their output by columns, so every
 * thread reads every row, and rows in its own cache cost less than rows
 * another core wrote.  The copies are kept per thread number (at most
 * KILN_MAX_THREADS), so a thread's rows stay valid until it calls this
 * again. */
enum { KILN_MAX_THREADS = 256 };
kiln_rows kiln_fill_batch(const kiln_batch *b);

/* Gather rows idx[0..n) of d into x and labels (bytes, unscaled). */
void kiln_gather(const kiln_dataset *d, const uint32_t *idx, int n,
                 uint8_t *x, uint8_t *labels);

/* Synthetic regression data (the book's linear-regression chapter): count
 * examples of y = X·w + b + noise, X ~ N(0, 1), noise ~ N(0, noise²), drawn
 * from r row by row: a row's dims features, then its noise.  The generated
 * trainer holds w, as many weights as the spec gave. */
typedef struct {
    int           dims;     /* features per example, the length of w; 0: the
                             * model reads a data set from files */
    const double *w;        /* dims true weights (an array of the trainer's) */
    double        b, noise;
    int           train, test;   /* examples in each split */
} kiln_synthetic;
void kiln_synthetic_make(kiln_dataset *d, const kiln_synthetic *s, int count, kiln_rng *r);
void kiln_gather_float(const kiln_dataset *d, const uint32_t *idx, int n, float *x, float *targets);

/* ---- The model a generated file describes -------------------------------- */
typedef struct {
    const char *name;       /* C-safe name, e.g. "linear1.weight" */
    int         rank;
    int         dims[4];
    size_t      size;       /* product of dims */
    float      *data;       /* points into the model's parameter block */
    int         nonnegative;  /* 1: no value is below 0 (Adam's v, a mean of squares):
                               * a checkpoint holding one is refused */
} kiln_tensor;

/* ---- Learning-rate schedules (schedule.c) ----------------------------------
 * The rate of epoch `epoch` (from 1) under schedule s with base rate lr (the
 * spec's, or --lr's), as PyTorch's schedulers give it when stepped once an
 * epoch (t = epoch − 1):
 *   constant  lr
 *   step      lr · gamma^⌊t / every⌋                                  (StepLR)
 *   cosine    t < warmup: lr · (t + 1) / (warmup + 1)                 (LinearLR)
 *             after: min_lr + (lr − min_lr)(1 + cos(π (t − warmup) / (epochs − warmup))) / 2
 *                                                   (CosineAnnealingLR; past `epochs` it rises
 *                                                    again, as PyTorch's does) */
typedef enum { KILN_LR_CONSTANT, KILN_LR_STEP, KILN_LR_COSINE } kiln_lr_kind;
typedef struct {
    kiln_lr_kind kind;
    double lr;                    /* the spec's base rate */
    int    every;                 /* step */
    double gamma;
    int    epochs, warmup;        /* cosine */
    double min_lr;
} kiln_schedule;
double kiln_lr_at(const kiln_schedule *s, double lr, long epoch);

/* ---- Data parallel training (kiln build --mpi) -----------------------------
 * A trainer built with --mpi is one of several processes (ranks) started
 * by mpirun; each trains on its own rows of every minibatch, and their
 * gradients are summed before each update, so that all hold the same
 * parameters.  What the trainer needs of the message library, here Open
 * MPI's (runtime/mpi/, libkiln_mpi.a); a single-process trainer has none
 * (kiln_model.dist is NULL) and no MPI dependency. */
typedef struct {
    /* MPI_Init: this process's rank and the number of ranks; 0 on success.
     * stopping: the trainer's signal flag; a wait that sees it set and
     * hears nothing from some rank names it as dead and ends the process */
    int  (*start)(int *argc, char ***argv, int *rank, int *size, const volatile sig_atomic_t *stopping);
    void (*finish)(void);
    /* v[0..n) summed over the ranks, in rank order: the same bits on every rank */
    void (*sum)(double *v, int n);
    /* the bytes at p, rank 0's copied to every rank */
    void (*broadcast)(void *p, size_t bytes);
    /* the lowest rank whose bytes at p differ from rank 0's, or -1 */
    int  (*first_different)(const void *p, size_t bytes);
    /* end every rank's run with status code (after a message of this rank's) */
    void (*abort)(int code);
    /* seconds this rank has spent waiting for the others' gradients so far */
    double (*waited)(void);
} kiln_dist;

typedef struct {
    const char *name;             /* the spec's model name */
    const char *file_name;        /* the name made safe for file names ([A-Za-z0-9_]),
                                   * as kiln names its outputs; NULL: "model" */
    const char *spec;             /* path of the spec it was compiled from */
    int         input_size;       /* features per example */
    int         classes;          /* 0: regression (mse), outputs compared with targets */
    int         batch;            /* the batch size the code is specialized to */
    int         epochs;           /* default for --epochs */
    uint64_t    seed;             /* default for --seed */
    const char *data_dir;         /* default for --data */
    const char *train_images, *train_labels, *test_images, *test_labels;
    kiln_synthetic     synthetic; /* generated data instead of files, when dims > 0 */
    int                ntensors;  /* trainable tensors, in a fixed order */
    const kiln_tensor *tensors;
    int                nstate;    /* optimizer state (momentum, Adam's m and v), */
    const kiln_tensor *state;     /* saved in checkpoints after the tensors */
    uint64_t          *steps;     /* optimizer steps taken (Adam's t, dropout's
                                   * stream); saved in checkpoints */
    double            *learning_rate;  /* what the optimizer reads; the trainer sets it */
    kiln_schedule      schedule;  /* ... before each epoch, from this */
    uint64_t          *dropout_key;  /* the seed of dropout's masks, or NULL; saved */
    const char *const *class_names;  /* the classes' names for --predict, or NULL */
    /* Draw initial parameters (spec's inits) from rng. */
    void  (*init)(kiln_rng *rng);
    /* One optimizer step on b; returns the batch-mean loss, adds the number
     * of correctly classified rows to *correct. */
    float (*train_step)(const kiln_batch *b, int *correct);
    /* Forward only (dropout off); returns the batch-mean loss, adds correct rows. */
    float (*eval_batch)(const kiln_batch *b, int *correct);
    /* Forward only: the model's output for each row, as probabilities over
     * the classes (n × classes floats into out). */
    void  (*predict)(const kiln_batch *b, float *out);
    /* After the epochs of a training run, when set: the model's own lines on
     * stdout (the compiler emits one where the spec makes it meaningful,
     * e.g. learned weights beside the true ones of synthetic data).  NULL:
     * nothing. */
    void  (*report)(void);
    int                nparts;    /* a training step's parts, for --profile: */
    const char *const *parts;     /* the minibatch copy, then each kernel's name */
    size_t      arena_bytes;      /* activations and gradients, all in one block */
    const kiln_dist *dist;        /* data parallel (kiln build --mpi), or NULL */
    const char *plan;             /* the memory plan as text, for --verbose */
} kiln_model;

/* ---- Checkpoints -----------------------------------------------------------
 * Binary, little-endian: "KILNCKPT", u32 version (4), model name, tensor
 * count, then per tensor (the model's tensors, then its optimizer state) its
 * name, rank, dims and float32 data; the u64 step count and dropout key;
 * where the run stands and what it trains on (kiln_progress); a CRC-32 of
 * all preceding bytes ends the file.
 *
 * Saving is atomic (FILE.tmp beside FILE, fsync, rename) and only ever
 * replaces a checkpoint (or an empty file): a target that is a device,
 * FIFO, directory or socket, or a file that does not start with the magic,
 * is refused; a symbolic link is followed, so the file it points to is
 * replaced and the link stays.  FILE.tmp is reused by the next save to
 * the same FILE (a save killed midway leaves one temporary, never a pile),
 * under a lock so that two savers never write it at once.
 *
 * A checkpoint is untrusted input even when its CRC is right (anyone can
 * recompute it).  Loading checks the structure, checksum, every tensor's
 * name and shape against the model, that every float is finite and the
 * step count plausible; kiln_checkpoint_check_run then checks, before a
 * resume, every field that steers the run against the model and the data.
 * Anything refused leaves the model untouched, with one line in err. */

/* Where a training run stands, so that --resume continues it exactly, and
 * what it trains on, so that a resume on other data or another batch size
 * is refused. */
typedef struct {
    uint32_t epoch;       /* the epoch in progress, from 1 (0: nothing recorded) */
    uint32_t step;        /* its minibatches already done */
    uint64_t rng[4];      /* the trainer's RNG as it was before this epoch's shuffle */
    double   loss_sum;    /* this epoch so far: the sum of the per-example losses */
    uint64_t correct;     /* ... and the correctly classified rows */
    uint64_t seed;        /* the run's --seed */
    uint32_t train_count; /* examples in its training set */
    uint32_t batch;       /* the batch size it was trained with */
    uint32_t data_crc;    /* kiln_dataset_crc of its training set */
    double   lr;          /* the base learning rate it trains with (the spec's or --lr);
                           * 0: not recorded (a checkpoint of format 6) */
} kiln_progress;

/* The most epochs a trainer runs (--epochs); a checkpoint's epoch is at most
 * one more (the run saved after its last epoch). */
enum { KILN_MAX_EPOCHS = 1000000000 };
/* Optimizer steps above this are refused in a checkpoint: Adam's step t is a
 * double, exact up to 2⁵³. */
#define KILN_MAX_STEPS (UINT64_C(1) << 53)

int kiln_checkpoint_save(const kiln_model *m, const char *path, char *err, size_t errlen);
int kiln_checkpoint_load(const kiln_model *m, const char *path, char *err, size_t errlen);
/* The same, with the run's progress (NULL: none / not wanted). */
int kiln_checkpoint_save_run(const kiln_model *m, const char *path, const kiln_progress *p,
                             char *err, size_t errlen);
int kiln_checkpoint_load_run(const kiln_model *m, const char *path, kiln_progress *p,
                             char *err, size_t errlen);
/* Before the first epoch: whether a checkpoint could be saved to path (the
 * target is a regular file, a link to one, or absent; its directory takes
 * the temporary file).  0, or -1 with one line in err; writes nothing. */
int kiln_checkpoint_check_target(const char *path, char *err, size_t errlen);
/* Whether the run p, loaded from path, can be resumed by model m on a
 * training set of count examples whose kiln_dataset_crc is crc: the same
 * data and batch size, an epoch and step inside the run, an RNG state
 * xoshiro can have, sums and counters the steps done can give.  0, or -1
 * with one line in err naming the field. */
int kiln_checkpoint_check_run(const kiln_model *m, const char *path, const kiln_progress *p,
                              int count, uint32_t crc, char *err, size_t errlen);
/* A data set's identity for checkpoints: CRC-32 of its examples, then its
 * labels or targets. */
uint32_t kiln_dataset_crc(const kiln_dataset *d);
/* --classify: a grayscale image from a PNG (8-bit gray) or binary PGM file
 * (image.c), its pixels as stored, row by row.  Returns 0, or 1 with a
 * one-line message in err. */
typedef struct { int w, h; uint8_t *pixels; } kiln_image;
int kiln_image_load(const char *path, kiln_image *img, char *err, size_t errlen);

/* --save-npz: the trainable tensors and the model's state (batch norm's
 * running statistics) as a NumPy .npz archive at path (npz.c).  Returns 0,
 * or 1 with a one-line message in err. */
int kiln_npz_save(const kiln_model *m, const char *path, char *err, size_t errlen);

/* Whether every float of the model's tensors and optimizer state is
 * finite; if not, *bad names the first tensor that is not. */
int kiln_model_finite(const kiln_model *m, const char **bad);

/* ---- The trainer -----------------------------------------------------------
 * Parses the trainer's flags, loads the data, trains for the given epochs
 * printing "epoch N, loss X, train acc X, test acc X" (for regression,
 * "epoch N, loss X, test loss X"), runs the model's report if it has one,
 * saves if asked.  Returns the process exit status. */
int kiln_main(int argc, char **argv, const kiln_model *m);

#endif
