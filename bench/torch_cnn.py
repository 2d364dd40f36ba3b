#!/usr/bin/python3
"""torch_cnn.py — PyTorch baseline for bench/run.sh: the convolutional
networks of models/ (--model), trained the same way kiln's trainer trains
them.

  lenet   models/lenet.lua: Conv2d(1, 6, 5, padding 2) → Sigmoid →
          AvgPool2d(2) → Conv2d(6, 16, 5) → Sigmoid → AvgPool2d(2) → Flatten
          → Linear(400, 120) → Sigmoid → Linear(120, 84) → Sigmoid →
          Linear(84, 10); Xavier-uniform weights and zero biases (what kiln
          gives a layer whose spec sets init); SGD lr 0.9.
  resnet  models/resnet.lua: a 3×3 stem (Conv2d 16, BatchNorm2d, ReLU),
          three stages of two basic blocks with 16, 32, 64 channels (the
          first of the last two stages with stride 2 and a 1×1 stride-2
          convolution with batch norm on the shortcut), AdaptiveAvgPool2d(1),
          Linear(64, 10); PyTorch's default initialization; SGD lr 0.05,
          momentum 0.9, weight decay 5e-4.

CrossEntropyLoss (batch mean); batch 256, reshuffled every epoch, the last
partial batch (96 samples) kept.  Like kiln, every step also accumulates
the loss and the number of correct predictions; the test pass runs in
evaluation mode (batch norm's running statistics).

The whole data set is read once and preloaded as tensors (uint8 → float/255,
once, outside the timed loop), so the timing is of the training loop only:
index the shuffled batch out of the preloaded tensor, forward, loss,
backward, SGD step.  Test accuracy is evaluated after the timer stops.
Before the first epoch, --warmup steps (default 20, untimed) let PyTorch
create its oneDNN primitives, fill its allocator's caches and start its
threads; the weights are then put back to their initial values, so epoch 1
starts from a fresh initialization.

The settings PyTorch offers for this model on a CPU that can change inside
one process:
  --format contiguous|channels_last|best   memory format of the convolutions'
                                           inputs, outputs and weights
  --mkldnn on|off|best                     torch.backends.mkldnn.enabled:
                                           oneDNN convolutions, or PyTorch's
                                           own (im2col + BLAS GEMM)
With "best", each combination of the candidates is tried before training:
--trial-passes passes (default 3) over the candidates, each pass a few
untimed steps after switching, then --trial-steps (default 10) timed steps;
a candidate's figure is its fastest pass (other work on the machine only
ever slows a pass down).  One "trial FORMAT MKLDNN MS_PER_STEP" line per
candidate goes to stdout; the fastest is used for the epochs (--epochs 0
only tries).  Thread counts of OpenMP and OpenBLAS and the vector width of
PyTorch's own kernels (ATEN_CPU_CAPABILITY: its sigmoid, pooling, loss and
SGD step) are fixed when the libraries load, so bench/run.sh sets
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and ATEN_CPU_CAPABILITY in the
environment before starting it.

Output matches a kiln trainer run with --verbose, plus the settings and the
peak RSS on stderr:
  stdout  epoch 1, loss 0.0091, train acc 0.100, test acc 0.100
  stderr  epoch 1: train 4.321 s, test 0.123 s
          peak RSS 312345 KB

usage: /usr/bin/python3 bench/torch_cnn.py [--model lenet|resnet] [--threads T] [--epochs N]
           [--warmup STEPS] [--seed S] [--data DIR]
           [--format contiguous|channels_last|best] [--mkldnn on|off|best]
           [--trial-steps N] [--trial-passes N]
Runs with Debian's python3-torch (1.13) under /usr/bin/python3.
"""
import argparse
import copy
import os
import resource
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_mlp import load_split  # noqa: E402  (the same IDX loading as the MLP baseline)


def lenet():
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


class Block(nn.Module):
    """conv 3×3 → bn → relu → conv 3×3 → bn, plus the shortcut, → relu"""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout))
                         if stride != 1 else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet():
    layers = [nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        layers += [Block(cin, cout, 1 if stage == 0 else 2), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


MODELS = {  # the network and its optimizer's settings
    "lenet": (lenet, dict(lr=0.9)),
    "resnet": (resnet, dict(lr=0.05, momentum=0.9, weight_decay=5e-4)),
}


FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=MODELS, default="lenet")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20, help="untimed training steps before epoch 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--format", choices=(*FORMATS, "best"), default="contiguous")
    ap.add_argument("--mkldnn", choices=("on", "off", "best"), default="on")
    ap.add_argument("--trial-steps", type=int, default=10)
    ap.add_argument("--trial-passes", type=int, default=3)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    capability = [s.split(":")[1].strip() for s in torch.__config__.show().split("\n") if "CPU capability" in s]
    print(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op thread(s), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}, "
          f"CPU capability {capability[0] if capability else '?'}, "
          f"oneDNN available: {torch.backends.mkldnn.is_available()}", file=sys.stderr)

    # One channel: the (N, 1, 28, 28) tensors are contiguous in both memory
    # formats, so one preloaded copy serves every setting (a convolution's
    # output takes the format of its weight).
    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")
    count = train_x.shape[0]

    make, settings = MODELS[args.model]
    net = make()
    initial = copy.deepcopy(net.state_dict())
    loss_fn = nn.CrossEntropyLoss()  # mean over the batch
    opt = torch.optim.SGD(net.parameters(), **settings)
    fmt = torch.contiguous_format

    def use(form, mkldnn):
        nonlocal fmt
        fmt = FORMATS[form]
        torch.backends.mkldnn.enabled = mkldnn == "on"
        net.to(memory_format=fmt)  # in place: the optimizer keeps the same parameters

    def step(xb, yb):
        xb = xb.contiguous(memory_format=fmt)  # a no-op for one channel
        out = net(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return out, loss

    order = torch.randperm(count, generator=torch.Generator().manual_seed(args.seed + 1))
    cursor = 0

    def steps(n):  # n untimed-data steps on batches of a fixed permutation
        nonlocal cursor
        for _ in range(n):
            if cursor + args.batch > count:
                cursor = 0
            idx = order[cursor:cursor + args.batch]
            cursor += args.batch
            step(train_x[idx], train_y[idx])

    # ---- the settings: one given, or the fastest of the candidates ----
    forms = list(FORMATS) if args.format == "best" else [args.format]
    mkldnns = ["on", "off"] if args.mkldnn == "best" else [args.mkldnn]
    candidates = [(f, m) for f in forms for m in mkldnns]
    if len(candidates) > 1:
        best = {c: float("inf") for c in candidates}
        for _ in range(args.trial_passes):
            for c in candidates:
                use(*c)
                steps(3)  # untimed: the new setting's first steps create its primitives
                t0 = time.perf_counter()
                steps(args.trial_steps)
                best[c] = min(best[c], (time.perf_counter() - t0) / args.trial_steps * 1e3)
        for (f, m), ms in best.items():
            print(f"trial {f} {m} {ms:.3f}", flush=True)
            print(f"trial: format {f}, oneDNN {m}: {ms:.2f} ms/step", file=sys.stderr)
        chosen = min(candidates, key=best.get)
    else:
        chosen = candidates[0]
    print(f"setting: format {chosen[0]}, oneDNN (mkldnn) {chosen[1]}", file=sys.stderr, flush=True)
    if args.epochs < 1:
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KB", file=sys.stderr)
        return

    # ---- untimed warm-up, then back to the initial weights ----
    use(*chosen)
    steps(args.warmup)
    net.load_state_dict(initial)
    opt = torch.optim.SGD(net.parameters(), **settings)  # no momentum left from the warm-up
    gen = torch.Generator().manual_seed(args.seed)

    for epoch in range(1, args.epochs + 1):
        # ---- timed: the training loop only ----
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(count, generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, count, args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = train_x[idx], train_y[idx]
            out, loss = step(xb, yb)
            loss_sum += float(loss)
            correct += int((out.argmax(1) == yb).sum())
        t_train = time.perf_counter() - t0
        # ---- not timed: test accuracy ----
        t1 = time.perf_counter()
        net.eval()
        with torch.no_grad():
            test_correct = sum(int((net(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum())
                               for i in range(0, test_x.shape[0], 1000))
        t_test = time.perf_counter() - t1
        print(f"epoch {epoch}, loss {loss_sum / count:.4f}, train acc {correct / count:.3f}, "
              f"test acc {test_correct / test_x.shape[0]:.3f}", flush=True)
        print(f"epoch {epoch}: train {t_train:.4f} s, test {t_test:.4f} s", file=sys.stderr, flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KB", file=sys.stderr)


if __name__ == "__main__":
    main()
