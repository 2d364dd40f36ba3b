/* fuzz_idx.c — libFuzzer harness for the runtime's IDX loader (runtime/idx.c).
 * The input is written to a temporary directory and read, through zlib, as
 * plain or gzip-compressed IDX:
 *   1. kiln_idx_load on the whole input;
 *   2. kiln_dataset_load with images and labels taken from the input: when
 *      it holds the marker "--labels--", the bytes before it are the images
 *      file and the bytes after it the labels file (each plain or gzip);
 *      otherwise the input is the images file and a labels file is made to
 *      match it (right count, labels taken from the image bytes, some of
 *      them ≥ classes), so the count, size and label checks are all reached.
 * Everything loaded is freed; every refusal must come with a message.
 * Built and run by ./build.sh fuzz; KILN_FUZZ_VERBOSE=1 prints each refusal. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln_rt.h"

#define CLASSES 10
static const char marker[] = "--labels--";

static char dir[4096], images_path[4200], labels_path[4200];
static int verbose;

static void cleanup(void) {
    unlink(images_path);
    unlink(labels_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(dir, sizeof dir, "%s/kiln-fuzz-idx-%ld", base, (long)getpid());
    if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) { perror(dir); abort(); }
    snprintf(images_path, sizeof images_path, "%s/images", dir);
    snprintf(labels_path, sizeof labels_path, "%s/labels", dir);
    verbose = getenv("KILN_FUZZ_VERBOSE") != NULL;
    atexit(cleanup);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); abort(); }
    if (size && fwrite(data, 1, size, f) != size) { perror(path); abort(); }
    if (fclose(f) != 0) { perror(path); abort(); }
}

/* A refusal must say something, starting with "data: FILE: ". */
static void check_refusal(const char *err) {
    if (strncmp(err, "data: ", 6) != 0 || strlen(err) < 10) {
        fprintf(stderr, "fuzz_idx: refusal without a proper message: '%s'\n", err);
        abort();
    }
    if (verbose) fprintf(stderr, "refused: %s\n", err);
}

static void check_idx(const kiln_idx *x) {
    if (x->rank < 1 || x->rank > 4 || !x->data) abort();
    size_t n = 1;
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] < 1) abort();
        n *= (size_t)x->dims[i];
    }
    volatile uint8_t sum = 0;   /* touch every byte: ASan checks the size */
    for (size_t i = 0; i < n; i++) sum += x->data[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];

    /* 1. the whole input as one IDX file */
    write_file(images_path, data, size);
    kiln_idx x;
    err[0] = 0;
    if (kiln_idx_load(images_path, &x, err, sizeof err) == 0) check_idx(&x);
    else check_refusal(err);

    /* 2. images + labels as a data set */
    const uint8_t *split = NULL;
    for (size_t i = 0; i + sizeof marker - 1 <= size && !split; i++)
        if (memcmp(data + i, marker, sizeof marker - 1) == 0) split = data + i;
    int sample_size = 4;
    if (split) {
        size_t head = (size_t)(split - data), tail = head + sizeof marker - 1;
        write_file(images_path, data, head);
        write_file(labels_path, data + tail, size - tail);
        /* rows × columns of the images, when they load, so the size check can pass */
        if (x.data) kiln_idx_free(&x);
        if (kiln_idx_load(images_path, &x, err, sizeof err) == 0 && x.rank == 3)
            sample_size = x.dims[1] * x.dims[2];
    } else {
        /* a labels file that fits the images, when they load */
        if (x.data && x.rank == 3) {
            sample_size = x.dims[1] * x.dims[2];
            size_t count = (size_t)x.dims[0];
            uint8_t *lb = malloc(8 + count);
            if (!lb) abort();
            memcpy(lb, "\0\0\x08\x01", 4);
            for (int i = 0; i < 4; i++) lb[4 + i] = (uint8_t)(count >> (24 - 8 * i));
            for (size_t i = 0; i < count; i++) lb[8 + i] = x.data[i * (size_t)sample_size] % (CLASSES + 1);
            write_file(labels_path, lb, 8 + count);
            free(lb);
        } else {
            write_file(labels_path, data, size);
        }
    }
    if (x.data) kiln_idx_free(&x);

    kiln_dataset d;
    err[0] = 0;
    if (kiln_dataset_load(&d, dir, "images", "labels", sample_size, CLASSES, err, sizeof err) == 0) {
        if (d.count < 1 || d.sample_size != sample_size || !d.images || !d.labels) abort();
        for (int i = 0; i < d.count; i++)
            if (d.labels[i] >= CLASSES) abort();
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < (size_t)d.count * (size_t)d.sample_size; i++) sum += d.images[i];
        (void)sum;
        kiln_dataset_free(&d);
    } else {
        check_refusal(err);
    }
    unlink(labels_path);
    return 0;
}
