/* synthetic.c — generated regression data, y = X·w + b + ε with X ~ N(0, 1)
 * and ε ~ N(0, noise²), from a seeded RNG: data that need no files (the
 * book's linear-regression chapter uses it).  w, b and the noise come from
 * the trainer (kiln_synthetic), as many features as w has weights. */
#include "kiln_rt.h"

#include <stdio.h>
#include <stdlib.h>

void kiln_synthetic_make(kiln_dataset *d, const kiln_synthetic *s, int count, kiln_rng *r)
{
    d->count = count;
    d->sample_size = s->dims;
    d->images = d->labels = NULL;
    d->features = malloc((size_t)count * s->dims * sizeof *d->features);
    d->targets = malloc((size_t)count * sizeof *d->targets);
    if (!d->features || !d->targets) {
        fprintf(stderr, "kiln: out of memory for %d synthetic examples\n", count);
        exit(1);
    }
    for (int i = 0; i < count; i++) {
        double y = s->b;
        for (int j = 0; j < s->dims; j++) {
            double x = kiln_rng_normal(r);
            d->features[(size_t)i * s->dims + j] = (float)x;
            y += x * s->w[j];
        }
        d->targets[i] = (float)(y + s->noise * kiln_rng_normal(r));
    }
}
