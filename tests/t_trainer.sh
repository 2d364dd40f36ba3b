# t_trainer.sh — the trainer's flags: help, bad flags and values, missing
# data, checkpoints saved and loaded bitwise, another model's checkpoint
# refused.  Uses a 10000/2000-image subset of Fashion-MNIST.
if ! make_subset "$SMALL" 10000 2000; then
    skip trainer "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    "$KILN" build models/mlp.lua -o "$TMP/mlp" >/dev/null 2>&1 || fail trainer/build "kiln build failed"
    "$KILN" build models/softmax_regression.lua -o "$TMP/sr" >/dev/null 2>&1 || fail trainer/build-sr "kiln build failed"
    T=$TMP/mlp
    one_line_status() {  # NAME WANT_STATUS ARGS... : exits WANT_STATUS with one line on stderr, nothing on stdout
        local name=$1 want=$2; shift 2
        "$T" "$@" >"$TMP/t.out" 2>"$TMP/t.err"; local rc=$?
        if [ $rc -ne "$want" ]; then fail "$name" "exit status $rc, want $want: $(head -c 300 "$TMP/t.err")"
        elif [ "$(wc -l <"$TMP/t.err")" -ne 1 ]; then fail "$name" "want one line on stderr, got: $(cat "$TMP/t.err")"
        elif [ -s "$TMP/t.out" ]; then fail "$name" "printed on stdout: $(head -c 200 "$TMP/t.out")"
        else pass "$name"; fi
    }
    "$T" --help >"$TMP/t.out" 2>&1 && grep -q -- '--epochs' "$TMP/t.out" && grep -q -- '--threads' "$TMP/t.out" &&
        grep -q -- '--save' "$TMP/t.out" && grep -q -- '--load' "$TMP/t.out" && grep -q -- '--data' "$TMP/t.out" &&
        grep -q -- '--seed' "$TMP/t.out" && grep -q -- '--quiet' "$TMP/t.out" \
        && pass trainer/help || fail trainer/help "$(head -5 "$TMP/t.out")"
    one_line_status trainer/unknown-flag 2 --epoch 3
    grep -q "unknown flag '--epoch'" "$TMP/t.err" && pass trainer/unknown-flag/names-it || fail trainer/unknown-flag/names-it "$(cat "$TMP/t.err")"
    one_line_status trainer/bad-number 2 --epochs three
    one_line_status trainer/missing-value 2 --threads
    one_line_status trainer/zero-threads 2 --threads 0
    one_line_status trainer/missing-data 1 --data "$TMP/no-such-dir" --epochs 1
    grep -q "$TMP/no-such-dir/train-images-idx3-ubyte" "$TMP/t.err" && pass trainer/missing-data/names-file \
        || fail trainer/missing-data/names-file "$(cat "$TMP/t.err")"

    # checkpoints: train one epoch and save; load it and save again: same bytes
    if "$T" --data "$SMALL" --epochs 1 --quiet --save "$TMP/a.ckpt" >"$TMP/t.out" 2>"$TMP/t.err" &&
       "$T" --data "$SMALL" --epochs 0 --quiet --load "$TMP/a.ckpt" --save "$TMP/b.ckpt" >/dev/null 2>>"$TMP/t.err" &&
       cmp -s "$TMP/a.ckpt" "$TMP/b.ckpt"; then pass trainer/checkpoint-roundtrip
    else fail trainer/checkpoint-roundtrip "$(cat "$TMP/t.err")"; fi
    # training goes on from a loaded checkpoint
    "$T" --data "$SMALL" --epochs 1 --quiet --seed 3 --save "$TMP/one.ckpt" >/dev/null 2>&1
    "$T" --data "$SMALL" --epochs 1 --quiet --seed 3 --load "$TMP/one.ckpt" --save "$TMP/one+one.ckpt" >/dev/null 2>&1
    [ -s "$TMP/one+one.ckpt" ] && ! cmp -s "$TMP/one.ckpt" "$TMP/one+one.ckpt" \
        && pass trainer/load-then-train || fail trainer/load-then-train "training after --load did not change the weights"
    # a checkpoint of another model is refused, naming the model
    "$TMP/sr" --data "$SMALL" --epochs 0 --load "$TMP/a.ckpt" >"$TMP/t.out" 2>"$TMP/t.err"; rc=$?
    [ $rc -ne 0 ] && [ "$(wc -l <"$TMP/t.err")" -eq 1 ] && grep -q "mlp" "$TMP/t.err" \
        && pass trainer/wrong-checkpoint || fail trainer/wrong-checkpoint "status $rc: $(cat "$TMP/t.err")"
    # --quiet keeps stderr empty; the epoch lines stay on stdout
    "$T" --data "$SMALL" --epochs 1 --quiet >"$TMP/t.out" 2>"$TMP/t.err"
    [ ! -s "$TMP/t.err" ] && [ "$(wc -l <"$TMP/t.out")" -eq 1 ] && pass trainer/quiet || fail trainer/quiet "$(cat "$TMP/t.err")"
fi
