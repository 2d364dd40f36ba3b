# t_pool.sh — PyTorch's pooling rules that finite differences cannot see
# (tests/pool/harness.c): max pooling's ties go to the first largest value
# of the window, forward and backward; average pooling divides by the whole
# window, padding included.
for kind in max avg; do
    if "$KILN" compile "tests/pool/$kind.lua" -o "$TMP/pool_$kind.c" 2>"$TMP/pool.err" &&
       cc_trainer "$TMP/pool_$kind" $([ $kind = max ] && echo -DMAX) -DMODEL_C="\"$TMP/pool_$kind.c\"" \
           tests/pool/harness.c 2>"$TMP/cc.err"; then
        tally "pool/$kind" "$TMP/pool_$kind"
    else
        fail "pool/$kind" "does not build: $(head -n 3 "$TMP/pool.err" "$TMP/cc.err" | tr '\n' ' ')"
    fi
done
