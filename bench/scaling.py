"""scaling.py — how a kiln data parallel trainer would scale past this
machine: a model of epoch time and parallel efficiency for 1 to 256 ranks,
from three measured figures per model and an assumed network.

    bench/scaling.py --model mlp --step-ms 1.2 --params 203530 [--link-gbps 25 --latency-us 5]

--step-ms is one training step on one node (bench/mpi.sh measures it: the
trainer's epoch time at all its threads / its steps), --params the floats
of its gradients (kiln summary), --batch the spec's batch, --samples the
training set.  Each rank is a node like this one.  A step costs the
compute (the batch's rows shared among the ranks, or, at a fixed per-rank
batch, the whole step) plus the gradient exchange, not overlapped with it
(an upper bound: kiln sends buckets while the backward pass runs):

  ring allreduce   2 (p − 1)/p · B / bandwidth + 2 (p − 1) · latency
  kiln's gather    (p − 1) · B / bandwidth + (p − 1) · latency   (what kiln
                   does today: every rank receives every other's gradients
                   and adds them in rank order, for results that are the same
                   bits every run)

with B the gradients' bytes.  Efficiency is T(1) / (p · T(p)) per sample.
Prints a markdown table per setting and where each exchange stops
scaling (efficiency below 50%)."""
import argparse
import math


def exchange(p, nbytes, bw, lat, ring):
    if p == 1:
        return 0.0
    if ring:
        return 2 * (p - 1) / p * nbytes / bw + 2 * (p - 1) * lat
    return (p - 1) * nbytes / bw + (p - 1) * lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--step-ms", type=float, required=True, help="one step on one node, ms")
    ap.add_argument("--params", type=int, required=True, help="gradient floats per step")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--link-gbps", type=float, default=25.0)
    ap.add_argument("--latency-us", type=float, default=5.0)
    a = ap.parse_args()
    bw = a.link_gbps * 1e9 / 8          # bytes per second
    lat = a.latency_us * 1e-6
    nbytes = 4 * a.params
    t1 = a.step_ms * 1e-3
    steps = math.ceil(a.samples / a.batch)
    print(f"### {a.model}: {a.step_ms:g} ms a step on one node, {nbytes / 1e6:.2f} MB of gradients, "
          f"{a.link_gbps:g} Gb/s and {a.latency_us:g} µs links\n")
    for fixed in ("global", "per-rank"):
        print(f"Fixed {fixed} batch ({a.batch}{' rows each rank' if fixed == 'per-rank' else ' rows in all'}):\n")
        print("| ranks | rows a rank | epoch s (ring) | efficiency (ring) | epoch s (kiln's gather) | efficiency (gather) |")
        print("|---|---|---|---|---|---|")
        stops = {}
        p = 1
        while p <= 256:
            rows = a.batch / p if fixed == "global" else a.batch
            compute = t1 / p if fixed == "global" else t1
            nsteps = steps if fixed == "global" else math.ceil(a.samples / (a.batch * p))
            base = steps * t1   # one node's epoch
            cells = []
            for ring in (True, False):
                epoch = nsteps * (compute + exchange(p, nbytes, bw, lat, ring))
                eff = base / (p * epoch)
                if eff < 0.5 and ring not in stops:
                    stops[ring] = p
                cells += [f"{epoch:.3f}", f"{100 * eff:.0f}%"]
            print(f"| {p} | {rows:g} | " + " | ".join(cells) + " |")
            p *= 2
        for ring, name in ((True, "ring allreduce"), (False, "kiln's gather")):
            if ring in stops:
                p = stops[ring]
                c = t1 / p if fixed == "global" else t1
                x = exchange(p, nbytes, bw, lat, ring)
                print(f"\n{name} falls below 50% at {p} ranks: the exchange takes {1e3 * x:.3f} ms a step "
                      f"against {1e3 * c:.3f} ms of compute.", end="")
            else:
                print(f"\n{name} stays above 50% up to 256 ranks.", end="")
        print("\n")


if __name__ == "__main__":
    main()
