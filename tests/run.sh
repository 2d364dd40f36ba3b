#!/usr/bin/env bash
# run.sh — runs every test group (tests/t_*.sh) against the kiln in $BUILD
# and ends with the line CI reads: "N passed, N failed, N skipped".
#   tests/run.sh            all groups
#   tests/run.sh golden e2e only the groups named (t_golden.sh, t_e2e.sh)
#   tests/run.sh -v ...     every check's line and everything the groups print
# KILN_SKIP_GROUPS="a b: why" skips the groups named before the colon, each
# with one SKIP line giving the reason after it (./build.sh test --portable
# leaves out the groups the plain-C kernel and -march change nothing in).
# Each check reports one line: PASS name, FAIL name: why, SKIP name: why.
# Without -v a group's output goes to a log and the group prints one line
# (its name, counts and seconds); at the end come the skipped checks and
# their reasons, then the failures, each with the command that reruns its
# group, then the summary line.  Output a check
# lets escape (a trainer's epoch lines, a compiler's warning) is a failure
# of its group: the log then shows what the check should have caught.
# Built by ./build.sh test, which is how it should be run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
KILN=$BUILD/kiln
SANITIZE=${SANITIZE:-0}
KILN_SKIP_GROUPS=${KILN_SKIP_GROUPS:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TMP=$(mktemp -d /tmp/kiln-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

[ -x "$KILN" ] || { echo "tests/run.sh: $KILN is missing; run ./build.sh test" >&2; exit 2; }

VERBOSE=0
[ "${1:-}" = -v ] && { VERBOSE=1; shift; }

passed=0 failed=0 skipped=0
failures=()   # "group<TAB>name: why" of every failure, for the end of a quiet run
skips=()      # "name: why" of every skipped check, likewise
group=""
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {   # a reason of several lines becomes one, joined by " | "
    local why=${2//$'\n'/ | }
    echo "FAIL $1: $why"; failed=$((failed + 1)); failures+=("$group	$1: $why")
}
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); skips+=("$1: $2"); }

# Run a program that prints PASS/FAIL/SKIP lines itself; count its lines.
# A non-zero exit without a FAIL line (a crash) counts as one failure.
tally() {
    local name=$1; shift
    local out rc nfail
    out=$("$@" 2>"$TMP/tally.err"); rc=$?
    nfail=0
    while IFS= read -r line; do
        case "$line" in
            PASS\ *) echo "$line"; passed=$((passed + 1)) ;;
            FAIL\ *) echo "$line"; failed=$((failed + 1)); nfail=$((nfail + 1)); failures+=("$group	${line#FAIL }") ;;
            SKIP\ *) echo "$line"; skipped=$((skipped + 1)); skips+=("${line#SKIP }") ;;
        esac
    done <<<"$out"
    if [ $rc -ne 0 ] && [ $nfail -eq 0 ]; then
        fail "$name" "exited with status $rc: $(tail -n 3 "$TMP/tally.err" | tr '\n' ' ')"
    fi
}

# same_at_threads NAME TAG TRAINER ARGS... : train with ARGS at 1, 2 and 3
# threads, saving to $TMP/TAG{1,2,3}.ckpt and printing to $TMP/TAG{1,2,3}.out;
# passes NAME when the three print the same lines and save the same
# checkpoint, bit for bit.
same_at_threads() {
    local name=$1 tag=$2 t; shift 2
    for t in 1 2 3; do "$@" --threads $t --save "$TMP/$tag$t.ckpt" >"$TMP/$tag$t.out" 2>&1; done
    if [ -s "$TMP/${tag}1.ckpt" ] && cmp -s "$TMP/${tag}1.ckpt" "$TMP/${tag}2.ckpt" &&
       cmp -s "$TMP/${tag}1.ckpt" "$TMP/${tag}3.ckpt" && cmp -s "$TMP/${tag}1.out" "$TMP/${tag}2.out" &&
       cmp -s "$TMP/${tag}1.out" "$TMP/${tag}3.out"; then
        pass "$name ($(tail -n 1 "$TMP/${tag}1.out"))"
    else
        fail "$name" "$(cat "$TMP/$tag"[123].out | tr '\n' ' ')"
    fi
}

# side COMMAND...: runs it in the background (stdin from /dev/null), at
# most as many at a time as there are cores; sides_done waits for them all.
# Groups build their trainers so, then run them one after the other.
sides=0
side() {
    if [ $sides -ge "$(nproc)" ]; then wait -n; sides=$((sides - 1)); fi
    "$@" </dev/null &
    sides=$((sides + 1))
}
sides_done() { wait; sides=0; }

# The C compiler flags every test build of a generated trainer uses.
TRAINER_CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -fopenmp"
[ "$SANITIZE" = 1 ] && TRAINER_CFLAGS="$TRAINER_CFLAGS -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# cc_trainer OUT SOURCES... : build against the runtime in $BUILD
cc_trainer() {
    local out=$1; shift
    cc $TRAINER_CFLAGS -I"$BUILD" "$@" "$BUILD/libkiln_rt.a" -lz -lm -o "$out"
}

# make_subset DIR NTRAIN NTEST: the first images of Fashion-MNIST as a
# smaller IDX set (gzip), for tests that train.  Returns 1 without the data.
FMNIST=/usr/share/datasets/fashion-mnist
be32() { local v=$1; printf "\\x$(printf %02x $((v >> 24 & 255)))\\x$(printf %02x $((v >> 16 & 255)))\\x$(printf %02x $((v >> 8 & 255)))\\x$(printf %02x $((v & 255)))"; }
idx_part() {  # SRC.gz HEADER_BYTES ITEM_BYTES COUNT RANK DIMS... → stdout (uncompressed)
    local src=$1 skip=$2 item=$3 count=$4 rank=$5; shift 5
    printf "\\x00\\x00\\x08\\x$(printf %02x "$rank")"
    be32 "$count"
    for d in "$@"; do be32 "$d"; done
    zcat "$src" | tail -c +$((skip + 1)) | head -c $((count * item))
}
make_subset() {
    local dir=$1 ntrain=$2 ntest=$3
    [ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || return 1
    [ -f "$dir/t10k-labels-idx1-ubyte.gz" ] && return 0
    mkdir -p "$dir"
    idx_part "$FMNIST/train-images-idx3-ubyte.gz" 16 784 "$ntrain" 3 28 28 | gzip -1 >"$dir/train-images-idx3-ubyte.gz"
    idx_part "$FMNIST/train-labels-idx1-ubyte.gz" 8 1 "$ntrain" 1 | gzip -1 >"$dir/train-labels-idx1-ubyte.gz"
    idx_part "$FMNIST/t10k-images-idx3-ubyte.gz" 16 784 "$ntest" 3 28 28 | gzip -1 >"$dir/t10k-images-idx3-ubyte.gz"
    idx_part "$FMNIST/t10k-labels-idx1-ubyte.gz" 8 1 "$ntest" 1 | gzip -1 >"$dir/t10k-labels-idx1-ubyte.gz"
}
SMALL=$TMP/fmnist-small   # 10000 training and 2000 test images

# The command that reruns a group with its whole output.
rerun() {
    local env=""
    [ "$BUILD" = build ] || env="BUILD=$BUILD "
    [ "$SANITIZE" = 0 ] || env+="SANITIZE=$SANITIZE "
    [ -z "${KILN_GEMM_KERNEL:-}" ] || env+="KILN_GEMM_KERNEL=$KILN_GEMM_KERNEL "
    echo "${env}tests/run.sh -v $1"
}

# group_line: the group's one line without -v (its name, counts and seconds)
group_line() {
    printf '%-18s %4d passed %3d failed %3d skipped %5d s\n' "$group" $((passed - p0)) $((failed - f0)) \
        $((skipped - s0)) $((SECONDS - group_start))
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=($(ls tests/t_*.sh | sed 's|tests/t_||; s|\.sh$||'))
for group in "${groups[@]}"; do
    [ -f "tests/t_$group.sh" ] || { echo "tests/run.sh: no test group '$group' (tests/t_$group.sh)" >&2; exit 2; }
    group_start=$SECONDS
    p0=$passed f0=$failed s0=$skipped
    if [[ " ${KILN_SKIP_GROUPS%%:*} " == *" $group "* ]]; then
        # one SKIP check; without -v it is listed at the end, as a group's own skips are
        if [ $VERBOSE = 1 ]; then skip "$group" "${KILN_SKIP_GROUPS#*: }"
        else skip "$group" "${KILN_SKIP_GROUPS#*: }" >/dev/null; group_line; fi
        continue
    fi
    if [ $VERBOSE = 1 ]; then
        echo "== $group"
        # shellcheck source=/dev/null
        source "tests/t_$group.sh"
        echo "== $group: $((SECONDS - group_start)) s"   # the CI budget is 20 minutes for three runs of the suite
        continue
    fi
    # shellcheck source=/dev/null
    source "tests/t_$group.sh" >"$TMP/group.log" 2>&1
    stray=$(grep -cvE '^(PASS|FAIL|SKIP) ' "$TMP/group.log")
    if [ "$stray" -gt 0 ]; then
        fail "$group/quiet" "$stray line(s) of output outside the checks, the first: $(grep -vE '^(PASS|FAIL|SKIP) ' "$TMP/group.log" | head -n 1 | cut -c 1-160)" >/dev/null
    fi
    group_line
done

if [ $VERBOSE = 0 ] && [ ${#skips[@]} -gt 0 ]; then
    echo
    echo "skipped:"
    for s in "${skips[@]}"; do echo "SKIP $s"; done
fi
if [ $VERBOSE = 0 ] && [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "failures:"
    for f in "${failures[@]}"; do
        echo "FAIL ${f#*	}"
        echo "     rerun: $(rerun "${f%%	*}")"
    done
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
