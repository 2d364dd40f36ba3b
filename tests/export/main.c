/* main.c — t_export.sh's program around an exported model: the first N
 * examples of a raw file of bytes (one example of INPUTS bytes after the
 * other, IDX's pixels without the header), each byte times (1.0f / 255.0f)
 * as the header asks, through PREDICT; one line each, "image I: predicted
 * CLASS (PROBABILITY)" as the trainer's --predict prints it (I from 1), the
 * probability with 6 decimals.  -D flags name the model's function, sizes,
 * class names and header:
 *   -DHEADER='"mlp_predict.h"' -DPREDICT=mlp_predict -DINPUTS=MLP_INPUTS
 *   -DCLASSES=MLP_CLASSES -DNAMES=mlp_class_names */
#include <stdio.h>
#include <stdlib.h>

#include HEADER

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s RAW_IMAGES N\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    int n = atoi(argv[2]);
    static unsigned char bytes[INPUTS];
    static float input[INPUTS], probabilities[CLASSES];
    for (int i = 0; i < n; i++) {
        if (fread(bytes, 1, INPUTS, f) != INPUTS) {
            fprintf(stderr, "%s: only %d images\n", argv[1], i);
            return 1;
        }
        for (int k = 0; k < INPUTS; k++) input[k] = bytes[k] * (1.0f / 255.0f);
        int c = PREDICT(input, probabilities);
        printf("image %d: predicted %s (%.6f)\n", i + 1, NAMES[c], probabilities[c]);
    }
    fclose(f);
    return 0;
}
