/* fuzz_ckpt.c — libFuzzer harness for checkpoints (runtime/checkpoint.c)
 * and the trainer's resume (runtime/trainer.c): the input bytes are a
 * checkpoint of the model in ckpt_model.lua, resumed by the trainer itself
 * (kiln_main --resume, one thread, quiet) on a small data set the harness
 * writes: 10 training and 5 test images of 4×4, so an epoch is 3 steps.
 * --epochs is the checkpoint's own epoch (its bytes at the version-7
 * offset), so a checkpoint that is accepted trains the rest of that epoch:
 * at most three steps and an evaluation.  A refusal must be one line on
 * stderr; an accepted run prints nothing there.  Each input runs as it is
 * and, when its CRC is wrong, once more with the CRC made right (anyone can
 * recompute it), so the fields behind the checksum are fuzzed as well as
 * the checksum.  A crash, a sanitizer
 * report, a leak or a hang (a spin past -timeout) is a finding.
 *
 * KILN_FUZZ_CKPT_SEEDS=DIR makes the harness write seed checkpoints into DIR
 * (a run's end of epoch 1, its middle, one with no run) and exit: ./build.sh
 * fuzz seeds the corpus that way, so the seeds always have the current
 * format.  Built and run by ./build.sh fuzz; KILN_FUZZ_VERBOSE=1 prints each
 * refusal. */
#define _POSIX_C_SOURCE 200809L
#define KILN_NO_MAIN
#include MODEL_C

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void __sanitizer_set_report_fd(void *fd);

enum { TRAIN = 10, TEST = 5, SIDE = 4 };
static char dir[4096], ckpt_path[4200], err_path[4200];
static int verbose, real_stderr;

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* An IDX file of n items: images (SIDE × SIDE bytes) or labels (< 3). */
static void write_idx(const char *name, int n, int images, uint8_t salt)
{
    uint8_t buf[16 + TRAIN * SIDE * SIDE];
    size_t at = 0, item = images ? SIDE * SIDE : 1;
    uint8_t head[4] = {0, 0, 8, (uint8_t)(images ? 3 : 1)};
    memcpy(buf, head, 4);
    at = 4;
    uint32_t dims[3] = {(uint32_t)n, SIDE, SIDE};
    for (int d = 0; d < (images ? 3 : 1); d++)
        for (int b = 3; b >= 0; b--) buf[at++] = (uint8_t)(dims[d] >> (8 * b));
    for (size_t i = 0; i < (size_t)n * item; i++)
        buf[at++] = images ? (uint8_t)(i * 37 + salt) : (uint8_t)((i + salt) % 3);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, buf, at);
}

static void remove_files(void)
{
    static const char *const names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", NULL};
    char path[4200];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    unlink(ckpt_path);
    unlink(err_path);
    rmdir(dir);
}

/* Runs the trainer with these flags (after --data DIR --threads 1 --quiet),
 * its stderr into err_path.  Returns its exit status. */
static int trainer(const kiln_model *m, const char *const *flags)
{
    char *argv[24] = {"fuzz_ckpt", "--data", dir, "--threads", "1", "--quiet"};
    int argc = 6;
    for (int i = 0; flags[i] && argc < 23; i++) argv[argc++] = (char *)flags[i];
    argv[argc] = NULL;
    fflush(stderr);
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 2) < 0) { perror(err_path); abort(); }
    close(fd);
    int rc = kiln_main(argc, argv, m);
    fflush(stderr);
    dup2(real_stderr, 2);
    return rc;
}

/* ---- Seeds ---------------------------------------------------------------------- */

static float stop_after_first_step(const kiln_batch *b, int *correct)
{
    float loss = model.train_step(b, correct);
    raise(SIGINT);   /* the trainer saves after this step: a checkpoint mid-epoch */
    return loss;
}

static void write_seeds(const char *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/epoch-end.ckpt", out);
    const char *end[] = {"--epochs", "1", "--save", path, NULL};
    int rc = trainer(&model, end);
    snprintf(path, sizeof path, "%s/no-run.ckpt", out);
    const char *none[] = {"--eval", "--save", path, NULL};
    rc |= trainer(&model, none);
    kiln_model mid = model;
    mid.train_step = stop_after_first_step;
    snprintf(path, sizeof path, "%s/mid-epoch.ckpt", out);
    const char *cut[] = {"--epochs", "2", "--save", path, NULL};
    rc |= trainer(&mid, cut) != 130;
    signal(SIGINT, SIG_DFL);
    if (rc) {
        fprintf(stderr, "fuzz_ckpt: could not write the seeds into %s (see %s)\n", out, err_path);
        exit(1);
    }
    fprintf(stderr, "fuzz_ckpt: wrote 3 seed checkpoints into %s\n", out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(dir, sizeof dir, "%s/kiln-fuzz-ckpt-%ld", base, (long)getpid());
    if (mkdir(dir, 0700) != 0) { perror(dir); abort(); }
    snprintf(ckpt_path, sizeof ckpt_path, "%s/input.ckpt", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    atexit(remove_files);
    write_idx("train-images-idx3-ubyte", TRAIN, 1, 11);
    write_idx("train-labels-idx1-ubyte", TRAIN, 0, 1);
    write_idx("t10k-images-idx3-ubyte", TEST, 1, 97);
    write_idx("t10k-labels-idx1-ubyte", TEST, 0, 2);
    verbose = getenv("KILN_FUZZ_VERBOSE") != NULL;
    /* epoch lines go nowhere; sanitizer reports to the real stderr, even
     * while a run's stderr is captured */
    int null = open("/dev/null", O_WRONLY);
    if (null < 0 || dup2(null, 1) < 0) abort();
    close(null);
    real_stderr = dup(2);
    if (real_stderr < 0) abort();
    __sanitizer_set_report_fd((void *)(intptr_t)real_stderr);
    const char *seeds = getenv("KILN_FUZZ_CKPT_SEEDS");
    if (seeds && *seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

/* The run's stderr: nothing when it was accepted, one line when refused. */
static void check_stderr(int rc)
{
    char buf[4096];
    FILE *f = fopen(err_path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    int one_line = n > 11 && !strncmp(buf, "fuzz_ckpt: ", 11) && nl == buf + n - 1;
    if ((rc == 0 && n != 0) || (rc != 0 && !one_line)) {
        fprintf(stderr, "fuzz_ckpt: exit status %d with stderr '%s'\n", rc, buf);
        abort();
    }
    if (verbose && rc) fprintf(stderr, "%s", buf);
}

static void resume(const uint8_t *data, size_t size)
{
    write_file(ckpt_path, data, size);
    /* --epochs: the checkpoint's epoch, so that at most that epoch is trained */
    uint32_t epoch = 1;
    if (size >= 88) {
        const uint8_t *e = data + size - 88;
        epoch = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
        if (epoch < 1 || epoch > KILN_MAX_EPOCHS) epoch = 1;
    }
    char epochs[16];
    snprintf(epochs, sizeof epochs, "%u", (unsigned)epoch);
    const char *flags[] = {"--epochs", epochs, "--resume", ckpt_path, NULL};
    check_stderr(trainer(&model, flags));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resume(data, size);
    /* and as an attacker would hand it over: with its CRC made right, so
     * that every field reaches the checks behind the checksum */
    if (size < 16) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) abort();
    memcpy(fixed, data, size);
    uint32_t crc = (uint32_t)crc32(0, fixed, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) fixed[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    if (memcmp(fixed + size - 4, data + size - 4, 4) != 0) resume(fixed, size);
    free(fixed);
    return 0;
}
