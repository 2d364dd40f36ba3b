/* scratch.h — memory a runtime function keeps between calls, one piece per
 * thread number: grown on demand by its own thread, never shrunk (a
 * training step would otherwise pay for fresh pages on every call).
 * Internal to the runtime: generated trainers do not see it. */
#ifndef KILN_SCRATCH_H
#define KILN_SCRATCH_H

#include <stddef.h>

typedef struct {
    void  *p;      /* 64-byte aligned */
    size_t cap;    /* bytes */
} kiln_scratch;

/* At least bytes of s, 64-byte aligned; the old contents are not kept when
 * it grows.  Out of memory: one line naming what (e.g. "GEMM packing") on
 * stderr, and the process exits with status 1. */
void *kiln_scratch_room(kiln_scratch *s, size_t bytes, const char *what);

#endif
