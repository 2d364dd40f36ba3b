/* kiln_rt.h — the contract between the C that kiln emits and kiln's runtime.
 *
 * Every trainer kiln emits is one generated C file plus this runtime:
 * GEMM, seeded RNG, IDX/gzip data loading, checkpoints and the trainer's
 * command line.  The generated file describes its model in a kiln_model and
 * hands it to kiln_main(); everything generic lives here, once.
 */
#ifndef KILN_RT_H
#define KILN_RT_H

#include <stddef.h>
#include <stdint.h>

/* ---- GEMM ---------------------------------------------------------------
 * C = alpha * op(A) * op(B) + beta * C, all row-major, op(X) = X or Xᵀ.
 * op(A) is m×k, op(B) is k×n, C is m×n.  Every matrix product of a trainer
 * goes through this one entry point.  Results are bitwise identical for any
 * OpenMP thread count: each element of C is summed over k in a fixed order.
 * beta == 0 means C is written without being read (it may hold NaNs). */
enum { KILN_NOTRANS = 0, KILN_TRANS = 1 };
void kiln_sgemm(int transa, int transb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc);

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

/* One split of a classification set: images as uint8 rows, labels < classes.
 * The loader tries NAME and then NAME.gz inside dir, checks that the image
 * size equals sample_size, that both files hold the same count and that every
 * label is below classes. */
typedef struct {
    int      count;
    int      sample_size;   /* bytes per image */
    uint8_t *images;        /* count * sample_size */
    uint8_t *labels;        /* count */
} kiln_dataset;
int  kiln_dataset_load(kiln_dataset *d, const char *dir, const char *images_name,
                       const char *labels_name, int sample_size, int classes,
                       char *err, size_t errlen);
void kiln_dataset_free(kiln_dataset *d);

/* One minibatch as the generated step functions see it: n ≤ batch rows of
 * features already scaled to [0, 1] (x, n × input_size floats) and labels. */
typedef struct {
    int            n;
    const float   *x;
    const uint8_t *labels;
} kiln_batch;

/* Gather rows idx[0..n) of d into x (scaled by 1/255) and labels. */
void kiln_gather(const kiln_dataset *d, const uint32_t *idx, int n,
                 float *x, uint8_t *labels);

/* ---- The model a generated file describes -------------------------------- */
typedef struct {
    const char *name;       /* C-safe name, e.g. "linear1.weight" */
    int         rank;
    int         dims[4];
    size_t      size;       /* product of dims */
    float      *data;       /* points into the model's parameter block */
} kiln_tensor;

typedef struct {
    const char *name;             /* the spec's model name */
    const char *spec;             /* path of the spec it was compiled from */
    int         input_size;       /* features per example */
    int         classes;
    int         batch;            /* the batch size the code is specialized to */
    int         epochs;           /* default for --epochs */
    uint64_t    seed;             /* default for --seed */
    const char *data_dir;         /* default for --data */
    const char *train_images, *train_labels, *test_images, *test_labels;
    int                ntensors;  /* trainable tensors, in a fixed order */
    const kiln_tensor *tensors;
    /* Draw initial parameters (spec's inits) from rng. */
    void  (*init)(kiln_rng *rng);
    /* One optimizer step on b; returns the batch-mean loss, adds the number
     * of correctly classified rows to *correct. */
    float (*train_step)(const kiln_batch *b, int *correct);
    /* Forward only; returns the batch-mean loss, adds correct rows. */
    float (*eval_batch)(const kiln_batch *b, int *correct);
} kiln_model;

/* ---- Checkpoints -----------------------------------------------------------
 * Binary, little-endian: "KILNCKPT", u32 version, model name, tensor count,
 * then per tensor its name, rank, dims and float32 data; a CRC-32 of all
 * preceding bytes ends the file.  Loading checks name, shapes and checksum
 * and refuses a mismatch naming the first tensor that differs. */
int kiln_checkpoint_save(const kiln_model *m, const char *path, char *err, size_t errlen);
int kiln_checkpoint_load(const kiln_model *m, const char *path, char *err, size_t errlen);

/* ---- The trainer -----------------------------------------------------------
 * Parses the trainer's flags, loads the data, trains for the given epochs
 * printing "epoch N, loss X, train acc X, test acc X", saves if asked.
 * Returns the process exit status. */
int kiln_main(int argc, char **argv, const kiln_model *m);

#endif
