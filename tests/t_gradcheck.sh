# t_gradcheck.sh — for every layer and loss, the emitted backward pass
# agrees with central finite differences (see tests/gradcheck/harness.c for
# the tolerance and why it is enough).
for spec in tests/gradcheck/*.lua; do
    name=$(basename "$spec" .lua)
    if ! "$KILN" compile "$spec" -o "$TMP/gc_$name.c" 2>"$TMP/gc.err"; then
        fail "gradcheck/$name" "kiln failed: $(cat "$TMP/gc.err")"; continue
    fi
    flags=$(sed -n 's/^-- harness: //p' "$spec")   # e.g. -DWEIGHT_DECAY=0.1
    if cc_trainer "$TMP/gc_$name" $flags -DMODEL_C="\"$TMP/gc_$name.c\"" tests/gradcheck/harness.c 2>"$TMP/cc.err"; then
        OMP_NUM_THREADS=2 tally "gradcheck/$name" "$TMP/gc_$name" "$name"
    else
        fail "gradcheck/$name" "harness does not compile: $(head -n 3 "$TMP/cc.err" | tr '\n' ' ')"
    fi
done
