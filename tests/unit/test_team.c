/* test_team.c — the runtime's pieces a training step's team shares, used
 * from inside one parallel region as the generated trainers use them:
 * kiln_sync (every thread waits for all, and sees what they wrote before;
 * also with more threads than cores, which must not hang), kiln_column_sums
 * split among a team (bitwise the same as on one thread, and right against
 * double), and kiln_fill_batch (every thread's own copy equals
 * kiln_gather's, for bytes and for floats, no two threads share one, and a
 * batch without a data set is handed back as it is), and the claims behind
 * kiln_balance_begin (every unit taken once, whoever steals).  Prints
 * PASS/FAIL lines. */
#include "kiln_rt.h"
#include "claims.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void result(const char *name, const char *why)
{
    if (why[0]) {
        printf("FAIL %s: %s\n", name, why);
        failures++;
    } else {
        printf("PASS %s\n", name);
    }
}

/* Rounds of: each thread writes its slot, kiln_sync, each checks every
 * slot, kiln_sync.  A barrier that lets a thread through early shows up as
 * a stale slot. */
static void sync_rounds(int threads, int rounds)
{
    char name[80], why[160] = "";
    snprintf(name, sizeof name, "sync_%d_threads_%d_rounds", threads, rounds);
    int *slot = calloc((size_t)threads, sizeof *slot);
    int bad_round = -1, ran = 0;
    #pragma omp parallel num_threads(threads)
    {
        int me = omp_get_thread_num(), n = omp_get_num_threads();
        #pragma omp single
        ran = n;
        for (int r = 1; r <= rounds; r++) {
            #pragma omp atomic write
            slot[me] = r;
            kiln_sync();
            for (int t = 0; t < n; t++) {
                int v;
                #pragma omp atomic read
                v = slot[t];
                if (v != r) {
                    #pragma omp critical
                    if (bad_round < 0) bad_round = r;
                }
            }
            kiln_sync();
        }
    }
    if (ran != threads) snprintf(why, sizeof why, "asked for %d threads, got %d", threads, ran);
    else if (bad_round >= 0) snprintf(why, sizeof why, "a thread passed round %d before the others wrote", bad_round);
    result(name, why);
    free(slot);
}

static float value(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Column sums of a rows × cols block (row stride lda) with alpha and beta,
 * by 1 to 4 threads in a team and outside one: bitwise the same, and within
 * float rounding of the double reference. */
static void column_sums(int rows, int cols, int lda, float alpha, float beta)
{
    char name[96], why[200] = "";
    snprintf(name, sizeof name, "column_sums_team_%dx%d_alpha%g_beta%g", rows, cols, alpha, beta);
    uint64_t s = 77;
    float *a = malloc((size_t)rows * lda * sizeof *a), *out0 = malloc((size_t)cols * sizeof *out0);
    float *ref = malloc((size_t)cols * sizeof *ref), *out = malloc((size_t)cols * sizeof *out);
    for (size_t i = 0; i < (size_t)rows * lda; i++) a[i] = value(&s);
    for (int j = 0; j < cols; j++) out0[j] = value(&s);

    memcpy(ref, out0, (size_t)cols * sizeof *ref);
    kiln_column_sums(rows, cols, a, lda, alpha, beta, ref);   /* outside a team */
    for (int j = 0; j < cols && !why[0]; j++) {
        double sum = 0, mag = 0;
        for (int i = 0; i < rows; i++) {
            sum += a[(size_t)i * lda + j];
            mag += fabs(a[(size_t)i * lda + j]);
        }
        double want = beta * (double)out0[j] + alpha * sum;
        double tol = 2.0 * (rows + 3) * ldexp(1.0, -24) * (fabs(alpha) * mag + fabs(beta * out0[j]));
        if (fabs(ref[j] - want) > tol)
            snprintf(why, sizeof why, "column %d: %.9g, expected %.9g", j, ref[j], want);
    }
    for (int t = 1; t <= 4 && !why[0]; t++) {
        memcpy(out, out0, (size_t)cols * sizeof *out);
        #pragma omp parallel num_threads(t)
        {
            kiln_column_sums(rows, cols, a, lda, alpha, beta, out);
            kiln_sync();
        }
        if (memcmp(out, ref, (size_t)cols * sizeof *out) != 0)
            snprintf(why, sizeof why, "a team of %d threads differs from the sum outside a team", t);
    }
    result(name, why);
    free(a); free(out0); free(ref); free(out);
}

/* kiln_fill_batch in a team of 1 to 4 threads against kiln_gather (bytes)
 * or kiln_gather_float (features), for a full and a short batch: each
 * thread's copy holds the rows, in its own memory. */
static void fill_batch(int features, int n)
{
    char name[80], why[160] = "";
    snprintf(name, sizeof name, "fill_batch_team_%s_%d_rows", features ? "floats" : "bytes", n);
    enum { COUNT = 1000, SIZE = 37, TEAM = 4 };
    kiln_dataset d = { .count = COUNT, .sample_size = SIZE };
    uint64_t s = 5;
    if (features) {
        d.features = malloc((size_t)COUNT * SIZE * sizeof *d.features);
        d.targets = malloc(COUNT * sizeof *d.targets);
        for (size_t i = 0; i < (size_t)COUNT * SIZE; i++) d.features[i] = value(&s);
        for (int i = 0; i < COUNT; i++) d.targets[i] = value(&s);
    } else {
        d.images = malloc((size_t)COUNT * SIZE);
        d.labels = malloc(COUNT);
        for (size_t i = 0; i < (size_t)COUNT * SIZE; i++) d.images[i] = (uint8_t)(i * 31 + 7);
        for (int i = 0; i < COUNT; i++) d.labels[i] = (uint8_t)(i % 10);
    }
    uint32_t *idx = malloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++) idx[i] = (uint32_t)((i * 389 + 11) % COUNT);
    size_t xbytes = (size_t)n * SIZE * (features ? sizeof(float) : 1);
    size_t ybytes = (size_t)n * (features ? sizeof(float) : 1);
    unsigned char *x_ref = malloc(xbytes), *y_ref = malloc(ybytes);
    if (features) kiln_gather_float(&d, idx, n, (float *)x_ref, (float *)y_ref);
    else kiln_gather(&d, idx, n, x_ref, y_ref);
    for (int t = 1; t <= TEAM && !why[0]; t++) {
        const void *copy[TEAM] = {0};
        int wrong[TEAM] = {0};
        kiln_batch b = { .n = n, .from = &d, .idx = idx };
        #pragma omp parallel num_threads(t)
        {
            int me = omp_get_thread_num();
            kiln_rows r = kiln_fill_batch(&b);
            const void *xs = features ? (const void *)r.xf : (const void *)r.x;
            const void *ys = features ? (const void *)r.targets : (const void *)r.labels;
            copy[me] = xs;
            wrong[me] = !xs || !ys || memcmp(xs, x_ref, xbytes) != 0 || memcmp(ys, y_ref, ybytes) != 0;
        }
        for (int i = 0; i < t && !why[0]; i++) {
            if (wrong[i])
                snprintf(why, sizeof why, "thread %d of %d holds other rows than kiln_gather", i, t);
            for (int j = 0; j < i && !why[0]; j++)
                if (copy[i] == copy[j])
                    snprintf(why, sizeof why, "threads %d and %d of %d share one copy", j, i, t);
        }
    }
    if (!why[0]) {   /* no data set: the batch is the caller's, handed back as it is */
        unsigned char *x = malloc(xbytes), *y = malloc(ybytes);
        memcpy(x, x_ref, xbytes);
        memcpy(y, y_ref, ybytes);
        kiln_batch b = { .n = n };
        if (features) { b.xf = (const float *)x; b.targets = (const float *)y; }
        else { b.x = x; b.labels = y; }
        int same = 1;
        #pragma omp parallel num_threads(2) reduction(&&: same)
        {
            kiln_rows r = kiln_fill_batch(&b);
            same = r.x == b.x && r.labels == b.labels && r.xf == b.xf && r.targets == b.targets;
        }
        if (!same || memcmp(x, x_ref, xbytes) != 0 || memcmp(y, y_ref, ybytes) != 0)
            snprintf(why, sizeof why, "did not hand back a batch that has no data set as it was");
        free(x); free(y);
    }
    result(name, why);
    free(idx); free(x_ref); free(y_ref);
    kiln_dataset_free(&d);
}

/* claims.h: in each of many brackets, a team runs several calls whose
 * units are split into per-thread ranges of uneven sizes; every thread
 * takes its own units, then steals the others' (sometimes only when at
 * least two are left).  Each unit must be taken exactly once in every
 * call, a call past the claim words' limit and a call outside a bracket
 * must be refused (-1) on every thread alike. */
static void claims_rounds(int threads, int brackets)
{
    enum { CALLS = 3, MAX_UNITS = 500 };
    char name[80], why[200] = "";
    snprintf(name, sizeof name, "claims_%d_threads_%d_brackets", threads, brackets);
    int *taken = calloc((size_t)CALLS * MAX_UNITS, sizeof *taken);
    int outside = 0, misnumbered = 0;
    #pragma omp parallel num_threads(threads)
    if (claims_open(omp_get_thread_num(), omp_get_num_threads()) != -1) {
        #pragma omp atomic update
        outside++;
    }
    for (int r = 0; r < brackets && !why[0]; r++) {
        int units[CALLS];
        for (int c = 0; c < CALLS; c++) units[c] = 1 + (r * 37 + c * 101) % MAX_UNITS;
        memset(taken, 0, (size_t)CALLS * MAX_UNITS * sizeof *taken);
        kiln_balance_begin();
        #pragma omp parallel num_threads(threads)
        {
            int me = omp_get_thread_num(), w = omp_get_num_threads();
            for (int c = 0; c < CALLS; c++) {
                int call = claims_open(me, w);
                if (call < 0) continue;
                int per = units[c];
                /* thread t owns [lo(t), lo(t + 1)): uneven, some empty */
                #define LO(t) ((t) >= w ? per : (int)((long)per * (t) * (t) / ((long)w * w)))
                for (int u; (u = claims_take_own(call, me, LO(me), LO(me + 1))) >= 0;) {
                    #pragma omp atomic update
                    taken[c * MAX_UNITS + u]++;
                }
                for (int v = 1; v < w; v++) {
                    int t = (me + v) % w;
                    for (int u; (u = claims_steal(call, t, LO(t), LO(t + 1), 1 + (r + me) % 2, 0,
                                                  0)) >= 0;) {
                        #pragma omp atomic update
                        taken[c * MAX_UNITS + u]++;
                    }
                }
                #undef LO
            }
            for (int c = CALLS; c < CLAIMS_MAX_CALLS + 8; c++)   /* refused past the limit */
                if ((claims_open(me, w) == -1) != (c >= CLAIMS_MAX_CALLS)) {
                    #pragma omp atomic update
                    misnumbered++;
                }
            kiln_sync();
        }
        kiln_balance_end();
        /* Every unit once; a unit left because thieves wanted two left is
         * its owner's, and owners take all of theirs. */
        for (int c = 0; c < CALLS && !why[0]; c++)
            for (int u = 0; u < units[c]; u++)
                if (taken[c * MAX_UNITS + u] != 1) {
                    snprintf(why, sizeof why, "bracket %d, call %d: unit %d of %d taken %d times",
                             r, c, u, units[c], taken[c * MAX_UNITS + u]);
                    break;
                }
    }
    if (!why[0] && outside)
        snprintf(why, sizeof why, "a call outside a bracket was given a number");
    if (!why[0] && misnumbered)
        snprintf(why, sizeof why, "a call below the claim words' limit was refused, or one "
                 "past it given a number");
    result(name, why);
    free(taken);
}

int main(void)
{
    sync_rounds(1, 1000);
    sync_rounds(2, 200000);
    sync_rounds(3, 20000);   /* more threads than this machine may have cores */
    sync_rounds(8, 2000);
    column_sums(256, 256, 256, -0.390625f, 1.0f);
    column_sums(256, 10, 10, -0.390625f, 1.0f);
    column_sums(96, 300, 301, 1.0f, 0.0f);
    column_sums(1, 65, 65, 2.0f, 0.5f);
    column_sums(1000, 1000, 1000, 1.0f, 0.0f);   /* big: starts its own team outside one */
    fill_batch(0, 256);
    fill_batch(0, 96);
    fill_batch(1, 256);
    fill_batch(1, 7);
    claims_rounds(1, 50);
    claims_rounds(2, 2000);
    claims_rounds(3, 500);
    claims_rounds(4, 500);
    return failures ? 1 : 0;
}
