/* idx.c — reading IDX files (the MNIST format), plain or gzip-compressed,
 * into kiln_idx / kiln_dataset (batch.c gathers minibatches from them).
 *
 * IDX: bytes 0,0, an element type (only 0x08 = unsigned byte is supported),
 * a rank, then rank big-endian u32 dimensions, then the items.  zlib's
 * gzread reads gzip and plain files alike.  Every failure is reported as one
 * line "data: FILE: problem" and the functions return -1; a file that holds
 * more bytes after its last item is refused too (it means the header does not
 * describe the file), while garbage after the end of a gzip stream is ignored
 * by zlib.  Sizes are capped just below 2 GiB.  A large file's items are
 * put on 2 MiB pages where Linux allows it (prefer_huge_pages). */
#define _DEFAULT_SOURCE   /* madvise, with everything _POSIX_C_SOURCE 200809 gives */
#include "kiln_rt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define IDX_MAX_BYTES ((uint64_t)INT32_MAX)   /* 2 GiB − 1: dims fit an int */

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (err && errlen) snprintf(err, errlen, "data: %s: %s", path, what);
    return -1;
}

/* Reads up to n bytes; returns how many, or -1 after a gzip/read error. */
static long long read_all(gzFile f, uint8_t *dst, unsigned long long n)
{
    unsigned long long got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, dst + got, chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (unsigned)r;
    }
    return (long long)got;
}

/* The reason gzread failed, as one phrase (zlib prefixes it with the path,
 * which our messages already carry). */
static const char *gz_reason(gzFile f, const char *path)
{
    int code;
    const char *msg = gzerror(f, &code);
    if (code == Z_ERRNO) return strerror(errno);
    if (!msg || !*msg) return "read error";
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
    return msg;
}

static const char *kind_of(int rank)
{
    return rank == 3 ? "images" : rank == 1 ? "labels" : "data";
}

/* One line for a gzip/read failure. */
static int corrupt(char *err, size_t errlen, gzFile f, const char *path)
{
    return fail(err, errlen, path, "corrupt gzip data (%s); get a fresh copy",
                gz_reason(f, path));
}

/* Reads and checks the header into out (rank, dims); *total = item bytes. */
static int read_header(gzFile f, const char *path, kiln_idx *out, size_t *total,
                       char *err, size_t errlen)
{
    uint8_t h[4 + 4 * 4];
    long long got = read_all(f, h, 4);
    if (got < 0) return corrupt(err, errlen, f, path);
    if (got < 4)
        return fail(err, errlen, path, "truncated: %lld bytes, too short for an IDX header", got);
    if (h[0] != 0 || h[1] != 0)
        return fail(err, errlen, path, "not an IDX file (starts with 0x%02x%02x, "
                    "expected 0x0000)", h[0], h[1]);
    if (h[2] != 0x08)
        return fail(err, errlen, path, "IDX element type 0x%02x is not supported "
                    "(only 0x08, unsigned bytes)", h[2]);
    if (h[3] < 1 || h[3] > 4)
        return fail(err, errlen, path, "IDX rank %d is not supported (expected 1 to 4)", h[3]);

    int rank = h[3];
    got = read_all(f, h + 4, 4ULL * rank);
    if (got < 0) return corrupt(err, errlen, f, path);
    if (got != 4LL * rank)
        return fail(err, errlen, path, "truncated: the header ends after %lld of %d "
                    "dimension bytes", got, 4 * rank);
    uint64_t product = 1;   /* stays ≤ 2³¹·2³² while checked step by step */
    for (int i = 0; i < rank; i++) {
        const uint8_t *d = h + 4 + 4 * i;
        uint32_t dim = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        if (dim == 0)
            return fail(err, errlen, path, "dimension %d is 0: the file holds no items", i + 1);
        product *= dim;
        if (product > IDX_MAX_BYTES)
            return fail(err, errlen, path, "dimensions too large (over 2 GiB of data); "
                        "is the header corrupted?");
        out->dims[i] = (int)dim;
    }
    out->rank = rank;
    *total = (size_t)product;
    return 0;
}

/* Reads exactly total item bytes into out->data and makes sure nothing
 * follows them; the extra read also makes zlib check the gzip CRC.  The
 * buffer grows as the bytes arrive (from 1 MiB, doubling), so a short file
 * whose header claims 2 GiB costs what it holds, not what it claims. */
#define IDX_FIRST_CHUNK ((size_t)1 << 20)
static int read_items(gzFile f, const char *path, kiln_idx *out, size_t total,
                      char *err, size_t errlen)
{
    size_t cap = total < IDX_FIRST_CHUNK ? total : IDX_FIRST_CHUNK;
    out->data = malloc(cap);
    if (!out->data) return fail(err, errlen, path, "out of memory for %zu bytes", cap);
    long long got = 0;
    for (;;) {
        long long r = read_all(f, out->data + got, cap - (size_t)got);
        if (r < 0) return corrupt(err, errlen, f, path);
        got += r;
        if ((size_t)got < cap || cap == total) break;   /* the file ended, or all is read */
        size_t grown = cap > total / 2 ? total : 2 * cap;
        uint8_t *p = realloc(out->data, grown);
        if (!p) return fail(err, errlen, path, "out of memory for %zu bytes", grown);
        out->data = p;
        cap = grown;
    }
    if (got < (long long)total)
        return fail(err, errlen, path, "truncated: expected %zu bytes of %s, got %lld",
                    total, kind_of(out->rank), got);
    uint8_t extra;
    got = read_all(f, &extra, 1);
    if (got < 0) return corrupt(err, errlen, f, path);
    if (got > 0)
        return fail(err, errlen, path, "more data than the header's %d items; the file is "
                    "not a valid IDX file", out->dims[0]);
    return 0;
}

/* Ask Linux to keep a large item block on 2 MiB pages.  A minibatch copies
 * rows from random places of a data set far larger than the caches, most
 * of them on a 4 KiB page of their own, and there the TLB misses can cost
 * as much as the copying (bench/README.md, "Measurements behind the
 * runtime's choices").
 * MADV_COLLAPSE (Linux 6.1) moves the pages now; where it is missing,
 * MADV_HUGEPAGE lets the kernel do it when it can.  Only whole 2 MiB blocks
 * inside the buffer can move.  Nothing changes where neither works: it is
 * only about speed. */
enum { HUGE_PAGE = 2 << 20 };
static void prefer_huge_pages(void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25      /* Linux ≥ 6.1; older headers lack it */
#endif
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (end <= start) return;
    if (madvise((void *)start, end - start, MADV_COLLAPSE) != 0)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

int kiln_idx_load(const char *path, kiln_idx *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* without O_NONBLOCK, opening a FIFO would wait for a writer forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st = {0};
    if (fd < 0)
        return fail(err, errlen, path, "%s", strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0) != 0) {
        close(fd);
        return fail(err, errlen, path, "is %s, expected an IDX file",
                    S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    }
    errno = 0;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return fail(err, errlen, path, "cannot open: %s",
                    errno ? strerror(errno) : "out of memory");
    }
    size_t total = 0;
    int rc = read_header(f, path, out, &total, err, errlen);
    if (rc == 0) rc = read_items(f, path, out, total, err, errlen);
    gzclose(f);
    if (rc == 0) prefer_huge_pages(out->data, total);
    if (rc != 0) kiln_idx_free(out);
    return rc;
}

void kiln_idx_free(kiln_idx *x)
{
    free(x->data);
    memset(x, 0, sizeof *x);
}

/* dir/name if it exists, else dir/name.gz; 0 when found, else -1 with err. */
static int find_file(const char *dir, const char *name, char *path, size_t plen,
                     char *err, size_t errlen)
{
    struct stat st;
    snprintf(path, plen, "%s/%s", dir, name);
    if (stat(path, &st) == 0) return 0;
    snprintf(path, plen, "%s/%s.gz", dir, name);
    if (stat(path, &st) == 0) return 0;
    snprintf(path, plen, "%s/%s", dir, name);
    if (stat(dir, &st) != 0)
        snprintf(err, errlen, "data: %s: cannot open the directory %s: %s; pass --data DIR "
                 "with the dataset's directory", path, dir, strerror(errno));
    else
        snprintf(err, errlen, "data: %s: not found (nor %s.gz); pass --data DIR with the "
                 "dataset's directory", path, name);
    return -1;
}

int kiln_dataset_load(kiln_dataset *d, const char *dir, const char *images_name,
                      const char *labels_name, int sample_size, int classes,
                      char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    char ipath[4096], lpath[4096];
    kiln_idx im = {0}, lb = {0};
    if (find_file(dir, images_name, ipath, sizeof ipath, err, errlen) != 0 ||
        kiln_idx_load(ipath, &im, err, errlen) != 0 ||
        find_file(dir, labels_name, lpath, sizeof lpath, err, errlen) != 0 ||
        kiln_idx_load(lpath, &lb, err, errlen) != 0)
        goto fail;

    if (im.rank != 3) {
        fail(err, errlen, ipath, "images must have rank 3 (count, rows, columns), this file "
             "has rank %d", im.rank);
        goto fail;
    }
    if ((long long)im.dims[1] * im.dims[2] != sample_size) {
        fail(err, errlen, ipath, "images are %d×%d (%lld values) but the model's input takes "
             "%d values", im.dims[1], im.dims[2], (long long)im.dims[1] * im.dims[2],
             sample_size);
        goto fail;
    }
    if (lb.rank != 1) {
        fail(err, errlen, lpath, "labels must have rank 1, this file has rank %d", lb.rank);
        goto fail;
    }
    if (lb.dims[0] != im.dims[0]) {
        fail(err, errlen, lpath, "%d labels but %s holds %d images", lb.dims[0], ipath,
             im.dims[0]);
        goto fail;
    }
    for (int i = 0; i < lb.dims[0]; i++)
        if (lb.data[i] >= classes) {
            fail(err, errlen, lpath, "label %d of item %d is not below the model's %d classes",
                 lb.data[i], i, classes);
            goto fail;
        }
    d->count = im.dims[0];
    d->sample_size = sample_size;
    d->images = im.data;
    d->labels = lb.data;
    return 0;
fail:
    kiln_idx_free(&im);
    kiln_idx_free(&lb);
    return -1;
}

void kiln_dataset_free(kiln_dataset *d)
{
    free(d->images);
    free(d->labels);
    free(d->features);
    free(d->targets);
    memset(d, 0, sizeof *d);
}
