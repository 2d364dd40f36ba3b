/* checkpoint.c — saving and loading a model's trainable tensors.
 *
 * Layout (all integers u32 little-endian, floats IEEE-754 binary32 LE):
 *
 *   "KILNCKPT"                      8 bytes of magic
 *   version                         currently 1
 *   name length, name bytes         the model's name (no terminating 0)
 *   tensor count
 *   per tensor: name length, name bytes, rank, rank dims, size float32s
 *   CRC-32 (zlib) of every byte above
 *
 * Saving writes FILE.tmp.XXXXXX next to FILE, fsyncs it and renames it over
 * FILE, so a crash never leaves a half-written checkpoint.  Loading reads the
 * whole file, checks magic, version, length, checksum, model name, tensor
 * count and every tensor's name and shape, and only then copies the data into
 * the model: a refused checkpoint leaves the model untouched. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { CKPT_VERSION = 1, NAME_MAX_LEN = 4096 };
static const char MAGIC[8] = {'K', 'I', 'L', 'N', 'C', 'K', 'P', 'T'};

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* zlib's CRC-32 of n bytes (in chunks: crc32 takes a 32-bit length). */
static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0; at < n; at += 1u << 30)
        crc = crc32(crc, p + at, (uInt)(n - at < (1u << 30) ? n - at : (1u << 30)));
    return (uint32_t)crc;
}

/* ---- Encoding into a memory buffer ---------------------------------------- */

typedef struct { uint8_t *p; size_t len; } wbuf;

static void put_u32(wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(wbuf *w, const char *s)
{
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static size_t encoded_size(const kiln_model *m)
{
    size_t n = 8 + 4 + 4 + strlen(m->name) + 4 + 4;
    for (int t = 0; t < m->ntensors; t++) {
        const kiln_tensor *x = &m->tensors[t];
        n += 4 + strlen(x->name) + 4 + 4 * (size_t)x->rank + 4 * x->size;
    }
    return n;
}

static void encode(const kiln_model *m, wbuf *w)
{
    memcpy(w->p, MAGIC, 8);
    w->len = 8;
    put_u32(w, CKPT_VERSION);
    put_str(w, m->name);
    put_u32(w, (uint32_t)m->ntensors);
    for (int t = 0; t < m->ntensors; t++) {
        const kiln_tensor *x = &m->tensors[t];
        put_str(w, x->name);
        put_u32(w, (uint32_t)x->rank);
        for (int i = 0; i < x->rank; i++) put_u32(w, (uint32_t)x->dims[i]);
        for (size_t i = 0; i < x->size; i++) {
            uint32_t bits;
            memcpy(&bits, &x->data[i], 4);
            put_u32(w, bits);
        }
    }
    put_u32(w, crc_of(w->p, w->len));
}

/* ---- Saving ------------------------------------------------------------------ */

static int write_fully(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* fsync the directory holding path so the rename itself is durable
 * (best effort: some file systems refuse, and the data is already safe). */
static void sync_dir(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int kiln_checkpoint_save(const kiln_model *m, const char *path, char *err, size_t errlen)
{
    size_t size = encoded_size(m);
    if (size > 0xffffffffu)
        return fail(err, errlen, "checkpoint %s: the model is too large for format "
                    "version 1", path);
    wbuf w = {malloc(size), 0};
    if (!w.p) return fail(err, errlen, "checkpoint %s: out of memory", path);
    encode(m, &w);

    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        free(w.p);
        return fail(err, errlen, "checkpoint %s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(w.p);
        return fail(err, errlen, "checkpoint %s: cannot create a file next to it: %s; "
                    "check that the directory exists and is writable", path, strerror(errno));
    }
    mode_t mask = umask(0);
    umask(mask);
    int bad = fchmod(fd, 0666 & ~mask) != 0 || write_fully(fd, w.p, w.len) != 0 ||
              fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !bad) { bad = 1; saved = errno; }
    if (!bad && rename(tmp, path) != 0) { bad = 1; saved = errno; }
    free(w.p);
    if (bad) {
        unlink(tmp);
        return fail(err, errlen, "checkpoint %s: cannot write: %s", path, strerror(saved));
    }
    sync_dir(path);
    return 0;
}

/* ---- Loading ------------------------------------------------------------------ */

typedef struct { const uint8_t *p; size_t len, pos; int short_read; } rbuf;

static uint32_t get_u32(rbuf *r)
{
    if (r->len - r->pos < 4) { r->short_read = 1; r->pos = r->len; return 0; }
    const uint8_t *b = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A length-prefixed string: points into the buffer, *n its length. */
static const char *get_str(rbuf *r, uint32_t *n)
{
    *n = get_u32(r);
    if (*n > NAME_MAX_LEN || r->len - r->pos < *n) {
        r->short_read = 1;
        r->pos = r->len;
        return "";
    }
    const char *s = (const char *)r->p + r->pos;
    r->pos += *n;
    return s;
}

static int same(const char *s, uint32_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

static void shape_str(char *buf, size_t len, int rank, const uint32_t *dims)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? "×%u" : "%u", (unsigned)dims[i]);
}

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) { fail(err, errlen, "checkpoint %s: %s", path, strerror(errno)); return NULL; }
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
        fail(err, errlen, "checkpoint %s: is a directory, expected a checkpoint file", path);
        fclose(f);
        return NULL;
    }
    uint8_t *p = malloc((size_t)st.st_size + 1);
    size_t n = p ? fread(p, 1, (size_t)st.st_size + 1, f) : 0;
    const char *why = !p ? "out of memory" : ferror(f) ? strerror(errno) : NULL;
    fclose(f);
    if (why) {
        free(p);
        fail(err, errlen, "checkpoint %s: cannot read: %s", path, why);
        return NULL;
    }
    *len = n;
    return p;
}

/* Walks the file once; with copy == 0 it only verifies, with copy == 1 it
 * fills the model's tensors (called only after a verifying pass). */
static int walk(const kiln_model *m, const char *path, const uint8_t *p, size_t len,
                int copy, char *err, size_t errlen)
{
    rbuf r = {p, len - 4, 8, 0};
    uint32_t version = get_u32(&r), n;
    if (version != CKPT_VERSION)
        return fail(err, errlen, "checkpoint %s: format version %u is not supported (this trainer "
                    "reads version %d)", path, (unsigned)version, CKPT_VERSION);
    const char *name = get_str(&r, &n);
    uint32_t count = get_u32(&r);
    if (r.short_read) return 1;
    if (!same(name, n, m->name))
        return fail(err, errlen, "checkpoint %s is for model '%.*s', this trainer is '%s'",
                    path, (int)(n > 200 ? 200 : n), name, m->name);
    if (count != (uint32_t)m->ntensors)
        return fail(err, errlen, "checkpoint %s has %u tensors, model '%s' has %d", path,
                    (unsigned)count, m->name, m->ntensors);
    for (int t = 0; t < m->ntensors; t++) {
        const kiln_tensor *x = &m->tensors[t];
        const char *tname = get_str(&r, &n);
        uint32_t rank = get_u32(&r), dims[4] = {0};
        if (r.short_read || rank > 4) return 1;
        for (uint32_t i = 0; i < rank; i++) dims[i] = get_u32(&r);
        if (r.short_read) return 1;
        if (!same(tname, n, x->name))
            return fail(err, errlen, "checkpoint %s: tensor %d is '%.*s', this trainer expects "
                        "'%s'", path, t + 1, (int)(n > 200 ? 200 : n), tname, x->name);
        int match = rank == (uint32_t)x->rank;
        for (uint32_t i = 0; match && i < rank; i++) match = dims[i] == (uint32_t)x->dims[i];
        if (!match) {
            char have[80], want[80];
            uint32_t wd[4];
            for (int i = 0; i < x->rank && i < 4; i++) wd[i] = (uint32_t)x->dims[i];
            shape_str(have, sizeof have, (int)rank, dims);
            shape_str(want, sizeof want, x->rank, wd);
            return fail(err, errlen, "checkpoint %s: tensor '%s' has shape %s, this trainer's "
                        "is %s", path, x->name, have, want);
        }
        if ((r.len - r.pos) / 4 < x->size) return 1;
        if (copy)
            for (size_t i = 0; i < x->size; i++) {
                uint32_t bits = get_u32(&r);
                memcpy(&x->data[i], &bits, 4);
            }
        else
            r.pos += 4 * x->size;
    }
    if (r.pos != r.len)
        return fail(err, errlen, "checkpoint %s: %zu unexpected bytes after the last tensor",
                    path, r.len - r.pos);
    return 0;
}

int kiln_checkpoint_load(const kiln_model *m, const char *path, char *err, size_t errlen)
{
    size_t len;
    uint8_t *p = read_file(path, &len, err, errlen);
    if (!p) return -1;
    int rc = -1;
    if (len < 8 || memcmp(p, MAGIC, 8) != 0) {
        fail(err, errlen, "checkpoint %s: not a kiln checkpoint (bad magic bytes)", path);
    } else if (len < 8 + 4 + 4 + 4 + 4) {
        fail(err, errlen, "checkpoint %s: truncated (%zu bytes)", path, len);
    } else {
        uint32_t stored = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
                          (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
        int checksum_ok = stored == crc_of(p, len - 4);
        /* Structure first (so a cut-off file says "truncated"), then the
         * checksum (so a flipped byte is not reported as a wrong name). */
        int w = walk(m, path, p, len, 0, err, errlen);
        if (!checksum_ok && w != 1)
            fail(err, errlen, "checkpoint %s: checksum mismatch, the file is corrupted", path);
        else if (w == 1)
            fail(err, errlen, "checkpoint %s: truncated (%zu bytes); it was not completely "
                 "written or copied", path, len);
        else if (w == 0)
            rc = walk(m, path, p, len, 1, err, errlen);
    }
    free(p);
    return rc;
}
