#!/usr/bin/python3
"""report.py — turns the raw timings bench/run.sh collected into its report.

usage: report.py META.tsv RAW.tsv [--reps N] [--scale-reps N] [--scale-samples N]
                 [--lenet-reps N] [--resnet-reps N]

META.tsv: "key<TAB>value" facts (CPU, library versions).
RAW.tsv:  "kind<TAB>config<TAB>rep<TAB>key<TAB>value" rows, e.g.
          kiln  t2  3  epoch2  0.2410      (seconds of epoch 2's training)
          torch i1b2 1 rss_kb  511244
          shapes_kiln t2 1 fwd1 245.9      (GFLOP/s)
          lenet_trial i2b1_avx512 1 trial:channels_last:on 21.3   (ms/step)
          kiln_resnet t2 1 epoch1 71.2
Every figure printed is the median over the runs (reps) of one configuration.
Only the standard library is used.
"""
import argparse
import statistics
import sys
import textwrap
from collections import defaultdict

SAMPLES, IN, HID, OUT, BATCH = 60000, 784, 256, 10, 256


def cpu_generation(meta):
    """family F model M, and for AMD's EPYCs the core generation: a Zen 4
    runs each 512-bit FMA as two 256-bit halves (half a Zen 5's peak), so
    the FMA-bound kernels' speed against PyTorch differs between the two."""
    fam, mod = meta.get("cpu_family", "?"), meta.get("cpu_family_model", "?")
    text = f"family {fam} model {mod}"
    if "AMD" in meta.get("cpu_model", "") and fam.isdigit() and mod.isdigit():
        m = int(mod)
        zen4 = 0x10 <= m <= 0x1F or 0x60 <= m <= 0x7F or 0xA0 <= m <= 0xAF
        zen = {23: "Zen 1/2", 25: "Zen 4" if zen4 else "Zen 3", 26: "Zen 5"}.get(int(fam))
        if zen:
            text += f": {zen}"
    return text


def epoch_flop(samples, hidden, inputs=IN, outputs=OUT):
    """2·m·n·k over the five products of one epoch; linear in the batch rows,
    so it does not depend on the batch size: per sample 4·in·hid + 6·hid·out."""
    return samples * (4 * inputs * hidden + 6 * hidden * outputs)


FLOP = epoch_flop(SAMPLES, HID)  # 49,090,560,000
# The CNNs' products, each as (group, outputs per image, taps per output =
# multiply-adds per output, does backward compute its input gradient?).  Per
# image, forward does outputs·taps multiply-adds per product, the weight
# gradient as many again, and the input gradient as many again except for
# the first convolution, whose input is the data.  A strided convolution's
# input gradient, too, adds each output's gradient through each tap once.
LENET_LAYERS = [  # models/lenet.lua
    ("conv1", 6 * 28 * 28, 1 * 5 * 5, False),   # 1@28×28, padding 2 → 6@28×28
    ("conv2", 16 * 10 * 10, 6 * 5 * 5, True),   # 6@14×14 → 16@10×10
    ("linears", 120, 16 * 5 * 5, True),
    ("linears", 84, 120, True),
    ("linears", 10, 84, True),
]


def resnet_layers():
    """models/resnet.lua: a 3×3 stem, then three stages of two basic blocks
    (two 3×3 convolutions with padding 1; the first block of stages 2 and 3
    has stride 2 in its first convolution and a 1×1 stride-2 convolution on
    its shortcut), global average pooling, linear 10."""
    layers = [("stem", 16 * 28 * 28, 1 * 3 * 3, False)]  # 1@28×28, padding 1 → 16@28×28
    cin, size = 16, 28
    for stage, cout in enumerate((16, 32, 64), 1):
        for block in (1, 2):
            stride = 2 if stage > 1 and block == 1 else 1
            size = (size + 2 * 1 - 3) // stride + 1  # 28, then 14, then 7
            group = f"stage {stage}"
            layers += [(group, cout * size * size, cin * 3 * 3, True),    # conv 3×3, stride
                       (group, cout * size * size, cout * 3 * 3, True)]   # conv 3×3
            if stride != 1:
                layers.append((group, cout * size * size, cin, True))     # shortcut: 1×1, stride 2
            cin = cout
    return layers + [("linear", 10, 64, True)]


RESNET_LAYERS = resnet_layers()


def macs(layers):
    """(forward, weight-gradient, input-gradient) multiply-adds per image."""
    fwd = sum(o * t for _, o, t, _ in layers)
    return fwd, fwd, sum(o * t for _, o, t, grad_in in layers if grad_in)


def cnn_flop(layers):
    return SAMPLES * 2 * sum(macs(layers))


LENET_FLOP = cnn_flop(LENET_LAYERS)    # 135,835,200,000
RESNET_FLOP = cnn_flop(RESNET_LAYERS)  # 7,252,669,440,000

FLOATS_MB = (SAMPLES + 10000) * IN * 4 / 2**20  # the data set preloaded as floats (PyTorch's CNNs)
# What each CNN's section says; bench/run.sh's cnn_bench measured it as
# MODEL_trial, kiln_MODEL and torch_MODEL runs.
CNNS = {
    "lenet": dict(
        title="LeNet", spec="models/lenet.lua", knob="BENCH_LENET_REPS", layers=LENET_LAYERS,
        flop=LENET_FLOP, kiln_epochs=2,
        about="conv 6@5×5 pad 2 → sigmoid → avg-pool 2 → conv 16@5×5 → sigmoid → avg-pool 2 → "
              "120 → sigmoid → 84 → sigmoid → 10; Xavier, SGD lr 0.9, batch 256",
        uncounted="Bias, sigmoid, pooling, softmax and the SGD update are",
        acc="test acc after kiln's 2nd and PyTorch's 1st epoch: this sigmoid LeNet at lr 0.9 stays near "
            "chance, 0.1, for about its first epoch"),
    "resnet": dict(
        title="ResNet", spec="models/resnet.lua", knob="BENCH_RESNET_REPS", layers=RESNET_LAYERS,
        flop=RESNET_FLOP, kiln_epochs=1,
        about="3×3 stem conv 16 → batch norm → relu; three stages of two basic blocks with 16, 32, 64 "
              "channels, the first of stages 2 and 3 with stride 2 and a 1×1 stride-2 shortcut; "
              "global average pool → 10; SGD lr 0.05, momentum 0.9, weight decay 5e-4, batch 256",
        uncounted="Bias, batch norm, relu, the adds, pooling, softmax and the SGD update are",
        acc="test acc after the 1st epoch of both, PyTorch's in evaluation mode like kiln's "
            "(batch norm's running statistics)"),
}
CONTENDED = 0.10  # a run is contended when other processes took more than this share of the CPUs

SHAPES = [  # name, product, m, n, k, FLOP share of the epoch
    ("fwd1", "X·W1", 256, 256, 784),
    ("fwd2", "H·W2", 256, 10, 256),
    ("bwd_dH", "dZ2·W2ᵀ", 256, 256, 10),
    ("dW2", "Hᵀ·dZ2", 256, 10, 256),
    ("dW1", "Xᵀ·dZ1", 784, 256, 256),
]


def load(meta_path, raw_path):
    meta = {}
    for line in open(meta_path):
        k, _, v = line.rstrip("\n").partition("\t")
        meta[k] = v
    runs = defaultdict(lambda: defaultdict(dict))  # (kind, cfg) -> rep -> key -> value
    for line in open(raw_path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5 or parts[4] == "":
            continue
        kind, cfg, rep, key, value = parts
        try:
            runs[(kind, cfg)][rep][key] = float(value)
        except ValueError:
            pass
    return meta, runs


def epoch_seconds(run, which="last"):
    """One run's seconds of its last (or first) epoch, or None if it has none."""
    epochs = sorted(int(k[5:]) for k in run if k.startswith("epoch"))
    if not epochs:
        return None
    return run[f"epoch{epochs[-1] if which == 'last' else epochs[0]}"]


def finished(run):
    """The run did not fail."""
    return "failed" not in run


def clean(run):
    """The run did not fail, and other processes took ≤ 10% of the CPUs while it ran."""
    return finished(run) and run.get("other_cpu", 0.0) <= CONTENDED


class Results:
    def __init__(self, runs):
        self.runs = runs

    def good(self, kind, cfg):
        """The runs that did not fail; only the clean ones when there are any."""
        ok = [r for r in self.runs.get((kind, cfg), {}).values() if finished(r)]
        return [r for r in ok if clean(r)] or ok

    def clean_count(self, kind, cfg):
        ok = [r for r in self.runs.get((kind, cfg), {}).values() if finished(r)]
        return sum(1 for r in ok if clean(r)), len(ok)

    def values(self, kind, cfg, key):
        return [r[key] for r in self.good(kind, cfg) if key in r]

    def median(self, kind, cfg, key):
        v = self.values(kind, cfg, key)
        return statistics.median(v) if v else None

    def epoch(self, kind, cfg, which="last"):
        """Median seconds of the last (or first) epoch of each run."""
        v = [x for x in (epoch_seconds(r, which) for r in self.good(kind, cfg)) if x is not None]
        return (statistics.median(v), len(v), min(v), max(v)) if v else (None, 0, None, None)

    def round_ratios(self, kind, cfg_a, cfg_b):
        """Last-epoch seconds of cfg_a over cfg_b, round by round (the two
        runs of one round were taken a few seconds apart), for the rounds
        where both ran clean (not failed, not contended)."""
        a, b = self.runs.get((kind, cfg_a), {}), self.runs.get((kind, cfg_b), {})
        out = []
        for rep in sorted(set(a) & set(b), key=int):
            if not (clean(a[rep]) and clean(b[rep])):
                continue
            x, y = epoch_seconds(a[rep]), epoch_seconds(b[rep])
            if x is not None and y:
                out.append(x / y)
        return out

    def round_pairs(self, a, b):
        """Last-epoch seconds of run a over run b, each a (kind, config),
        round by round, for the rounds where both ran clean."""
        a, b = self.runs.get(a, {}), self.runs.get(b, {})
        out = []
        for rep in sorted(set(a) & set(b), key=int):
            if clean(a[rep]) and clean(b[rep]):
                x, y = epoch_seconds(a[rep]), epoch_seconds(b[rep])
                if x is not None and y:
                    out.append(x / y)
        return out

    def failures(self, kind, cfg):
        return sum(1 for r in self.runs.get((kind, cfg), {}).values() if "failed" in r)


def fmt(x, spec=".3f", none="  n/a"):
    return none if x is None else format(x, spec)


def mb(kb):
    return None if kb is None else kb / 1024


def shared_core(meta):
    """The lower FMA scaling of the two probes when it shows the two vCPUs
    sharing one core (under 1.5×), else None."""
    vals = []
    for key in ("fma_scaling_before", "fma_scaling_after"):
        try:
            vals.append(float(meta.get(key, "")))
        except ValueError:
            pass
    low = min(vals) if vals else None
    return f"{low:.2f}" if low is not None and low < 1.5 else None


def pinned_speeds(R):
    """(when, seconds on vCPU 0, seconds on vCPU 1): the faster 1-thread kiln
    epoch pinned to each vCPU, for the probes that have both figures."""
    out = []
    for when in ("before", "after"):
        a, b = (R.epoch("pinned", f"cpu{cpu}_{when}")[2] for cpu in (0, 1))
        if a and b:
            out.append((when, a, b))
    return out


def vcpu_gap(pinned):
    """When the pinned runs put the vCPUs ≥ 5% apart in speed: the largest
    gap in percent, and the best speed-up 2 threads can give over 1 thread
    on the faster vCPU with the work split perfectly (1 + fast/slow)."""
    gap = max((max(a, b) / min(a, b) for _, a, b in pinned), default=1.0)
    return (100 * (gap - 1), 1 + 1 / gap) if gap >= 1.05 else None


def fma_peak(meta):
    """One thread's FMA peak in GFLOP/s: the higher of core_probe's two
    readings (other work on the machine only ever lowers one), or None."""
    vals = []
    for key in ("fma_gflops_before", "fma_gflops_after"):
        try:
            vals.append(float(meta.get(key, "")))
        except ValueError:
            pass
    return max(vals) if vals else None


def cnn_results(R, meta, model, reps, p, ratio):
    """Print a CNN's section (model: a key of CNNS); return its figures for
    the targets ({"kiln": {T: s}, "torch": {T: s}, "share": {T: x},
    "rss": {T: MB}, "torch_rss": {T: MB}, "peak": GFLOP/s, "torch_setting":
    str}), or None when it was not measured."""
    m = CNNS[model]
    kiln_kind, torch_kind = f"kiln_{model}", f"torch_{model}"
    trials = {cfg: {k[6:]: v for k, v in runs["1"].items() if k.startswith("trial:")}
              for (kind, cfg), runs in R.runs.items() if kind == f"{model}_trial" and "1" in runs}
    if not trials and not any(kind == kiln_kind for kind, _ in R.runs):
        p(f"{m['title']}: not measured ({m['knob']}=0, or {m['spec']} did not build)")
        return None
    fwd, dw, dx = macs(m["layers"])
    groups = {}
    for g, o, t, _ in m["layers"]:
        groups[g] = groups.get(g, 0) + o * t
    first = m["layers"][0][0]
    peak = fma_peak(meta)
    wrap = textwrap.TextWrapper(width=98, break_on_hyphens=False)
    for line in wrap.wrap(f"{m['title']} ({m['spec']}: {m['about']})."):
        p(line)
    for line in wrap.wrap(
            f"FLOP of one epoch's products, per image: forward {fwd:,} multiply-adds ("
            + ", ".join(f"{g} {n:,}" for g, n in groups.items())
            + f"), weight gradients {dw:,}, input gradients {dx:,} ({first} has none: its input is the "
            f"data); × 2 FLOP × {SAMPLES} images = {m['flop']:,} FLOP.  {m['uncounted']} not counted.  "
            f"'of peak' = GFLOP/s over T × one thread's FMA peak ({fmt(peak, '.1f')} GFLOP/s: "
            "bench/core_probe.c, the higher of its two readings)."):
        p(line)
    p("")
    cols = [(f, d) for f in ("contiguous", "channels_last") for d in ("on", "off")
            if any(f"{f}:{d}" in tr for tr in trials.values())]
    if trials:
        p("PyTorch's settings (ms per training step, the fastest of 3 passes of 10 steps; iXbY = X intra-op")
        p("threads, Y OpenBLAS threads; cap = ATEN_CPU_CAPABILITY; format/oneDNN in the columns)")
        p(f"{'mix':5} {'cap':8}" + "".join(f" {f + '/' + d:>18}" for f, d in cols))
        for cfg in sorted(trials, key=lambda c: (c.split("_")[0] != "i1b1", c)):
            mix, _, cap = cfg.partition("_")
            p(f"{mix:5} {cap:8}" + "".join(f" {fmt(trials[cfg].get(f'{f}:{d}'), '.2f'):>18}" for f, d in cols))
        timed = [what for what, mixes in (("the fastest at 1 thread (t1)", "i1b1"),
                                          ("the two fastest at 2 threads (t2a, t2b)", "i2b1 i2b2 i1b2"))
                 if any(c.split("_")[0] in mixes.split() for c in trials)]
        p("timed below: " + " and ".join(timed))
        p("")
    setting = {c: meta.get(f"{model}_torch_{c}", "none") for c in ("t1", "t2a", "t2b")}
    rows = [("kiln trainer", kiln_kind, "t1", 1),
            (f"PyTorch t1: {setting['t1']}", torch_kind, "t1", 1),
            ("kiln trainer", kiln_kind, "t2", 2),
            (f"PyTorch t2a: {setting['t2a']}", torch_kind, "t2a", 2),
            (f"PyTorch t2b: {setting['t2b']}", torch_kind, "t2b", 2)]
    rows = [r for r in rows if (r[1], r[2]) in R.runs]  # the thread counts that ran
    if m["kiln_epochs"] > 1:
        p(f"Median of {reps} interleaved rounds; kiln: the 2nd of 2 epochs ('epoch 1' beside it); PyTorch:")
        p("1 epoch after 20 untimed warm-up steps.  Training time only, as above.")
    else:
        p(f"Median of {reps} interleaved round{'s' if reps != 1 else ''}; kiln: its only epoch (the 1st: "
          "its first-touch costs are a")
        p("small part of a minute); PyTorch: 1 epoch after 20 untimed warm-up steps.  Training time only.")
    p(f"{'':44} {'threads':>7} {'s/epoch':>8} {'(range)':>15} {'epoch 1':>8} {'GFLOP/s':>8} {'of peak':>7} "
      f"{'peak RSS':>9} {'test acc':>8} {'clean':>6}")
    res = {"kiln": {}, "share": {}, "rss": {}, "torch_rss": {}, "peak": peak}
    torch_med, torch_rss = {}, {}
    for label, kind, cfg, t in rows:
        med, n, lo, hi = R.epoch(kind, cfg)
        first = R.epoch(kind, cfg, "first")[0] if kind == kiln_kind and m["kiln_epochs"] > 1 else None
        rate = m["flop"] / med / 1e9 if med else None
        share = rate / (t * peak) if rate and peak else None
        rss = mb(R.median(kind, cfg, "rss_kb"))
        rng = f"{lo:.3f}–{hi:.3f}" if n else ""
        fails = R.failures(kind, cfg)
        note = f"  ({n} runs, {fails} failed)" if fails else ""
        p(f"{label[:44]:44} {t:>7} {fmt(med):>8} {rng:>15} {fmt(first, '.3f', '     -'):>8} {fmt(rate, '.1f'):>8} "
          f"{fmt(share and 100 * share, '.1f'):>6}% {fmt(rss, '.0f'):>6} MB "
          f"{fmt(R.median(kind, cfg, 'test_acc'), '.3f', ''):>8} {'%d/%d' % R.clean_count(kind, cfg):>6}{note}")
        if kind == kiln_kind:
            res["kiln"][t], res["share"][t], res["rss"][t] = med, share, rss
        elif med is not None:
            torch_med[cfg], torch_rss[cfg] = med, rss
    for line in wrap.wrap(f"({m['acc']}; PyTorch's RSS includes the data set as floats, {FLOATS_MB:.0f} MB)"):
        p(line)
    # PyTorch's best at ≤ T threads, from the timed epochs (at 2 threads the 1-thread setting counts too)
    best = {}
    for t, cfgs in ((1, ["t1"]), (2, ["t1", "t2a", "t2b"])):
        cands = [(torch_med[c], c) for c in cfgs if c in torch_med]
        best[t] = min(cands) if cands else (None, None)
    res["torch"] = {t: best[t][0] for t in (1, 2)}
    res["torch_rss"] = {t: torch_rss.get(best[t][1]) for t in (1, 2)}
    res["torch_setting"] = f"PyTorch {best[2][1]}: {setting[best[2][1]]}" if best[2][1] else "no PyTorch run"
    kiln = {t: res["kiln"].get(t) for t in (1, 2)}
    share = {t: res["share"].get(t) for t in (1, 2)}
    p(f"{'':44} {'1 thread':>12} {'2 threads':>12}")
    p(f"{'PyTorch fastest at ≤ T threads (timed above)':44}" + "".join(f" {best[t][1] or '-':>12}" for t in (1, 2)))
    p(f"{'kiln / PyTorch fastest (seconds)':44}" +
      "".join(f" {fmt(ratio(kiln[t], best[t][0]), '.2f'):>12}" for t in (1, 2)))
    p(f"{'   = kiln is N× faster than PyTorch':44}" +
      "".join(f" {fmt(ratio(best[t][0], kiln[t]), '.2f'):>11}×" for t in (1, 2)))
    p(f"{'kiln share of FMA peak (T × one thread)':44}" +
      "".join(f" {fmt(share[t] and 100 * share[t], '.1f'):>11}%" for t in (1, 2)))
    p(f"{'peak RSS: kiln / PyTorch fastest (MB)':44}" +
      "".join(" {:>12}".format(f"{fmt(res['rss'].get(t), '.0f', '-')} / {fmt(res['torch_rss'][t], '.0f', '-')}")
              for t in (1, 2)))
    p(f"{'kiln speed-up of 2 threads over 1':44} {'':>12} {fmt(ratio(kiln[1], kiln[2]), '.3f'):>11}×")
    for t in (1, 2):
        rounds = R.round_pairs((kiln_kind, f"t{t}"), (torch_kind, best[t][1])) if best[t][1] else []
        if rounds:
            p(f"   kiln / PyTorch {best[t][1]} round by round, {t} thread{'s' if t > 1 else ''}: "
              + ", ".join(f"{x:.2f}" for x in rounds))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("meta")
    ap.add_argument("raw")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale-reps", type=int, default=3)
    ap.add_argument("--scale-samples", type=int, default=10000)
    ap.add_argument("--lenet-reps", type=int, default=2)
    ap.add_argument("--resnet-reps", type=int, default=1)
    a = ap.parse_args()
    meta, runs = load(a.meta, a.raw)
    R = Results(runs)
    out = []
    p = out.append

    p("=" * 78)
    p("kiln benchmark (bench/run.sh) — issues 3, 18 and 19")
    p("=" * 78)
    p(f"CPU       {meta.get('cpu_model', '?')} ({cpu_generation(meta)}), {meta.get('cpu_count', '?')} CPUs; "
      f"avx512f {meta.get('flag_avx512f', '?')}, avx2 {meta.get('flag_avx2', '?')}, fma {meta.get('flag_fma', '?')}")
    p(f"kiln      {meta.get('kiln_rev', '?')}; trainer from `build/kiln build models/mlp.lua` (its default cc -O3 -march=native)")
    p(f"OpenBLAS  {meta.get('openblas', '?')}  [autodetected kernels, OPENBLAS_CORETYPE unset]")
    p(f"          reference run: {meta.get('openblas_haswell', '?')}  [OPENBLAS_CORETYPE=Haswell: AVX2 kernels]")
    p(f"PyTorch   {meta.get('torch', '?')}; its BLAS is libblas.so.3 → {meta.get('torch_blas', '?')}")
    p(f"load      {meta.get('busy_before', '?')}% of the CPUs busy in the second before the bench; "
      f"load average at its end {meta.get('loadavg_end', '?')}; bench took {meta.get('wall_seconds', '?')} s")
    one_core = shared_core(meta)
    try:
        if int(meta.get("busy_before", "0")) > 10:
            p("WARNING   the machine was busy with other work: timings (2-thread ones most) are slower and noisier")
    except ValueError:
        pass
    total = sum(1 for runs in R.runs.values() for r in runs.values() if finished(r))
    dirty = sum(1 for runs in R.runs.values() for r in runs.values() if finished(r) and not clean(r))
    p(f"          contended runs (other processes took > 10% of the CPUs, even after retries): {dirty} of {total}")
    if dirty:
        p("WARNING   some timings were taken while other work ran on the same cores; see 'clean'")
    p(f"cores     a cache line's round trip between the two threads: {meta.get('round_trip_ns_before', '?')} ns "
      f"before the main comparison, {meta.get('round_trip_ns_after', '?')} ns after; FMA work with 2 threads "
      f"over 1: {meta.get('fma_scaling_before', '?')}× before, {meta.get('fma_scaling_after', '?')}× after")
    p(f"          one thread's FMA peak: {meta.get('fma_gflops_before', '?')} GFLOP/s before, "
      f"{meta.get('fma_gflops_after', '?')} GFLOP/s after")
    if one_core:
        p(f"WARNING   FMA work scaled only {one_core}× on 2 threads: for part of this run the host gave both")
        p("          vCPUs one core, so no 2-thread figure below (kiln, floor or PyTorch) measures anything")
    pinned = pinned_speeds(R)
    uneven = vcpu_gap(pinned)
    if pinned:
        p("          kiln's 1-thread epoch pinned to vCPU 0 / vCPU 1: "
          + ", ".join(f"{a:.3f} / {b:.3f} s {when}" for when, a, b in pinned))
    if uneven:
        p(f"          the vCPUs ran up to {uneven[0]:.0f}% apart in speed: a 2-thread step waits for the slower, so")
        p(f"          2 threads give at most {uneven[1]:.2f}× a 1-thread run on the faster, even with the work "
          "split perfectly")
    p(f"          rewriting 128 KB a thread wrote before: {meta.get('rewrite_us_before', '?')} µs, or "
      f"{meta.get('rewrite_read_us_before', '?')} µs once the other thread has read it")
    p("          (bench/core_probe.c; on a VM the host places the vCPUs: a few hundred ns means they sit")
    p("          far apart, and every barrier and every cache line that changes cores in a 2-thread step")
    p("          pays it — the 2-thread figures of kiln, the floor and PyTorch are then slower and noisier)")
    p("")
    p(f"One epoch of models/mlp.lua: {SAMPLES} samples, batch {BATCH} (235 steps, the last 96 rows),")
    p(f"784→256→10; its matrix products are {FLOP:,} FLOP (2·m·n·k summed), so GFLOP/s below")
    p(f"= {FLOP / 1e9:.2f} / seconds for every row.  Median of {a.reps} interleaved runs; each process trains")
    p("2 epochs and the figure is the 2nd epoch's training time (the 1st, in 'epoch 1', pays for")
    p("first-touch page faults, thread start-up and library warm-up).  Training time only: data")
    p("loading and test evaluation are outside it for all three.")
    p("")

    rows = [
        ("kiln trainer", "kiln", "t1", 1),
        ("kiln trainer", "kiln", "t2", 2),
        ("PyTorch intra-op 1, OpenBLAS 1", "torch", "i1b1", 1),
        ("PyTorch intra-op 2, OpenBLAS 2", "torch", "i2b2", 2),
        ("PyTorch intra-op 1, OpenBLAS 2", "torch", "i1b2", 2),
        ("PyTorch intra-op 2, OpenBLAS 1", "torch", "i2b1", 2),
        ("OpenBLAS GEMM floor", "floor", "t1", 1),
        ("OpenBLAS GEMM floor", "floor", "t2", 2),
        ("OpenBLAS floor, AVX2 kernels (ref.)", "floor_haswell", "t1", 1),
        ("OpenBLAS floor, AVX2 kernels (ref.)", "floor_haswell", "t2", 2),
    ]
    p(f"{'':37} {'threads':>7} {'s/epoch':>8} {'(range)':>15} {'epoch 1':>8} {'GFLOP/s':>8} {'peak RSS':>9} {'test acc':>8} {'clean':>6}")
    for label, kind, cfg, t in rows:
        med, n, lo, hi = R.epoch(kind, cfg)
        first = R.epoch(kind, cfg, "first")[0]
        rss = mb(R.median(kind, cfg, "rss_kb"))
        acc = R.median(kind, cfg, "test_acc")
        rng = f"{lo:.3f}–{hi:.3f}" if n else ""
        fails = R.failures(kind, cfg)
        note = f"  ({n} runs, {fails} failed)" if fails else ""
        p(f"{label:37} {t:>7} {fmt(med):>8} {rng:>15} {fmt(first):>8} "
          f"{fmt(FLOP / med / 1e9 if med else None, '.1f'):>8} {fmt(rss, '.0f'):>6} MB {fmt(acc, '.3f', ''):>8} "
          f"{'%d/%d' % R.clean_count(kind, cfg):>6}{note}")
    p("(test acc: after the 2nd epoch, a sanity check that the runs really trained;")
    p(" peak RSS: /usr/bin/time -v 'Maximum resident set size', median over runs;")
    p(" clean: runs during which other processes took ≤ 10% of the CPUs, after up to 2 retries —")
    p(" medians are over the clean runs when there are any, else over all, and then unreliable)")
    p("")

    kiln = {t: R.epoch("kiln", f"t{t}")[0] for t in (1, 2)}
    floor = {t: R.epoch("floor", f"t{t}")[0] for t in (1, 2)}
    floor_h = {t: R.epoch("floor_haswell", f"t{t}")[0] for t in (1, 2)}
    torch_cfgs = {1: ["i1b1"], 2: ["i1b1", "i2b2", "i1b2", "i2b1"]}
    torch_best = {}
    for t, cfgs in torch_cfgs.items():
        cands = [(R.epoch("torch", c)[0], c) for c in cfgs if R.epoch("torch", c)[0] is not None]
        torch_best[t] = min(cands) if cands else (None, None)

    def ratio(x, y):
        return x / y if x is not None and y is not None else None

    p("Ratios of seconds per epoch (kiln / other: below 1 means kiln is faster)")
    p(f"{'':44} {'1 thread':>12} {'2 threads':>12}")
    line = f"{'kiln / PyTorch best at ≤ T threads':44}"
    for t in (1, 2):
        r = ratio(kiln[t], torch_best[t][0])
        line += f" {fmt(r, '.2f'):>5} ({torch_best[t][1] or '-':>4})"
    p(line)
    p(f"{'   = kiln is N× faster than PyTorch':44}" +
      "".join(f" {fmt(ratio(torch_best[t][0], kiln[t]), '.2f'):>11}×" for t in (1, 2)))
    p(f"{'kiln / OpenBLAS GEMM floor':44}" + "".join(f" {fmt(ratio(kiln[t], floor[t]), '.2f'):>12}" for t in (1, 2)))
    p(f"{'kiln / OpenBLAS floor, AVX2 kernels (ref.)':44}" +
      "".join(f" {fmt(ratio(kiln[t], floor_h[t]), '.2f'):>12}" for t in (1, 2)))
    p(f"{'speed-up of 2 threads over 1':44} {'':>12}" +
      f" {'kiln ' + fmt(ratio(kiln[1], kiln[2]), '.3f') + '×':>12}")
    p(f"{'':44} {'':>12} {'floor ' + fmt(ratio(floor[1], floor[2]), '.3f') + '×':>12}")
    rounds = R.round_ratios("kiln", "t1", "t2")
    if rounds:
        p(f"   kiln by round (its 1-thread run over the 2-thread run of that round): "
          + ", ".join(f"{x:.3f}" for x in rounds))
    p("(PyTorch config names: iXbY = X intra-op threads, Y OpenBLAS threads)")
    p("")

    # ---- the residual MLP
    p("The residual MLP (models/mlp_residual.lua: 784→256, two residual blocks of 256, →10; SGD lr 0.1,")
    p("batch 256), the same way: median of the 2nd epochs' training time")
    res_rows = [("kiln trainer", "kiln_residual", "t1", 1), ("kiln trainer", "kiln_residual", "t2", 2),
                ("PyTorch intra-op 1, OpenBLAS 1", "torch_residual", "i1b1", 1),
                ("PyTorch intra-op 2, OpenBLAS 2", "torch_residual", "i2b2", 2),
                ("PyTorch intra-op 1, OpenBLAS 2", "torch_residual", "i1b2", 2)]
    p(f"{'':37} {'threads':>7} {'s/epoch':>8} {'(range)':>15} {'test acc':>8} {'clean':>6}")
    for label, kind, cfg, t in res_rows:
        med, n, lo, hi = R.epoch(kind, cfg)
        rng = f"{lo:.3f}–{hi:.3f}" if n else ""
        p(f"{label:37} {t:>7} {fmt(med):>8} {rng:>15} {fmt(R.median(kind, cfg, 'test_acc'), '.3f', ''):>8} "
          f"{'%d/%d' % R.clean_count(kind, cfg):>6}")
    res_torch = {1: ["i1b1"], 2: ["i1b1", "i2b2", "i1b2"]}
    line = f"{'   kiln is N× faster than PyTorch best':44}"
    for t in (1, 2):
        cands = [R.epoch("torch_residual", c)[0] for c in res_torch[t]]
        cands = [c for c in cands if c is not None]
        kr = R.epoch("kiln_residual", f"t{t}")[0]
        line += f" {fmt(ratio(min(cands) if cands else None, kr), '.2f'):>11}×"
    p(f"{'':44} {'1 thread':>12} {'2 threads':>12}")
    p(line)
    p("")

    # ---- the CNNs
    lenet = cnn_results(R, meta, "lenet", a.lenet_reps, p, ratio)
    p("")
    resnet = cnn_results(R, meta, "resnet", a.resnet_reps, p, ratio)
    p("")

    # ---- GEMM shapes
    p("GEMM shapes alone (n = 256 batch rows), GFLOP/s, median of 3 runs of 5 trials each;")
    p("kiln through kiln_sgemm (floats, no epilogue); 'share' = the shape's part of an epoch's FLOP")
    p(f"{'shape':7} {'product':9} {'m×n×k':>12} {'share':>6} | {'OpenBLAS':>8} {'kiln':>7} {'ratio':>6} "
      f"| {'OpenBLAS':>8} {'kiln':>7} {'ratio':>6}")
    p(f"{'':38}| {'------ 1 thread ------':>23} | {'------ 2 threads -----':>23}")
    below = {1: [], 2: []}
    per_sample = 4 * IN * HID + 6 * HID * OUT
    for name, prod, m, n, k in SHAPES + [("epoch", "all five", 0, 0, 0)]:
        if name == "epoch":
            dims, share = "one epoch", "100%"
        else:
            dims = f"{m}×{n}×{k}"
            share = f"{100 * 2 * m * n * k / 256 / per_sample:.1f}%"
        line = f"{name:7} {prod:9} {dims:>12} {share:>6}"
        for t in (1, 2):
            ob = R.median("shapes_openblas", f"t{t}", name)
            kl = R.median("shapes_kiln", f"t{t}", name)
            r = ratio(kl, ob)
            flag = " "
            if r is not None and r < 0.9:
                flag = "!"
                if name != "epoch":
                    below[t].append(f"{name} {r:.0%}")
            line += f" | {fmt(ob, '.1f'):>8} {fmt(kl, '.1f'):>7} {fmt(r, '.0%'):>5}{flag}"
        p(line)
    p("('!' = kiln below 90% of OpenBLAS on that shape; clean runs: " + ", ".join(
        f"{lib} {t}t {'%d/%d' % R.clean_count('shapes_' + lib, f't{t}')}"
        for t in (1, 2) for lib in ("openblas", "kiln")) + ")")
    for t in (1, 2):
        if below[t]:
            p(f"below 90% at {t} thread{'s' if t > 1 else ''}: {', '.join(below[t])}")
    p("")

    # ---- compile time
    comp = R.values("compile", "mlp", "seconds")
    comp_med = statistics.median(comp) if comp else None
    p(f"Spec → trainer binary (build/kiln build models/mlp.lua -o X, X and X.c deleted first): "
      f"median {fmt(comp_med)} s of {len(comp)} (range {fmt(min(comp) if comp else None)}–{fmt(max(comp) if comp else None)} s)")
    p("")

    # ---- scaling
    ss = a.scale_samples
    p(f"Scaling: kiln trainer at 2 threads, hidden × batch, on a {ss}-image training subset "
      f"(median of {a.scale_reps},")
    p("2nd of 2 epochs; lr 0.01). FLOP per epoch does not depend on the batch, so along a row the")
    p("time should not grow; down a column it should grow no faster than the FLOP (4× per step).")
    p("'of best' = the cell's GFLOP/s as a share of the best cell's (low: fixed per-step costs dominate).")
    p(f"{'hidden':>6} {'batch':>6} {'GFLOP/epoch':>12} {'s/epoch':>9} {'GFLOP/s':>8} {'of best':>8} {'clean':>6}  note")
    hiddens, batches = [256, 1024, 4096], [64, 256, 1024]
    cell = {}
    for h in hiddens:
        for b in batches:
            cell[(h, b)] = R.epoch("scale", f"h{h}_b{b}")[0]
    rates = [epoch_flop(ss, h) / cell[(h, b)] for (h, b) in cell if cell[(h, b)]]
    best_rate = max(rates) if rates else None
    slow_notes = []
    for h in hiddens:
        for b in batches:
            s = cell[(h, b)]
            f = epoch_flop(ss, h)
            notes = []
            hi = hiddens.index(h)
            if hi > 0 and s and cell[(hiddens[hi - 1], b)]:
                ph = hiddens[hi - 1]
                tf, ff = s / cell[(ph, b)], f / epoch_flop(ss, ph)
                if tf > 1.1 * ff:
                    notes.append(f"time ×{tf:.1f} for FLOP ×{ff:.1f} from hidden {ph}")
            bi = batches.index(b)
            if bi > 0 and s and cell[(h, batches[bi - 1])]:
                pb = batches[bi - 1]
                tf = s / cell[(h, pb)]
                if tf > 1.1:
                    notes.append(f"slower (×{tf:.2f}) than batch {pb} for the same FLOP")
            if notes:
                slow_notes.append(f"hidden {h} batch {b}: " + "; ".join(notes))
            eff = f / s / best_rate if s and best_rate else None
            p(f"{h:>6} {b:>6} {f / 1e9:>12.2f} {fmt(s):>9} {fmt(f / s / 1e9 if s else None, '.1f'):>8} "
              f"{fmt(eff, '.0%'):>8} {'%d/%d' % R.clean_count('scale', f'h{h}_b{b}'):>6}  "
              + ("← " + "; ".join(notes) if notes else ""))
    if not slow_notes:
        p("time grows with FLOP, not faster, everywhere in the table (within 10%)")
    p("")

    # ---- targets
    def verdict(ok):
        return "met" if ok else "NOT met"

    # Times come to the millisecond, so a ratio of two can sit exactly on a
    # bound (0.297 / 0.165 = 1.8); binary division must not push it across.
    def at_least(x, bound):
        return x is not None and x >= bound * (1 - 1e-9)

    def at_most(x, bound):
        return x is not None and x <= bound * (1 + 1e-9)

    p("-" * 78)
    p("Targets of issue 3 (2 threads; ratios from this run)")
    p("-" * 78)
    r_floor = ratio(kiln[2], floor[2])
    r_floor_h = ratio(kiln[2], floor_h[2])
    p(f"kiln ≤ 1.1× OpenBLAS GEMM floor       {verdict(at_most(r_floor, 1.1)):>8}: "
      f"{fmt(r_floor, '.2f')}× ({fmt(kiln[2])} s vs {fmt(floor[2])} s, OpenBLAS's own kernel choice)")
    p(f"   (vs the AVX2-kernel floor          {verdict(at_most(r_floor_h, 1.1)):>8}: "
      f"{fmt(r_floor_h, '.2f')}×, {fmt(floor_h[2])} s — reference only)")
    sp = ratio(torch_best[2][0], kiln[2])
    p(f"kiln ≥ 1.6× faster than PyTorch best  {verdict(at_least(sp, 1.6)):>8}: "
      f"{fmt(sp, '.2f')}× ({fmt(kiln[2])} s vs {fmt(torch_best[2][0])} s, PyTorch {torch_best[2][1]})")
    su = ratio(kiln[1], kiln[2])
    p(f"2 threads ≥ 1.8× faster than 1        {verdict(at_least(su, 1.8)):>8}: "
      f"{fmt(su, '.3f')}× ({fmt(kiln[1])} s → {fmt(kiln[2])} s; cores' round trip "
      f"{meta.get('round_trip_ns_before', '?')}–{meta.get('round_trip_ns_after', '?')} ns)")
    if one_core:
        p(f"   (unreliable: plain FMA work scaled only {one_core}× on 2 threads in this run — rerun)")
    if uneven:
        p(f"   (the vCPUs ran up to {uneven[0]:.0f}% apart in speed: at most {uneven[1]:.2f}× over a "
          "1-thread run on the faster)")
    p(f"spec → trainer < 2 s                  {verdict(comp_med is not None and comp_med < 2):>8}: {fmt(comp_med, '.2f')} s")
    shapes_ok = not below[2] and R.median("shapes_kiln", "t2", "fwd1") is not None
    p(f"every GEMM shape ≥ 90% of OpenBLAS    {verdict(shapes_ok):>8}: "
      + ("all shapes" if shapes_ok else ", ".join(below[2]) or "no data"))
    rss = mb(R.median("kiln", "t2", "rss_kb"))
    p(f"trainer peak RSS < 120 MB             {verdict(rss is not None and rss < 120):>8}: {fmt(rss, '.0f')} MB")
    sc_clean = sum(R.clean_count("scale", f"h{h}_b{b}")[0] for h in hiddens for b in batches)
    p(f"scaling: time grows with FLOP          {verdict(not slow_notes):>8}: "
      + ("yes" if not slow_notes else f"{len(slow_notes)} cell(s) flagged above")
      + ("" if sc_clean else " (no clean run in the table: unreliable)"))
    if lenet:
        p("-" * 78)
        p("Targets of issue 18: LeNet (2 threads; ratios from this run)")
        p("-" * 78)
        k2, t2, share2 = lenet["kiln"][2], lenet["torch"][2], lenet["share"][2]
        sp = ratio(t2, k2)
        p(f"kiln ≥ 4× faster than PyTorch best    {verdict(at_least(sp, 4)):>8}: "
          f"{fmt(sp, '.2f')}× ({fmt(k2)} s vs {fmt(t2)} s, {lenet['torch_setting']})")
        p(f"kiln ≥ 40% of FMA peak                {verdict(at_least(share2, 0.40)):>8}: "
          f"{fmt(share2 and 100 * share2, '.1f')}% of {fmt(lenet['peak'] and 2 * lenet['peak'], '.0f')} GFLOP/s")
        rss = lenet["rss"][2]
        p(f"LeNet trainer peak RSS < 150 MB       {verdict(rss is not None and rss < 150):>8}: {fmt(rss, '.0f')} MB")
    if resnet:
        p("-" * 78)
        p("Target of issue 19: the ResNet (2 threads; a ratio from this run)")
        p("-" * 78)
        k2, t2, share2 = resnet["kiln"].get(2), resnet["torch"][2], resnet["share"].get(2)
        sp = ratio(t2, k2)
        p(f"kiln ≥ 3× faster than PyTorch best    {verdict(at_least(sp, 3)):>8}: "
          f"{fmt(sp, '.2f')}× ({fmt(k2)} s vs {fmt(t2)} s, {resnet['torch_setting']})")
        p(f"   (kiln at {fmt(share2 and 100 * share2, '.1f')}% of {fmt(resnet['peak'] and 2 * resnet['peak'], '.0f')} "
          f"GFLOP/s; peak RSS {fmt(resnet['rss'].get(2), '.0f')} MB, PyTorch's "
          f"{fmt(resnet['torch_rss'][2], '.0f')} MB)")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
