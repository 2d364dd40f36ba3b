# t_export.sh — kiln export: a trained model as standalone C.  For seven
# models — six of models/ and tests/export/resnet_small.lua (the ResNet's
# kinds of layer at a tenth of its size) — that hold every kind of layer
# kiln has but leaky_relu (linear, conv2d, max, average and global pooling,
# batch norm, dropout, add, concat, relu, sigmoid, tanh), the exported file
# and its header compile alone with -std=c11 -pedantic -Wall -Wextra
# -Werror (gcc, and clang for three), and tests/export/main.c, linked with
# nothing but it and libm, predicts the first test images exactly as the
# trainer's --predict does (the same class; the probability within the
# trainer's two decimals).  A regression model returns its outputs; the
# refusals are one line.
E=$TMP/export
mkdir -p "$E"
EXPORT_CFLAGS="-std=c11 -pedantic -Wall -Wextra -Werror -O2"
# training quality does not matter here (only that both sides agree): 1000 training
# images, and all 2000 of the test images to compare on
if ! make_subset "$E/fmnist-1000" 1000 2000; then
    skip export "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    # export_same NAME SPEC DATA N COMPILERS: train the trainer built below one epoch on DATA,
    # export, compile it alone with each of COMPILERS, compare the first N predictions
    export_same() {
        local name=$1 spec=$2 data=$3 n=$4 compilers=$5 upper
        upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
        [ -x "$E/$name" ] || { fail "export/$name/exports" "$(cat "$E/$name.build.err")"; return; }
        "$E/$name" --data "$data" --epochs 1 --quiet --save "$E/$name.ckpt" >/dev/null 2>"$E/err" &&
            "$KILN" export "$spec" --load "$E/$name.ckpt" -o "$E/${name}_predict.c" 2>>"$E/err" ||
            { fail "export/$name/exports" "$(cat "$E/err")"; return; }
        local cc_ok=1 c
        for c in $compilers; do
            $c $EXPORT_CFLAGS -c "$E/${name}_predict.c" -o "$E/${name}_predict.$c.o" 2>"$E/cc.err" ||
                { cc_ok=0; fail "export/$name/compiles-with-$c" "$(head -n 3 "$E/cc.err")"; }
        done
        [ $cc_ok = 1 ] && pass "export/$name/compiles-alone-with-${compilers// /-and-}"
        cc $EXPORT_CFLAGS -I"$E" -DHEADER="\"${name}_predict.h\"" -DPREDICT="${name}_predict" \
            -DINPUTS="${upper}_INPUTS" -DCLASSES="${upper}_CLASSES" -DNAMES="${name}_class_names" \
            tests/export/main.c "$E/${name}_predict.gcc.o" -lm -o "$E/${name}_main" 2>"$E/cc.err" ||
            { fail "export/$name/links" "$(head -n 3 "$E/cc.err")"; return; }
        zcat "$data/t10k-images-idx3-ubyte.gz" | tail -c +17 >"$E/images.raw"
        "$E/${name}_main" "$E/images.raw" "$n" >"$E/exported.out" 2>"$E/err"
        "$E/$name" --data "$data" --load "$E/$name.ckpt" --predict "$n" >"$E/trainer.out" 2>>"$E/err"
        # the same classes, line for line; probabilities within the trainer's rounding to 2 decimals
        local differ
        differ=$(paste -d '|' "$E/exported.out" "$E/trainer.out" | awk -F'|' '
            { a = $1; b = $2; sub(/ \([0-9.]*\)$/, "", a); sub(/ \([0-9.]*\), true .*$/, "", b)
              pa = $1; sub(/.*\(/, "", pa); sub(/\)/, "", pa)
              pb = $2; sub(/, true .*$/, "", pb); sub(/.*\(/, "", pb); sub(/\)/, "", pb)
              d = pa - pb; if (d < 0) d = -d
              if (a != b || d > 0.00501) { print NR ": " $1 " / " $2; exit } }
            END { if (NR != '"$n"') print "lines: " NR }')
        if [ -z "$differ" ] && [ "$(wc -l <"$E/exported.out")" -eq "$n" ]; then
            pass "export/$name/predicts-as-the-trainer ($n images; $(head -n 1 "$E/exported.out"))"
        else
            fail "export/$name/predicts-as-the-trainer" "${differ:-no output} $(head -n 2 "$E/err")"
        fi
    }
    # NAME SPEC IMAGES COMPILERS (joined by +)
    cases="mlp models/mlp.lua 2000 gcc+clang
mlp_tanh models/mlp_tanh.lua 2000 gcc
mlp_dropout models/mlp_dropout.lua 2000 gcc
mlp_concat models/mlp_concat.lua 2000 gcc
lenet_bn models/lenet_bn.lua 1000 gcc+clang
lenet_relu models/lenet_relu.lua 1000 gcc
resnet_small tests/export/resnet_small.lua 500 gcc+clang"
    # the trainers first, as many at a time as there are cores (building is most of the time)
    while read -r name spec _; do
        side "$KILN" build "$spec" -o "$E/$name" >/dev/null 2>"$E/$name.build.err"
    done <<<"$cases"
    sides_done
    while read -r name spec n compilers; do
        export_same "$name" "$spec" "$E/fmnist-1000" "$n" "${compilers//+/ }" </dev/null
    done <<<"$cases"

    # the header says what a caller needs
    grep -q '^int mlp_predict(const float \*input, float \*probabilities);$' "$E/mlp_predict.h" &&
        grep -q '^#define MLP_INPUTS 784 ' "$E/mlp_predict.h" && grep -q '^#define MLP_CLASSES 10$' "$E/mlp_predict.h" &&
        pass export/header-declares-predict-and-sizes || fail export/header-declares-predict-and-sizes "$(cat "$E/mlp_predict.h")"

    # refusals: one line, and nothing written
    export_refused() {   # NAME WORD ARGS...
        local name=$1 word=$2; shift 2
        rm -f "$E/refused.c" "$E/refused.h"
        "$KILN" export "$@" >"$E/r.out" 2>"$E/r.err"; local rc=$?
        if [ $rc -ne 0 ] && [ "$(wc -l <"$E/r.err")" -eq 1 ] && grep -q -- "$word" "$E/r.err" &&
           [ ! -e "$E/refused.c" ] && [ ! -e "$E/refused.h" ]; then
            pass "$name"
        else
            fail "$name" "status $rc: $(cat "$E/r.err")"
        fi
    }
    export_refused export/needs---load "needs --load CKPT" models/mlp.lua -o "$E/refused.c"
    export_refused export/other-models-checkpoint "tensor" models/lenet_bn.lua --load "$E/mlp.ckpt" -o "$E/refused.c"
    export_refused export/not-a-checkpoint "not a kiln checkpoint" models/mlp.lua --load models/mlp.lua -o "$E/refused.c"
    export_refused export/-o-not-.c "must end in .c" models/mlp.lua --load "$E/mlp.ckpt" -o "$E/refused.txt"
fi

# a regression model: the outputs, from the learned weights (the trainer's report, 4 decimals)
"$KILN" build models/linear_regression.lua -o "$E/lr" >/dev/null 2>&1
"$E/lr" --epochs 3 --save "$E/lr.ckpt" >"$E/lr.out" 2>&1
"$KILN" export models/linear_regression.lua --load "$E/lr.ckpt" -o "$E/lr_predict.c" 2>/dev/null
cat >"$E/lr_main.c" <<'C'
#include <stdio.h>
#include "lr_predict.h"
int main(void)
{
    float x0[2] = { 0, 0 }, x1[2] = { 1, 0 }, x2[2] = { 0, 1 }, b, y1, y2;
    int r = linear_regression_predict(x0, &b) | linear_regression_predict(x1, &y1) | linear_regression_predict(x2, &y2);
    printf("w: learned [%.4f, %.4f]\nb: learned %.4f %d\n", y1 - b, y2 - b, b, r);
    return 0;
}
C
if cc $EXPORT_CFLAGS -I"$E" "$E/lr_main.c" "$E/lr_predict.c" -lm -o "$E/lr_main" 2>"$E/cc.err"; then
    w=$(sed -n 's/^w: learned \[\([^]]*\)\].*/\1/p' "$E/lr.out"); b=$(sed -n 's/^b: learned \([^,]*\),.*/\1/p' "$E/lr.out")
    "$E/lr_main" >"$E/lr_main.out"
    grep -q "^w: learned \[$w\]$" "$E/lr_main.out" && grep -q "^b: learned $b 0$" "$E/lr_main.out" &&
        grep -q '^#define LINEAR_REGRESSION_OUTPUTS 1$' "$E/lr_predict.h" &&
        pass "export/regression-outputs (w [$w], b $b)" ||
        fail export/regression-outputs "$(tr '\n' ' ' <"$E/lr_main.out") vs w [$w] b $b"
else
    fail export/regression-outputs "$(head -n 3 "$E/cc.err")"
fi
