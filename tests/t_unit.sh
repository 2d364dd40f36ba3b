# t_unit.sh — the runtime's own tests (tests/unit/*.c): GEMM against a
# reference, RNG and checkpoints, the IDX/gzip reader on real and broken files.
for src in tests/unit/*.c; do
    name=$(basename "$src" .c)
    if cc_trainer "$TMP/$name" -Iruntime "$src" 2>"$TMP/cc.err"; then
        tally "unit/$name" "$TMP/$name"
    else
        fail "unit/$name" "does not compile: $(head -n 3 "$TMP/cc.err" | tr '\n' ' ')"
    fi
done
