/* test_data.c — IDX/gzip loading: the real Fashion-MNIST files (SKIP when
 * the dataset is not installed), then deliberately broken copies made in a
 * temporary directory, each of which must be refused with a one-line message
 * naming the file, never a crash; and the generated regression data
 * (kiln_synthetic_make).  Prints PASS/FAIL/SKIP lines. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"
static int failures;

static void pass(const char *name) { printf("PASS %s\n", name); }
static void failf(const char *name, const char *why, const char *detail)
{
    printf("FAIL %s: %s%s%s\n", name, why, detail ? ": " : "", detail ? detail : "");
    failures++;
}

/* ---- Helpers that make test files ------------------------------------------------ */

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_raw(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    if (!f || (n && gzwrite(f, data, (unsigned)n) != (int)n)) { perror(path); exit(1); }
    gzclose(f);
}

static uint8_t *read_raw(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n);
    if (fread(p, 1, *n, f) != *n) { perror(path); exit(1); }
    fclose(f);
    return p;
}

/* An IDX byte image: header for the given dims, then items filled by fill. */
static uint8_t *idx_bytes(int type, int rank, const int *dims, size_t *n, uint8_t fill)
{
    size_t items = 1;
    for (int i = 0; i < rank; i++) items *= (size_t)dims[i];
    *n = 4 + 4 * (size_t)rank + items;
    uint8_t *p = calloc(*n, 1);
    p[2] = (uint8_t)type;
    p[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++) {
        p[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        p[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        p[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        p[7 + 4 * i] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < items; i++) p[4 + 4 * (size_t)rank + i] = (uint8_t)(fill + i % 3);
    return p;
}

/* A small valid set in tmpdir: NAME-images (count × 2 × 3) and NAME-labels. */
static void make_set(const char *prefix, int count, int rows, int cols, int label_count,
                     uint8_t label_fill, int gz)
{
    char name[128];
    size_t n;
    int idims[3] = {count, rows, cols}, ldims[1] = {label_count};
    uint8_t *im = idx_bytes(8, 3, idims, &n, 7);
    snprintf(name, sizeof name, "%s-images%s", prefix, gz ? ".gz" : "");
    (gz ? write_gz : write_raw)(tmp(name), im, n);
    free(im);
    uint8_t *lb = idx_bytes(8, 1, ldims, &n, label_fill);
    snprintf(name, sizeof name, "%s-labels%s", prefix, gz ? ".gz" : "");
    (gz ? write_gz : write_raw)(tmp(name), lb, n);
    free(lb);
}

/* ---- Expectations ------------------------------------------------------------------ */

/* kiln_idx_load(path) must fail with a message naming base and holding word. */
static void expect_idx_error(const char *name, const char *path, const char *word)
{
    kiln_idx x;
    char err[512] = "";
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (kiln_idx_load(path, &x, err, sizeof err) == 0) {
        failf(name, "loaded a broken file", path);
        kiln_idx_free(&x);
    } else if (!strstr(err, base)) {
        failf(name, "message does not name the file", err);
    } else if (word && !strstr(err, word)) {
        failf(name, "message lacks the expected word", err);
    } else if (strchr(err, '\n')) {
        failf(name, "message is more than one line", err);
    } else {
        printf("PASS %s (%s)\n", name, err);
    }
}

static void expect_set_error(const char *name, const char *prefix, int sample_size,
                             int classes, const char *file, const char *word)
{
    kiln_dataset d;
    char err[512] = "", in[128], ln[128];
    snprintf(in, sizeof in, "%s-images", prefix);
    snprintf(ln, sizeof ln, "%s-labels", prefix);
    if (kiln_dataset_load(&d, tmpdir, in, ln, sample_size, classes, err, sizeof err) == 0) {
        failf(name, "loaded a broken set", prefix);
        kiln_dataset_free(&d);
    } else if (!strstr(err, file)) {
        failf(name, "message does not name the file", err);
    } else if (word && !strstr(err, word)) {
        failf(name, "message lacks the expected word", err);
    } else {
        printf("PASS %s (%s)\n", name, err);
    }
}

/* ---- The real dataset ----------------------------------------------------------------- */

static void real_split(const char *name, const char *images, const char *labels,
                       int count, const uint8_t first[10])
{
    kiln_dataset d;
    char err[512];
    if (kiln_dataset_load(&d, FMNIST, images, labels, 784, 10, err, sizeof err) != 0) {
        failf(name, "cannot load", err);
        return;
    }
    if (d.count != count || d.sample_size != 784) {
        char why[100];
        snprintf(why, sizeof why, "count %d, sample size %d", d.count, d.sample_size);
        failf(name, "wrong shape", why);
    } else if (memcmp(d.labels, first, 10) != 0) {
        failf(name, "first ten labels differ", NULL);
    } else {
        /* gather two rows in the given order, bytes unchanged */
        uint32_t idx[2] = {1, 0};
        uint8_t *x = malloc(2 * 784);
        uint8_t lab[2];
        kiln_gather(&d, idx, 2, x, lab);
        int ok = lab[0] == d.labels[1] && lab[1] == d.labels[0];
        for (int j = 0; j < 784; j++)
            ok = ok && x[j] == d.images[784 + j] && x[784 + j] == d.images[j];
        if (ok) pass(name); else failf(name, "kiln_gather mismatch", NULL);
        free(x);
    }
    kiln_dataset_free(&d);
}

static void real_data(void)
{
    struct stat st;
    if (stat(FMNIST, &st) != 0) {
        printf("SKIP data_fashion_mnist_train: %s not installed\n", FMNIST);
        printf("SKIP data_fashion_mnist_test: %s not installed\n", FMNIST);
        printf("SKIP data_gzip_corruptions: %s not installed\n", FMNIST);
        return;
    }
    static const uint8_t train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const uint8_t test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    real_split("data_fashion_mnist_train", "train-images-idx3-ubyte",
               "train-labels-idx1-ubyte", 60000, train_first);
    real_split("data_fashion_mnist_test", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte", 10000, test_first);

    /* Broken copies of the real (gzipped) test labels. */
    size_t n;
    uint8_t *gz = read_raw(FMNIST "/t10k-labels-idx1-ubyte.gz", &n);
    write_raw(tmp("cut-labels.gz"), gz, n / 2);
    expect_idx_error("data_truncated_gzip", tmp("cut-labels.gz"), "truncated");
    uint8_t *bad = malloc(n);
    memcpy(bad, gz, n);
    bad[n / 2] ^= 0x5a;            /* inside the deflate body */
    write_raw(tmp("flipped-labels.gz"), bad, n);
    expect_idx_error("data_flipped_byte_gzip", tmp("flipped-labels.gz"), "corrupt");
    memcpy(bad, gz, n);
    bad[n - 6] ^= 0x01;            /* inside the stored CRC-32 */
    write_raw(tmp("badcrc-labels.gz"), bad, n);
    expect_idx_error("data_bad_crc_gzip", tmp("badcrc-labels.gz"), "corrupt");
    free(bad);
    free(gz);

    /* An uncompressed copy of the real test set must load, from NAME itself. */
    kiln_idx im;
    char err[512];
    if (kiln_idx_load(FMNIST "/t10k-images-idx3-ubyte.gz", &im, err, sizeof err) != 0) {
        failf("data_uncompressed_copy", "cannot read the original", err);
        return;
    }
    uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0x27, 0x10, 0, 0, 0, 28, 0, 0, 0, 28};
    size_t body = (size_t)10000 * 784;
    uint8_t *raw = malloc(16 + body);
    memcpy(raw, hdr, 16);
    memcpy(raw + 16, im.data, body);
    write_raw(tmp("plain-images"), raw, 16 + body);
    kiln_idx back;
    if (kiln_idx_load(tmp("plain-images"), &back, err, sizeof err) != 0)
        failf("data_uncompressed_copy", "refused", err);
    else if (back.rank != 3 || back.dims[0] != 10000 || memcmp(back.data, im.data, body) != 0)
        failf("data_uncompressed_copy", "contents differ", NULL);
    else
        pass("data_uncompressed_copy");
    if (back.data) kiln_idx_free(&back);
    kiln_idx_free(&im);
    free(raw);
}

/* ---- Synthetic broken files ------------------------------------------------------------ */

static void synthetic(void)
{
    size_t n;
    int dims3[3] = {4, 2, 3};
    uint8_t *p = idx_bytes(8, 3, dims3, &n, 0);

    p[0] = 0x1f;
    write_raw(tmp("magic-images"), p, n);
    expect_idx_error("data_wrong_magic", tmp("magic-images"), "not an IDX file");
    p[0] = 0;
    p[2] = 0x0d;                       /* float IDX */
    write_gz(tmp("type-images.gz"), p, n);
    expect_idx_error("data_wrong_type_byte", tmp("type-images.gz"), "0x0d");
    p[2] = 8;
    p[3] = 0;
    write_raw(tmp("rank0-images"), p, n);
    expect_idx_error("data_rank_0", tmp("rank0-images"), "rank");
    p[3] = 5;
    write_raw(tmp("rank5-images"), p, n);
    expect_idx_error("data_rank_5", tmp("rank5-images"), "rank");
    p[3] = 3;
    write_raw(tmp("short-images"), p, n - 5);
    expect_idx_error("data_truncated_plain", tmp("short-images"), "expected 24 bytes of images, got 19");
    write_raw(tmp("header-images"), p, 9);
    expect_idx_error("data_truncated_header", tmp("header-images"), "truncated");
    write_raw(tmp("tiny-images"), p, 2);
    expect_idx_error("data_two_byte_file", tmp("tiny-images"), "truncated");
    write_raw(tmp("empty-images"), p, 0);
    expect_idx_error("data_empty_file", tmp("empty-images"), "truncated");
    uint8_t *longer = calloc(n + 3, 1);
    memcpy(longer, p, n);
    write_raw(tmp("long-images"), longer, n + 3);
    expect_idx_error("data_extra_bytes", tmp("long-images"), "more data");
    free(longer);
    p[4] = p[5] = p[6] = p[7] = 0xff;  /* 4294967295 items */
    write_raw(tmp("huge-images"), p, n);
    expect_idx_error("data_absurd_dims", tmp("huge-images"), "too large");
    p[4] = 0x00; p[5] = 0x01; p[6] = 0x00; p[7] = 0x00;   /* 65536 × 65536 × 3: overflow guard */
    p[8] = 0x00; p[9] = 0x01; p[10] = 0x00; p[11] = 0x00;
    write_raw(tmp("product-images"), p, n);
    expect_idx_error("data_dims_product_too_large", tmp("product-images"), "too large");
    free(p);

    expect_idx_error("data_missing_file", tmp("no-such-images"), "No such file");
    mkdir(tmp("dir-images"), 0700);
    expect_idx_error("data_directory_as_file", tmp("dir-images"), "directory");

    /* Whole-set checks through kiln_dataset_load. */
    make_set("good", 4, 2, 3, 4, 0, 1);
    kiln_dataset d;
    char err[512];
    if (kiln_dataset_load(&d, tmpdir, "good-images", "good-labels", 6, 3, err, sizeof err) != 0)
        failf("data_small_set_gz", "refused", err);
    else {
        if (d.count == 4 && d.sample_size == 6 && d.labels[1] == 1) pass("data_small_set_gz");
        else failf("data_small_set_gz", "wrong contents", NULL);
        kiln_dataset_free(&d);
    }
    make_set("count", 4, 2, 3, 3, 0, 1);
    expect_set_error("data_count_mismatch", "count", 6, 10, "count-labels", "3 labels");
    make_set("label", 4, 2, 3, 4, 8, 0);
    expect_set_error("data_label_too_large", "label", 6, 10, "label-labels", "10 classes");
    make_set("size", 4, 2, 3, 4, 0, 0);
    expect_set_error("data_image_size_mismatch", "size", 100, 10, "size-images",
                     "input takes 100 values");
    expect_set_error("data_set_missing_file", "absent", 6, 10, "absent-images", "not found");
    kiln_dataset nod;
    char nerr[512] = "";
    int nrc = kiln_dataset_load(&nod, "/nonexistent-kiln-dir", "x-images", "x-labels", 6, 10,
                                nerr, sizeof nerr);
    if (nrc != 0 && strstr(nerr, "/nonexistent-kiln-dir/x-images"))
        printf("PASS data_set_missing_dir (%s)\n", nerr);
    else
        failf("data_set_missing_dir", "message does not name the file", nerr);
    mkdir(tmp("dirset-images"), 0700);
    expect_set_error("data_set_directory_as_file", "dirset", 6, 10, "dirset-images", "directory");
    size_t ln;
    int ldims[1] = {4};
    uint8_t *lb = idx_bytes(8, 1, ldims, &ln, 0);
    write_raw(tmp("rank-images"), lb, ln);       /* labels where images belong */
    write_raw(tmp("rank-labels"), lb, ln);
    expect_set_error("data_images_wrong_rank", "rank", 6, 10, "rank-images", "rank 3");
    free(lb);
}

/* ---- Generated regression data ----------------------------------------------------- */

/* kiln_synthetic_make with more weights than the compiler takes today (16):
 * the runtime has no cap of its own, and the RNG is drawn in the order
 * kiln_rt.h states (a row's features, then its noise), so a seed's data
 * stay the same. */
static void generated_regression(void)
{
    enum { DIMS = 40, COUNT = 9 };
    double w[DIMS];
    for (int j = 0; j < DIMS; j++) w[j] = 0.25 * j - 2;
    const kiln_synthetic s = { .dims = DIMS, .w = w, .b = 4.2, .noise = 0.01, .train = COUNT, .test = 1 };
    kiln_rng r, ref;
    kiln_rng_seed(&r, 42);
    kiln_rng_seed(&ref, 42);
    kiln_dataset d;
    kiln_synthetic_make(&d, &s, COUNT, &r);
    int bad = d.count != COUNT || d.sample_size != DIMS || d.images || d.labels;
    for (int i = 0; i < COUNT && !bad; i++) {
        double y = s.b;
        for (int j = 0; j < DIMS; j++) {
            double x = kiln_rng_normal(&ref);
            bad |= d.features[i * DIMS + j] != (float)x;
            y += x * w[j];
        }
        bad |= d.targets[i] != (float)(y + s.noise * kiln_rng_normal(&ref));
    }
    bad |= memcmp(r.s, ref.s, sizeof r.s) != 0;   /* not one draw more or fewer */
    if (bad) failf("data_synthetic_40_weights", "features, targets or draws differ from y = X·w + b + noise", NULL);
    else pass("data_synthetic_40_weights");
    kiln_dataset_free(&d);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "test_data: could not remove %s\n", tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    real_data();
    synthetic();
    generated_regression();
    cleanup();
    return failures ? 1 : 0;
}
