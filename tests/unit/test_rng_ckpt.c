/* test_rng_ckpt.c — the seeded RNG (known values, reproducibility, rough
 * distribution checks, shuffles) and checkpoints, format version 7 (bitwise
 * round trip of tensors, optimizer state and step count; refusal of another
 * model, a wrong shape, a missing, extra or renamed tensor, each named; of
 * every truncation and every flipped byte; of versions 1, 4 and 99).
 * Prints PASS/FAIL/SKIP lines. */
#define _DEFAULT_SOURCE   /* mknod, makedev, with everything _POSIX_C_SOURCE 200809 gives */
#include "kiln_rt.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

static float w_data[3 * 4], b_data[4], mw_data[3 * 4], mb_data[4], w2_data[3 * 4], b5_data[5],
             extra_data[2];
static uint64_t steps;
static const kiln_tensor tensors[2] = {
    {"linear1.weight", 2, {3, 4, 0, 0}, 12, w_data, 0},
    {"linear1.bias", 1, {4, 0, 0, 0}, 4, b_data, 0},
};
static const kiln_tensor state[3] = {   /* the third only for the "more state" model */
    {"linear1.weight.momentum", 2, {3, 4, 0, 0}, 12, mw_data, 0},
    {"linear1.bias.momentum", 1, {4, 0, 0, 0}, 4, mb_data, 0},
    {"extra.state", 1, {2, 0, 0, 0}, 2, extra_data, 0},
};
static const kiln_tensor other_shape[2] = {
    {"linear1.weight", 2, {3, 4, 0, 0}, 12, w2_data, 0},
    {"linear1.bias", 1, {5, 0, 0, 0}, 5, b5_data, 0},
};
static const kiln_tensor other_name[2] = {
    {"linear1.weight", 2, {3, 4, 0, 0}, 12, w2_data, 0},
    {"linear1.b", 1, {4, 0, 0, 0}, 4, b5_data, 0},
};
static const kiln_model model = {
    .name = "tiny", .spec = "test", .input_size = 3, .classes = 4, .batch = 2,
    .ntensors = 2, .tensors = tensors, .nstate = 2, .state = state, .steps = &steps,
};

static char dir[64];

static const char *in_dir(const char *name)
{
    static char path[8][512];   /* the last 8 names stay valid */
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
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

static unsigned char *slurp(const char *path, long *size)
{
    *size = file_size(path);
    unsigned char *p = malloc((size_t)*size + 1);
    FILE *f = fopen(path, "rb");
    if (!p || !f || fread(p, 1, (size_t)*size, f) != (size_t)*size) { perror(path); exit(1); }
    fclose(f);
    return p;
}

static void spit(const char *path, const unsigned char *p, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
}

/* Writes path's first n bytes (n < 0: all) to out, with byte `flip` xored. */
static void copy_file(const char *path, const char *out, long n, long flip)
{
    long size;
    unsigned char *p = slurp(path, &size);
    if (n < 0) n = size;
    if (flip >= 0) p[flip] ^= 0x10;
    spit(out, p, n);
    free(p);
}

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Every float the model holds plus its step count, for "untouched" checks. */
typedef struct { float v[64]; int n; uint64_t steps; } snapshot;

static void take(const kiln_model *m, snapshot *s)
{
    s->n = 0;
    for (int t = 0; t < m->ntensors + m->nstate; t++) {
        const kiln_tensor *x = t < m->ntensors ? &m->tensors[t] : &m->state[t - m->ntensors];
        for (size_t i = 0; i < x->size && s->n < 64; i++) s->v[s->n++] = x->data[i];
    }
    s->steps = m->steps ? *m->steps : 0;
}

static int unchanged(const kiln_model *m, const snapshot *before)
{
    snapshot now;
    take(m, &now);
    return now.n == before->n && now.steps == before->steps &&
           memcmp(now.v, before->v, sizeof(float) * (size_t)now.n) == 0;
}

/* Loading must fail with one line mentioning the path, `word` and `word2`
 * (when not NULL), and leave the model's tensors, state and steps as they were. */
static int quiet_refusals;   /* 1: print only failures (the byte-by-byte sweeps) */
static int expect_refusal2(const char *name, const kiln_model *m, const char *path,
                           const char *word, const char *word2)
{
    char err[512] = "";
    snapshot before;
    take(m, &before);
    int rc = kiln_checkpoint_load(m, path, err, sizeof err);
    int ok = rc != 0 && strstr(err, path) && (!word || strstr(err, word)) &&
             (!word2 || strstr(err, word2)) && !strchr(err, '\n') && unchanged(m, &before);
    if (ok) {
        if (!quiet_refusals) printf("PASS %s (%s)\n", name, err);
    } else {
        char why[800];
        snprintf(why, sizeof why, "rc %d, got '%s', wanted a refusal mentioning '%s'%s%s%s",
                 rc, err, word ? word : "", word2 ? " and '" : "", word2 ? word2 : "",
                 word2 ? "'" : "");
        result(name, 0, why);
    }
    return ok;
}

static void expect_refusal(const char *name, const kiln_model *m, const char *path,
                           const char *word)
{
    expect_refusal2(name, m, path, word, NULL);
}

static void checkpoints(void)
{
    kiln_rng r;
    kiln_rng_seed(&r, 3);
    kiln_fill_normal(w_data, 12, 0, 1, &r);
    kiln_fill_normal(b_data, 4, 0, 1, &r);
    kiln_fill_normal(mw_data, 12, 0, 1, &r);
    kiln_fill_normal(mb_data, 4, 0, 1, &r);
    w_data[5] = -0.0f;
    b_data[2] = 1e-42f;            /* a subnormal must survive too */
    mb_data[1] = -1e-40f;
    steps = 12345678901234ULL;     /* more than 32 bits */
    snapshot saved;
    take(&model, &saved);

    char err[512];
    char path[256];
    snprintf(path, sizeof path, "%s", in_dir("tiny.ckpt"));
    int rc = kiln_checkpoint_save(&model, path, err, sizeof err);
    result("ckpt_save", rc == 0, err);
    if (rc != 0) return;
    /* header 8+4+(4+4)+4; tensors (4+14+4+8+48) + (4+12+4+4+16); state
     * (4+23+4+8+48) + (4+21+4+4+16); steps 8; dropout key 8; progress
     * 4+4+32+8+8; run 8+4+4+4+8; CRC 4 */
    long size = file_size(path);
    result("ckpt_size", size == 24 + 78 + 40 + 87 + 49 + 8 + 8 + 56 + 28 + 4, "unexpected file size");

    /* the layout: version 7 after the magic, the steps as u64 after the
     * tensors, then the dropout key, the progress and the run, then the CRC */
    long n;
    unsigned char *bytes = slurp(path, &n);
    uint64_t st = 0;
    for (int i = 0; i < 8; i++) st |= (uint64_t)bytes[n - 104 + i] << (8 * i);
    result("ckpt_v7_layout", n == size && !memcmp(bytes, "KILNCKPT", 8) && bytes[8] == 7 &&
           !bytes[9] && !bytes[10] && !bytes[11] && st == 12345678901234ULL &&
           crc32(0, bytes, (uInt)(n - 4)) == ((uint32_t)bytes[n - 4] | (uint32_t)bytes[n - 3] << 8 |
                                              (uint32_t)bytes[n - 2] << 16 |
                                              (uint32_t)bytes[n - 1] << 24),
           "magic, version, steps or CRC not where the format puts them");

    int leftovers = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) leftovers += strstr(e->d_name, ".tmp") != 0;
    if (d) closedir(d);
    result("ckpt_no_temp_file_left", leftovers == 0, "a temporary file stayed behind");

    memset(w_data, 0, sizeof w_data);
    memset(b_data, 0, sizeof b_data);
    memset(mw_data, 0, sizeof mw_data);
    memset(mb_data, 0, sizeof mb_data);
    steps = 0;
    rc = kiln_checkpoint_load(&model, path, err, sizeof err);
    result("ckpt_round_trip_bitwise_with_state_and_steps", rc == 0 && unchanged(&model, &saved),
           rc ? err : "tensors, state or steps differ after loading");

    rc = kiln_checkpoint_save(&model, path, err, sizeof err);   /* overwrite */
    long n2;
    unsigned char *again = slurp(path, &n2);
    result("ckpt_overwrite_same_bytes", rc == 0 && n2 == n && !memcmp(bytes, again, (size_t)n),
           rc ? err : "saving what was loaded gave other bytes");
    free(again);

    /* a model without a step counter saves 0 and loads without one */
    kiln_model nosteps = model;
    nosteps.steps = NULL;
    rc = kiln_checkpoint_save(&nosteps, in_dir("nosteps.ckpt"), err, sizeof err);
    if (rc == 0) rc = kiln_checkpoint_load(&model, in_dir("nosteps.ckpt"), err, sizeof err);
    result("ckpt_null_steps_saves_zero", rc == 0 && steps == 0, rc ? err : "steps not 0");
    rc = kiln_checkpoint_load(&nosteps, path, err, sizeof err);
    result("ckpt_null_steps_loads", rc == 0, err);
    rc = kiln_checkpoint_load(&model, path, err, sizeof err);
    result("ckpt_reload", rc == 0 && unchanged(&model, &saved), err);

    /* refusals: each names the first tensor that differs */
    kiln_model shape = model;
    shape.tensors = other_shape;
    expect_refusal2("ckpt_wrong_shape_names_tensor", &shape, path,
                    "tensor linear1.bias is (4) there but (5) in model tiny", NULL);
    kiln_model bigger = shape;
    bigger.name = "bigger";
    expect_refusal2("ckpt_other_model_names_tensor_and_model", &bigger, path,
                    "tensor linear1.bias is (4) there but (5) in model bigger",
                    "(the checkpoint is from model tiny)");
    kiln_model renamed = model;
    renamed.tensors = other_name;
    expect_refusal2("ckpt_other_tensor_name", &renamed, path,
                    "tensor 2 is linear1.bias there but linear1.b in model tiny", NULL);
    kiln_model no_state = model;
    no_state.nstate = 0;
    expect_refusal2("ckpt_extra_tensor_named", &no_state, path,
                    "tensor linear1.weight.momentum is there but not in model tiny",
                    "holds 4 tensors, the model 2");
    kiln_model more_state = model;
    more_state.nstate = 3;
    expect_refusal2("ckpt_missing_tensor_named", &more_state, path,
                    "has no tensor extra.state", "holds 4 tensors, the model 5");
    kiln_model fewer = model;
    fewer.ntensors = 1;
    fewer.state = NULL;
    fewer.nstate = 0;
    expect_refusal2("ckpt_fewer_tensors_named", &fewer, path,
                    "tensor linear1.bias is there but not in model tiny", NULL);
    kiln_model other = model;
    other.name = "lookalike";
    expect_refusal("ckpt_other_model_same_tensors", &other, path,
                   "is from model tiny, this trainer is model lookalike");

    copy_file(path, in_dir("flipped.ckpt"), -1, 60);          /* inside the weights */
    expect_refusal("ckpt_corrupted_byte", &model, in_dir("flipped.ckpt"), "checksum");
    copy_file(path, in_dir("flipname.ckpt"), -1, 17);         /* inside the model name */
    expect_refusal("ckpt_corrupted_name_byte", &model, in_dir("flipname.ckpt"), "checksum");
    copy_file(path, in_dir("flipsteps.ckpt"), -1, size - 94);  /* inside the steps */
    expect_refusal("ckpt_corrupted_steps_byte", &model, in_dir("flipsteps.ckpt"), "checksum");
    copy_file(path, in_dir("cut.ckpt"), size - 30, -1);
    expect_refusal("ckpt_truncated", &model, in_dir("cut.ckpt"), "truncated");
    copy_file(path, in_dir("short.ckpt"), 10, -1);
    expect_refusal("ckpt_truncated_header", &model, in_dir("short.ckpt"), "truncated");
    copy_file(path, in_dir("magic.ckpt"), -1, 0);
    expect_refusal("ckpt_bad_magic", &model, in_dir("magic.ckpt"), "not a kiln checkpoint");
    expect_refusal("ckpt_missing_file", &model, in_dir("absent.ckpt"), "No such file");
    expect_refusal("ckpt_directory", &model, dir, "directory");

    /* every possible cut and every single flipped byte is refused, model untouched */
    int all = 1;
    quiet_refusals = 1;
    for (long cut = 0; cut < size; cut++) {
        copy_file(path, in_dir("sweep.ckpt"), cut, -1);
        all &= expect_refusal2("ckpt_every_cut", &model, in_dir("sweep.ckpt"),
                               cut < 8 ? "not a kiln checkpoint" : "truncated", NULL);
    }
    for (long at = 0; at < size; at++) {
        copy_file(path, in_dir("sweep.ckpt"), -1, at);
        all &= expect_refusal2("ckpt_every_flip", &model, in_dir("sweep.ckpt"), NULL, NULL);
    }
    quiet_refusals = 0;
    if (all) result("ckpt_every_cut_and_flipped_byte_refused", 1, "");

    /* other format versions, each with a valid checksum so that only the
     * version can be the reason */
    unsigned char *v = malloc((size_t)size);
    memcpy(v, bytes, (size_t)size);
    le32(v + 8, 99);
    le32(v + size - 4, (uint32_t)crc32(0, v, (uInt)(size - 4)));
    spit(in_dir("v99.ckpt"), v, size);
    expect_refusal2("ckpt_unknown_version", &model, in_dir("v99.ckpt"),
                    "version 99 is not supported", "reads versions 5 to 7 only");
    /* version 4: the same layout, but its state was the optimizer's only */
    le32(v + 8, 4);
    le32(v + size - 4, (uint32_t)crc32(0, v, (uInt)(size - 4)));
    spit(in_dir("v4.ckpt"), v, size);
    expect_refusal2("ckpt_version_4_refused", &model, in_dir("v4.ckpt"),
                    "version 4 is not supported", "comes from an older kiln");
    /* version 1: the tensors without state or steps */
    long v1 = 24 + 78 + 40;
    memcpy(v, bytes, (size_t)v1);
    le32(v + 8, 1);
    le32(v + 20, 2);
    le32(v + v1, (uint32_t)crc32(0, v, (uInt)v1));
    spit(in_dir("v1.ckpt"), v, v1 + 4);
    kiln_model v1model = model;
    v1model.nstate = 0;
    v1model.state = NULL;
    expect_refusal2("ckpt_version_1_refused", &v1model, in_dir("v1.ckpt"),
                    "version 1 is not supported", "reads versions 5 to 7 only");
    free(v);
    free(bytes);

    /* the run's progress comes back as it was saved */
    kiln_progress pr = { .epoch = 7, .step = 41, .rng = { 1, 2, 3, 0xFFFFFFFFFFFFFFFFull },
                         .loss_sum = 123.456789, .correct = 98765, .seed = 0xFEDCBA9876543210ull,
                         .train_count = 60000, .batch = 256, .data_crc = 0xDEADBEEF, .lr = 0.0375 }, back;
    memset(&back, 0, sizeof back);
    rc = kiln_checkpoint_save_run(&model, in_dir("run.ckpt"), &pr, err, sizeof err);
    int rc2 = rc ? rc : kiln_checkpoint_load_run(&model, in_dir("run.ckpt"), &back, err, sizeof err);
    result("ckpt_progress_roundtrip", rc == 0 && rc2 == 0 && back.epoch == 7 && back.step == 41 &&
           back.rng[0] == 1 && back.rng[3] == 0xFFFFFFFFFFFFFFFFull && back.loss_sum == 123.456789 &&
           back.correct == 98765 && back.seed == 0xFEDCBA9876543210ull &&
           back.train_count == 60000 && back.batch == 256 && back.data_crc == 0xDEADBEEF && back.lr == 0.0375, err);
    /* version 6: 7's layout without the base rate, read as 0 (not recorded);
     * version 5: 6's, its loss sum the batches' means, read as the
     * per-example sum (times the batch of 256) */
    if (rc == 0) {
        long rn;
        unsigned char *run = slurp(in_dir("run.ckpt"), &rn);
        memmove(run + rn - 12, run + rn - 4, 4);   /* drop the rate's 8 bytes before the CRC */
        rn -= 8;
        le32(run + 8, 6);
        le32(run + rn - 4, (uint32_t)crc32(0, run, (uInt)(rn - 4)));
        spit(in_dir("run_v6.ckpt"), run, rn);
        memset(&back, 0, sizeof back);
        rc2 = kiln_checkpoint_load_run(&model, in_dir("run_v6.ckpt"), &back, err, sizeof err);
        result("ckpt_version_6_no_rate", rc2 == 0 && back.lr == 0 && back.loss_sum == 123.456789 &&
               back.epoch == 7 && back.data_crc == 0xDEADBEEF, err);
        le32(run + 8, 5);
        le32(run + rn - 4, (uint32_t)crc32(0, run, (uInt)(rn - 4)));
        spit(in_dir("run_v5.ckpt"), run, rn);
        free(run);
        memset(&back, 0, sizeof back);
        rc2 = kiln_checkpoint_load_run(&model, in_dir("run_v5.ckpt"), &back, err, sizeof err);
        result("ckpt_version_5_loss_sum_per_example", rc2 == 0 && back.loss_sum == 123.456789 * 256 &&
               back.epoch == 7 && back.step == 41 && back.batch == 256, err);
    }

    rc = kiln_checkpoint_save(&model, in_dir("no/such/dir.ckpt"), err, sizeof err);
    result("ckpt_save_unwritable_dir", rc != 0 && strstr(err, "no/such/dir.ckpt"), err);
    rc = kiln_checkpoint_check_target(in_dir("no/such/dir.ckpt"), err, sizeof err);
    result("ckpt_check_target_unwritable_dir", rc != 0 && strstr(err, "writable"), err);
}

/* ---- Save targets: only regular files are ever replaced ---------------------- */

/* The target is refused before (check_target) and at saving, and is still
 * what it was: type `mode` (S_IFIFO...). */
static void expect_target_refused(const char *name, const char *path, mode_t mode,
                                  const char *word)
{
    char err[512] = "", err2[512] = "";
    int rc = kiln_checkpoint_check_target(path, err, sizeof err);
    int rc2 = kiln_checkpoint_save(&model, path, err2, sizeof err2);
    struct stat st;
    int kept = lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == mode;
    char why[1200];
    snprintf(why, sizeof why, "check %d '%s', save %d '%s', target %s", rc, err, rc2, err2,
             kept ? "kept" : "REPLACED");
    result(name, rc != 0 && rc2 != 0 && strstr(err, word) && strstr(err2, word) && kept, why);
}

static void save_targets(void)
{
    char err[512];
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s", in_dir("fifo.ckpt"));
    if (mkfifo(fifo, 0600) == 0) expect_target_refused("ckpt_target_fifo_refused", fifo, S_IFIFO, "a FIFO");
    mkdir(in_dir("subdir.ckpt"), 0700);
    expect_target_refused("ckpt_target_directory_refused", in_dir("subdir.ckpt"), S_IFDIR, "a directory");
    /* a character device: a /dev/null of our own (needs root) */
    if (mknod(in_dir("null.ckpt"), S_IFCHR | 0600, makedev(1, 3)) == 0)
        expect_target_refused("ckpt_target_device_refused", in_dir("null.ckpt"), S_IFCHR,
                              "a character device");
    else
        printf("SKIP ckpt_target_device_refused: mknod needs root\n");
    int sock = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", in_dir("sock.ckpt"));
    if (sock >= 0 && bind(sock, (struct sockaddr *)&addr, sizeof addr) == 0)
        expect_target_refused("ckpt_target_socket_refused", in_dir("sock.ckpt"), S_IFSOCK, "a socket");
    if (sock >= 0) close(sock);

    /* a symbolic link is followed: the file it points to is replaced, the link stays */
    char real[512];
    snprintf(real, sizeof real, "%s", in_dir("real.ckpt"));
    kiln_checkpoint_save(&model, real, err, sizeof err);   /* an earlier checkpoint */
    if (symlink("real.ckpt", in_dir("link.ckpt")) == 0) {
        int rc = kiln_checkpoint_save(&model, in_dir("link.ckpt"), err, sizeof err);
        struct stat st;
        int link = lstat(in_dir("link.ckpt"), &st) == 0 && S_ISLNK(st.st_mode);
        int loads = kiln_checkpoint_load(&model, real, err, sizeof err) == 0;
        result("ckpt_target_symlink_followed", rc == 0 && link && loads,
               rc ? err : !link ? "the link was replaced" : "the linked file holds no checkpoint");
    }
    if (symlink("nowhere.ckpt", in_dir("dangling.ckpt")) == 0)
        expect_target_refused("ckpt_target_dangling_symlink_refused", in_dir("dangling.ckpt"),
                              S_IFLNK, "symbolic link");

    /* a file that is not a checkpoint is left alone (a typo in --save must
     * not replace a spec); an empty one may be replaced */
    spit(in_dir("spec.lua"), (const unsigned char *)"return model {}", 15);
    expect_target_refused("ckpt_target_not_a_checkpoint_refused", in_dir("spec.lua"), S_IFREG,
                          "not a kiln checkpoint");
    long n0;
    unsigned char *kept = slurp(in_dir("spec.lua"), &n0);
    result("ckpt_target_not_a_checkpoint_kept", n0 == 15 && !memcmp(kept, "return model {}", 15),
           "the file was changed");
    free(kept);
    spit(in_dir("empty.ckpt"), (const unsigned char *)"", 0);
    int rc0 = kiln_checkpoint_save(&model, in_dir("empty.ckpt"), err, sizeof err);
    result("ckpt_target_empty_file_replaced", rc0 == 0, err);

    /* a save killed midway leaves FILE.tmp: the next save reuses it */
    char stale[512];
    snprintf(stale, sizeof stale, "%s", in_dir("again.ckpt.tmp"));
    spit(stale, (const unsigned char *)"half a checkpoint", 17);
    int rc = kiln_checkpoint_save(&model, in_dir("again.ckpt"), err, sizeof err);
    result("ckpt_stale_temporary_reused", rc == 0 && access(stale, F_OK) != 0 &&
           kiln_checkpoint_load(&model, in_dir("again.ckpt"), err, sizeof err) == 0,
           rc ? err : "the temporary file is still there, or the checkpoint does not load");
    /* ...but never through a link, nor into a file with a second name */
    spit(in_dir("victim"), (const unsigned char *)"victim", 6);
    if (symlink("victim", in_dir("linked.ckpt.tmp")) == 0) {
        rc = kiln_checkpoint_save(&model, in_dir("linked.ckpt"), err, sizeof err);
        long n;
        unsigned char *v = slurp(in_dir("victim"), &n);
        result("ckpt_temporary_symlink_not_followed", rc != 0 && strstr(err, "symbolic link") &&
               n == 6 && !memcmp(v, "victim", 6), rc ? err : "saved through the link");
        free(v);
    }
    if (link(in_dir("victim"), in_dir("hard.ckpt.tmp")) == 0) {
        rc = kiln_checkpoint_save(&model, in_dir("hard.ckpt"), err, sizeof err);
        long n;
        unsigned char *v = slurp(in_dir("victim"), &n);
        result("ckpt_temporary_hard_link_left_alone", rc == 0 && n == 6 && !memcmp(v, "victim", 6),
               rc ? err : "the file sharing the temporary's name was overwritten");
        free(v);
    }

    /* a name with no room for ".tmp" beside it is refused up front */
    char longname[300];
    memset(longname, 'n', 253);
    snprintf(longname + 253, sizeof longname - 253, ".c");   /* 255 bytes: the longest name */
    rc = kiln_checkpoint_check_target(in_dir(longname), err, sizeof err);
    result("ckpt_target_name_too_long_for_temporary", rc != 0 && strstr(err, "too long"), err);

    /* loading from a FIFO is refused, not waited on (the alarm ends a hang) */
    alarm(10);
    expect_refusal("ckpt_load_fifo_refused", &model, fifo, "FIFO");
    alarm(0);
}

/* ---- Untrusted fields: a right CRC proves nothing --------------------------------- */

/* path's bytes with v (n bytes, little-endian) at offset `at` from the end and
 * the CRC recomputed, written to out. */
static void patch(const char *path, const char *out, long from_end, uint64_t v, int n)
{
    long size;
    unsigned char *p = slurp(path, &size);
    for (int i = 0; i < n; i++) p[size - from_end + i] = (unsigned char)(v >> (8 * i));
    le32(p + size - 4, (uint32_t)crc32(0, p, (uInt)(size - 4)));
    spit(out, p, size);
    free(p);
}

/* Offsets from the end of a version-7 file. */
enum { AT_STEPS = 104, AT_EPOCH = 88, AT_STEP = 84, AT_RNG = 80, AT_LOSS = 48, AT_CORRECT = 40,
       AT_SEED = 32, AT_COUNT = 24, AT_BATCH = 20, AT_DATA = 16, AT_RATE = 12 };

static void expect_run_refused(const char *name, const char *good, long at, uint64_t v, int n,
                               const char *word)
{
    char err[512] = "";
    const char *path = in_dir("run-patched.ckpt");
    patch(good, path, at, v, n);
    kiln_progress p;
    int rc = kiln_checkpoint_load_run(&model, path, &p, err, sizeof err);
    if (rc == 0) rc = kiln_checkpoint_check_run(&model, path, &p, 10, 0xC0FFEE, err, sizeof err);
    char why[700];
    snprintf(why, sizeof why, "rc %d, got '%s', wanted a refusal mentioning '%s'", rc, err, word);
    result(name, rc != 0 && strstr(err, word) && !strchr(err, '\n'), why);
}

static void untrusted_fields(void)
{
    char err[512];
    /* a run of model "tiny" (batch 2) on 10 examples: 5 steps an epoch;
     * epoch 3 after 2 steps: at least 12 optimizer steps */
    kiln_progress run = { .epoch = 3, .step = 2, .rng = { 1, 2, 3, 4 }, .loss_sum = 2.5,
                          .correct = 3, .seed = 7, .train_count = 10, .batch = 2,
                          .data_crc = 0xC0FFEE };
    steps = 12;
    char good[512];
    snprintf(good, sizeof good, "%s", in_dir("run-good.ckpt"));
    int rc = kiln_checkpoint_save_run(&model, good, &run, err, sizeof err);
    kiln_progress back;
    if (rc == 0) rc = kiln_checkpoint_load_run(&model, good, &back, err, sizeof err);
    if (rc == 0) rc = kiln_checkpoint_check_run(&model, good, &back, 10, 0xC0FFEE, err, sizeof err);
    result("ckpt_run_valid_accepted", rc == 0, err);
    if (rc) return;

    expect_run_refused("ckpt_run_epoch_huge", good, AT_EPOCH, 0x80000000u, 4, "epoch 2147483648");
    expect_run_refused("ckpt_run_epoch_zero", good, AT_EPOCH, 0, 4, "no training run");
    expect_run_refused("ckpt_run_step_all_ones", good, AT_STEP, 0xFFFFFFFFu, 4, "step 4294967295");
    expect_run_refused("ckpt_run_step_signed_overflow", good, AT_STEP, 0x80000000u, 4, "step 2147483648");
    expect_run_refused("ckpt_run_step_one_past", good, AT_STEP, 6, 4, "step 6 is past the 5");
    for (int i = 0; i < 4; i++)   /* one word at a time: all four must be zero */
        patch(i ? in_dir("zero-rng.ckpt") : good, in_dir("zero-rng.ckpt"), AT_RNG - 8 * i, 0, 8);
    kiln_progress zero;
    rc = kiln_checkpoint_load_run(&model, in_dir("zero-rng.ckpt"), &zero, err, sizeof err);
    if (rc == 0) rc = kiln_checkpoint_check_run(&model, in_dir("zero-rng.ckpt"), &zero, 10, 0xC0FFEE, err, sizeof err);
    result("ckpt_run_rng_all_zero", rc != 0 && strstr(err, "all zeros"), err);
    uint64_t nan_bits = 0x7FF8000000000000ull, minus_one = 0xBFF0000000000000ull;
    expect_run_refused("ckpt_run_loss_nan", good, AT_LOSS, nan_bits, 8, "loss sum");
    expect_run_refused("ckpt_run_loss_negative", good, AT_LOSS, minus_one, 8, "loss sum");
    expect_run_refused("ckpt_run_correct_too_many", good, AT_CORRECT, 5, 8, "5 rows counted correct out of the 4");
    expect_run_refused("ckpt_run_other_batch", good, AT_BATCH, 4, 4, "batch 4");
    expect_run_refused("ckpt_run_rate_nan", good, AT_RATE, 0x7FF8000000000000ull, 8, "base learning rate nan");
    expect_run_refused("ckpt_run_rate_huge", good, AT_RATE, 0x7FEFFFFFFFFFFFFFull, 8, "base learning rate 1.79769e+308");
    expect_run_refused("ckpt_run_other_data_size", good, AT_COUNT, 2000, 4, "other data");
    expect_run_refused("ckpt_run_other_data_checksum", good, AT_DATA, 0xC0FFEF, 4, "other data");
    expect_run_refused("ckpt_run_fewer_optimizer_steps", good, AT_STEPS, 11, 8, "11 optimizer steps");
    expect_run_refused("ckpt_optimizer_steps_past_2_53", good, AT_STEPS, 0xFFFFFFFFFFFFFFFFull, 8, "optimizer steps");

    /* a float that no run saves: NaN and infinity, with a right CRC */
    long size;
    unsigned char *p = slurp(good, &size);
    const uint32_t nan = 0x7FC00000u, inf = 0x7F800000u;
    /* the first weight: after magic, version, name (4+4), count, name (4+14), rank, dims (8) */
    long w0 = 8 + 4 + 8 + 4 + 18 + 4 + 8;
    le32(p + w0, nan);
    le32(p + size - 4, (uint32_t)crc32(0, p, (uInt)(size - 4)));
    spit(in_dir("nan.ckpt"), p, size);
    expect_refusal2("ckpt_nan_weight_refused", &model, in_dir("nan.ckpt"), "linear1.weight", "NaN");
    le32(p + w0, inf);
    le32(p + size - 4, (uint32_t)crc32(0, p, (uInt)(size - 4)));
    spit(in_dir("inf.ckpt"), p, size);
    expect_refusal2("ckpt_infinite_weight_refused", &model, in_dir("inf.ckpt"), "linear1.weight", "infinity");
    free(p);

    /* a mean of squares (Adam's v) below zero: refused, the model untouched */
    kiln_tensor squares[2] = { state[0], state[1] };
    squares[1].nonnegative = 1;   /* mb_data[1] is -1e-40 */
    kiln_model adam = model;
    adam.state = squares;
    rc = kiln_checkpoint_save(&model, in_dir("negative.ckpt"), err, sizeof err);
    if (rc == 0) expect_refusal2("ckpt_negative_mean_of_squares_refused", &adam, in_dir("negative.ckpt"),
                                 "linear1.bias.momentum", "below 0");

    /* and the trainer never writes one */
    float keep = w_data[3];
    w_data[3] = NAN;
    rc = kiln_checkpoint_save(&model, in_dir("nan-saved.ckpt"), err, sizeof err);
    result("ckpt_save_refuses_nan", rc != 0 && strstr(err, "linear1.weight") &&
           access(in_dir("nan-saved.ckpt"), F_OK) != 0, rc ? err : "saved");
    w_data[3] = keep;
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
    save_targets();
    untrusted_fields();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_rng_ckpt: could not remove %s\n", dir);
    return failures ? 1 : 0;
}
