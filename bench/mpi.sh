#!/usr/bin/env bash
# bench/mpi.sh — data parallel training on this machine, and a model of it
# past this machine (issue 21).  For the MLP and LeNet: one process at 2
# threads against 2 ranks at 1 thread each (kiln build --mpi, Open MPI),
# interleaved, the median of BENCH_MPI_REPS rounds (default 3) of the
# second epoch's training time from the trainers' --verbose lines, and the
# time per step rank 0 spent waiting for the other's gradients; then
# bench/scaling.py's model for 1 to 256 ranks from the one-process step
# time and the gradients' size.  Prints markdown on stdout; bench/README.md
# keeps a run's figures.
#
# usage: bench/mpi.sh    (about 2 minutes on an idle 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${BENCH_MPI_REPS:-3}
./build.sh >/dev/null
command -v mpirun >/dev/null && [ -f build/libkiln_mpi.a ] ||
    { echo "bench/mpi.sh: needs Open MPI (apt-get install openmpi-bin libopenmpi-dev, then ./build.sh)" >&2; exit 1; }
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "## Data parallel training: one process × 2 threads against 2 ranks × 1 thread"
echo
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | tr -d ' '); $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d); median of $REPS rounds, the second epoch"
echo
echo "| model | 1 × 2 threads s/epoch | 2 ranks × 1 thread s/epoch | ranks / process | waiting for gradients, ms a step |"
echo "|---|---|---|---|---|"
declare -A step_ms params
for model in mlp lenet; do
    build/kiln build "models/$model.lua" -o "$work/$model" >/dev/null 2>&1
    build/kiln build "models/$model.lua" --mpi -o "$work/${model}_mpi" >/dev/null 2>&1
    : >"$work/one" ; : >"$work/two"; : >"$work/wait"
    for _ in $(seq 1 "$REPS"); do
        "$work/$model" --epochs 2 --threads 2 --verbose 2>&1 >/dev/null |
            sed -n 's/^epoch 2: .*train \([0-9.]*\) s.*/\1/p' >>"$work/one"
        $MPIRUN -np 2 "$work/${model}_mpi" --epochs 2 --threads 1 --verbose 2>&1 >/dev/null |
            sed -n 's/^epoch 2: .*train \([0-9.]*\) s (waiting for gradients \([0-9.]*\) s).*/\1 \2/p' >"$work/line"
        cut -d' ' -f1 "$work/line" >>"$work/two"
        cut -d' ' -f2 "$work/line" >>"$work/wait"
    done
    one=$(median <"$work/one") two=$(median <"$work/two") wait=$(median <"$work/wait")
    steps=235   # 60000 rows, batch 256
    step_ms[$model]=$(awk -v t="$one" -v s=$steps 'BEGIN { printf "%.4f", 1000 * t / s }')
    params[$model]=$(build/kiln summary "models/$model.lua" | sed -n 's/^parameters *\([0-9,]*\).*/\1/p' | tr -d ,)
    echo "| $model | $one | $two | $(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", a / b }')× | $(awk -v w="$wait" -v s=$steps 'BEGIN { printf "%.3f", 1000 * w / s }') |"
done
echo
echo "## A model of more ranks (bench/scaling.py)"
echo
for model in mlp lenet; do
    python3 bench/scaling.py --model "$model" --step-ms "${step_ms[$model]}" --params "${params[$model]}"
done
