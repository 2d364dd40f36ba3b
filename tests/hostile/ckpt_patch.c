/* ckpt_patch.c — writes a copy of a checkpoint with some bytes changed and
 * its CRC-32 made right again, as anyone can: the tests' hostile
 * checkpoints.
 *   ckpt_patch IN OUT FROM_END HEX   HEX's bytes (e.g. ffffffff, little-
 *                                    endian as the format) at FROM_END
 *                                    bytes before the end of IN */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: ckpt_patch IN OUT FROM_END HEX\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    static unsigned char p[1 << 24];
    size_t n = f ? fread(p, 1, sizeof p, f) : 0;
    if (f) fclose(f);
    long at = (long)n - atol(argv[3]);
    size_t hex = strlen(argv[4]);
    if (n < 8 || at < 0 || hex % 2 || at + (long)hex / 2 > (long)n - 4) {
        fprintf(stderr, "ckpt_patch: cannot patch %s at %s\n", argv[1], argv[3]);
        return 1;
    }
    for (size_t i = 0; i < hex / 2; i++) {
        unsigned v;
        sscanf(argv[4] + 2 * i, "%2x", &v);
        p[at + (long)i] = (unsigned char)v;
    }
    uLong crc = crc32(0, p, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) p[n - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    f = fopen(argv[2], "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(argv[2]);
        return 1;
    }
    return 0;
}
