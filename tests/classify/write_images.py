# write_images.py SRC.gz OUT N — test images for t_trainer's --classify check: the
# first N images of an IDX file (gzip) as PNG (every row filter in turn) and
# binary PGM, plus a 32×32 PNG (wrong size) and an RGB PNG header (wrong depth).
import gzip, struct, sys, zlib
import numpy as np
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
imgs = np.frombuffer(gzip.open(src).read()[16:16 + n * 784], np.uint8).reshape(n, 28, 28)
def paeth(a, b, c):
    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c
def png(img):
    rows = b""
    h, w = img.shape
    for y in range(h):
        f = y % 5   # every filter type in turn
        row = bytearray([f])
        for x in range(w):
            a = int(img[y, x - 1]) if x else 0
            b = int(img[y - 1, x]) if y else 0
            c = int(img[y - 1, x - 1]) if x and y else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            row.append((int(img[y, x]) - pred) & 255)
        rows += bytes(row)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
for i in range(n):
    open(f"{out}/img{i + 1}.png", "wb").write(png(imgs[i]))
    open(f"{out}/img{i + 1}.pgm", "wb").write(b"P5\n# test image\n28 28\n255\n" + imgs[i].tobytes())
big = np.zeros((32, 32), np.uint8)
open(f"{out}/big.png", "wb").write(png(big))
rgb = b"\x89PNG\r\n\x1a\n"
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(f"{out}/rgb.png", "wb").write(rgb + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""))
