/* npz.c — the model's parameters as a NumPy .npz file (--save-npz), so
 * that they load in Python with numpy.load: a zip archive, entries stored
 * uncompressed (zlib's crc32 for their checksums), one NAME.npy per
 * trainable tensor and per tensor of the model's own state (batch norm's
 * running statistics, names ending in ".running_mean"/".running_var"), in
 * the model's order.  An .npy is NumPy's format 1.0: a header dict giving
 * the dtype ('<f4', little-endian float32), C order and the shape, padded
 * so the data start on a 64-byte boundary, then the floats.  The file is
 * written beside its target and renamed into place. */
#include "kiln_rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Whether state tensor x is the model's (kept for inference), not the optimizer's. */
static int model_state(const kiln_tensor *x)
{
    size_t n = strlen(x->name);
    return (n > 13 && !strcmp(x->name + n - 13, ".running_mean")) ||
           (n > 12 && !strcmp(x->name + n - 12, ".running_var"));
}

/* x's .npy header into h (at most 256 bytes); returns its length, a
 * multiple of 64. */
static size_t npy_header(const kiln_tensor *x, unsigned char *h)
{
    char dict[200];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < x->rank; d++) n += snprintf(dict + n, sizeof dict - (size_t)n, "%d, ", x->dims[d]);
    if (x->rank >= 1) n -= x->rank == 1 ? 1 : 2;   /* (784, 256) and (10,) as Python writes them */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;   /* magic, version, length, dict, '\n' */
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    put16(h + 8, (unsigned)(total - 10));
    memcpy(h + 10, dict, (size_t)n);
    memset(h + 10 + n, ' ', total - 10 - (size_t)n - 1);
    h[total - 1] = '\n';
    return total;
}

enum { BLOCK = 1024 };

/* Floats j … j+BLOCK−1 of x (fewer at its end) little-endian into le;
 * returns how many. */
static size_t le_block(const kiln_tensor *x, size_t j, unsigned char le[4 * BLOCK])
{
    size_t nb = x->size - j < BLOCK ? x->size - j : BLOCK;
    for (size_t q = 0; q < nb; q++) {
        uint32_t bits;
        memcpy(&bits, &x->data[j + q], 4);
        put32(le + 4 * q, bits);
    }
    return nb;
}

typedef struct {
    char     name[80];
    uint32_t crc, size, offset;
} entry;

int kiln_npz_save(const kiln_model *m, const char *path, char *err, size_t errlen)
{
    int count = m->ntensors;
    for (int i = 0; i < m->nstate; i++) count += model_state(&m->state[i]);
    entry *e = calloc((size_t)count, sizeof *e);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = e ? fopen(tmp, "wb") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, e ? strerror(errno) : "out of memory");
        free(e);
        return 1;
    }
    uint32_t at = 0;
    int k = 0, bad = 0;
    for (int i = 0; i < m->ntensors + m->nstate && !bad; i++) {
        const kiln_tensor *x = i < m->ntensors ? &m->tensors[i] : &m->state[i - m->ntensors];
        if (i >= m->ntensors && !model_state(x)) continue;
        unsigned char h[256], local[30];
        size_t hl = npy_header(x, h);
        if (strlen(x->name) + 4 >= sizeof e[k].name || x->size > (UINT32_MAX - hl) / 4) { bad = 1; break; }
        snprintf(e[k].name, sizeof e[k].name, "%s.npy", x->name);
        uint32_t crc = (uint32_t)crc32(0, h, (uInt)hl);
        unsigned char le[4 * BLOCK];   /* the floats little-endian, a block at a time: once for */
        for (size_t j = 0; j < x->size; j += BLOCK) {   /* the CRC the header needs, once to write */
            size_t nb = le_block(x, j, le);
            crc = (uint32_t)crc32(crc, le, (uInt)(4 * nb));
        }
        e[k].crc = crc, e[k].size = (uint32_t)(hl + 4 * x->size), e[k].offset = at;
        size_t nl = strlen(e[k].name);
        memset(local, 0, sizeof local);
        put32(local, 0x04034b50);
        put16(local + 4, 20);            /* version needed: 2.0 */
        put16(local + 12, 0x21);         /* date: 1980-01-01 */
        put32(local + 14, e[k].crc);
        put32(local + 18, e[k].size);    /* stored: compressed = uncompressed */
        put32(local + 22, e[k].size);
        put16(local + 26, (unsigned)nl);
        bad |= fwrite(local, 1, 30, f) != 30 || fwrite(e[k].name, 1, nl, f) != nl || fwrite(h, 1, hl, f) != hl;
        for (size_t j = 0; j < x->size && !bad; j += BLOCK) {
            size_t nb = le_block(x, j, le);
            bad |= fwrite(le, 4, nb, f) != nb;
        }
        at += 30 + (uint32_t)nl + e[k].size;
        k++;
    }
    uint32_t cd_start = at;
    for (int i = 0; i < k && !bad; i++) {
        unsigned char c[46];
        size_t nl = strlen(e[i].name);
        memset(c, 0, sizeof c);
        put32(c, 0x02014b50);
        put16(c + 4, 20);
        put16(c + 6, 20);
        put16(c + 14, 0x21);
        put32(c + 16, e[i].crc);
        put32(c + 20, e[i].size);
        put32(c + 24, e[i].size);
        put16(c + 28, (unsigned)nl);
        put32(c + 42, e[i].offset);
        bad |= fwrite(c, 1, 46, f) != 46 || fwrite(e[i].name, 1, nl, f) != nl;
        at += 46 + (uint32_t)nl;
    }
    unsigned char end[22];
    memset(end, 0, sizeof end);
    put32(end, 0x06054b50);
    put16(end + 8, (unsigned)k);
    put16(end + 10, (unsigned)k);
    put32(end + 12, at - cd_start);
    put32(end + 16, cd_start);
    bad |= fwrite(end, 1, 22, f) != 22;
    bad |= fclose(f) != 0;
    free(e);
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, bad ? "a write failed (disk full?)" : strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}
