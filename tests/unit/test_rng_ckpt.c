/* test_rng_ckpt.c — the seeded RNG (known values, reproducibility, rough
 * distribution checks, shuffles) and checkpoints (bitwise round trip, refusal
 * of a wrong model, wrong shape, corrupted or truncated file).
 * Prints PASS/FAIL/SKIP lines. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

static void result(const char *name, int ok, const char *why)
{
    if (ok) printf("PASS %s\n", name);
    else { printf("FAIL %s: %s\n", name, why); failures++; }
}

/* ---- RNG ------------------------------------------------------------------------ */

static void rng_known_values(void)
{
    /* xoshiro256** after splitmix64 seeding, computed independently (Python
     * transcription of the reference algorithms): pins the stream forever. */
    kiln_rng r;
    kiln_rng_seed(&r, 0);
    int ok = kiln_rng_next(&r) == 0x99ec5f36cb75f2b4ULL &&
             kiln_rng_next(&r) == 0xbf6e1f784956452aULL &&
             kiln_rng_next(&r) == 0x1a5f849d4933e6e0ULL;
    kiln_rng_seed(&r, 42);
    ok = ok && kiln_rng_next(&r) == 0x15780b2e0c2ec716ULL;
    result("rng_known_values", ok, "stream differs from the reference xoshiro256**/splitmix64");
}

static void rng_same_seed(void)
{
    kiln_rng a, b, c;
    kiln_rng_seed(&a, 12345);
    kiln_rng_seed(&b, 12345);
    kiln_rng_seed(&c, 12346);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = kiln_rng_next(&a);
        same = same && x == kiln_rng_next(&b);
        differ += x != kiln_rng_next(&c);
    }
    result("rng_same_seed_same_stream", same, "two generators with one seed diverged");
    result("rng_other_seed_other_stream", differ > 990, "seeds 12345 and 12346 give similar streams");
}

/* Over n = 10⁶ draws the sample mean has standard error σ/√n and the sample
 * standard deviation about σ/√(2n); bounds of about 5 standard errors make a
 * false failure practically impossible for a fixed seed while still catching
 * a wrong scale, offset or a broken transform. */
static void rng_distributions(void)
{
    enum { N = 1000000 };
    kiln_rng r;
    kiln_rng_seed(&r, 7);
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < N; i++) {
        double u = kiln_rng_uniform(&r);
        s += u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    char why[160];
    snprintf(why, sizeof why, "mean %.5f, min %.3g, max %.9f", s / N, lo, hi);
    result("rng_uniform_range_and_mean", lo >= 0 && hi < 1 && fabs(s / N - 0.5) < 0.0015, why);

    s = s2 = 0;
    for (int i = 0; i < N; i++) {
        double x = kiln_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    double mean = s / N, sd = sqrt(s2 / N - mean * mean);
    snprintf(why, sizeof why, "mean %.5f (want 0 ± 0.005), std %.5f (want 1 ± 0.005)", mean, sd);
    result("rng_normal_mean_std", fabs(mean) < 0.005 && fabs(sd - 1) < 0.005, why);

    float buf[100000];
    kiln_fill_normal(buf, 100000, 3.0, 0.01, &r);
    s = s2 = 0;
    for (int i = 0; i < 100000; i++) { s += buf[i]; s2 += (buf[i] - 3.0) * (buf[i] - 3.0); }
    snprintf(why, sizeof why, "mean %.5f, std %.5f", s / 1e5, sqrt(s2 / 1e5));
    result("rng_fill_normal_mean_std",
           fabs(s / 1e5 - 3.0) < 0.0005 && fabs(sqrt(s2 / 1e5) - 0.01) < 0.0005, why);
    kiln_fill_uniform(buf, 100000, -2.0, 5.0, &r);
    int in = 1;
    for (int i = 0; i < 100000; i++) in = in && buf[i] >= -2.0f && buf[i] <= 5.0f;
    result("rng_fill_uniform_range", in, "a value fell outside [-2, 5]");
    kiln_fill_constant(buf, 3, 0.25f);
    result("rng_fill_constant", buf[0] == 0.25f && buf[2] == 0.25f, "values not set");
}

static void rng_shuffle(void)
{
    enum { N = 60000 };
    static uint32_t perm[N];
    static unsigned char seen[N];
    kiln_rng r;
    kiln_rng_seed(&r, 1);
    for (uint32_t i = 0; i < N; i++) perm[i] = i;
    kiln_shuffle(perm, N, &r);
    int ok = 1, fixed = 0;
    for (int i = 0; i < N; i++) {
        ok = ok && perm[i] < N && !seen[perm[i]];
        if (perm[i] < N) seen[perm[i]] = 1;
        fixed += perm[i] == (uint32_t)i;
    }
    result("rng_shuffle_is_permutation", ok, "an index is missing or repeated");
    result("rng_shuffle_moves_things", fixed < 20, "too many fixed points");

    /* All 6 orders of 3 items, 60000 shuffles: each count is 10000 ± ~91
     * (binomial sd); ± 600 is over 6 sd, still far below a biased shuffle's
     * typical distortion. */
    int count[6] = {0};
    for (int t = 0; t < 60000; t++) {
        uint32_t p[3] = {0, 1, 2};
        kiln_shuffle(p, 3, &r);
        count[p[0] * 2 + (p[1] > p[2])]++;
    }
    int fair = 1;
    for (int i = 0; i < 6; i++) fair = fair && abs(count[i] - 10000) < 600;
    char why[120];
    snprintf(why, sizeof why, "order counts %d %d %d %d %d %d", count[0], count[1], count[2],
             count[3], count[4], count[5]);
    result("rng_shuffle_uniform_orders", fair, why);

    uint32_t one[1] = {0};
    kiln_shuffle(one, 1, &r);
    kiln_shuffle(one, 0, &r);
    result("rng_shuffle_tiny", one[0] == 0, "a 1-element shuffle changed");
}

/* ---- Checkpoints ---------------------------------------------------------------- */

static float w_data[3 * 4], b_data[4], w2_data[3 * 4], b5_data[5];
static const kiln_tensor tensors[2] = {
    {"linear1.weight", 2, {3, 4, 0, 0}, 12, w_data},
    {"linear1.bias", 1, {4, 0, 0, 0}, 4, b_data},
};
static const kiln_tensor other_shape[2] = {
    {"linear1.weight", 2, {3, 4, 0, 0}, 12, w2_data},
    {"linear1.bias", 1, {5, 0, 0, 0}, 5, b5_data},
};
static const kiln_model model = {
    .name = "tiny", .spec = "test", .input_size = 3, .classes = 4, .batch = 2,
    .ntensors = 2, .tensors = tensors,
};

static char dir[64];

static const char *in_dir(const char *name)
{
    static char path[2][256];
    static int next;
    char *p = path[next++ % 2];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Writes path's first n bytes (n < 0: all) to out, with byte `flip` xored. */
static void copy_file(const char *path, const char *out, long n, long flip)
{
    long size = file_size(path);
    if (n < 0) n = size;
    unsigned char *p = malloc((size_t)size);
    FILE *f = fopen(path, "rb");
    if (!f || fread(p, 1, (size_t)size, f) != (size_t)size) { perror(path); exit(1); }
    fclose(f);
    if (flip >= 0) p[flip] ^= 0x10;
    f = fopen(out, "wb");
    if (!f || fwrite(p, 1, (size_t)n, f) != (size_t)n) { perror(out); exit(1); }
    fclose(f);
    free(p);
}

/* Loading must fail, mention `word` and leave the model's tensors as they were. */
static void expect_refusal(const char *name, const kiln_model *m, const char *path,
                           const char *word)
{
    char err[512] = "";
    float before[12];
    memcpy(before, m->tensors[0].data, sizeof before);
    int rc = kiln_checkpoint_load(m, path, err, sizeof err);
    char why[700];
    snprintf(why, sizeof why, "got '%s', wanted a refusal mentioning '%s'", err, word);
    int ok = rc != 0 && strstr(err, word) && strstr(err, path) &&
             memcmp(before, m->tensors[0].data, sizeof before) == 0;
    if (ok) printf("PASS %s (%s)\n", name, err);
    else result(name, 0, why);
}

static void checkpoints(void)
{
    kiln_rng r;
    kiln_rng_seed(&r, 3);
    kiln_fill_normal(w_data, 12, 0, 1, &r);
    kiln_fill_normal(b_data, 4, 0, 1, &r);
    w_data[5] = -0.0f;
    b_data[2] = 1e-42f;            /* a subnormal must survive too */
    float w0[12], b0[4];
    memcpy(w0, w_data, sizeof w0);
    memcpy(b0, b_data, sizeof b0);

    char err[512];
    char path[256];
    snprintf(path, sizeof path, "%s", in_dir("tiny.ckpt"));
    int rc = kiln_checkpoint_save(&model, path, err, sizeof err);
    result("ckpt_save", rc == 0, err);
    if (rc != 0) return;
    /* header 8+4+(4+4)+4, tensors (4+14+4+8+48) + (4+12+4+4+16), CRC 4 */
    result("ckpt_size", file_size(path) == 24 + 78 + 40 + 4, "unexpected file size");

    int leftovers = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) leftovers += strstr(e->d_name, ".tmp") != 0;
    if (d) closedir(d);
    result("ckpt_no_temp_file_left", leftovers == 0, "a temporary file stayed behind");

    memset(w_data, 0, sizeof w_data);
    memset(b_data, 0, sizeof b_data);
    rc = kiln_checkpoint_load(&model, path, err, sizeof err);
    result("ckpt_round_trip_bitwise",
           rc == 0 && !memcmp(w0, w_data, sizeof w0) && !memcmp(b0, b_data, sizeof b0),
           rc ? err : "values differ after loading");

    rc = kiln_checkpoint_save(&model, path, err, sizeof err);   /* overwrite */
    result("ckpt_overwrite", rc == 0, err);

    kiln_model shape = model;
    shape.tensors = other_shape;
    expect_refusal("ckpt_wrong_shape_names_tensor", &shape, path, "'linear1.bias'");
    kiln_model other = model;
    other.name = "bigger";
    expect_refusal("ckpt_wrong_model_name", &other, path, "is for model 'tiny', this trainer is 'bigger'");
    kiln_model fewer = model;
    fewer.ntensors = 1;
    expect_refusal("ckpt_wrong_tensor_count", &fewer, path, "2 tensors");

    long size = file_size(path);
    copy_file(path, in_dir("flipped.ckpt"), -1, 60);          /* inside the weights */
    expect_refusal("ckpt_corrupted_byte", &model, in_dir("flipped.ckpt"), "checksum");
    copy_file(path, in_dir("flipname.ckpt"), -1, 17);         /* inside the model name */
    expect_refusal("ckpt_corrupted_name_byte", &model, in_dir("flipname.ckpt"), "checksum");
    copy_file(path, in_dir("cut.ckpt"), size - 30, -1);
    expect_refusal("ckpt_truncated", &model, in_dir("cut.ckpt"), "truncated");
    copy_file(path, in_dir("short.ckpt"), 10, -1);
    expect_refusal("ckpt_truncated_header", &model, in_dir("short.ckpt"), "truncated");
    copy_file(path, in_dir("magic.ckpt"), -1, 0);
    expect_refusal("ckpt_bad_magic", &model, in_dir("magic.ckpt"), "not a kiln checkpoint");
    expect_refusal("ckpt_missing_file", &model, in_dir("absent.ckpt"), "No such file");
    expect_refusal("ckpt_directory", &model, dir, "directory");

    rc = kiln_checkpoint_save(&model, in_dir("no/such/dir.ckpt"), err, sizeof err);
    result("ckpt_save_unwritable_dir", rc != 0 && strstr(err, "no/such/dir.ckpt"), err);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_rng_ckpt: could not remove %s\n", dir);
}

int main(void)
{
    rng_known_values();
    rng_same_seed();
    rng_distributions();
    rng_shuffle();
    snprintf(dir, sizeof dir, "/tmp/kiln-test-ckpt-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    checkpoints();
    return failures ? 1 : 0;
}
