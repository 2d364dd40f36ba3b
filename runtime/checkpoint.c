/* checkpoint.c — saving and loading a model's tensors, optimizer state and
 * step count.
 *
 * Format version 3 (all integers little-endian, u32 unless marked; floats
 * IEEE-754 binary32 little-endian):
 *
 *   "KILNCKPT"                      8 bytes of magic
 *   version                         3
 *   name length, name bytes         the model's name (no terminating 0)
 *   tensor count                    the trainable tensors, then the optimizer
 *                                   state (momentum, Adam's m and v), in the
 *                                   model's order
 *   per tensor: name length, name bytes, rank (0 to 4), rank dims,
 *               dims[0]·…·dims[rank-1] float32s
 *   steps                           u64: optimizer steps taken
 *   dropout key                     u64: the seed of dropout's masks (0: none)
 *   progress: epoch, step           where the run stands (kiln_progress):
 *             rng                   4 × u64, the RNG before the epoch's shuffle
 *             loss sum              f64 (as its u64 bits)
 *             correct               u64
 *   CRC-32 (zlib's) of every byte above
 *
 * Versions 1 (no optimizer state) and 2 (no dropout key or progress) came
 * from older kilns; they are refused with a message saying so.
 *
 * Saving writes FILE.tmp.XXXXXX next to FILE, fsyncs it and renames it over
 * FILE, so a crash never leaves a half-written checkpoint.  Loading reads the
 * whole file and checks, in this order: magic, version, structure (a file cut
 * short says "truncated"), checksum, then every tensor's name and shape
 * against the model (the first one that differs, is missing or is extra is
 * named), then the model name.  Only when all of that holds are the data and
 * the step count copied: a refused checkpoint leaves the model untouched. */
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

enum { CKPT_VERSION = 3, NAME_MAX_LEN = 4096, MAX_RANK = 4 };
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

/* The model's i-th checkpointed tensor: parameters first, then state. */
static const kiln_tensor *model_tensor(const kiln_model *m, int i)
{
    return i < m->ntensors ? &m->tensors[i] : &m->state[i - m->ntensors];
}

static int model_count(const kiln_model *m)
{
    return m->ntensors + (m->state ? m->nstate : 0);
}

/* ---- Encoding into a memory buffer ---------------------------------------- */

typedef struct { uint8_t *p; size_t len; } wbuf;

static void put_u32(wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static void put_u64(wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++) w->p[w->len++] = (uint8_t)(v >> (8 * i));
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
    size_t n = 8 + 4 + 4 + strlen(m->name) + 4;
    for (int t = 0; t < model_count(m); t++) {
        const kiln_tensor *x = model_tensor(m, t);
        n += 4 + strlen(x->name) + 4 + 4 * (size_t)x->rank + 4 * x->size;
    }
    return n + 8 + 8 + 4 + 4 + 32 + 8 + 8 + 4;
}

static void encode(const kiln_model *m, const kiln_progress *pr, wbuf *w)
{
    memcpy(w->p, MAGIC, 8);
    w->len = 8;
    put_u32(w, CKPT_VERSION);
    put_str(w, m->name);
    put_u32(w, (uint32_t)model_count(m));
    for (int t = 0; t < model_count(m); t++) {
        const kiln_tensor *x = model_tensor(m, t);
        put_str(w, x->name);
        put_u32(w, (uint32_t)x->rank);
        for (int i = 0; i < x->rank; i++) put_u32(w, (uint32_t)x->dims[i]);
        for (size_t i = 0; i < x->size; i++) {
            uint32_t bits;
            memcpy(&bits, &x->data[i], 4);
            put_u32(w, bits);
        }
    }
    put_u64(w, m->steps ? *m->steps : 0);
    put_u64(w, m->dropout_key ? *m->dropout_key : 0);
    kiln_progress none = {0};
    if (!pr) pr = &none;
    put_u32(w, pr->epoch);
    put_u32(w, pr->step);
    for (int i = 0; i < 4; i++) put_u64(w, pr->rng[i]);
    uint64_t bits;
    memcpy(&bits, &pr->loss_sum, 8);
    put_u64(w, bits);
    put_u64(w, pr->correct);
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
    return kiln_checkpoint_save_run(m, path, NULL, err, errlen);
}

int kiln_checkpoint_save_run(const kiln_model *m, const char *path, const kiln_progress *pr,
                             char *err, size_t errlen)
{
    for (int t = 0; t < model_count(m); t++) {
        const kiln_tensor *x = model_tensor(m, t);
        if (x->rank < 0 || x->rank > MAX_RANK || strlen(x->name) > NAME_MAX_LEN)
            return fail(err, errlen, "checkpoint %s: tensor %s cannot be saved (rank %d)",
                        path, x->name, x->rank);
    }
    size_t size = encoded_size(m);
    wbuf w = {malloc(size), 0};
    if (!w.p) return fail(err, errlen, "checkpoint %s: out of memory", path);
    encode(m, pr, &w);

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

static uint64_t get_u64(rbuf *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

/* A length-prefixed string: points into the buffer, *n its length.  A length
 * past NAME_MAX_LEN sets *bad (it cannot be a name kiln wrote). */
static const char *get_str(rbuf *r, uint32_t *n, int *bad)
{
    *n = get_u32(r);
    if (r->short_read) return "";
    if (*n > NAME_MAX_LEN) { *bad = 1; return ""; }
    if (r->len - r->pos < *n) { r->short_read = 1; r->pos = r->len; return ""; }
    const char *s = (const char *)r->p + r->pos;
    r->pos += *n;
    return s;
}

/* One tensor as the file holds it. */
typedef struct {
    const char *name;
    uint32_t    name_len, rank, dims[MAX_RANK];
    size_t      size;       /* floats */
    size_t      data;       /* offset of the first float in the file */
} ftensor;

typedef struct {
    uint32_t    version;
    const char *name;
    uint32_t    name_len, count;
    ftensor    *t;          /* count of them */
    uint64_t    steps, dropout_key;
    kiln_progress progress;
} fckpt;

/* Parses the structure of a version-3 file (no comparison with the model).
 * Returns 0, 1 when the file ends early, 2 when it is malformed. */
static int parse(const uint8_t *p, size_t len, fckpt *f)
{
    rbuf r = {p, len - 4, 12, 0};     /* magic and version already read; CRC last */
    int bad = 0;
    f->name = get_str(&r, &f->name_len, &bad);
    f->count = get_u32(&r);
    if (r.short_read) return 1;
    if (bad) return 2;
    /* each tensor takes at least 8 bytes: bounds the allocation */
    if (f->count > (r.len - r.pos) / 8) return 1;
    f->t = calloc(f->count ? f->count : 1, sizeof *f->t);
    if (!f->t) return 2;
    for (uint32_t i = 0; i < f->count; i++) {
        ftensor *t = &f->t[i];
        t->name = get_str(&r, &t->name_len, &bad);
        t->rank = get_u32(&r);
        if (r.short_read) return 1;
        if (bad || t->rank > MAX_RANK) return 2;
        size_t size = 1;
        for (uint32_t d = 0; d < t->rank; d++) {
            t->dims[d] = get_u32(&r);
            if (t->dims[d] && size > SIZE_MAX / 4 / t->dims[d]) return 2;
            size *= t->dims[d];
        }
        if (r.short_read) return 1;
        if ((r.len - r.pos) / 4 < size) return 1;
        t->size = size;
        t->data = r.pos;
        r.pos += 4 * size;
    }
    f->steps = get_u64(&r);
    f->dropout_key = get_u64(&r);
    f->progress.epoch = get_u32(&r);
    f->progress.step = get_u32(&r);
    for (int i = 0; i < 4; i++) f->progress.rng[i] = get_u64(&r);
    uint64_t bits = get_u64(&r);
    memcpy(&f->progress.loss_sum, &bits, 8);
    f->progress.correct = get_u64(&r);
    if (r.short_read) return 1;
    return r.pos == r.len ? 0 : 2;
}

/* A name from the file, fit for a one-line message: at most 100 bytes,
 * anything but printable ASCII replaced by '?'. */
static const char *printable(char *buf, const char *s, uint32_t n)
{
    uint32_t k = n < 100 ? n : 100;
    for (uint32_t i = 0; i < k; i++) buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    snprintf(buf + k, 4, "%s", n > k ? "..." : "");
    return buf;
}

static int same(const char *s, uint32_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

/* "(784, 256)", "(10)", "()" */
static void shape_str(char *buf, size_t len, uint32_t rank, const uint32_t *dims)
{
    size_t at = (size_t)snprintf(buf, len, "(");
    for (uint32_t i = 0; i < rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? ", %u" : "%u", (unsigned)dims[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
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

/* Compares the parsed file with the model; 0 when every tensor and the model
 * name match, otherwise -1 with one line naming the first difference. */
static int compare(const kiln_model *m, const char *path, const fckpt *f, char *err,
                   size_t errlen)
{
    char from[200] = "", fname[120] = "";
    int other = !same(f->name, f->name_len, m->name);
    if (other)
        snprintf(from, sizeof from, " (the checkpoint is from model %s)",
                 printable(fname, f->name, f->name_len));
    int want = model_count(m);
    for (int i = 0; i < want || (uint32_t)i < f->count; i++) {
        char tname[120];
        if ((uint32_t)i >= f->count) {
            const kiln_tensor *x = model_tensor(m, i);
            return fail(err, errlen, "checkpoint %s: has no tensor %s, which model %s %s "
                        "(the checkpoint holds %u tensors, the model %d)%s", path, x->name,
                        m->name, i < m->ntensors ? "trains" : "keeps as optimizer state",
                        (unsigned)f->count, want, from);
        }
        const ftensor *t = &f->t[i];
        if (i >= want)
            return fail(err, errlen, "checkpoint %s: tensor %s is there but not in model %s "
                        "(the checkpoint holds %u tensors, the model %d)%s", path,
                        printable(tname, t->name, t->name_len), m->name, (unsigned)f->count,
                        want, from);
        const kiln_tensor *x = model_tensor(m, i);
        if (!same(t->name, t->name_len, x->name))
            return fail(err, errlen, "checkpoint %s: tensor %d is %s there but %s in model %s%s",
                        path, i + 1, printable(tname, t->name, t->name_len), x->name, m->name,
                        from);
        int match = t->rank == (uint32_t)x->rank;
        for (uint32_t d = 0; match && d < t->rank; d++) match = t->dims[d] == (uint32_t)x->dims[d];
        if (!match) {
            char have[80], mine[80];
            uint32_t wd[MAX_RANK] = {0};
            for (int d = 0; d < x->rank && d < MAX_RANK; d++) wd[d] = (uint32_t)x->dims[d];
            shape_str(have, sizeof have, t->rank, t->dims);
            shape_str(mine, sizeof mine, (uint32_t)x->rank, wd);
            return fail(err, errlen, "checkpoint %s: tensor %s is %s there but %s in model %s%s",
                        path, x->name, have, mine, m->name, from);
        }
    }
    if (other)
        return fail(err, errlen, "checkpoint %s: is from model %s, this trainer is model %s "
                    "(every tensor has the same name and shape, but a checkpoint only loads "
                    "into the model that saved it)", path, fname, m->name);
    return 0;
}

int kiln_checkpoint_load(const kiln_model *m, const char *path, char *err, size_t errlen)
{
    return kiln_checkpoint_load_run(m, path, NULL, err, errlen);
}

int kiln_checkpoint_load_run(const kiln_model *m, const char *path, kiln_progress *pr,
                             char *err, size_t errlen)
{
    size_t len;
    uint8_t *p = read_file(path, &len, err, errlen);
    if (!p) return -1;
    fckpt f = {0};
    int rc = -1;
    if (len < 8 || memcmp(p, MAGIC, 8) != 0) {
        fail(err, errlen, "checkpoint %s: not a kiln checkpoint (bad magic bytes)", path);
        goto done;
    }
    if (len < 12) {
        fail(err, errlen, "checkpoint %s: truncated (%zu bytes); it was not completely "
             "written or copied", path, len);
        goto done;
    }
    f.version = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
                (uint32_t)p[11] << 24;
    if (f.version != CKPT_VERSION) {
        fail(err, errlen, "checkpoint %s: format version %u is not supported; this trainer "
             "reads version %d only%s", path, (unsigned)f.version, CKPT_VERSION,
             f.version == 1 || f.version == 2 ? " (it comes from an older kiln: train again to "
             "make a new one)" : "");
        goto done;
    }
    /* Structure first (so a cut-off file says "truncated"), then the checksum
     * (so a flipped byte is not reported as a wrong name or shape). */
    int s = len < 12 + 4 + 4 + 8 + 8 + 56 + 4 ? 1 : parse(p, len, &f);
    uint32_t stored = len < 16 ? 0 : (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
                                     (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
    if (s == 1) {
        fail(err, errlen, "checkpoint %s: truncated (%zu bytes); it was not completely "
             "written or copied", path, len);
    } else if (s != 0 || stored != crc_of(p, len - 4)) {
        fail(err, errlen, "checkpoint %s: checksum mismatch, the file is corrupted", path);
    } else if (compare(m, path, &f, err, errlen) == 0) {
        for (uint32_t i = 0; i < f.count; i++) {
            const kiln_tensor *x = model_tensor(m, (int)i);
            const uint8_t *b = p + f.t[i].data;
            for (size_t k = 0; k < x->size; k++, b += 4) {
                uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                (uint32_t)b[3] << 24;
                memcpy(&x->data[k], &bits, 4);
            }
        }
        if (m->steps) *m->steps = f.steps;
        if (m->dropout_key) *m->dropout_key = f.dropout_key;
        if (pr) *pr = f.progress;
        rc = 0;
    }
done:
    free(f.t);
    free(p);
    return rc;
}
