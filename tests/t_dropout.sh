# t_dropout.sh — dropout keeps the expected fraction and scale in training,
# is reproducible, and is off in evaluation (tests/dropout/harness.c).
if "$KILN" compile tests/dropout/spec.lua -o "$TMP/dropout.c" 2>"$TMP/dropout.err" &&
   cc_trainer "$TMP/dropout" -DMODEL_C="\"$TMP/dropout.c\"" tests/dropout/harness.c 2>"$TMP/cc.err"; then
    tally dropout "$TMP/dropout"
else
    fail dropout "does not build: $(head -n 3 "$TMP/dropout.err" "$TMP/cc.err" | tr '\n' ' ')"
fi
