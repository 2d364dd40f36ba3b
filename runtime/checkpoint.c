/* checkpoint.c — saving and loading a model's tensors, optimizer state and
 * step count, and checking a loaded run before it is resumed.
 *
 * Format version 7 (all integers little-endian, u32 unless marked; floats
 * IEEE-754 binary32 little-endian):
 *
 *   "KILNCKPT"                      8 bytes of magic
 *   version                         4
 *   name length, name bytes         the model's name (no terminating 0)
 *   tensor count                    the trainable tensors, then the state:
 *                                   the model's (batch norm's running
 *                                   statistics) and the optimizer's
 *                                   (momentum, Adam's m and v), in the
 *                                   model's order
 *   per tensor: name length, name bytes, rank (0 to 4), rank dims,
 *               dims[0]·…·dims[rank-1] float32s
 *   steps                           u64: optimizer steps taken
 *   dropout key                     u64: the seed of dropout's masks (0: none)
 *   progress: epoch, step           where the run stands (kiln_progress):
 *             rng                   4 × u64, the RNG before the epoch's shuffle
 *             loss sum              f64 (as its u64 bits): the epoch's
 *                                   per-example losses so far, summed
 *             correct               u64
 *   run:      seed                  u64: the run's --seed
 *             train count, batch    the training set's size, the batch size
 *             data CRC              kiln_dataset_crc of the training set
 *             base rate             f64 (as its u64 bits): the learning rate
 *                                   the run's schedule starts from (the
 *                                   spec's, or --lr's); with the epoch, where
 *                                   the schedule stands
 *   CRC-32 (zlib's) of every byte above
 *
 * Version 6 is 7's layout without the base rate; it is read, and a resumed
 * run of it goes on with the spec's rate (or --lr's).  Version 5 is 6's
 * layout with the loss sum of the batches' mean losses; it is read, its sum
 * made per example (times the batch: the steps an epoch saved mid-way had
 * done are whole batches).  Versions 1 to 4 came
 * from older kilns (3 had no record of the data and batch a run trained
 * on; 4's state held the optimizer's only, where 5's holds the model's too
 * — batch norm's running statistics — so a checkpoint of 4 would miss
 * them); they are refused with a message saying so.
 *
 * Saving writes FILE.tmp next to FILE (the file a symbolic link FILE points
 * to, for a link), fsyncs it and renames it over FILE, so a crash never
 * leaves a half-written checkpoint; a FILE that is there already must be a
 * regular file holding a checkpoint (its magic) or nothing.  FILE.tmp is opened without following
 * links, must be a regular file of ours with no other name, and is locked
 * (fcntl) while it is written; a save killed midway leaves it for the next
 * save to reuse.  Loading reads the whole file and checks, in this order:
 * magic, version, structure (a file cut short says "truncated"), checksum,
 * then every tensor's name and shape against the model (the first one that
 * differs, is missing or is extra is named), then the model name, then that
 * every float is finite and the step count below KILN_MAX_STEPS.  Only when
 * all of that holds are the data and the step count copied: a refused
 * checkpoint leaves the model untouched. */
#define _XOPEN_SOURCE 700   /* realpath, with everything _POSIX_C_SOURCE 200809 gives */
#include "kiln_rt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { CKPT_VERSION = 7, CKPT_OLDEST = 5, NAME_MAX_LEN = 4096, MAX_RANK = 4 };
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

/* zlib's CRC-32 of n more bytes after those crc covers (in chunks: crc32
 * takes a 32-bit length). */
static uint32_t crc_add(uint32_t crc, const void *bytes, size_t n)
{
    const uint8_t *p = bytes;
    uLong c = crc;
    for (size_t at = 0; at < n; at += 1u << 30)
        c = crc32(c, p + at, (uInt)(n - at < (1u << 30) ? n - at : (1u << 30)));
    return (uint32_t)c;
}

static uint32_t crc_of(const uint8_t *p, size_t n) { return crc_add(0, p, n); }

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
    return n + 8 + 8 + 4 + 4 + 32 + 8 + 8 + 8 + 4 + 4 + 4 + 8 + 4;
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
    put_u64(w, pr->seed);
    put_u32(w, pr->train_count);
    put_u32(w, pr->batch);
    put_u32(w, pr->data_crc);
    memcpy(&bits, &pr->lr, 8);
    put_u64(w, bits);
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

/* What a file's type is, for a refusal: "a directory", "a FIFO"... */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" :
           S_ISSOCK(mode) ? "a socket" : S_ISCHR(mode) ? "a character device" :
           S_ISBLK(mode) ? "a block device" : "not a regular file";
}

/* Where a save to path writes: path itself or, when path is a symbolic
 * link, the regular file it points to; and the temporary beside it. */
typedef struct { char file[PATH_MAX], tmp[PATH_MAX + 8]; } target;

static int resolve_target(const char *path, target *t, char *err, size_t errlen)
{
    struct stat st;
    if (!*path) return fail(err, errlen, "checkpoint: the file name is empty");
    int exists = lstat(path, &st) == 0;
    if (!exists && errno != ENOENT)
        return fail(err, errlen, "checkpoint %s: %s", path, strerror(errno));
    const char *file = path;
    char *real = NULL;
    if (exists && S_ISLNK(st.st_mode)) {
        real = realpath(path, NULL);
        if (!real || stat(real, &st) != 0) {
            int e = errno;
            free(real);
            return fail(err, errlen, "checkpoint %s: is a symbolic link to a file that cannot "
                        "be reached (%s); point it at a checkpoint file or remove it", path,
                        strerror(e));
        }
        if (!S_ISREG(st.st_mode)) {
            fail(err, errlen, "checkpoint %s: is a symbolic link to %s, which is %s; kiln "
                 "only replaces regular files", path, real, file_kind(st.st_mode));
            free(real);
            return -1;
        }
        file = real;
    } else if (exists && !S_ISREG(st.st_mode)) {
        return fail(err, errlen, "checkpoint %s: is %s, not a checkpoint file; kiln only "
                    "replaces regular files: give a file name", path, file_kind(st.st_mode));
    }
    int too_long = snprintf(t->file, sizeof t->file, "%s", file) >= (int)sizeof t->file;
    free(real);
    if (too_long) return fail(err, errlen, "checkpoint %s: the path is too long", path);
    /* a file that is there already must be a checkpoint (or empty): a typo
     * in --save must not replace a spec, a data file or a report */
    if (exists && st.st_size > 0) {
        char magic[sizeof MAGIC];
        int fd = open(t->file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ssize_t got = fd < 0 ? -1 : read(fd, magic, sizeof magic);
        if (fd >= 0) close(fd);
        if (got != (ssize_t)sizeof magic || memcmp(magic, MAGIC, sizeof magic) != 0)
            return fail(err, errlen, "checkpoint %s: %s; kiln replaces only checkpoints: "
                        "remove it or pick another name", path,
                        got < 0 ? "exists and cannot be read" :
                        "exists and is not a kiln checkpoint (it does not start with KILNCKPT)");
    }
    snprintf(t->tmp, sizeof t->tmp, "%s.tmp", t->file);
    return 0;
}

/* Opens t->tmp for writing, empty and locked against other savers: a file of
 * this user with no other name, never through a link.  Returns its
 * descriptor (*created: the call made the file), or -1 with err. */
static int open_tmp(const char *path, const target *t, int *created, char *err, size_t errlen)
{
    for (int tries = 0; tries < 100; tries++) {
        *created = 0;
        int fd = open(t->tmp, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST) continue;   /* another saver made it just now */
            *created = fd >= 0;
        }
        if (fd < 0 && errno == ENAMETOOLONG)
            return fail(err, errlen, "checkpoint %s: the name is too long for the temporary "
                        "file %s.tmp that saving writes beside it; use a shorter name", path,
                        strrchr(t->file, '/') ? strrchr(t->file, '/') + 1 : t->file);
        if (fd < 0 && errno == ELOOP)
            return fail(err, errlen, "checkpoint %s: %s is a symbolic link; remove it (saving "
                        "writes that temporary file beside the checkpoint)", path, t->tmp);
        if (fd < 0)
            return fail(err, errlen, "checkpoint %s: cannot create %s beside it: %s; check "
                        "that the directory exists and is writable", path, t->tmp,
                        strerror(errno));
        struct stat st, now;
        if (fstat(fd, &st) != 0) {
            int e = errno;
            close(fd);
            return fail(err, errlen, "checkpoint %s: cannot write %s: %s", path, t->tmp,
                        strerror(e));
        }
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
            int reg = S_ISREG(st.st_mode);
            close(fd);
            return fail(err, errlen, "checkpoint %s: %s is %s; remove it (saving writes that "
                        "temporary file beside the checkpoint)", path, t->tmp,
                        reg ? "another user's file" : file_kind(st.st_mode));
        }
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int locked;
        while ((locked = fcntl(fd, F_SETLKW, &lock)) != 0 && errno == EINTR) {}
        /* While this waited, another saver may have renamed the file into
         * place; and a file with a second name would change that one too. */
        int moved = locked != 0 || lstat(t->tmp, &now) != 0 || now.st_dev != st.st_dev ||
                    now.st_ino != st.st_ino;
        if (!moved && now.st_nlink != 1) { unlink(t->tmp); moved = 1; }
        if (!moved && ftruncate(fd, 0) == 0) return fd;
        int e = errno;
        close(fd);
        if (!moved || locked != 0)
            return fail(err, errlen, "checkpoint %s: cannot write %s: %s", path, t->tmp,
                        strerror(e));
    }
    return fail(err, errlen, "checkpoint %s: %s keeps changing under another program; "
                "is something else saving there?", path, t->tmp);
}

int kiln_checkpoint_check_target(const char *path, char *err, size_t errlen)
{
    target t;
    int created;
    if (resolve_target(path, &t, err, errlen) != 0) return -1;
    int fd = open_tmp(path, &t, &created, err, errlen);
    if (fd < 0) return -1;
    if (created) unlink(t.tmp);
    close(fd);
    return 0;
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
    const char *nonfinite;
    if (!kiln_model_finite(m, &nonfinite))   /* loading would refuse it */
        return fail(err, errlen, "checkpoint %s: not saved: tensor %s holds NaN or infinity",
                    path, nonfinite);
    target t;
    int created;
    if (resolve_target(path, &t, err, errlen) != 0) return -1;
    size_t size = encoded_size(m);
    wbuf w = {malloc(size), 0};
    if (!w.p) return fail(err, errlen, "checkpoint %s: out of memory", path);
    encode(m, pr, &w);
    int fd = open_tmp(path, &t, &created, err, errlen);
    if (fd < 0) {
        free(w.p);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    int bad = write_fully(fd, w.p, w.len) != 0 || fchmod(fd, 0666 & ~mask) != 0 ||
              fsync(fd) != 0 || rename(t.tmp, t.file) != 0;
    int saved = errno;
    if (bad) unlink(t.tmp);
    if (close(fd) != 0 && !bad) { bad = 1; saved = errno; }   /* after the rename: the lock */
    free(w.p);
    if (bad) return fail(err, errlen, "checkpoint %s: cannot write: %s", path, strerror(saved));
    sync_dir(t.file);
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

/* Parses the structure of a file of a version read (no comparison with the model).
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
    f->progress.seed = get_u64(&r);
    f->progress.train_count = get_u32(&r);
    f->progress.batch = get_u32(&r);
    f->progress.data_crc = get_u32(&r);
    if (f->version >= 7) {
        bits = get_u64(&r);
        memcpy(&f->progress.lr, &bits, 8);
    }
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

/* A shape as text, e.g. "(784, 256)", "(10)", "()" */
static void shape_str(char *buf, size_t len, uint32_t rank, const uint32_t *dims)
{
    size_t at = (size_t)snprintf(buf, len, "(");
    for (uint32_t i = 0; i < rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? ", %u" : "%u", (unsigned)dims[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
}

/* The whole file at path, which must be a regular file (a FIFO or device is
 * refused, not waited on). */
static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st = {0};
    if (fd < 0) { fail(err, errlen, "checkpoint %s: %s", path, strerror(errno)); return NULL; }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(err, errlen, "checkpoint %s: is %s, expected a checkpoint file", path,
             file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    uint8_t *p = f ? malloc((size_t)st.st_size + 1) : NULL;
    size_t n = p ? fread(p, 1, (size_t)st.st_size + 1, f) : 0;
    const char *why = !f ? strerror(errno) : !p ? "out of memory" :
                      ferror(f) ? strerror(errno) : NULL;
    if (f) fclose(f);
    else close(fd);
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

static float float_at(const uint8_t *b)
{
    uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                    (uint32_t)b[3] << 24;
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* Values no training run writes: a float that is not finite (training
 * stops before it saves one), a negative one in a tensor that is never
 * below 0 (Adam's v), a step count past KILN_MAX_STEPS.  0, or -1
 * naming the first. */
static int plausible(const kiln_model *m, const char *path, const uint8_t *p, const fckpt *f,
                     char *err, size_t errlen)
{
    for (uint32_t i = 0; i < f->count; i++) {
        const kiln_tensor *x = model_tensor(m, (int)i);
        for (size_t k = 0; k < f->t[i].size; k++) {
            float v = float_at(p + f->t[i].data + 4 * k);
            if (!isfinite(v) || (x->nonnegative && v < 0))
                return fail(err, errlen, "checkpoint %s: tensor %s holds %s (element %zu); no "
                            "training run saves that", path, x->name,
                            isfinite(v) ? "a value below 0" : "NaN or infinity", k);
        }
    }
    if (f->steps > KILN_MAX_STEPS)
        return fail(err, errlen, "checkpoint %s: records %" PRIu64 " optimizer steps, more "
                    "than any run takes (at most 2^53)", path, f->steps);
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
    if (f.version < CKPT_OLDEST || f.version > CKPT_VERSION) {
        fail(err, errlen, "checkpoint %s: format version %u is not supported; this trainer "
             "reads versions %d to %d only%s", path, (unsigned)f.version, CKPT_OLDEST, CKPT_VERSION,
             f.version >= 1 && f.version < CKPT_OLDEST ? " (it comes from an older kiln: train again to "
             "make a new one)" : "");
        goto done;
    }
    /* Structure first (so a cut-off file says "truncated"), then the checksum
     * (so a flipped byte is not reported as a wrong name or shape). */
    int s = len < 12 + 4 + 4 + 8 + 8 + 56 + 20 + 4 ? 1 : parse(p, len, &f);
    uint32_t stored = len < 16 ? 0 : (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
                                     (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
    if (s == 0 && f.version == 5) f.progress.loss_sum *= f.progress.batch;   /* batch means → per example */
    if (s == 1) {
        fail(err, errlen, "checkpoint %s: truncated (%zu bytes); it was not completely "
             "written or copied", path, len);
    } else if (s != 0 || stored != crc_of(p, len - 4)) {
        fail(err, errlen, "checkpoint %s: checksum mismatch, the file is corrupted", path);
    } else if (compare(m, path, &f, err, errlen) == 0 && plausible(m, path, p, &f, err, errlen) == 0) {
        for (uint32_t i = 0; i < f.count; i++) {
            const kiln_tensor *x = model_tensor(m, (int)i);
            for (size_t k = 0; k < x->size; k++) x->data[k] = float_at(p + f.t[i].data + 4 * k);
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

/* ---- Checking a run before it is resumed ------------------------------------- */

uint32_t kiln_dataset_crc(const kiln_dataset *d)
{
    size_t n = (size_t)d->count, row = (size_t)d->sample_size;
    uint32_t crc = 0;
    if (d->images) crc = crc_add(crc, d->images, n * row);
    if (d->labels) crc = crc_add(crc, d->labels, n);
    if (d->features) crc = crc_add(crc, d->features, sizeof *d->features * n * row);
    if (d->targets) crc = crc_add(crc, d->targets, sizeof *d->targets * n);
    return crc;
}

int kiln_model_finite(const kiln_model *m, const char **bad)
{
    for (int t = 0; t < model_count(m); t++) {
        const kiln_tensor *x = model_tensor(m, t);
        float acc = 0;   /* 0·x is NaN for x NaN or infinite, else 0: one sum, vectorized */
        for (size_t i = 0; i < x->size; i++) acc += 0.0f * x->data[i];
        if (acc != 0) {
            *bad = x->name;
            return 0;
        }
    }
    return 1;
}

int kiln_checkpoint_check_run(const kiln_model *m, const char *path, const kiln_progress *p,
                              int count, uint32_t crc, char *err, size_t errlen)
{
    if (p->epoch == 0)
        return fail(err, errlen, "checkpoint %s: records no training run to resume; start "
                    "from it with --load instead", path);
    if (p->batch != (uint32_t)m->batch)
        return fail(err, errlen, "checkpoint %s: the run was trained with batch %u, this "
                    "trainer's batch is %d; resume it with the trainer it was saved by, or "
                    "start from it with --load", path, (unsigned)p->batch, m->batch);
    if (p->train_count != (uint32_t)count || p->data_crc != crc)
        return fail(err, errlen, "checkpoint %s: the run was trained on other data (%u "
                    "training examples, checksum %08x; these are %d, checksum %08x); resume "
                    "it with the same --data, or start from it with --load", path,
                    (unsigned)p->train_count, (unsigned)p->data_crc, count, (unsigned)crc);
    uint64_t nsteps = ((uint64_t)count + (uint64_t)m->batch - 1) / (uint64_t)m->batch;
    uint64_t rows = p->step * (uint64_t)m->batch < (uint64_t)count ?
                    p->step * (uint64_t)m->batch : (uint64_t)count;
    const char *why = NULL;
    char what[160];
    if (p->epoch > (uint32_t)KILN_MAX_EPOCHS + 1)
        snprintf(what, sizeof what, "epoch %u is past the most a run takes (%d)",
                 (unsigned)p->epoch, KILN_MAX_EPOCHS), why = what;
    else if (p->step > nsteps)
        snprintf(what, sizeof what, "step %u is past the %" PRIu64 " of an epoch", (unsigned)p->step,
                 nsteps), why = what;
    else if (!(p->rng[0] | p->rng[1] | p->rng[2] | p->rng[3]))
        why = "its random number generator state is all zeros, which xoshiro never reaches";
    else if (!isfinite(p->loss_sum) || p->loss_sum < 0 || (p->step == 0 && p->loss_sum != 0))
        snprintf(what, sizeof what, "the epoch's loss sum %g cannot come from %u steps",
                 p->loss_sum, (unsigned)p->step), why = what;
    else if (p->correct > rows || (m->classes == 0 && p->correct != 0))
        snprintf(what, sizeof what, "%" PRIu64 " rows counted correct out of the %" PRIu64
                 " seen", p->correct, rows), why = what;
    else if (!(p->lr >= 0) || p->lr > 1e6)
        snprintf(what, sizeof what, "its base learning rate %g is not one a trainer takes", p->lr), why = what;
    else if (m->steps && *m->steps < (p->epoch - 1) * nsteps + p->step)
        snprintf(what, sizeof what, "%" PRIu64 " optimizer steps is fewer than the epochs "
                 "and steps done", *m->steps), why = what;
    if (why)
        return fail(err, errlen, "checkpoint %s: %s; the file was not written by a kiln "
                    "training run", path, why);
    return 0;
}
