# t_trainer.sh — the trainer's flags: help, bad flags and values, missing
# data, checkpoints saved and loaded bitwise, another model's checkpoint
# refused naming the first mismatching tensor, the metrics CSV, --eval and
# --predict.  Uses a 10000/2000-image subset of Fashion-MNIST.
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
        grep -q -- '--seed' "$TMP/t.out" && grep -q -- '--quiet' "$TMP/t.out" &&
        grep -q -- '--metrics' "$TMP/t.out" && grep -q -- '--eval' "$TMP/t.out" && grep -q -- '--predict' "$TMP/t.out" \
        && pass trainer/help || fail trainer/help "$(head -5 "$TMP/t.out")"
    one_line_status trainer/unknown-flag 2 --epoch 3
    grep -q "unknown flag '--epoch'; did you mean --epochs?" "$TMP/t.err" && pass trainer/unknown-flag/suggests \
        || fail trainer/unknown-flag/suggests "$(cat "$TMP/t.err")"
    one_line_status trainer/one-dash 2 -threads 2
    grep -q "unexpected argument '-threads'; did you mean --threads?" "$TMP/t.err" && pass trainer/one-dash/suggests \
        || fail trainer/one-dash/suggests "$(cat "$TMP/t.err")"
    one_line_status trainer/unknown-flag-far 2 --frobnicate
    grep -q "did you mean" "$TMP/t.err" && fail trainer/unknown-flag-far/no-suggestion "$(cat "$TMP/t.err")" \
        || pass trainer/unknown-flag-far/no-suggestion
    # every flag of runtime/flags.h is in the trainer's --help and in kiln train --help, and parses
    "$KILN" train --help >"$TMP/th.out" 2>&1
    "$T" --help >"$TMP/t.out" 2>&1
    missing=""
    while read -r f v; do   # each flag (and a value) before a bad --epochs: parsed, and nothing runs
        grep -q -- "^  $f" "$TMP/t.out" && grep -q -- "^  $f" "$TMP/th.out" || missing="$missing $f"
        v=${v/#RATE/0.1}
        # shellcheck disable=SC2086  # $v: no word or one
        "$T" "$f" ${v/#N/1} --epochs bogus 2>&1 | grep -q -- "--epochs expects" || missing="$missing $f(parse)"
    done < <(sed -n 's/^ *X("\(--[a-z]*\)", "\([A-Z]*\)".*/\1 \2/p' runtime/flags.h)
    [ -z "$missing" ] && [ "$(grep -c 'X("--' runtime/flags.h)" -ge 14 ] && pass trainer/flags-table-in-both-helps \
        || fail trainer/flags-table-in-both-helps "missing:$missing"
    one_line_status trainer/bad-number 2 --epochs three
    one_line_status trainer/missing-value 2 --threads
    one_line_status trainer/zero-threads 2 --threads 0
    one_line_status trainer/predict-zero 2 --predict 0
    one_line_status trainer/predict-not-a-number 2 --predict five
    one_line_status trainer/metrics-missing-value 2 --metrics
    one_line_status trainer/eval-with-epochs 2 --eval --epochs 3
    one_line_status trainer/predict-with-metrics 2 --predict 3 --metrics "$TMP/x.csv"
    one_line_status trainer/predict-too-many 2 --data "$SMALL" --predict 2001
    one_line_status trainer/metrics-unwritable 1 --data "$SMALL" --epochs 1 --metrics "$TMP/no-such-dir/m.csv"
    one_line_status trainer/eval-missing-checkpoint 1 --data "$SMALL" --eval --load "$TMP/no-such.ckpt"
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
    # a checkpoint of another model is refused, naming the first mismatching tensor and the model
    "$TMP/sr" --data "$SMALL" --epochs 0 --load "$TMP/a.ckpt" >"$TMP/t.out" 2>"$TMP/t.err"; rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l <"$TMP/t.err")" -eq 1 ] && [ ! -s "$TMP/t.out" ] &&
        grep -qF "tensor linear1.weight is (784, 256) there but (784, 10) in model softmax_regression (the checkpoint is from model mlp)" "$TMP/t.err" \
        && pass trainer/wrong-checkpoint || fail trainer/wrong-checkpoint "status $rc: $(cat "$TMP/t.err")"

    # --metrics: the header, one row per epoch, numbers that agree with the epoch lines
    "$T" --data "$SMALL" --epochs 2 --quiet --metrics "$TMP/m.csv" --save "$TMP/m.ckpt" >"$TMP/m.out" 2>"$TMP/t.err"; rc=$?
    if [ $rc -ne 0 ] || [ ! -f "$TMP/m.csv" ]; then
        fail trainer/metrics "status $rc: $(cat "$TMP/t.err")"
    elif [ "$(head -1 "$TMP/m.csv")" != "epoch,loss,test_loss,train_acc,test_acc,seconds" ]; then
        fail trainer/metrics "header is '$(head -1 "$TMP/m.csv")'"
    elif [ "$(wc -l <"$TMP/m.csv")" -ne 3 ]; then
        fail trainer/metrics "want a header and 2 rows: $(cat "$TMP/m.csv")"
    else
        # each row: epoch i, train and test loss in (0.1, 3) (the mean loss
        # per example: chance is ln 10 = 2.3, two epochs on the subset reach
        # about 0.6-1.2), accuracies in (0.2, 1] (chance is 0.1), train seconds
        # in (0, 120), and the loss and accuracies rounded as the epoch line
        # prints them equal the epoch line's
        bad=$(paste -d, <(tail -n +2 "$TMP/m.csv") \
                  <(sed 's/.*loss \([0-9.]*\), train acc \([0-9.]*\), test acc \([0-9.]*\)$/\1,\2,\3/' "$TMP/m.out") |
              awk -F, '{ if (NF != 9 || $1 != NR || !($2 > 0.1 && $2 < 3) || !($3 > 0.1 && $3 < 3) ||
                             !($4 > 0.2 && $4 <= 1) || !($5 > 0.2 && $5 <= 1) || !($6 > 0 && $6 < 120) ||
                             sprintf("%.4f", $2) != $7 || sprintf("%.3f", $4) != $8 || sprintf("%.3f", $5) != $9)
                             print "row " NR ": " $0 }')
        [ -z "$bad" ] && pass trainer/metrics || fail trainer/metrics "$bad"
        # one loss everywhere: --eval of the saved model prints the last row's test loss
        want=$(tail -n 1 "$TMP/m.csv" | awk -F, '{ printf "test loss %.4f, test acc %.3f", $3, $5 }')
        got=$("$T" --data "$SMALL" --load "$TMP/m.ckpt" --eval 2>&1)
        [ "$got" = "$want" ] && pass "trainer/metrics/eval-same-loss ($got)" \
            || fail trainer/metrics/eval-same-loss "--eval printed '$got', the CSV's last row says '$want'"
    fi

    # --eval after --load: one line, the same test accuracy as the last epoch line
    "$T" --data "$SMALL" --load "$TMP/m.ckpt" --eval >"$TMP/t.out" 2>"$TMP/t.err"; rc=$?
    want=$(tail -1 "$TMP/m.out" | sed 's/.*test acc //')
    if [ $rc -eq 0 ] && [ ! -s "$TMP/t.err" ] && [ "$(wc -l <"$TMP/t.out")" -eq 1 ] &&
       grep -Eq '^test loss [0-9]+\.[0-9]{4}, test acc [0-9]\.[0-9]{3}$' "$TMP/t.out" &&
       [ "$(sed 's/.*test acc //' "$TMP/t.out")" = "$want" ] && [ -n "$want" ]; then pass trainer/eval
    else fail trainer/eval "status $rc, want test acc $want: $(cat "$TMP/t.out" "$TMP/t.err")"; fi
    # the mean per-image loss of the (briefly) trained model is below chance's ln 10 = 2.30
    awk '{ exit !($3 + 0 > 0.1 && $3 + 0 < 2.1) }' "$TMP/t.out" && pass trainer/eval/loss-plausible \
        || fail trainer/eval/loss-plausible "$(cat "$TMP/t.out")"
    # --eval does not train: the checkpoint saved after it is the loaded one
    "$T" --data "$SMALL" --load "$TMP/m.ckpt" --eval --save "$TMP/m2.ckpt" --quiet >/dev/null 2>&1 &&
        cmp -s "$TMP/m.ckpt" "$TMP/m2.ckpt" && pass trainer/eval/no-training || fail trainer/eval/no-training "weights changed"

    # --predict 5: five lines, class names, the true labels of the first test images
    "$T" --data "$SMALL" --load "$TMP/m.ckpt" --predict 5 >"$TMP/t.out" 2>"$TMP/t.err"; rc=$?
    names='T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot'
    truth=$(sed 's/.*, true //' "$TMP/t.out" | paste -sd,)
    if [ $rc -eq 0 ] && [ ! -s "$TMP/t.err" ] && [ "$(wc -l <"$TMP/t.out")" -eq 5 ] &&
       [ "$(grep -Ec "^image [1-5]: predicted ($names) \((0\.[0-9]{2}|1\.00)\), true ($names)$" "$TMP/t.out")" -eq 5 ] &&
       [ "$(cut -d: -f1 "$TMP/t.out" | paste -sd,)" = "image 1,image 2,image 3,image 4,image 5" ] &&
       [ "$truth" = "Ankle boot,Pullover,Trouser,Trouser,Shirt" ]; then pass trainer/predict
    else fail trainer/predict "status $rc: $(cat "$TMP/t.out" "$TMP/t.err")"; fi
    # more than one batch (batch 256), the same answers as --predict 5 for the
    # first five, and well above chance (30 of 300) right
    "$T" --data "$SMALL" --load "$TMP/m.ckpt" --predict 300 >"$TMP/p300.out" 2>"$TMP/t.err"; rc=$?
    right=$(awk '{ sub(/^image [0-9]+: predicted /, ""); p = $0; sub(/ \(.*/, "", p); t = $0; sub(/.*, true /, "", t); n += p == t } END { print n + 0 }' "$TMP/p300.out")
    [ $rc -eq 0 ] && [ "$(wc -l <"$TMP/p300.out")" -eq 300 ] && [ "$(head -5 "$TMP/p300.out")" = "$(cat "$TMP/t.out")" ] &&
        [ "$(tail -1 "$TMP/p300.out" | cut -d: -f1)" = "image 300" ] && [ "$right" -gt 90 ] \
        && pass trainer/predict/batches || fail trainer/predict/batches "status $rc, $right of 300 right: $(tail -2 "$TMP/p300.out") $(cat "$TMP/t.err")"
    # --quiet keeps stderr empty; the epoch lines stay on stdout
    "$T" --data "$SMALL" --epochs 1 --quiet >"$TMP/t.out" 2>"$TMP/t.err"
    [ ! -s "$TMP/t.err" ] && [ "$(wc -l <"$TMP/t.out")" -eq 1 ] && pass trainer/quiet || fail trainer/quiet "$(cat "$TMP/t.err")"

    # the progress line, on a terminal only: examples per second, time left, running loss
    if command -v script >/dev/null 2>&1; then
        script -qec "$T --data $SMALL --epochs 1" /dev/null >"$TMP/tty.out" 2>&1 </dev/null
        tr '\r' '\n' <"$TMP/tty.out" | grep -Eq '^epoch 1/1 \[#+\.*\] +[0-9]+%  [0-9]+ ex/s  ETA [0-9]+:[0-9]{2}  loss [0-9.]+' \
            && pass trainer/progress-line || fail trainer/progress-line "$(tr '\r' '\n' <"$TMP/tty.out" | head -n 3 | cat -v)"
        "$T" --data "$SMALL" --epochs 1 >"$TMP/t.out" 2>"$TMP/t.err"
        [ ! -s "$TMP/t.err" ] && pass trainer/progress-line/not-in-a-pipe || fail trainer/progress-line/not-in-a-pipe "$(head -c 200 "$TMP/t.err")"
    else
        skip trainer/progress-line "script (util-linux) is not installed"
    fi

    # --save-npz: the parameters load in numpy, and a forward pass with them in
    # numpy predicts what the trainer's --predict does (class and probability)
    "$T" --data "$SMALL" --load "$TMP/m.ckpt" --predict 3 --save-npz "$TMP/m.npz" >"$TMP/npz.out" 2>"$TMP/t.err"; rc=$?
    if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
        skip trainer/save-npz "python3-numpy is not installed"
    elif [ $rc -ne 0 ]; then
        fail trainer/save-npz "status $rc: $(cat "$TMP/t.err")"
    else
        got=$(/usr/bin/python3 - "$TMP/m.npz" "$SMALL/t10k-images-idx3-ubyte.gz" <<'PY' 2>&1
import gzip, sys
import numpy as np
z = np.load(sys.argv[1])
assert sorted(z.keys()) == ["linear1.bias", "linear1.weight", "linear2.bias", "linear2.weight"], list(z.keys())
assert z["linear1.weight"].shape == (784, 256) and z["linear1.weight"].dtype == np.float32
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
x = np.frombuffer(gzip.open(sys.argv[2]).read()[16:16 + 3 * 784], np.uint8).reshape(3, 784) / 255.0
h = np.maximum(x @ z["linear1.weight"] + z["linear1.bias"], 0)
y = h @ z["linear2.weight"] + z["linear2.bias"]
p = np.exp(y - y.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
for i in range(3):
    print("image %d: predicted %s (%.2f)" % (i + 1, names[p[i].argmax()], p[i].max()))
PY
)
        want=$(sed 's/, true .*//' "$TMP/npz.out")
        [ "$got" = "$want" ] && pass "trainer/save-npz (numpy's forward pass predicts as --predict)" \
            || fail trainer/save-npz "numpy: $got | trainer: $want"
    fi

    # --classify: PNG (every row filter) and PGM files of the first test images
    # classify as --predict does; a wrong size or depth is one line
    mkdir -p "$TMP/img"
    if ! /usr/bin/python3 tests/classify/write_images.py "$SMALL/t10k-images-idx3-ubyte.gz" "$TMP/img" 3 2>"$TMP/t.err"; then
        skip trainer/classify "python3-numpy is not installed"
    else
        got=$(cd "$TMP/img" && "$T" --load "$TMP/m.ckpt" --classify img1.png img2.pgm img3.png 2>&1 | sed 's/^img[0-9]\.[a-z]*: //')
        want=$(sed 's/^image [0-9]*: //; s/, true .*//' "$TMP/npz.out")
        [ "$got" = "$want" ] && pass "trainer/classify (PNG and PGM as --predict)" || fail trainer/classify "classify: $got | predict: $want"
        one_line_status trainer/classify/wrong-size 1 --load "$TMP/m.ckpt" --classify "$TMP/img/big.png"
        grep -q "big.png is 32×32; this model takes 28×28 grayscale images" "$TMP/t.err" && pass trainer/classify/wrong-size/message \
            || fail trainer/classify/wrong-size/message "$(cat "$TMP/t.err")"
        one_line_status trainer/classify/colour 1 --load "$TMP/m.ckpt" --classify "$TMP/img/rgb.png"
        grep -q "rgb.png is not an 8-bit grayscale PNG" "$TMP/t.err" && pass trainer/classify/colour/message \
            || fail trainer/classify/colour/message "$(cat "$TMP/t.err")"
        one_line_status trainer/classify/no-files 2 --classify
    fi

    # --resume of a run that has reached --epochs says so (exit 0, nothing on stdout)
    "$T" --data "$SMALL" --resume "$TMP/m.ckpt" --epochs 2 >"$TMP/t.out" 2>"$TMP/t.err"; rc=$?
    [ $rc -eq 0 ] && [ ! -s "$TMP/t.out" ] &&
        grep -qx "mlp: the run in $TMP/m.ckpt has trained 2 epochs already, as many as --epochs 2 asks for; give a larger --epochs to train on" "$TMP/t.err" \
        && pass trainer/resume-already-done || fail trainer/resume-already-done "status $rc: $(cat "$TMP/t.out" "$TMP/t.err")"

    # a relative idx {dir} is the spec's directory's, whatever the working directory
    mkdir -p "$TMP/specdir"
    ln -sfn "$SMALL" "$TMP/specdir/fm"
    printf 'return model { name = "rel", input = {1, 28, 28}, classes = 10, layers = { flatten(), linear(10) },\n  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1}, data = idx {dir = "fm"}, epochs = 1 }\n' \
        >"$TMP/specdir/rel.lua"
    kiln_abs=$(cd "$(dirname "$KILN")" && pwd)/kiln
    if (cd / && "$kiln_abs" build "$TMP/specdir/rel.lua" -o "$TMP/rel" >"$TMP/t.err" 2>&1) &&
       (cd /tmp && "$TMP/rel" --quiet >"$TMP/t.out" 2>>"$TMP/t.err") && grep -q '^epoch 1, loss' "$TMP/t.out"; then
        pass trainer/idx-dir-relative-to-spec
    else
        fail trainer/idx-dir-relative-to-spec "$(cat "$TMP/t.err")"
    fi
fi
