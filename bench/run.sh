#!/usr/bin/env bash
# bench/run.sh — how fast is the trainer kiln emits? (issue 3)
#
# Times, interleaved round-robin and as the median of several runs each, one
# training epoch of models/mlp.lua (Fashion-MNIST, 60000 samples, batch 256)
# three ways, with 1 and 2 threads:
#   (a) kiln's trainer (build/kiln build models/mlp.lua), per-epoch training
#       time from its --verbose lines (data loading and test evaluation are
#       not in it);
#   (b) PyTorch 1.13 (Debian python3-torch, /usr/bin/python3) training the
#       same model the same way with the data preloaded as tensors
#       (bench/torch_mlp.py), with every intra-op / OpenBLAS thread mix;
#   (c) the GEMM-only floor: the epoch's matrix products alone with OpenBLAS
#       (bench/gemm_floor.c);
# then the residual MLP (models/mlp_residual.lua) with kiln and PyTorch,
# LeNet (models/lenet.lua) and the ResNet (models/resnet.lua) with kiln and
# PyTorch's fastest settings (oneDNN convolutions; bench/torch_cnn.py
# --model lenet|resnet), each GEMM shape alone with OpenBLAS and with kiln's
# GEMM (bench/gemm_shapes.c), spec-to-trainer compile time, and a scaling
# table (hidden 256/1024/4096 × batch 64/256/1024), and last, when Open
# MPI is there, bench/mpi.sh's data parallel rows and scaling model.  Prints
# a report on stdout, with the targets of issues 3, 18 and 19 marked met /
# NOT met.
# bench/README.md explains how to read it.
#
# usage: bench/run.sh            (about 15–20 minutes on an idle 2-core machine)
# environment: BENCH_REPS (default 5) runs per configuration of the main
# comparison, BENCH_RES_REPS (default 3) of the residual MLP's,
# BENCH_LENET_REPS (default 2; 0 skips LeNet) of LeNet's, BENCH_RESNET_REPS
# (default 1; 0 skips the ResNet) of the ResNet's, at BENCH_RESNET_THREADS
# (default "2"; "1 2" adds 1 thread), BENCH_SCALE_REPS (default 3) for the
# scaling table, BENCH_MPI_REPS (default 3; 0 skips them) for bench/mpi.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${BENCH_REPS:-5}
RES_REPS=${BENCH_RES_REPS:-3}   # rounds of the residual MLP
LENET_REPS=${BENCH_LENET_REPS:-2}  # rounds of LeNet
RESNET_REPS=${BENCH_RESNET_REPS:-1}  # rounds of the ResNet (an epoch is about a minute)
RESNET_THREADS=${BENCH_RESNET_THREADS:-2}  # its thread counts: "2", "1 2" or "1"
SCALE_REPS=${BENCH_SCALE_REPS:-3}
PY=/usr/bin/python3              # Debian's python, the one python3-torch is for
DATA=/usr/share/datasets/fashion-mnist
log() { echo "bench: $*" >&2; }

# ---- packages ------------------------------------------------------------------
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -d /usr/lib/python3/dist-packages/torch ] || need+=(python3-torch)
{ pkg-config --exists openblas 2>/dev/null && [ -e "/usr/lib/$(cc -print-multiarch 2>/dev/null)/libopenblas.so" ]; } \
    || need+=(libopenblas-dev)
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || need+=(dataset-fashion-mnist)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { log "missing ${need[*]} and not root: install them with apt-get"; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi

# OpenBLAS picks its kernels for this CPU itself: a core type or cache size
# forced from the environment would make the floor and PyTorch (which uses
# OpenBLAS through libblas.so.3) slower than they can be.  The floor is also
# measured with the AVX2 "Haswell" kernels, for reference.  PyTorch's own
# kernels use their default vector width unless the CNNs' trials set one.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS OMP_NUM_THREADS GOTO_NUM_THREADS MKL_NUM_THREADS \
    ATEN_CPU_CAPABILITY

# How busy is the machine before we start?  Other work on the same cores
# makes every figure (the 2-thread ones most) slower and noisier.
busy_percent() {  # CPU busy over one second, all cores, in percent
    local a b
    read -ra a < <(sed -n 's/^cpu  //p' /proc/stat); sleep 1; read -ra b < <(sed -n 's/^cpu  //p' /proc/stat)
    local idle=$(( (b[3] + b[4]) - (a[3] + a[4]) )) total=0 i
    for i in "${!a[@]}"; do total=$(( total + b[i] - a[i] )); done
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
BUSY_BEFORE=$(busy_percent)
START=$(date +%s)

work=$(mktemp -d /tmp/kiln-bench.XXXXXX)
keep=${BENCH_KEEP:-0}   # BENCH_KEEP=1 keeps the raw timings and trainers in $work
trap '[ "$keep" = 1 ] && log "raw results kept in $work" || rm -rf "$work"' EXIT
raw=$work/raw.tsv
: >"$raw"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$raw"; }  # kind config rep key value

# ---- build ---------------------------------------------------------------------
log "building kiln (./build.sh)"
./build.sh >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; log "./build.sh failed"; exit 1; }
for m in mlp mlp_residual; do
    build/kiln build "models/$m.lua" -o "$work/$m" >"$work/kiln.log" 2>&1 \
        || { cat "$work/kiln.log" >&2; log "build/kiln build models/$m.lua failed"; exit 1; }
done
# LeNet and the ResNet are measured when their trainers build; the rest of the bench does not need them.
cnn_build() {  # cnn_build MODEL REPS: build models/MODEL.lua's trainer as $work/MODEL when REPS > 0
    [ "$2" -gt 0 ] || return 0
    build/kiln build "models/$1.lua" -o "$work/$1" >"$work/kiln.log" 2>&1 \
        || log "build/kiln build models/$1.lua failed, $1 is left out: $(tail -1 "$work/kiln.log")"
}
cnn_build lenet "$LENET_REPS"
cnn_build resnet "$RESNET_REPS"
BLAS_FLAGS=$(pkg-config --cflags --libs openblas)
# shellcheck disable=SC2086  # BLAS_FLAGS is a list of compiler words
cc -O2 -o "$work/gemm_floor" bench/gemm_floor.c $BLAS_FLAGS
# shellcheck disable=SC2086
cc -O2 -DUSE_OPENBLAS -o "$work/shapes_openblas" bench/gemm_shapes.c $BLAS_FLAGS
cc -O2 -DUSE_KILN -Ibuild -o "$work/shapes_kiln" bench/gemm_shapes.c build/libkiln_rt.a -lz -lm -fopenmp
cc -O3 -march=native -mprefer-vector-width=512 -fopenmp -o "$work/core_probe" bench/core_probe.c -lm

# ---- facts about the machine and the libraries ----------------------------------------
{
    echo "cpu_model	$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cpu_count	$(nproc)"
    echo "cpu_family	$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "cpu_family_model	$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    for f in avx512f avx2 fma; do
        if grep -qw "$f" /proc/cpuinfo; then echo "flag_$f	yes"; else echo "flag_$f	no"; fi
    done
    echo "kiln_rev	$(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "openblas	$("$work/gemm_floor" 1 1 2>&1 >/dev/null | sed -n 's/^gemm_floor: 1 thread(s), //p')"
    echo "openblas_haswell	$(OPENBLAS_CORETYPE=Haswell "$work/gemm_floor" 1 1 2>&1 >/dev/null | sed -n 's/^gemm_floor: 1 thread(s), //p')"
    echo "torch	$($PY -c 'import torch,re; print(torch.__version__, re.search(r"BLAS_INFO=\w+", torch.__config__.show()).group(0))' 2>/dev/null || echo missing)"
    echo "torch_blas	$(readlink -f "/usr/lib/$(cc -print-multiarch)/libblas.so.3" 2>/dev/null || echo '?')"
} >"$work/meta.tsv"

# run_case KIND CONFIG REP COMMAND...: run under /usr/bin/time -v and record
# every "epoch N: train X s" line of its stderr, every "shape NAME M N K
# GFLOPS" and "trial FORMAT MKLDNN MS" line of its stdout, its peak RSS and,
# when it prints d2l lines, the last test accuracy.  Other processes on the
# same cores spoil a timing (a 2-thread one most), so run_case also records
# how much of the machine's CPU
# time during the run was not the run's own ("other"); a run where that
# exceeds 10% is repeated, up to BENCH_RETRIES (default 2) more times, and
# the last try is recorded as contended.  report.py takes medians over the
# clean runs when there are any.
HZ=$(getconf CLK_TCK)
RETRIES=${BENCH_RETRIES:-2}
cpu_jiffies() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
run_case() {
    local kind=$1 cfg=$2 rep=$3 try b0 t0 b1 t1 own other
    shift 3
    for try in $(seq 0 "$RETRIES"); do
        read -r b0 t0 < <(cpu_jiffies)
        if ! /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt"; then
            record "$kind" "$cfg" "$rep" failed 1
            log "$kind $cfg run $rep failed: $(grep -v '^epoch' "$work/err.txt" | tail -1)"
            return 0
        fi
        read -r b1 t1 < <(cpu_jiffies)
        own=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$work/time.txt")
        other=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v o="$own" -v hz="$HZ" \
            'BEGIN { x = t > 0 ? (b / hz - o) / (t / hz) : 0; if (x < 0) x = 0; printf "%.3f", x }')
        if awk -v x="$other" 'BEGIN { exit !(x <= 0.10) }'; then break; fi
        if [ "$try" -lt "$RETRIES" ]; then
            log "$kind $cfg run $rep: other processes took $other of the CPUs; repeating it"
        fi
    done
    record "$kind" "$cfg" "$rep" other_cpu "$other"
    awk -v k="$kind" -v c="$cfg" -v r="$rep" \
        '/^epoch [0-9]+: train [0-9.]+ s/ { sub(":", "", $2); printf "%s\t%s\t%s\tepoch%s\t%s\n", k, c, r, $2, $4 }' \
        "$work/err.txt" >>"$raw"
    awk -v k="$kind" -v c="$cfg" -v r="$rep" \
        '$1 == "shape" { printf "%s\t%s\t%s\t%s\t%s\n", k, c, r, $2, $6 }
         $1 == "trial" { printf "%s\t%s\t%s\ttrial:%s:%s\t%s\n", k, c, r, $2, $3, $4 }' "$work/out.txt" >>"$raw"
    record "$kind" "$cfg" "$rep" rss_kb "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")"
    local acc
    acc=$(sed -n 's/^epoch [0-9]*, .*test acc \([0-9.]*\).*/\1/p' "$work/out.txt" | tail -1)
    [ -z "$acc" ] || record "$kind" "$cfg" "$rep" test_acc "$acc"
}

# ---- (a), (b), (c) interleaved ------------------------------------------------------
# Every process runs 2 epochs; the report uses the second (the first pays for
# first-touch page faults, thread start-up and library warm-up), and shows
# the first beside it.
# How the two cores behave together (bench/core_probe.c), before and after:
# on a VM the host may move the vCPUs apart, which slows every 2-thread run.
probe() { "$work/core_probe" | awk -v w="$1" '{ printf "%s_%s\t%s\n", $1, w, $2 }' >>"$work/meta.tsv"; }
# The kiln trainer on 1 thread pinned to vCPU 0, then to vCPU 1, twice (a
# VM's vCPUs need not be equally fast, and a 2-thread step waits for the
# slower one); the report takes each vCPU's faster run.
pinned() {
    command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ] || return 0
    local try cpu
    for try in 1 2; do
        for cpu in 0 1; do
            run_case pinned "cpu${cpu}_$1" "$try" taskset -c "$cpu" env OMP_NUM_THREADS=1 \
                "$work/mlp" --epochs 2 --threads 1 --seed 0 --data "$DATA" --verbose
        done
    done
}
probe before
pinned before
log "main comparison: $REPS rounds of kiln / PyTorch / OpenBLAS floor, 1 and 2 threads (~30 s a round)"
for rep in $(seq 1 "$REPS"); do
    for t in 1 2; do
        run_case kiln "t$t" "$rep" env OMP_NUM_THREADS=$t \
            "$work/mlp" --epochs 2 --threads $t --seed 0 --data "$DATA" --verbose
        run_case torch "i${t}b$t" "$rep" env OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t \
            $PY bench/torch_mlp.py --threads $t --epochs 2 --seed 0 --data "$DATA"
        run_case floor "t$t" "$rep" env OPENBLAS_NUM_THREADS=$t "$work/gemm_floor" $t 2
        run_case floor_haswell "t$t" "$rep" env OPENBLAS_NUM_THREADS=$t OPENBLAS_CORETYPE=Haswell \
            "$work/gemm_floor" $t 2
    done
    # the mixed PyTorch settings: intra-op threads ≠ OpenBLAS threads
    run_case torch i1b2 "$rep" env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 \
        $PY bench/torch_mlp.py --threads 1 --epochs 2 --seed 0 --data "$DATA"
    run_case torch i2b1 "$rep" env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 \
        $PY bench/torch_mlp.py --threads 2 --epochs 2 --seed 0 --data "$DATA"
    log "round $rep/$REPS done"
done

probe after
pinned after

# ---- the residual MLP (models/mlp_residual.lua): kiln / PyTorch ------------------------
log "residual MLP: $RES_REPS rounds of kiln / PyTorch, 1 and 2 threads"
for rep in $(seq 1 "$RES_REPS"); do
    for t in 1 2; do
        run_case kiln_residual "t$t" "$rep" env OMP_NUM_THREADS=$t \
            "$work/mlp_residual" --epochs 2 --threads $t --seed 0 --data "$DATA" --verbose
        run_case torch_residual "i${t}b$t" "$rep" env OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t \
            $PY bench/torch_mlp.py --model residual --threads $t --epochs 2 --seed 0 --data "$DATA"
    done
    run_case torch_residual i1b2 "$rep" env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 \
        $PY bench/torch_mlp.py --model residual --threads 1 --epochs 2 --seed 0 --data "$DATA"
done

# ---- the CNNs: LeNet (models/lenet.lua) and the ResNet (models/resnet.lua) -----------------
# Each against PyTorch's fastest settings for it, the same way.  First
# PyTorch's settings: one process per thread mix (iXbY: X intra-op threads,
# which oneDNN's convolutions use, Y OpenBLAS threads, which its linear
# layers use) and vector width of its own kernels (ATEN_CPU_CAPABILITY
# default or avx512), each trying both memory formats with oneDNN on and off
# (torch_cnn.py --format best --mkldnn best --epochs 0: short passes of a few
# steps, ms/step); the ResNet tries oneDNN on only (its own convolutions are
# about 60× slower there).  Short trials can misjudge a setting (a mix whose
# OpenMP and OpenBLAS threads spin on the same two cores most), so the
# fastest 1-thread setting (t1) and the two fastest 2-thread ones (t2a, t2b)
# are then timed for a whole epoch beside kiln's trainer, interleaved; the
# report takes PyTorch's best at ≤ T threads from those epochs.  PyTorch
# trains 1 epoch after 20 untimed warm-up steps; kiln trains as many epochs
# as cnn_bench is told and the report uses the last (LeNet: the 2nd of 2, as
# above; the ResNet: its only one, a minute long, whose first-touch costs
# are a small part of it).
torch_env() {  # torch_env MIX CAP: the environment of a PyTorch thread mix and vector width
    echo "OMP_NUM_THREADS=${1:1:1} OPENBLAS_NUM_THREADS=${1:3:1}"
    [ "$2" = default ] || echo "ATEN_CPU_CAPABILITY=$2"
}
torch_fastest() {  # torch_fastest MODEL N MIX...: "MIX CAP FORMAT MKLDNN" of MODEL's N fastest trials in these mixes
    local model=$1 n=$2
    shift 2
    awk -F'\t' -v kind="${model}_trial" -v mixes=" $* " '$1 == kind && $4 ~ /^trial:/ {
            split($2, c, "_"); split($4, s, ":")
            if (index(mixes, " " c[1] " ")) print $5, c[1], c[2], s[2], s[3]
        }' "$raw" | sort -g | awk -v n="$n" 'NR <= n { print $2, $3, $4, $5 }'
}
# cnn_bench MODEL REPS EPOCHS MKLDNN THREADS: PyTorch's trials for MODEL
# (oneDNN MKLDNN: best or on), then REPS rounds of kiln's trainer ($work/MODEL,
# EPOCHS epochs) and PyTorch's timed settings at each of THREADS ("1 2" or
# one of them).  Recorded as MODEL_trial, kiln_MODEL and torch_MODEL runs and
# MODEL_torch_CFG facts.
cnn_bench() {
    local model=$1 reps=$2 epochs=$3 mkldnn=$4 threads=$5 mixes=() mix cap rep t c cfgs form dnn
    [ "$reps" -gt 0 ] && [ -x "$work/$model" ] || return 0
    [[ " $threads " != *" 1 "* ]] || mixes+=(i1b1)
    [[ " $threads " != *" 2 "* ]] || mixes+=(i2b1 i2b2 i1b2)
    log "$model: PyTorch's settings, $(( 2 * ${#mixes[@]} )) trial processes"
    for mix in "${mixes[@]}"; do
        for cap in default avx512; do
            # shellcheck disable=SC2046  # torch_env prints VAR=value words for env
            run_case "${model}_trial" "${mix}_$cap" 1 env $(torch_env "$mix" "$cap") \
                $PY bench/torch_cnn.py --model "$model" --threads "${mix:1:1}" --epochs 0 --format best \
                --mkldnn "$mkldnn" --seed 0 --data "$DATA"
        done
    done
    local fast1 fast2
    mapfile -t fast1 < <(torch_fastest "$model" 1 i1b1)
    mapfile -t fast2 < <(torch_fastest "$model" 2 i2b1 i2b2 i1b2)
    local -A setting=([t1]="${fast1[0]:-}" [t2a]="${fast2[0]:-}" [t2b]="${fast2[1]:-}")
    for c in t1 t2a t2b; do
        echo "${model}_torch_$c	${setting[$c]:-none}" >>"$work/meta.tsv"
    done
    log "$model: $reps rounds of kiln / PyTorch, threads: $threads (1 thread: ${setting[t1]:-none};" \
        "2 threads: ${setting[t2a]:-none}; ${setting[t2b]:-none})"
    for rep in $(seq 1 "$reps"); do
        for t in $threads; do
            run_case "kiln_$model" "t$t" "$rep" env OMP_NUM_THREADS="$t" \
                "$work/$model" --epochs "$epochs" --threads "$t" --seed 0 --data "$DATA" --verbose
            cfgs=(t2a t2b)
            [ "$t" = 2 ] || cfgs=(t1)
            for c in "${cfgs[@]}"; do
                [ -n "${setting[$c]}" ] || continue
                read -r mix cap form dnn <<<"${setting[$c]}"
                # shellcheck disable=SC2046
                run_case "torch_$model" "$c" "$rep" env $(torch_env "$mix" "$cap") \
                    $PY bench/torch_cnn.py --model "$model" --threads "${mix:1:1}" --epochs 1 --format "$form" \
                    --mkldnn "$dnn" --seed 0 --data "$DATA"
            done
        done
        log "$model round $rep/$reps done"
    done
}
cnn_bench lenet "$LENET_REPS" 2 best "1 2"
cnn_bench resnet "$RESNET_REPS" 1 on "$RESNET_THREADS"

# ---- GEMM shapes: OpenBLAS vs kiln ----------------------------------------------------
log "GEMM shapes: OpenBLAS and kiln, 3 rounds"
for rep in 1 2 3; do
    for t in 1 2; do
        for lib in openblas kiln; do
            run_case "shapes_$lib" "t$t" "$rep" env OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
                "$work/shapes_$lib" $t
        done
    done
done

# ---- spec → trainer binary ---------------------------------------------------------------
log "compile time: build/kiln build models/mlp.lua, 5 times"
for rep in 1 2 3 4 5; do
    rm -f "$work/x" "$work/x.c"
    t0=$(date +%s%N)
    if build/kiln build models/mlp.lua -o "$work/x" >/dev/null 2>&1; then
        ns=$(( $(date +%s%N) - t0 ))
        record compile mlp "$rep" seconds "$(printf '%d.%09d' $((ns / 1000000000)) $((ns % 1000000000)))"
    else
        record compile mlp "$rep" failed 1
    fi
done

# ---- scaling table -------------------------------------------------------------------------
# A 10000-image training subset (and 1000 test images) keeps hidden 4096 × batch 64
# affordable; GFLOP/s does not depend on the subset.  The specs are
# models/mlp.lua with the hidden width and the batch changed (lr 0.01: only
# the speed is measured, and a small lr keeps every width finite).
SUB=$work/subset
mkdir -p "$SUB"
$PY - "$DATA" "$SUB" <<'EOF'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for name, count in [("train-images-idx3-ubyte", 10000), ("train-labels-idx1-ubyte", 10000),
                    ("t10k-images-idx3-ubyte", 1000), ("t10k-labels-idx1-ubyte", 1000)]:
    raw = gzip.open(f"{src}/{name}.gz").read()
    ndim = raw[3]
    dims = list(struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim]))
    item = 1
    for d in dims[1:]:
        item *= d
    dims[0] = count
    with open(f"{dst}/{name}", "wb") as f:
        f.write(raw[:4] + struct.pack(">" + "I" * ndim, *dims))
        f.write(raw[4 + 4 * ndim: 4 + 4 * ndim + count * item])
EOF
HIDDENS="256 1024 4096"
BATCHES="64 256 1024"
log "scaling: building 9 trainers"
for h in $HIDDENS; do
    for b in $BATCHES; do
        cat >"$work/mlp_h${h}_b$b.lua" <<EOF
-- models/mlp.lua with hidden width $h and batch $b (bench/run.sh scaling table)
return model {
  name    = "mlp_h${h}_b$b",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear($h, {init = normal(0, 0.01)}),
    relu(),
    linear(10,  {init = normal(0, 0.01)}),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.01},
  data      = fashion_mnist(),
  batch     = $b,
  epochs    = 2,
  seed      = 0,
}
EOF
        build/kiln build "$work/mlp_h${h}_b$b.lua" -o "$work/mlp_h${h}_b$b" >"$work/kiln.log" 2>&1 \
            || log "building the h=$h b=$b trainer failed: $(tail -1 "$work/kiln.log")"
    done
done
log "scaling: $SCALE_REPS rounds of 9 trainers at 2 threads"
for rep in $(seq 1 "$SCALE_REPS"); do
    for h in $HIDDENS; do
        for b in $BATCHES; do
            [ -x "$work/mlp_h${h}_b$b" ] || continue
            run_case scale "h${h}_b$b" "$rep" env OMP_NUM_THREADS=2 \
                "$work/mlp_h${h}_b$b" --epochs 2 --threads 2 --seed 0 --data "$SUB" --verbose
        done
    done
done

# ---- report ----------------------------------------------------------------------------------
{
    echo "busy_before	$BUSY_BEFORE"
    echo "loadavg_end	$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "wall_seconds	$(( $(date +%s) - START ))"
} >>"$work/meta.tsv"
$PY bench/report.py "$work/meta.tsv" "$raw" --reps "$REPS" --scale-reps "$SCALE_REPS" --scale-samples 10000 \
    --lenet-reps "$LENET_REPS" --resnet-reps "$RESNET_REPS" \
    || { keep=1; log "report.py failed"; exit 1; }

# ---- data parallel: one process × 2 threads against 2 ranks × 1 thread (bench/mpi.sh) -----------
if [ "${BENCH_MPI_REPS:-3}" -gt 0 ] && command -v mpirun >/dev/null && [ -f build/libkiln_mpi.a ]; then
    echo
    bench/mpi.sh
else
    log "data parallel rows skipped (BENCH_MPI_REPS=0, or no Open MPI: apt-get install openmpi-bin libopenmpi-dev)"
fi
