"""torch_lrs.py — the learning rate of each epoch under PyTorch's own
schedulers, stepped once an epoch, one per line, for t_schedule.sh to
compare with kiln's trainer:

    torch_lrs.py EPOCHS step LR EVERY GAMMA
    torch_lrs.py EPOCHS cosine LR SPAN WARMUP MIN_LR

step is StepLR(step_size=EVERY, gamma=GAMMA); cosine is LinearLR from
1/(WARMUP+1) over WARMUP epochs, then CosineAnnealingLR(T_max=SPAN-WARMUP,
eta_min=MIN_LR), joined by SequentialLR (CosineAnnealingLR alone when
WARMUP is 0)."""
import sys
import warnings

import torch

warnings.filterwarnings("ignore")   # SequentialLR's deprecation notes, not ours
epochs, kind, lr = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=lr)
S = torch.optim.lr_scheduler
if kind == "step":
    sched = S.StepLR(opt, step_size=int(sys.argv[4]), gamma=float(sys.argv[5]))
else:
    span, warmup, min_lr = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    if warmup:
        linear = S.LinearLR(opt, start_factor=1 / (warmup + 1), total_iters=warmup)
        cosine = S.CosineAnnealingLR(opt, T_max=span - warmup, eta_min=min_lr)
        sched = S.SequentialLR(opt, [linear, cosine], milestones=[warmup])
    else:
        sched = S.CosineAnnealingLR(opt, T_max=span, eta_min=min_lr)
for _ in range(epochs):
    print("%.17g" % opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
