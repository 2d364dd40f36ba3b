# t_optim.sh — optimizer steps (SGD, momentum, weight decay, Adam with bias
# correction) against the update rules worked out in tests/optim/harness.c.
for spec in tests/optim/*.lua; do
    name=$(basename "$spec" .lua)
    if ! "$KILN" compile "$spec" -o "$TMP/opt_$name.c" 2>"$TMP/opt.err"; then
        fail "optim/$name" "kiln failed: $(cat "$TMP/opt.err")"; continue
    fi
    flags=$(sed -n 's/^-- harness: //p' "$spec")
    if cc_trainer "$TMP/opt_$name" $flags -DMODEL_C="\"$TMP/opt_$name.c\"" tests/optim/harness.c 2>"$TMP/cc.err"; then
        tally "optim/$name" "$TMP/opt_$name" "$name"
    else
        fail "optim/$name" "harness does not compile: $(head -n 3 "$TMP/cc.err" | tr '\n' ' ')"
    fi
done
