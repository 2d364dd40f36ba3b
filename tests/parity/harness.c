/* harness.c — the kiln side of the PyTorch parity test (tests/t_parity.sh,
 * tests/parity/torch_parity.py), in the manner of llm.c's test_gpt2.c.
 *
 * Built once per case with the generated trainer included
 * (-DMODEL_C='"path.c"', -DKILN_NO_MAIN).  Usage: harness NAME OUTDIR [DATA]
 *
 *   1. model.init with a fixed seed; the initial parameters are written out;
 *   2. three fixed minibatches are taken from DATA's test split (real
 *      Fashion-MNIST bytes: many exact zeros, as in training) — or, when it
 *      cannot be loaded, from seeded random bytes, which the manifest says —
 *      rows [0, B), [B, 2B) and a partial batch of 3B/8 rows after them
 *      (n < batch: the 1/n of the mean loss must be n, not the batch size);
 *   3. model.train_step on each, writing after every step the batch-mean loss
 *      it returned and every parameter tensor (and batch norm's running
 *      statistics); then, in evaluation, the model's output for the first
 *      batch (eval.probs, when there is data).
 *
 * Every array goes to OUTDIR/<name>.bin as raw little-endian float32 (f32)
 * or bytes (u8), listed in OUTDIR/manifest.txt, one line each:
 *     tensor <name> <f32|u8> <dims...>
 * after a few header lines (model, batch, input, classes, data, steps).
 * Tensor shapes are kiln's: a linear weight is (in, out), the transpose of
 * PyTorch's nn.Linear.weight.  The loss is a rank-0 f32 ("stepN.loss"). */
#define KILN_NO_MAIN
#include MODEL_C

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 3 };
#define SEED 20240531u

static const char *outdir;
static FILE *manifest;

static int write_array(const char *name, const char *dtype, int rank, const int *dims,
                       const void *data, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) {
        printf("FAIL parity/harness: cannot write %s\n", path);
        return -1;
    }
    fprintf(manifest, "tensor %s %s", name, dtype);
    for (int i = 0; i < rank; i++) fprintf(manifest, " %d", dims[i]);
    fputc('\n', manifest);
    return 0;
}

/* Every parameter, and the model state PyTorch keeps as buffers (batch
 * norm's running statistics; not the optimizer's state). */
static int write_params(const kiln_model *m, const char *prefix)
{
    char name[256];
    for (int t = 0; t < m->ntensors + m->nstate; t++) {
        const kiln_tensor *x = t < m->ntensors ? &m->tensors[t] : &m->state[t - m->ntensors];
        if (t >= m->ntensors && !strstr(x->name, ".running_")) continue;
        snprintf(name, sizeof name, "%s.%s", prefix, x->name);
        if (write_array(name, "f32", x->rank, x->dims, x->data, x->size * sizeof(float))) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const kiln_model *m = &model;
    const char *name = argc > 1 ? argv[1] : "model";
    if (argc < 3) {
        fprintf(stderr, "usage: harness NAME OUTDIR [DATA_DIR]\n");
        return 2;
    }
    outdir = argv[2];
    const char *datadir = argc > 3 ? argv[3] : m->data_dir;
    const uint32_t one = 1;
    if (*(const uint8_t *)&one != 1) {   /* the files are little-endian by contract */
        printf("SKIP parity/%s: big-endian host\n", name);
        return 0;
    }
    if (m->classes <= 0 || !m->train_images) {
        printf("FAIL parity/%s: the harness handles image classifiers only\n", name);
        return 1;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.txt", outdir);
    manifest = fopen(path, "w");
    if (!manifest) {
        printf("FAIL parity/%s: cannot write %s\n", name, path);
        return 1;
    }

    const int B = m->batch, in = m->input_size;
    const int rows[STEPS] = { B, B, B * 3 / 8 > 0 ? B * 3 / 8 : 1 };
    kiln_dataset d;
    memset(&d, 0, sizeof d);
    char err[512];
    int have_data = datadir && kiln_dataset_load(&d, datadir, m->test_images, m->test_labels,
                                                  in, m->classes, err, sizeof err) == 0;

    fprintf(manifest, "model %s\nbatch %d\ninput %d\nclasses %d\nsteps %d\nseed %u\n", m->name, B, in,
            m->classes, STEPS, SEED);
    if (have_data) fprintf(manifest, "data %s/%s\n", datadir, m->test_images);
    else fprintf(manifest, "data random bytes (%s)\n", datadir ? err : "no data directory");

    kiln_rng rng;
    kiln_rng_seed(&rng, SEED);
    m->init(&rng);
    int bad = write_params(m, "step0");

    uint8_t *x = malloc((size_t)B * in), *labels = malloc((size_t)B);
    uint32_t *idx = malloc((size_t)B * sizeof *idx);
    if (!x || !labels || !idx) {
        printf("FAIL parity/%s: out of memory\n", name);
        return 1;
    }
    int next = 0;
    for (int s = 1; s <= STEPS && !bad; s++) {
        const int n = rows[s - 1];
        if (have_data) {
            for (int r = 0; r < n; r++) idx[r] = (uint32_t)((next + r) % d.count);
            kiln_gather(&d, idx, n, x, labels);
        } else {
            for (size_t i = 0; i < (size_t)n * in; i++) x[i] = (uint8_t)(kiln_rng_next(&rng) >> 56);
            for (int r = 0; r < n; r++) labels[r] = (uint8_t)(kiln_rng_next(&rng) % (uint64_t)m->classes);
        }
        next += n;
        char nm[64];
        int xd[2] = { n, in };
        snprintf(nm, sizeof nm, "batch%d.x", s);
        bad |= write_array(nm, "u8", 2, xd, x, (size_t)n * in);
        snprintf(nm, sizeof nm, "batch%d.labels", s);
        bad |= write_array(nm, "u8", 1, xd, labels, (size_t)n);

        kiln_batch b;
        memset(&b, 0, sizeof b);
        b.n = n, b.x = x, b.labels = labels;
        int correct = 0;
        const float loss = m->train_step(&b, &correct);
        snprintf(nm, sizeof nm, "step%d.loss", s);
        bad |= write_array(nm, "f32", 0, NULL, &loss, sizeof loss);
        snprintf(nm, sizeof nm, "step%d", s);
        bad |= write_params(m, nm);
    }
    if (!bad && have_data) {   /* then the model's output in evaluation, on the first batch */
        kiln_batch b;
        memset(&b, 0, sizeof b);
        b.n = rows[0], b.x = x, b.labels = labels;
        for (int r = 0; r < b.n; r++) idx[r] = (uint32_t)(r % d.count);
        kiln_gather(&d, idx, b.n, x, labels);
        float *probs = malloc((size_t)b.n * m->classes * sizeof *probs);
        if (!probs) {
            printf("FAIL parity/%s: out of memory\n", name);
            return 1;
        }
        m->predict(&b, probs);
        int pd[2] = { b.n, m->classes };
        bad |= write_array("eval.probs", "f32", 2, pd, probs, (size_t)b.n * m->classes * sizeof *probs);
        free(probs);
    }
    if (!bad && *m->steps != STEPS) {
        printf("FAIL parity/%s: the model counted %llu steps, expected %d\n", name,
               (unsigned long long)*m->steps, STEPS);
        bad = 1;
    }
    if (fclose(manifest) != 0) bad = 1;
    free(x), free(labels), free(idx);
    if (have_data) kiln_dataset_free(&d);
    return bad ? 1 : 0;
}
