/* image.c — one grayscale image from a file, for --classify: binary PGM
 * (P5, maxval 255) or PNG (8-bit grayscale, not interlaced; inflated with
 * zlib, each row unfiltered as the PNG standard says).  Anything else —
 * colour, 16 bits, a palette, interlacing, a truncated or corrupted file —
 * is refused with one line naming the file and what to do.  Pixels come out
 * as they are stored (0 black … 255 white): the trainer scales them as it
 * scales the data set's, so an image written from a test example classifies
 * as that example does. */
#include "kiln_rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { MAX_FILE = 64 << 20, MAX_SIDE = 16384 };

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "%s %s", path, what);
    return 1;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* PGM: "P5", width, height, maxval (whitespace and # comments between),
 * one whitespace byte, then the pixels. */
static int load_pgm(const char *path, const uint8_t *p, size_t n, kiln_image *img, char *err, size_t errlen)
{
    size_t at = 2;
    long v[3];
    for (int i = 0; i < 3; i++) {
        while (at < n && (p[at] == ' ' || p[at] == '\t' || p[at] == '\r' || p[at] == '\n' || p[at] == '#')) {
            if (p[at] == '#')
                while (at < n && p[at] != '\n') at++;
            else at++;
        }
        if (at >= n || p[at] < '0' || p[at] > '9') return fail(err, errlen, path, "is not a valid PGM file (its header is cut short)");
        v[i] = 0;
        while (at < n && p[at] >= '0' && p[at] <= '9' && v[i] <= MAX_SIDE) v[i] = v[i] * 10 + (p[at++] - '0');
    }
    if (v[2] != 255) return fail(err, errlen, path, "is a PGM with more or fewer than 8 bits a pixel (maxval is not 255); save it as 8-bit grayscale");
    if (v[0] < 1 || v[1] < 1 || v[0] > MAX_SIDE || v[1] > MAX_SIDE) return fail(err, errlen, path, "has an impossible size");
    at++;   /* the one whitespace byte after maxval */
    if (at > n || n - at < (size_t)(v[0] * v[1])) return fail(err, errlen, path, "is truncated (fewer pixels than its header says)");
    img->w = (int)v[0], img->h = (int)v[1];
    img->pixels = malloc((size_t)(v[0] * v[1]));
    if (!img->pixels) return fail(err, errlen, path, "is too large to read (out of memory)");
    memcpy(img->pixels, p + at, (size_t)(v[0] * v[1]));
    return 0;
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* PNG: the signature, IHDR first, IDAT chunks concatenated and inflated,
 * IEND; CRCs checked. */
static int load_png(const char *path, const uint8_t *p, size_t n, kiln_image *img, char *err, size_t errlen)
{
    size_t at = 8, zlen = 0;
    uint32_t w = 0, h = 0;
    int seen_ihdr = 0, seen_iend = 0;
    uint8_t *z = malloc(n);
    if (!z) return fail(err, errlen, path, "is too large to read (out of memory)");
    while (!seen_iend) {
        if (n - at < 12) { free(z); return fail(err, errlen, path, "is a truncated PNG file"); }
        uint32_t len = be32(p + at);
        if (len > n - at - 12) { free(z); return fail(err, errlen, path, "is a truncated PNG file"); }
        const uint8_t *type = p + at + 4, *data = p + at + 8;
        if (be32(data + len) != (uint32_t)crc32(0, type, len + 4)) {
            free(z);
            return fail(err, errlen, path, "is a corrupted PNG file (a chunk's CRC does not match)");
        }
        if (!memcmp(type, "IHDR", 4)) {
            if (len != 13) { free(z); return fail(err, errlen, path, "is a corrupted PNG file (bad IHDR)"); }
            w = be32(data), h = be32(data + 4);
            if (data[8] != 8 || data[9] != 0) {
                free(z);
                return fail(err, errlen, path, "is not an 8-bit grayscale PNG (colour, a palette, alpha or another "
                            "depth); convert it, e.g. convert IN -colorspace Gray -depth 8 OUT.png");
            }
            if (data[12] != 0) { free(z); return fail(err, errlen, path, "is an interlaced PNG; save it without interlacing"); }
            if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE) { free(z); return fail(err, errlen, path, "has an impossible size"); }
            seen_ihdr = 1;
        } else if (!memcmp(type, "IDAT", 4)) {
            memcpy(z + zlen, data, len);
            zlen += len;
        } else if (!memcmp(type, "IEND", 4)) {
            seen_iend = 1;
        }
        at += 12 + (size_t)len;
    }
    if (!seen_ihdr) { free(z); return fail(err, errlen, path, "is a corrupted PNG file (no IHDR)"); }
    size_t stride = (size_t)w + 1, raw_n = stride * h;
    uint8_t *raw = malloc(raw_n), *out = malloc((size_t)w * h);
    uLongf got = (uLongf)raw_n;
    int zr = raw && out ? uncompress(raw, &got, z, (uLong)zlen) : Z_MEM_ERROR;
    free(z);
    if (zr != Z_OK || got != raw_n) {
        free(raw), free(out);
        return fail(err, errlen, path, zr == Z_MEM_ERROR ? "is too large to read (out of memory)"
                                                           : "is a corrupted PNG file (its image data do not inflate)");
    }
    for (uint32_t y = 0; y < h; y++) {   /* unfilter row y into out, using row y - 1 */
        const uint8_t *r = raw + y * stride + 1;
        uint8_t *o = out + (size_t)y * w, *up = y ? o - w : NULL;
        int filter = r[-1];
        if (filter > 4) { free(raw), free(out); return fail(err, errlen, path, "is a corrupted PNG file (unknown row filter)"); }
        for (uint32_t x = 0; x < w; x++) {
            int a = x ? o[x - 1] : 0, b = up ? up[x] : 0, c = x && up ? up[x - 1] : 0;
            int pred = filter == 0 ? 0 : filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : paeth(a, b, c);
            o[x] = (uint8_t)(r[x] + pred);
        }
    }
    free(raw);
    img->w = (int)w, img->h = (int)h, img->pixels = out;
    return 0;
}

int kiln_image_load(const char *path, kiln_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return 1;
    }
    uint8_t *p = malloc(MAX_FILE);
    size_t n = p ? fread(p, 1, MAX_FILE, f) : 0;
    int more = p && n == MAX_FILE && fgetc(f) != EOF;
    fclose(f);
    int rc;
    if (!p) rc = fail(err, errlen, path, "cannot be read (out of memory)");
    else if (more) rc = fail(err, errlen, path, "is over 64 MiB: not an image of a data set's size");
    else if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) rc = load_png(path, p, n, img, err, errlen);
    else if (n >= 2 && p[0] == 'P' && p[1] == '5') rc = load_pgm(path, p, n, img, err, errlen);
    else rc = fail(err, errlen, path, "is neither a PNG nor a binary PGM (P5) image");
    free(p);
    return rc;
}
