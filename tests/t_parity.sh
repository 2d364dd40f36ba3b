# t_parity.sh — parity with PyTorch: for every case in tests/parity/cases.txt
# (the models in models/ and every optimizer kiln has), kiln's trainer and
# PyTorch take the same 3 optimizer steps from the same initial parameters
# on the same minibatches, and agree on the loss and every parameter after
# each step within 1e-5 relative (tests/parity/harness.c writes kiln's side,
# tests/parity/torch_parity.py runs PyTorch and compares; the bound and its
# floor are explained there).  Needs /usr/bin/python3 with torch (Debian's
# python3-torch); without it: one SKIP line, never a PASS.
# PARITY_VERBOSE=1 prints the per-tensor, per-step table of every case (it
# is always printed for a case that fails).
PARITY_PY=/usr/bin/python3
if [ ! -x "$PARITY_PY" ]; then
    skip parity "$PARITY_PY is missing (install python3-torch)"
elif ! parity_why=$("$PARITY_PY" -c 'import torch, numpy' 2>&1); then
    skip parity "$PARITY_PY cannot import torch ($(printf '%s\n' "$parity_why" | tail -n 1); install python3-torch)"
else
    # parity_build NAME SPEC DIR: kiln and cc; on failure, the reason in DIR/why
    parity_build() {
        local name=$1 spec=$2 dir=$3 batch=()   # SPEC@N: the spec at batch N (kiln's --batch)
        case "$spec" in *@*) batch=(--batch "${spec##*@}"); spec=${spec%@*} ;; esac
        if ! "$KILN" compile "$spec" "${batch[@]}" -o "$dir/model.c" 2>"$dir/err"; then
            echo "kiln failed: $(head -n 3 "$dir/err" | tr '\n' ' ')" >"$dir/why"
        elif ! cc_trainer "$dir/harness" -DMODEL_C="\"$dir/model.c\"" tests/parity/harness.c 2>"$dir/err"; then
            echo "harness does not compile: $(head -n 3 "$dir/err" | tr '\n' ' ')" >"$dir/why"
        fi
    }
    # the harnesses first, as many at a time as there are cores, then each run in turn
    while read -r name spec _; do
        case "$name" in ''|\#*) continue ;; esac
        mkdir -p "$TMP/parity/$name"
        side parity_build "$name" "$spec" "$TMP/parity/$name"
    done <tests/parity/cases.txt
    sides_done
    parity_args=()
    while read -r name spec _; do
        case "$name" in ''|\#*) continue ;; esac
        dir="$TMP/parity/$name"
        if [ -s "$dir/why" ]; then fail "parity/$name" "$(cat "$dir/why")"; continue; fi
        out=$(OMP_NUM_THREADS=2 "$dir/harness" "$name" "$dir" "$FMNIST" 2>"$TMP/parity.err"); rc=$?
        if [ $rc -ne 0 ] || [ -n "$out" ]; then
            case "$out" in
                SKIP\ *) skip "parity/$name" "${out#SKIP parity/$name: }" ;;
                FAIL\ *) fail "parity/$name" "${out#FAIL parity/$name: }" ;;
                *) fail "parity/$name" "harness exited with status $rc: $(tail -n 3 "$TMP/parity.err" | tr '\n' ' ')" ;;
            esac
            continue
        fi
        parity_args+=("$name" "$dir")
    done <tests/parity/cases.txt
    if [ ${#parity_args[@]} -gt 0 ]; then
        quiet=--quiet
        [ "${PARITY_VERBOSE:-0}" = 1 ] && quiet=
        "$PARITY_PY" tests/parity/torch_parity.py $quiet "${parity_args[@]}" >"$TMP/parity.out" 2>"$TMP/parity.err"
        rc=$?
        nfail=0 ndone=0
        while IFS= read -r line; do
            case "$line" in
                PASS\ *) echo "$line"; passed=$((passed + 1)); ndone=$((ndone + 1)) ;;
                FAIL\ *) echo "$line"; failed=$((failed + 1)); nfail=$((nfail + 1)); ndone=$((ndone + 1)) ;;
                SKIP\ *) echo "$line"; skipped=$((skipped + 1)); ndone=$((ndone + 1)) ;;
                *) echo "    $line" ;;   # the tables (with --quiet, only for failing cases)
            esac
        done <"$TMP/parity.out"
        if [ $ndone -lt $((${#parity_args[@]} / 2)) ] && { [ $rc -ne 0 ] || [ $ndone -eq 0 ]; }; then
            fail parity "torch_parity.py exited with status $rc after $ndone of $((${#parity_args[@]} / 2)) cases: $(tail -n 3 "$TMP/parity.err" | tr '\n' ' ')"
        fi
    fi
fi
