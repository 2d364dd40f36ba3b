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
                    on the plain-C GEMM kernel (KILN_GEMM_KERNEL=c)
  golden            rewrite tests/golden/*.c from what kiln emits now
  clean             remove build/

environment: CC (default cc), KILN_PORTABLE=1 builds the runtime and trainers
without -march=native.
USAGE
}

CC=${CC:-cc}
MARCH="-march=native"
[ "${KILN_PORTABLE:-0}" = 1 ] && MARCH=""

# ---- packages ----------------------------------------------------------------
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
        echo "build.sh: installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
            echo "build.sh: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
            exit 1
        fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# ---- building -------------------------------------------------------------------
# build_all DIR "EXTRA CFLAGS" "TRAINER CFLAGS"
build_all() {
    local dir=$1 extra=$2 trainer=$3
    mkdir -p "$dir/obj"
    local warn="-std=c11 -Wall -Wextra -Werror -g"
    local stamp="$dir/.flags"
    local flags="$CC|$extra|$trainer|$MARCH"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$flags" ]; then rm -f "$dir/kiln" "$dir/libkiln_rt.a"; fi
    echo "$flags" >"$stamp"

    # runtime → libkiln_rt.a (+ its header beside it, where kiln looks)
    if [ ! -f "$dir/libkiln_rt.a" ] || [ -n "$(find runtime -newer "$dir/libkiln_rt.a" -type f | head -1)" ]; then
        local objs=()
        for src in runtime/*.c; do
            local obj="$dir/obj/rt_$(basename "${src%.c}").o"
            $CC $warn -O3 $MARCH -fopenmp $extra -c "$src" -o "$obj"
            objs+=("$obj")
        done
        rm -f "$dir/libkiln_rt.a"
        ar rcs "$dir/libkiln_rt.a" "${objs[@]}"
    fi
    cp runtime/kiln_rt.h "$dir/kiln_rt.h"

    # compiler → kiln (the prelude is embedded as a C string)
    if [ ! -f "$dir/kiln" ] || [ -n "$(find compiler -newer "$dir/kiln" -type f | head -1)" ]; then
        awk 'BEGIN { q = sprintf("%c", 34) }
             { gsub(/\\/, "\\\\"); gsub(q, "\\" q); print q $0 "\\n" q }' \
            compiler/prelude.lua >"$dir/prelude.inc"
        $CC $warn -O2 $extra -I"$dir" $(pkg-config --cflags lua5.4) \
            -DKILN_TRAINER_CFLAGS="\"$trainer\"" \
            compiler/*.c compiler/ops/*.c -o "$dir/kiln" $(pkg-config --libs lua5.4) -lm
    fi
}

SAN_FLAGS="-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

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

cmd=${1:-build}
case "$cmd" in
    build) build ;;
    train)
        build
        build/kiln compile models/mlp.lua -o build/mlp.c
        build/kiln build models/mlp.lua -o build/mlp
        build/mlp --epochs 5
        ;;
    test)
        if [ "${2:-}" = "--sanitize" ]; then
            build_sanitize
            BUILD=build/sanitize SANITIZE=1 tests/run.sh
        elif [ "${2:-}" = "--portable" ]; then
            build_portable
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
            build/kiln compile "$spec" -o "tests/golden/$name.c"
            echo "wrote tests/golden/$name.c"
        done
        ;;
    clean) rm -rf build ;;
    -h|--help|help) usage ;;
    *) echo "build.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
