/* trainer_harness.c — the trainer (kiln_main) on the model of harness.lua,
 * with one of its functions replaced to reach a state a test cannot make
 * happen on time from outside.  KILN_HARNESS selects it:
 *   spin        every training step spins forever: SIGTERM or SIGINT must
 *               still end the run (the first asks it to stop after the
 *               step, which never comes; the second ends it at once);
 *   nan         the initial parameters hold one NaN weight in the hidden
 *               layer: the ReLU hides it from the loss, the run must stop
 *               as a diverged one does, and save no checkpoint with it;
 *   sigint-eval the first evaluation raises SIGINT: the run must report the
 *               interruption (exit status 130), not end as if complete.
 * The flags are the trainer's own. */
#define KILN_NO_MAIN
#include MODEL_C

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float spin_step(const kiln_batch *b, int *correct)
{
    (void)b, (void)correct;
    for (volatile unsigned long i = 0;; i++) {}
    return 0;
}

static void nan_init(kiln_rng *rng)
{
    model.init(rng);
    linear1_weight[0] = NAN;   /* hidden unit 0: NaN for every row, 0 after the ReLU */
}

static float raising_eval(const kiln_batch *b, int *correct)
{
    static int raised;
    if (!raised) {
        raised = 1;
        raise(SIGINT);
    }
    return model.eval_batch(b, correct);
}

int main(int argc, char **argv)
{
    const char *mode = getenv("KILN_HARNESS");
    kiln_model m = model;
    if (mode && !strcmp(mode, "spin")) m.train_step = spin_step;
    else if (mode && !strcmp(mode, "nan")) m.init = nan_init;
    else if (mode && !strcmp(mode, "sigint-eval")) m.eval_batch = raising_eval;
    else {
        fprintf(stderr, "trainer_harness: set KILN_HARNESS to spin, nan or sigint-eval\n");
        return 2;
    }
    return kiln_main(argc, argv, &m);
}
