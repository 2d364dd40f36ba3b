/* harness.c — dropout(0.3) on the kiln-emitted model in spec.lua:
 * in training it zeroes about 30% of its input (128 × 256 = 32768 values:
 * the fraction's standard error is 0.0025, so ±0.015 is six of them) and
 * scales the rest by exactly 1/0.7; in evaluation it is the identity; the
 * mask is the same for the same seed and step, changes with the step and
 * the seed, and does not depend on the thread count. */
#define KILN_NO_MAIN
#include MODEL_C

#include <omp.h>
#include <stdio.h>
#include <string.h>

enum { N = 128, F = 256 };
static uint8_t x[N * 64], y[N];
static float first[N * F];

static void forward(uint64_t step, int mode, uint64_t seed) {
    kiln_rng rng;
    kiln_rng_seed(&rng, seed);
    model.init(&rng);
    steps = step;
    kiln_batch b = { .n = N, .x = x, .labels = y };
    int correct = 0;
    forward_loss(&b, &correct, mode);
}

static int check(const char *name, int ok, const char *why) {
    if (ok) printf("PASS dropout/%s\n", name);
    else printf("FAIL dropout/%s: %s\n", name, why);
    return ok;
}

int main(void) {
    for (int i = 0; i < N * 64; i++) x[i] = (uint8_t)(i * 37 % 251);
    int ok = 1;

    forward(5, 1, 1);
    int dropped = 0, scaled = 1;
    for (int i = 0; i < N * F; i++) {
        if (relu1[i] <= 0.0f) { scaled = 0; break; }   /* positive init: every input is nonzero */
        if (dropout1[i] == 0.0f) dropped++;
        else scaled &= dropout1[i] == relu1[i] * (1.0f / 0.7f);
    }
    double frac = (double)dropped / (N * F);
    char why[128];
    snprintf(why, sizeof why, "dropped %.4f of the values", frac);
    ok &= check("fraction", frac > 0.285 && frac < 0.315, why);
    ok &= check("scale", scaled, "kept values are not input / 0.7");
    memcpy(first, dropout1, sizeof first);

    forward(5, 1, 1);
    ok &= check("same-step-same-mask", memcmp(first, dropout1, sizeof first) == 0, "masks differ");
    omp_set_num_threads(1);
    forward(5, 1, 1);
    omp_set_num_threads(2);
    ok &= check("threads-same-mask", memcmp(first, dropout1, sizeof first) == 0, "1 thread drew another mask");
    forward(6, 1, 1);
    ok &= check("next-step-new-mask", memcmp(first, dropout1, sizeof first) != 0, "step 6 reused step 5's mask");
    forward(5, 1, 2);
    ok &= check("seed-changes-mask", memcmp(first, dropout1, sizeof first) != 0, "seed 2 drew seed 1's mask");

    forward(5, 0, 1);
    ok &= check("off-in-evaluation", memcmp(relu1, dropout1, sizeof first) == 0, "evaluation changed values");
    return ok ? 0 : 1;
}
