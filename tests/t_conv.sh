# t_conv.sh — convolutional models through the whole trainer (issue 18):
# models/lenet.lua gives bitwise the same loss lines and checkpoint with 1,
# 2 and 3 threads; models/lenet_relu.lua saves, resumes bit for bit,
# evaluates, predicts, writes metrics, and kiln graph --dot and kiln plot
# metrics take it.  On 2000 training images of the Fashion-MNIST subset.
if ! make_subset "$TMP/fmnist-2000" 2000 500; then
    skip conv "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    D=$TMP/fmnist-2000
    "$KILN" build models/lenet.lua -o "$TMP/lenet" >/dev/null 2>&1 || fail conv/build-lenet "kiln build failed"
    same_at_threads conv/lenet-threads-1-2-3-same-lines-and-weights lenet "$TMP/lenet" --data "$D" --epochs 1 --quiet

    "$KILN" build models/lenet_relu.lua -o "$TMP/lr" >/dev/null 2>&1 || fail conv/build-lenet_relu "kiln build failed"
    R=$TMP/lr
    "$R" --data "$D" --epochs 2 --quiet --save "$TMP/lr2.ckpt" >"$TMP/lr2.out" 2>&1
    "$R" --data "$D" --epochs 1 --quiet --save "$TMP/lr1.ckpt" --metrics "$TMP/lr.csv" >"$TMP/lr1.out" 2>&1
    "$R" --data "$D" --epochs 2 --quiet --resume "$TMP/lr1.ckpt" --save "$TMP/lr1.ckpt" --metrics "$TMP/lr.csv" >>"$TMP/lr1.out" 2>&1
    cmp -s "$TMP/lr1.ckpt" "$TMP/lr2.ckpt" && cmp -s "$TMP/lr1.out" "$TMP/lr2.out" \
        && pass conv/resume-bitwise || fail conv/resume-bitwise "$(cat "$TMP/lr1.out" "$TMP/lr2.out" | tr '\n' ' ')"
    [ "$(wc -l <"$TMP/lr.csv")" -eq 3 ] && pass conv/metrics || fail conv/metrics "$(cat "$TMP/lr.csv")"
    "$R" --data "$D" --eval --load "$TMP/lr2.ckpt" >"$TMP/lr.eval" 2>&1 && grep -q '^test loss [0-9.]*, test acc [0-9.]*$' "$TMP/lr.eval" \
        && pass conv/eval || fail conv/eval "$(cat "$TMP/lr.eval")"
    "$R" --data "$D" --predict 3 --load "$TMP/lr2.ckpt" >"$TMP/lr.pred" 2>&1 && [ "$(grep -c '^image [123]: predicted' "$TMP/lr.pred")" -eq 3 ] \
        && pass conv/predict || fail conv/predict "$(cat "$TMP/lr.pred")"
    "$KILN" graph models/lenet_relu.lua --dot >"$TMP/lr.dot" 2>&1 && grep -q 'conv2d1' "$TMP/lr.dot" && grep -q 'max_pool2d2' "$TMP/lr.dot" \
        && pass conv/graph-dot || fail conv/graph-dot "$(head -3 "$TMP/lr.dot")"
    if command -v gnuplot >/dev/null; then
        "$KILN" plot metrics "$TMP/lr.csv" -o "$TMP/lr.png" >"$TMP/lr.plot" 2>&1 && [ -s "$TMP/lr.png" ] \
            && pass conv/plot-metrics || fail conv/plot-metrics "$(cat "$TMP/lr.plot")"
    else
        skip conv/plot-metrics "gnuplot is not installed"
    fi
fi
