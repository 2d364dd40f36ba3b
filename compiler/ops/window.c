/* window.c — the sliding window conv2d and the pools share: the output's
 * height and width, and a one-line error naming the spec line and the
 * shapes when a window does not fit its padded input. */
#include <stdio.h>

#include "ops.h"

void window_out(const Loc *loc, const char *call, const Shape *x, const long kernel[2], const long stride[2],
                const long padding[2], long out[2]) {
    static const char *const axis[2] = { "height", "width" };
    char got[96];
    shape_str(x, got, sizeof got);
    for (int d = 0; d < 2; d++) {
        long size = x->dim[1 + d], padded = size + 2 * padding[d];
        if (kernel[d] > padded)
            fail_at(loc, "%s: its kernel's %s %ld is larger than the input's %ld (with padding %ld: %ld), in %s; use "
                    "a smaller kernel or more padding", call, axis[d], kernel[d], size, padding[d], padded, got);
        out[d] = (padded - kernel[d]) / stride[d] + 1;
    }
}
