#!/usr/bin/env bash
# build.sh — the one entry point: installs what is missing, builds kiln and
# its runtime, trains the reference MLP, runs the tests, regenerates golden
# files.  Run ./build.sh --help for the commands.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    cat <<'USAGE'
usage: ./build.sh [COMMAND]

  (none), build     install missing packages, build build/kiln and the runtime
  train             build, then compile models/mlp.lua and train it (5 epochs)
  test [--sanitize|--portable]
                    build, then run every test (tests/run.sh); --sanitize
                    builds into build/sanitize with AddressSanitizer + UBSan
                    and runs the whole suite there; --portable builds into
                    build/portable without -march=native and runs the suite
                    on the plain-C GEMM kernel (KILN_GEMM_KERNEL=c), all but
                    the groups neither can change (compiler output, static
                    checks, build flags, profiler, export, MPI)
  golden            rewrite tests/golden/*.c from what kiln emits now
  fuzz [SECONDS]    build the libFuzzer harnesses (tests/fuzz/: specs, IDX
                    files, checkpoints) with clang into build/fuzz and run
                    each for SECONDS (default 60)
  clean             remove build/

environment: CC (default cc), KILN_PORTABLE=1 builds the runtime and trainers
without -march=native.
USAGE
}

CC=${CC:-cc}
MARCH="-march=native"
[ "${KILN_PORTABLE:-0}" = 1 ] && MARCH=""

# ---- packages ----------------------------------------------------------------
# apt_install PACKAGE...: apt-get update and install, their output kept in a
# log that is shown only when they fail.
apt_install() {
    local sudo="" log
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
        echo "build.sh: missing packages ($*) and not root; install them with apt-get" >&2
        exit 1
    fi
    log=$(mktemp)
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "build.sh: apt-get could not install $* (its output is above)" >&2
        exit 1
    fi
    rm -f "$log"
}

need_packages() {
    local missing=()
    command -v "$CC" >/dev/null 2>&1 || missing+=(gcc)
    command -v make >/dev/null 2>&1 || true
    [ -f /usr/include/lua5.4/lua.h ] || missing+=(liblua5.4-dev)
    [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
    command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)   # kiln plot
    command -v dot >/dev/null 2>&1 || missing+=(graphviz)          # kiln graph --dot | dot -Tpng
    if [ ${#missing[@]} -gt 0 ]; then
        echo "build.sh: installing ${missing[*]} (apt-get)" >&2
        apt_install "${missing[@]}"
    fi
}

# need_mpi: Open MPI, for data parallel trainers (kiln build --mpi) and their tests
need_mpi() {
    if ! command -v mpicc >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1; then
        echo "build.sh: installing openmpi-bin libopenmpi-dev (apt-get), for kiln build --mpi and its tests" >&2
        apt_install openmpi-bin libopenmpi-dev
    fi
}

# ---- building -------------------------------------------------------------------
# job COMMAND...: runs it in the background, at most as many at a time as
# there are cores (a new one starts when any ends); jobs_done waits for the
# rest.  A job that fails fails the build (set -e: wait -n returns its status).
running=0
job() {
    if [ $running -ge "$(nproc)" ]; then
        wait -n
        running=$((running - 1))
    fi
    "$@" &
    running=$((running + 1))
}
jobs_done() {
    while [ $running -gt 0 ]; do
        wait -n
        running=$((running - 1))
    done
}

# The runtime's sources, the slowest to compile first: the AVX-512
# convolution kernels take most of the time (lanes_avx512.c the most, so it
# goes first: sort -r), and started last they would end last
runtime_sources() {
    ls runtime/conv/*_avx512.c | sort -r
    ls runtime/conv/*.c runtime/products/*.c runtime/*.c | grep -v '^runtime/conv/.*_avx512\.c$'
}

# build_all DIR "EXTRA CFLAGS" "TRAINER CFLAGS": what is older than its
# sources is rebuilt, kiln and the runtime's files side by side (job)
build_all() {
    local dir=$1 extra=$2 trainer=$3
    mkdir -p "$dir/obj"
    local warn="-std=c11 -Wall -Wextra -Werror -g"
    local stamp="$dir/.flags"
    local flags="$CC|$extra|$trainer|$MARCH"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$flags" ]; then rm -f "$dir/kiln" "$dir/libkiln_rt.a"; fi
    echo "$flags" >"$stamp"
    local kiln_stale="" rt_stale="" mpi_stale=""
    if [ ! -f "$dir/kiln" ] || [ -n "$(find compiler runtime/flags.h runtime/levenshtein.h runtime/kiln_rt.h \
            runtime/expf.h runtime/checkpoint.c -newer "$dir/kiln" -type f | head -1)" ]; then kiln_stale=1; fi
    if [ ! -f "$dir/libkiln_rt.a" ] || [ -n "$(find runtime -newer "$dir/libkiln_rt.a" -type f | head -1)" ]; then
        rt_stale=1
    fi
    if command -v mpicc >/dev/null 2>&1 &&
       { [ ! -f "$dir/libkiln_mpi.a" ] || [ -n "$(find runtime -newer "$dir/libkiln_mpi.a" -type f | head -1)" ]; }; then
        mpi_stale=1
    fi

    # compiler → kiln (the prelude and runtime/expf.h are embedded as C
    # strings; kiln export reads checkpoints with the runtime's loader)
    if [ -n "$kiln_stale" ]; then
        embed compiler/prelude.lua >"$dir/prelude.inc"
        embed runtime/expf.h >"$dir/expf.inc"
        job $CC $warn -O2 $extra -I"$dir" $(pkg-config --cflags lua5.4) \
            -DKILN_TRAINER_CFLAGS="\"$trainer\"" \
            compiler/*.c compiler/ops/*.c compiler/lower/*.c runtime/checkpoint.c -o "$dir/kiln" \
            $(pkg-config --libs lua5.4) -lz -lm
    fi

    # runtime → libkiln_rt.a (+ its header beside it, where kiln looks)
    local objs=()
    if [ -n "$rt_stale" ]; then
        for src in $(runtime_sources); do
            local name=${src#runtime/}; name=${name%.c}
            local obj="$dir/obj/rt_${name//\//_}.o"   # products/gemm.c → rt_products_gemm.o
            job $CC $warn -O3 $MARCH -fopenmp $extra -c "$src" -o "$obj"
            objs+=("$obj")
        done
    fi

    # runtime/mpi → libkiln_mpi.a, for data parallel trainers, when Open MPI is there
    if [ -n "$mpi_stale" ]; then
        for name in mpi watch; do
            job env OMPI_CC="$CC" mpicc $warn -O3 $MARCH -fopenmp $extra -Iruntime -c "runtime/mpi/$name.c" \
                -o "$dir/obj/mpi_$name.o"
        done
    fi
    jobs_done
    if [ -n "$rt_stale" ]; then
        rm -f "$dir/libkiln_rt.a"
        ar rcs "$dir/libkiln_rt.a" "${objs[@]}"
    fi
    if [ -n "$mpi_stale" ]; then
        rm -f "$dir/libkiln_mpi.a"
        ar rcs "$dir/libkiln_mpi.a" "$dir/obj/mpi_mpi.o" "$dir/obj/mpi_watch.o"
    fi
    cp runtime/kiln_rt.h runtime/expf.h runtime/mpi/kiln_mpi.h "$dir/"
}

# embed FILE: FILE's text as a C string literal, one quoted line per line
embed() {
    awk 'BEGIN { q = sprintf("%c", 34) }
         { gsub(/\\/, "\\\\"); gsub(q, "\\" q); print q $0 "\\n" q }' "$1"
}

# -O2: the sanitizers check the same at -O2, and the runtime's vector kernels,
# which the gradient checks call thousands of times, run twice as fast as at -O1
SAN_FLAGS="-O2 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

build() {
    need_packages
    build_all build "" "-O3 $MARCH"
}

build_sanitize() {
    need_packages
    build_all build/sanitize "$SAN_FLAGS" "-g $SAN_FLAGS"
}

build_portable() {
    need_packages
    MARCH=""
    build_all build/portable "" "-O3"
}

# ---- fuzzing (tests/fuzz/): clang's libFuzzer + ASan + UBSan --------------------
build_fuzz() {
    build   # build/kiln compiles the checkpoint harness's model
    local missing=()
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
    ls /usr/lib/llvm-*/lib/libomp.so >/dev/null 2>&1 || missing+=(libomp-14-dev)   # the trainer's OpenMP, for clang
    if [ ${#missing[@]} -gt 0 ]; then
        echo "build.sh: installing ${missing[*]} (apt-get)" >&2
        apt_install "${missing[@]}"
    fi
    local dir=build/fuzz
    mkdir -p "$dir"
    local flags="-std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    # a tenth of kiln's Lua instruction limit: a unit that hits it stays well under -timeout
    flags="$flags -DSPEC_INSTRUCTION_LIMIT=10000000L"
    embed compiler/prelude.lua >"$dir/prelude.inc"
    embed runtime/expf.h >"$dir/expf.inc"
    # checkpoints: the whole trainer (runtime and a generated model) resumes them
    build/kiln compile tests/fuzz/ckpt_model.lua -o "$dir/ckpt_model.c"
    # the spec and IDX harnesses, and the runtime's files for the checkpoint harness, side by side
    job clang $flags -Icompiler -I"$dir" $(pkg-config --cflags lua5.4) tests/fuzz/fuzz_spec.c \
        $(ls compiler/*.c | grep -v '/main\.c$') compiler/ops/*.c compiler/lower/*.c runtime/checkpoint.c \
        -o "$dir/fuzz_spec" $(pkg-config --libs lua5.4) -lz -lm
    job clang $flags -Iruntime tests/fuzz/fuzz_idx.c runtime/idx.c -o "$dir/fuzz_idx" -lz
    local objs=() src name
    for src in $(runtime_sources); do
        name=${src#runtime/}; name=${name%.c}
        objs+=("$dir/rt_${name//\//_}.o")
        job clang $flags -fopenmp -Iruntime -c "$src" -o "${objs[-1]}"
    done
    jobs_done
    clang $flags -fopenmp -Iruntime -I"$dir" -DMODEL_C='"ckpt_model.c"' tests/fuzz/fuzz_ckpt.c "${objs[@]}" \
        -o "$dir/fuzz_ckpt" -lz -lm
}

# run_fuzz NAME SECONDS MAX_LEN [libFuzzer flags]: prints "NAME RUNS CRASHED"
run_fuzz() {
    local name=$1 secs=$2 max_len=$3; shift 3
    local dir=build/fuzz work=build/fuzz/corpus-$name
    rm -rf "$work"; mkdir -p "$work"
    cp tests/fuzz/corpus/"$name"/* "$work"/   # libFuzzer adds to its first directory, never to the checked-in one
    # checkpoints are seeded by the harness itself, in the format of the day
    [ "$name" != ckpt ] || KILN_FUZZ_CKPT_SEEDS="$work" "$dir/fuzz_ckpt" 2>>"$dir/$name.seeds.log" \
        || { echo "fuzz: ckpt: could not write the seeds (see $dir/$name.seeds.log)" >&2; echo "$name 0 1"; return; }
    local rc=0
    "$dir/fuzz_$name" -max_len="$max_len" -timeout=25 -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$dir/" "$@" "$work" >"$dir/$name.log" 2>&1 || rc=$?
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$name.log" | tail -1)
    [ -n "$runs" ] || runs=$(grep -o '#[0-9]*' "$dir/$name.log" | tail -1 | tr -d '#')
    echo "fuzz: $name: ${runs:-0} runs in ${secs}s, log $dir/$name.log" >&2
    if [ $rc -ne 0 ]; then
        echo "fuzz: $name: FOUND A CRASH (exit status $rc):" >&2
        grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written|^artifact_prefix|==[0-9]+==' "$dir/$name.log" | head -20 >&2
    fi
    echo "$name ${runs:-0} $([ $rc -ne 0 ] && echo 1 || echo 0)"
}

cmd=${1:-build}
case "$cmd" in
    build) build ;;
    train)
        echo "build.sh: building kiln and its runtime (build/kiln, build/libkiln_rt.a)" >&2
        build
        echo "build.sh: compiling models/mlp.lua into a trainer" >&2
        build/kiln build models/mlp.lua -o build/mlp
        echo "build.sh: training it for 5 epochs on Fashion-MNIST" >&2
        build/mlp --epochs 5
        ;;
    test)
        need_mpi
        if [ "${2:-}" = "--sanitize" ]; then
            build_sanitize
            BUILD=build/sanitize SANITIZE=1 tests/run.sh
        elif [ "${2:-}" = "--portable" ]; then
            build_portable
            # what the kernel and the target cannot change (the compiler's output and
            # messages, static checks, build flags, the profiler's table, exported C,
            # MPI's messages) runs in the other two suites only, to keep CI short
            KILN_SKIP_GROUPS="errors golden cli hostile_spec static fusion cflags profile export mpi: \
the plain-C kernel and -march change nothing it checks; ./build.sh test and --sanitize run it" \
                BUILD=build/portable KILN_GEMM_KERNEL=c tests/run.sh
        else
            [ $# -le 1 ] || { echo "build.sh test: unknown option '$2'; use --sanitize or --portable" >&2; exit 2; }
            build
            BUILD=build tests/run.sh
        fi
        ;;
    golden)
        build
        mkdir -p tests/golden
        for spec in models/*.lua; do
            name=$(basename "${spec%.lua}")
            build/kiln compile "$spec" -o "tests/golden/$name.c"   # it says what it wrote
        done
        build/kiln compile models/mlp.lua --mpi -o tests/golden/mlp_mpi.c   # the data parallel schedule
        ;;
    fuzz)
        secs=${2:-60}
        case "$secs" in ''|*[!0-9]*) echo "build.sh fuzz: SECONDS must be a whole number, got '$secs'" >&2; exit 2 ;; esac
        build_fuzz
        # the spec and IDX harnesses are one thread each: they share the time, a core each
        run_fuzz spec "$secs" 8192 -dict=tests/fuzz/spec.dict >build/fuzz/spec.result &
        run_fuzz idx "$secs" 65536 >build/fuzz/idx.result
        wait
        read -r _ spec_runs spec_crash <build/fuzz/spec.result
        read -r _ idx_runs idx_crash <build/fuzz/idx.result
        read -r _ ckpt_runs ckpt_crash < <(run_fuzz ckpt "$secs" 8192)
        crashes=$((spec_crash + idx_crash + ckpt_crash))
        echo "fuzz: spec $spec_runs runs, idx $idx_runs runs, ckpt $ckpt_runs runs, $crashes crashes"
        [ $crashes -eq 0 ]
        ;;
    clean) rm -rf build ;;
    -h|--help|help) usage ;;
    *) echo "build.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
