#!/usr/bin/python3
"""torch_mlp.py — PyTorch baseline for bench/run.sh: the reference MLP of
models/mlp.lua (or, with --model residual, models/mlp_residual.lua),
trained the same way kiln's trainer trains it.

mlp: Flatten → Linear(784, 256) → ReLU → Linear(256, 10); weights
normal(0, 0.01), biases zero; SGD lr = 100/256.  residual: Flatten →
Linear(784, 256) → ReLU, then twice h ← ReLU(h + Linear(ReLU(Linear(h)))) of
width 256, → Linear(256, 10); PyTorch's default initialization; SGD lr 0.1.
Both: CrossEntropyLoss (batch mean); batch 256, reshuffled every epoch, the
last partial batch (96 samples) kept.  Like kiln, every step also
accumulates the loss and the number of correct predictions.

The whole data set is read once and preloaded as tensors (uint8 → float/255,
once, outside the timed loop), so the timing is of the training loop only:
index the shuffled batch out of the preloaded tensor, forward, loss,
backward, SGD step.  Test accuracy is evaluated after the timer stops.

Output matches a kiln trainer run with --verbose:
  stdout  epoch 1, loss 0.0031, train acc 0.711, test acc 0.780
  stderr  epoch 1: train 0.712 s, test 0.031 s

usage: /usr/bin/python3 bench/torch_mlp.py [--threads T] [--epochs N]
           [--seed S] [--data DIR] [--model mlp|residual]
Thread counts of OpenMP and OpenBLAS are fixed when the libraries load, so
bench/run.sh also sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (and, for
one configuration, OPENBLAS_CORETYPE) in the environment before starting it.
Runs with Debian's python3-torch (1.13) under /usr/bin/python3.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn


def load_idx(directory, name):
    """An IDX file, plain or gzip-compressed (NAME or NAME.gz), as numpy uint8."""
    for path in (os.path.join(directory, name), os.path.join(directory, name + ".gz")):
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            ndim = raw[3]
            dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)
    sys.exit(f"torch_mlp.py: no {name}[.gz] in {directory}")


def load_split(directory, prefix):
    images = load_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels = load_idx(directory, f"{prefix}-labels-idx1-ubyte")
    x = torch.from_numpy(images.copy()).float().div_(255).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--model", choices=("mlp", "residual"), default="mlp")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    blas = [s for s in torch.__config__.show().replace("\n", ",").split(",") if "BLAS_INFO" in s]
    print(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op thread(s), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'auto')}, "
          f"{blas[0].strip() if blas else 'BLAS ?'}", file=sys.stderr)

    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")
    count = train_x.shape[0]

    if args.model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
        lr = 100 / 256
    else:
        class Residual(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256))

            def forward(self, h):
                return torch.relu(h + self.body(h))

        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), Residual(), Residual(),
                            nn.Linear(256, 10))
        lr = 0.1
    loss_fn = nn.CrossEntropyLoss()  # mean over the batch
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(args.seed)

    for epoch in range(1, args.epochs + 1):
        # ---- timed: the training loop only ----
        t0 = time.perf_counter()
        perm = torch.randperm(count, generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, count, args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = train_x[idx], train_y[idx]
            out = net(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss)
            correct += int((out.argmax(1) == yb).sum())
        t_train = time.perf_counter() - t0
        # ---- not timed: test accuracy ----
        t1 = time.perf_counter()
        with torch.no_grad():
            test_correct = sum(int((net(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum())
                               for i in range(0, test_x.shape[0], 1000))
        t_test = time.perf_counter() - t1
        print(f"epoch {epoch}, loss {loss_sum / count:.4f}, train acc {correct / count:.3f}, "
              f"test acc {test_correct / test_x.shape[0]:.3f}", flush=True)
        print(f"epoch {epoch}: train {t_train:.4f} s, test {t_test:.4f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
