/* harness.c — PyTorch's pooling rules, on max.lua (-DMAX) or avg.lua:
 *   max_pool2d: a tie goes to the first of the window's largest values in
 *   row-major order, in forward (the value) and in backward (only that
 *   input gets the window's gradient);
 *   avg_pool2d with padding: the padding counts in the divisor
 *   (count_include_pad), so a corner window of 3×3 over a 4×4 input
 *   divides the 4 values it covers by 9.
 * The convolution before the pool passes the scaled input through exactly.
 * Prints PASS/FAIL lines. */
#define KILN_NO_MAIN
#include MODEL_C

#include <math.h>
#include <stdio.h>

static int failures;

static void result(const char *name, int ok, const char *why)
{
    printf(ok ? "PASS pool/%s\n" : "FAIL pool/%s: %s\n", name, why);
    failures += !ok;
}

int main(void)
{
    /* four 2×2 windows: a 3-way tie, a tie after a smaller value, all equal, distinct maxima */
    static uint8_t x[16] = {
        5, 5, 1, 2,
        5, 3, 2, 2,
        0, 0, 9, 7,
        0, 0, 7, 9,
    };
    static uint8_t labels[1] = { 1 };
    const float s = 1.0f / 255.0f;
    kiln_rng rng;
    kiln_rng_seed(&rng, 7);
    model.init(&rng);
    kiln_batch b = { .n = 1, .x = x, .labels = labels };
    int correct = 0;
    forward_loss(&b, &correct, 0);
#ifdef MAX
    result("max-values", max_pool2d1[0] == 5 * s && max_pool2d1[1] == 2 * s && max_pool2d1[2] == 0.0f &&
           max_pool2d1[3] == 9 * s, "the pooled values are not the windows' maxima");
    train_step(&b, &correct);
    /* the winners: (0,0), (0,3), (2,0), (2,2), the first largest of each window */
    static const int winner[16] = { 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0 };
    int routed = 1;
    for (int i = 0; i < 16; i++) routed &= winner[i] ? d_conv2d1[i] != 0.0f : d_conv2d1[i] == 0.0f;
    result("max-ties-go-to-the-first", routed, "a window's gradient reached another input than its first largest");
#else
    /* the corner window covers x[0], x[1], x[4], x[5] = 5, 5, 5, 3 */
    result("avg-counts-padding", fabsf(avg_pool2d1[0] - 18 * s / 9.0f) < 1e-7f,
           "a corner window is not divided by the full 3×3");
    result("avg-inner-window", fabsf(avg_pool2d1[5] - (5 + 5 + 1 + 5 + 3 + 2 + 0 + 0 + 9) * s / 9.0f) < 1e-7f,
           "an inner window's average is wrong");
#endif
    return failures ? 1 : 0;
}
