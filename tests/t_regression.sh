# t_regression.sh — trainers on generated data (synthetic_regression), no
# data files needed: what is particular to the model is in the generated C,
# not in the runtime.  The learned w and b are printed by a report kiln
# emits only for a model that is one linear layer from the input to the
# prediction; float input has no INPUT_SCALE; any number of weights the
# compiler accepts (16) reaches the trainer.
G=$TMP/regression
mkdir -p "$G"
reg_has() {  # NAME FILE EXTENDED-REGEX
    grep -Eq -- "$3" "$2" && pass "regression/$1" || fail "regression/$1" "no match for '$3' in $(basename "$2")"
}
reg_hasnt() {
    grep -Eq -- "$3" "$2" && fail "regression/$1" "'$3' found in $(basename "$2")" || pass "regression/$1"
}

# the book's linear regression: three epoch lines, then the report's two lines
if "$KILN" build models/linear_regression.lua -o "$G/lr" >"$G/k.err" 2>&1; then
    "$G/lr" --quiet >"$G/lr.out" 2>"$G/lr.err"; rc=$?
    num='-?[0-9]+\.[0-9]{4}'
    if [ $rc -eq 0 ] && [ ! -s "$G/lr.err" ] && [ "$(wc -l <"$G/lr.out")" -eq 5 ] &&
       [ "$(grep -c '^epoch [1-3], loss [0-9.]*, test loss [0-9.]*$' "$G/lr.out")" -eq 3 ] &&
       sed -n 4p "$G/lr.out" | grep -Eq "^w: learned \[$num, $num\], true \[2\.0000, -3\.4000\]$" &&
       sed -n 5p "$G/lr.out" | grep -Eq "^b: learned $num, true 4\.2000$"; then
        pass regression/report-printed
    else
        fail regression/report-printed "status $rc: $(tr '\n' '|' <"$G/lr.out") $(cat "$G/lr.err")"
    fi
    reg_has report-is-generated "$G/lr.c" '^    \.report = report,$'
    # its metrics: train and test MSE per example, the epoch line's figures, no accuracies
    "$G/lr" --quiet --epochs 2 --metrics "$G/lr.csv" >"$G/lr2.out" 2>&1
    bad=$(paste -d, <(tail -n +2 "$G/lr.csv") <(sed -n 's/^epoch [0-9]*, loss \([0-9.]*\), test loss \([0-9.]*\)$/\1,\2/p' "$G/lr2.out") |
          awk -F, '{ if (NF != 6 || $1 != NR || !($2 > 0 && $2 < 1) || !($3 > 0 && $3 < 1) ||
                         sprintf("%.6f", $2) != $5 || sprintf("%.6f", $3) != $6) print "row " NR ": " $0 }')
    [ "$(head -n 1 "$G/lr.csv")" = "epoch,train_mse,test_mse,seconds" ] && [ "$(wc -l <"$G/lr.csv")" -eq 3 ] && [ -z "$bad" ] \
        && pass regression/metrics-mse-columns || fail regression/metrics-mse-columns "$(tr '\n' '|' <"$G/lr.csv") $bad"
    reg_has report-reads-the-layer "$G/lr.c" 'printf\("%s%\.4f", j \? ", " : "", linear1_weight\[j\]\);'
    reg_has true-weights-are-data "$G/lr.c" '^static const double synthetic_w\[2\] = \{ 2, -3\.3999999999999999 \};$'
    reg_hasnt float-input-no-input-scale "$G/lr.c" 'INPUT_SCALE'
else
    fail regression/build "$(head -c 300 "$G/k.err")"
fi
# a diverging run's loss prints in %g's form, not as 35 digits
printf 'return model { name = "div", input = {2}, layers = { linear(1) }, loss = mse(), optimizer = sgd {lr = 1.1},\n  data = synthetic_regression {w = {2, -3.4}, b = 4.2}, batch = 10, epochs = 1 }\n' >"$G/div.lua"
if "$KILN" build "$G/div.lua" -o "$G/div" >/dev/null 2>&1 && "$G/div" --quiet >"$G/div.out" 2>&1 &&
   grep -Eq '^epoch 1, loss [0-9]\.[0-9]{6}e\+[0-9]+, test loss [0-9]\.[0-9]{6}e\+[0-9]+$' "$G/div.out"; then
    pass "regression/diverging-loss-readable ($(head -n 1 "$G/div.out"))"
else
    fail regression/diverging-loss-readable "$(head -c 300 "$G/div.out")"
fi
# the runtime prints no model's parameters; byte input keeps its scale
grep -rqF 'learned [' runtime/ && fail regression/runtime-prints-no-report "$(grep -rnF 'learned [' runtime/ | head -3)" \
    || pass regression/runtime-prints-no-report
"$KILN" compile models/mlp.lua -o "$G/mlp.c" 2>/dev/null
reg_has byte-input-has-input-scale "$G/mlp.c" '^#define INPUT_SCALE \(1\.0f / 255\.0f\)'
reg_hasnt images-no-report "$G/mlp.c" '\.report = |void report\('

# 16 weights, the most the compiler takes: all reach the data and the report
cat >"$G/wide.lua" <<'SPEC'
return model {
  name = "wide", input = {16}, layers = { linear(1, {init = zeros()}) },
  loss = mse(), optimizer = sgd {lr = 0.03}, batch = 10, epochs = 4,
  data = synthetic_regression { w = {1, -1, 2, -2, 3, -3, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.25, -0.25, 4, -4}, b = -1 },
}
SPEC
if "$KILN" build "$G/wide.lua" -o "$G/wide" >"$G/k.err" 2>&1 && "$G/wide" --quiet >"$G/wide.out" 2>"$G/wide.err"; then
    close=$(awk '
        /^w: learned/ { gsub(/[][,]/, " "); n = 0; for (i = 3; $i != "true"; i++) l[n++] = $i
                        for (j = 0; j < n; j++) if (($(i + 1 + j) - l[j])^2 > 0.0001) bad = 1
                        if (n != 16 || $(i + 1) != "1.0000" || $(i + 16) != "-4.0000") bad = 1; seen++ }
        /^b: learned/ { gsub(/,/, ""); if (($5 - $3)^2 > 0.0001 || $5 != "-1.0000") bad = 1; seen++ }
        END { print (seen == 2 && !bad) ? "yes" : "no" }' "$G/wide.out")
    [ "$close" = yes ] && pass regression/sixteen-weights-learned \
        || fail regression/sixteen-weights-learned "$(tr '\n' '|' <"$G/wide.out")"
else
    fail regression/sixteen-weights-learned "$(head -c 300 "$G/k.err" "$G/wide.err" 2>/dev/null)"
fi

# no report where the layer's weight and bias are not the data's w and b:
# an activation after the linear layer, two linear layers, no bias
no_report() {  # NAME LAYERS
    cat >"$G/$1.lua" <<SPEC
return model {
  name = "$1", input = {2}, layers = { $2 },
  loss = mse(), optimizer = sgd {lr = 0.03}, batch = 10, epochs = 1,
  data = synthetic_regression { w = {2, -3.4}, b = 4.2, train = 100, test = 10 },
}
SPEC
    if "$KILN" build "$G/$1.lua" -o "$G/$1" >"$G/k.err" 2>&1 && "$G/$1" --quiet >"$G/$1.out" 2>"$G/$1.err"; then
        if [ "$(wc -l <"$G/$1.out")" -eq 1 ] && grep -q '^epoch 1, ' "$G/$1.out" && ! grep -Eq '\.report = |void report\(' "$G/$1.c"; then
            pass "regression/no-report-$1"
        else
            fail "regression/no-report-$1" "$(tr '\n' '|' <"$G/$1.out")"
        fi
    else
        fail "regression/no-report-$1" "$(head -c 300 "$G/k.err" "$G/$1.err" 2>/dev/null)"
    fi
}
no_report activation 'linear(1), relu()'
no_report two-layers 'linear(3), linear(1)'
no_report no-bias 'linear(1, {bias = false})'
