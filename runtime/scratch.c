/* scratch.c — growable per-thread working memory (scratch.h). */
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>

void *kiln_scratch_room(kiln_scratch *s, size_t bytes, const char *what)
{
    if (bytes > s->cap) {
        free(s->p);
        s->p = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!s->p) {
            fprintf(stderr, "kiln: out of memory for %s (%zu bytes)\n", what, bytes);
            exit(1);
        }
        s->cap = bytes;
    }
    return s->p;
}
