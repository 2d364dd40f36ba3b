# t_gradcheck.sh — for every layer and loss, the emitted backward pass
# agrees with central finite differences (see tests/gradcheck/harness.c for
# the tolerance and why it is enough).  The harnesses are built first, as
# many at a time as there are cores (building is most of the group's time,
# under the sanitizers above all), then run one after the other.

# gc_build NAME SPEC: kiln and cc; on failure, the reason in $TMP/gc_NAME.why
gc_build() {
    local name=$1 spec=$2 flags
    if ! "$KILN" compile "$spec" -o "$TMP/gc_$name.c" 2>"$TMP/gc_$name.err"; then
        echo "kiln failed: $(cat "$TMP/gc_$name.err")" >"$TMP/gc_$name.why"; return
    fi
    flags=$(sed -n 's/^-- harness: //p' "$spec")   # e.g. -DWEIGHT_DECAY=0.1
    # shellcheck disable=SC2086  # $flags: its words
    cc_trainer "$TMP/gc_$name" $flags -DMODEL_C="\"$TMP/gc_$name.c\"" tests/gradcheck/harness.c 2>"$TMP/gc_$name.err" ||
        echo "harness does not compile: $(head -n 3 "$TMP/gc_$name.err" | tr '\n' ' ')" >"$TMP/gc_$name.why"
}
for spec in tests/gradcheck/*.lua; do
    name=$(basename "$spec" .lua)
    rm -f "$TMP/gc_$name.why"
    side gc_build "$name" "$spec"
done
sides_done
for spec in tests/gradcheck/*.lua; do
    name=$(basename "$spec" .lua)
    if [ -s "$TMP/gc_$name.why" ]; then fail "gradcheck/$name" "$(cat "$TMP/gc_$name.why")"
    else OMP_NUM_THREADS=2 tally "gradcheck/$name" "$TMP/gc_$name" "$name"; fi
done
