/* data.c — data sets: fashion_mnist() (Debian's dataset-fashion-mnist) and
 * idx{dir, train_images, train_labels, test_images, test_labels} for any
 * IDX-format set.  File names are given without ".gz"; the runtime tries
 * the plain name, then NAME.gz.  The trainer's --data DIR overrides dir. */
#include "ops.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

static const char *const file_keys[] = { "train_images", "train_labels", "test_images", "test_labels", NULL };
static const char *const default_files[] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
};

static const char *const fashion_mnist_classes[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL,
};

static void fashion_mnist_parse(Call *c, Layer *out) {
    call_max_args(c, 0);
    out->class_names = fashion_mnist_classes;
    out->dir = FASHION_MNIST_DIR;
    for (int i = 0; i < 4; i++) out->files[i] = (char *)default_files[i];
}

static const char *const idx_opts[] = { "dir", "train_images", "train_labels", "test_images", "test_labels", NULL };

static void idx_parse(Call *c, Layer *out) {
    call_max_args(c, 1);
    if (!call_opts(c, 1, idx_opts) || !call_opt_string(c, 1, "dir", &out->dir))
        call_fail(c, "needs the data directory, e.g. idx { dir = \"data/mnist\" }");
    for (int i = 0; i < 4; i++)
        if (!call_opt_string(c, 1, file_keys[i], &out->files[i])) out->files[i] = (char *)default_files[i];
}

const OpDef op_fashion_mnist = { .name = "fashion_mnist", .kind = OP_DATA, .parse = fashion_mnist_parse };
const OpDef op_idx = { .name = "idx", .kind = OP_DATA, .parse = idx_parse };
