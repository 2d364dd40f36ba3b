# t_resume.sh — no lost work.  A run killed mid-epoch (SIGINT, then SIGTERM)
# saves where it stands, and --resume reaches bitwise the same parameters,
# optimizer state and epoch lines as a run never interrupted (the model
# with dropout and Adam: RNG, shuffle position, step count and masks all
# matter).  A diverging run (too large a learning rate) stops naming the
# epoch and step and keeps the last good checkpoint.
if [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    skip resume "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    cat >"$TMP/resume.lua" <<'SPEC'
return model {
  name = "resume", input = {1, 28, 28}, classes = 10, batch = 64,
  layers = { flatten(), linear(128), relu(), dropout(0.3), linear(10) },
  loss = softmax_cross_entropy(), optimizer = adam {lr = 0.001}, epochs = 3,
}
SPEC
    "$KILN" build "$TMP/resume.lua" -o "$TMP/resume" >/dev/null 2>&1 || fail resume/build "kiln build failed"
    R=$TMP/resume   # run directly (not from a function): the signals must reach it
    "$R" --seed 9 --epochs 3 --save "$TMP/straight.ckpt" --quiet >"$TMP/straight.out" 2>&1
    for sig in INT TERM; do
        rm -f "$TMP/cut.ckpt" "$TMP/cut.out"
        "$R" --seed 9 --epochs 3 --save "$TMP/cut.ckpt" >"$TMP/cut.out" 2>"$TMP/cut.err" &
        pid=$!
        # wait for the first epoch line, then stop the run inside epoch 2
        for _ in $(seq 1 600); do [ -s "$TMP/cut.out" ] && break; sleep 0.05; done
        kill -$sig $pid
        wait $pid; rc=$?
        want=$([ $sig = INT ] && echo 130 || echo 143)
        if [ $rc -eq "$want" ] && grep -q "at epoch [0-9]* after step [0-9]*; saved $TMP/cut.ckpt; continue with --resume" "$TMP/cut.err"; then
            pass "resume/SIG$sig-saves-and-says-where ($(grep -o "at epoch [0-9]* after step [0-9]*" "$TMP/cut.err"))"
        else
            fail "resume/SIG$sig-saves-and-says-where" "status $rc (want $want): $(cat "$TMP/cut.err")"
        fi
        "$R" --seed 9 --epochs 3 --resume "$TMP/cut.ckpt" --save "$TMP/cut.ckpt" --quiet >>"$TMP/cut.out" 2>&1
        if cmp -s "$TMP/straight.ckpt" "$TMP/cut.ckpt"; then pass "resume/SIG$sig-bitwise-same-final-state"
        else fail "resume/SIG$sig-bitwise-same-final-state" "the resumed run ends elsewhere: $(grep -o 'at epoch.*step [0-9]*' "$TMP/cut.err")"; fi
        if cmp -s "$TMP/straight.out" "$TMP/cut.out"; then pass "resume/SIG$sig-same-epoch-lines"
        else fail "resume/SIG$sig-same-epoch-lines" "$(tr '\n' '|' <"$TMP/cut.out") vs $(tr '\n' '|' <"$TMP/straight.out")"; fi
    done
    "$R" --epochs 3 --resume "$TMP/straight.ckpt" --load "$TMP/straight.ckpt" >/dev/null 2>"$TMP/r.err"
    [ $? -eq 2 ] && pass resume/refuses-load-too || fail resume/refuses-load-too "$(cat "$TMP/r.err")"

    # divergence: linear regression at lr 1.1 (past the stable 1/λ = 1 of its
    # N(0, 1) features) grows ~1.2× a step; the loss overflows in epoch 2
    cat >"$TMP/diverge.lua" <<'SPEC'
return model {
  name = "diverge", input = {2}, layers = { linear(1) },
  loss = mse(), optimizer = sgd {lr = 1.1}, batch = 10, epochs = 4,
  data = synthetic_regression { w = {2, -3.4}, b = 4.2 },
}
SPEC
    "$KILN" build "$TMP/diverge.lua" -o "$TMP/diverge" >/dev/null 2>&1
    "$TMP/diverge" --save "$TMP/diverge.ckpt" >"$TMP/d.out" 2>"$TMP/d.err"; rc=$?
    if [ $rc -eq 3 ] && grep -Eq "the loss became (NaN|infinite) at epoch 2, step [0-9]+ of 100; stopping" "$TMP/d.err"; then
        pass "resume/divergence-stops ($(grep -o 'at epoch [0-9]*, step [0-9]*' "$TMP/d.err"))"
    else
        fail resume/divergence-stops "status $rc: $(cat "$TMP/d.err")"
    fi
    if grep -q "the last good checkpoint, after epoch 1, is $TMP/diverge.ckpt" "$TMP/d.err" &&
       "$TMP/diverge" --eval --load "$TMP/diverge.ckpt" --quiet >"$TMP/d2.out" 2>&1 && grep -q '^test loss [0-9]' "$TMP/d2.out"; then
        pass resume/divergence-keeps-last-good
    else
        fail resume/divergence-keeps-last-good "$(cat "$TMP/d.err" "$TMP/d2.out" 2>/dev/null | tr '\n' '|')"
    fi
fi
