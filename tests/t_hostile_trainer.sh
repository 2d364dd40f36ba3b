# t_hostile_trainer.sh — a trainer against hostile save targets, checkpoints,
# signals, names, data files and environment (issue 16).  Each check names
# what broke before: --save replacing a FIFO or device, temporaries piling
# up after SIGKILL, a checkpoint with a right CRC and a wrong step crashing
# the batch copy, a resume on other data printing nonsense, a stuck run
# deaf to SIGTERM, a model name writing outside the working directory, a
# NaN weight saved as if nothing happened.  Tools in tests/hostile/.
H=$TMP/hostile-trainer
mkdir -p "$H"
cc -std=c11 -O2 -Wall -Wextra -Werror tests/hostile/ckpt_patch.c -lz -o "$H/ckpt_patch" 2>"$H/cc.err" \
    || fail hostile_trainer/tools "ckpt_patch: $(head -3 "$H/cc.err")"
cc -std=c11 -O2 -Wall -Wextra -Werror tests/hostile/with_signals.c -o "$H/with_signals" 2>"$H/cc.err" \
    || fail hostile_trainer/tools "with_signals: $(head -3 "$H/cc.err")"
# the regression trainer (no data files) and the harness around it
"$KILN" compile tests/hostile/harness.lua -o "$H/harness_model.c" 2>"$H/k.err" &&
    cc_trainer "$H/harness" -DMODEL_C="\"$H/harness_model.c\"" tests/hostile/trainer_harness.c 2>"$H/cc.err" &&
    cc_trainer "$H/reg" "$H/harness_model.c" 2>>"$H/cc.err" \
    || fail hostile_trainer/build "$(head -3 "$H/k.err" "$H/cc.err")"
R=$H/reg

# hostile_one_line NAME WANT_STATUS CMD... : exits WANT_STATUS, one line on
# stderr, nothing on stdout (no epoch was trained), within 30 s
hostile_one_line() {
    local name=$1 want=$2; shift 2
    timeout 30 "$@" >"$H/out" 2>"$H/err"; local rc=$?
    if [ $rc -ne "$want" ]; then fail "$name" "exit status $rc, want $want: $(head -c 300 "$H/err")"
    elif [ "$(wc -l <"$H/err")" -ne 1 ]; then fail "$name" "want one line on stderr, got: $(cat "$H/err")"
    elif [ -s "$H/out" ]; then fail "$name" "printed on stdout (trained first?): $(head -c 200 "$H/out")"
    else pass "$name"; return 0; fi
    return 1
}

# ---- 1. --save never replaces what is not a checkpoint --------------------------
mkfifo "$H/fifo.ckpt"
hostile_one_line hostile_trainer/save-fifo-refused 1 "$R" --epochs 1 --save "$H/fifo.ckpt" &&
    { [ -p "$H/fifo.ckpt" ] && grep -q "is a FIFO" "$H/err" && pass hostile_trainer/save-fifo-kept \
      || fail hostile_trainer/save-fifo-kept "$(ls -l "$H/fifo.ckpt") $(cat "$H/err")"; }
mkdir -p "$H/dir.ckpt"
hostile_one_line hostile_trainer/save-directory-refused 1 "$R" --epochs 1 --save "$H/dir.ckpt"
if mknod "$H/null" c 1 3 2>/dev/null; then   # a /dev/null of our own: root only
    hostile_one_line hostile_trainer/save-device-refused 1 "$R" --epochs 1 --save "$H/null" &&
        { [ -c "$H/null" ] && pass hostile_trainer/save-device-kept || fail hostile_trainer/save-device-kept "$(ls -l "$H/null")"; }
else
    skip hostile_trainer/save-device-refused "mknod needs root"
fi
hostile_one_line hostile_trainer/save-unwritable-dir-before-training 1 "$R" --epochs 1 --save "$H/no-such-dir/x.ckpt"
long=$(printf 'n%.0s' $(seq 1 252))
hostile_one_line hostile_trainer/save-name-too-long-for-temporary 1 "$R" --epochs 1 --save "$H/$long" &&
    { grep -q "too long for the temporary" "$H/err" && pass hostile_trainer/save-name-too-long/says-so \
      || fail hostile_trainer/save-name-too-long/says-so "$(cat "$H/err")"; }
# a file that is not a checkpoint is never replaced (a typo in --save must
# not destroy a spec); an empty one is
cp tests/hostile/harness.lua "$H/spec.lua"
hostile_one_line hostile_trainer/save-not-a-checkpoint-refused 1 "$R" --epochs 1 --save "$H/spec.lua" &&
    { cmp -s tests/hostile/harness.lua "$H/spec.lua" && grep -q "not a kiln checkpoint" "$H/err" \
      && pass hostile_trainer/save-not-a-checkpoint-kept || fail hostile_trainer/save-not-a-checkpoint-kept "$(cat "$H/err")"; }
: >"$H/empty.ckpt"
"$R" --epochs 1 --quiet --save "$H/empty.ckpt" >/dev/null 2>"$H/err" && [ -s "$H/empty.ckpt" ] \
    && pass hostile_trainer/save-empty-file-replaced || fail hostile_trainer/save-empty-file-replaced "$(cat "$H/err")"
# a symbolic link is followed: the file it points to gets the checkpoint, the
# link stays (a link to nothing is refused: kiln does not create files through links)
ln -s real.ckpt "$H/link.ckpt"
hostile_one_line hostile_trainer/save-dangling-symlink-refused 1 "$R" --epochs 1 --save "$H/link.ckpt"
"$R" --epochs 0 --quiet --save "$H/real.ckpt" >/dev/null 2>&1   # an earlier checkpoint
if "$R" --epochs 1 --quiet --save "$H/link.ckpt" >/dev/null 2>"$H/err" && [ -L "$H/link.ckpt" ] &&
   "$R" --eval --quiet --load "$H/real.ckpt" >/dev/null 2>>"$H/err"; then
    pass hostile_trainer/save-symlink-followed
else
    fail hostile_trainer/save-symlink-followed "$(ls -l "$H/link.ckpt" "$H/real.ckpt" 2>&1) $(cat "$H/err")"
fi
# SIGKILL at random moments of a run that saves all the time: at most one
# temporary is left (the next save reuses it), however many saves died
for i in $(seq 1 20); do
    "$R" --epochs 1000000 --quiet --save "$H/killed.ckpt" >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 20 + 5))"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
done
temps=$(ls "$H" | grep -c '^killed\.ckpt\.tmp')
[ "$temps" -le 1 ] && pass "hostile_trainer/sigkill-leaves-at-most-one-temporary ($temps)" \
    || fail hostile_trainer/sigkill-leaves-at-most-one-temporary "$temps temporaries: $(ls "$H" | grep '^killed' | head -5 | tr '\n' ' ')"

# ---- 2. a checkpoint is untrusted input even when its CRC is right ----------------
"$R" --epochs 1 --quiet --seed 5 --save "$H/good.ckpt" >/dev/null 2>&1
# offsets from the end of a version-7 file (runtime/checkpoint.c): epoch 88,
# step 84, rng 80 (32 bytes), loss sum 48, correct 40, steps 104, base rate 12
hostile_patched() {  # NAME FROM_END HEX WORD
    "$H/ckpt_patch" "$H/good.ckpt" "$H/bad.ckpt" "$2" "$3"
    hostile_one_line "hostile_trainer/ckpt-$1" 1 "$R" --epochs 3 --resume "$H/bad.ckpt" &&
        { grep -q "$4" "$H/err" && pass "hostile_trainer/ckpt-$1/names-it" || fail "hostile_trainer/ckpt-$1/names-it" "$(cat "$H/err")"; }
}
hostile_patched step-all-ones 84 ffffffff "step 4294967295 is past the 20"
hostile_patched step-signed-overflow 84 00000080 "step 2147483648 is past the 20"
hostile_patched epoch-signed-overflow 88 00000080 "epoch 2147483648 is past"
hostile_patched rng-all-zero 80 0000000000000000000000000000000000000000000000000000000000000000 "all zeros"
hostile_patched loss-nan 48 000000000000f87f "loss sum"
hostile_patched correct-counter 40 0100000000000000 "rows counted correct"
hostile_patched steps-past-2-53 104 ffffffffffffffff "optimizer steps"
hostile_patched rate-nan 12 000000000000f87f "base learning rate nan"
hostile_patched rate-negative 12 000000000000f0bf "base learning rate -1"
"$H/ckpt_patch" "$H/good.ckpt" "$H/bad.ckpt" 104 ffffffffffffffff
hostile_one_line hostile_trainer/ckpt-steps-refused-by-load-too 1 "$R" --eval --load "$H/bad.ckpt"
# --seed with --resume: the run's own seed is accepted, another is refused
hostile_one_line hostile_trainer/resume-other-seed-refused 2 "$R" --epochs 2 --seed 6 --resume "$H/good.ckpt"
"$R" --epochs 2 --seed 5 --resume "$H/good.ckpt" >"$H/out" 2>"$H/err" && grep -q '^epoch 2,' "$H/out" \
    && pass hostile_trainer/resume-same-seed-accepted || fail hostile_trainer/resume-same-seed-accepted "$(cat "$H/err")"
"$R" --epochs 2 --seed 5 --quiet --save "$H/straight.ckpt" >"$H/straight.out" 2>&1
"$R" --epochs 2 --resume "$H/good.ckpt" --quiet --save "$H/resumed.ckpt" >"$H/out" 2>&1
cmp -s "$H/straight.ckpt" "$H/resumed.ckpt" && pass hostile_trainer/resume-takes-the-runs-seed \
    || fail hostile_trainer/resume-takes-the-runs-seed "a resume without --seed of a --seed 5 run ends elsewhere"
# the same model compiled with another batch size: its checkpoint loads, but does not resume
sed 's/batch = 10,/batch = 20,/' tests/hostile/harness.lua >"$H/batch20.lua"
"$KILN" build "$H/batch20.lua" -o "$H/reg20" >/dev/null 2>&1
hostile_one_line hostile_trainer/resume-other-batch-refused 1 "$H/reg20" --epochs 3 --resume "$H/good.ckpt" &&
    { grep -q "batch 10, this trainer's batch is 20" "$H/err" && pass hostile_trainer/resume-other-batch/names-both \
      || fail hostile_trainer/resume-other-batch/names-both "$(cat "$H/err")"; }
if make_subset "$SMALL" 10000 2000 && make_subset "$H/fmnist-2000" 2000 500; then
    "$KILN" build models/softmax_regression.lua -o "$H/sr" >/dev/null 2>&1
    "$H/sr" --data "$SMALL" --epochs 1 --quiet --save "$H/sr.ckpt" >/dev/null 2>&1
    hostile_one_line hostile_trainer/resume-other-data-refused 1 "$H/sr" --data "$H/fmnist-2000" --epochs 2 --resume "$H/sr.ckpt" &&
        { grep -q "other data (10000 training examples" "$H/err" && pass hostile_trainer/resume-other-data/says-so \
          || fail hostile_trainer/resume-other-data/says-so "$(cat "$H/err")"; }
    "$H/sr" --data "$H/fmnist-2000" --epochs 1 --quiet --load "$H/sr.ckpt" >/dev/null 2>"$H/err" \
        && pass hostile_trainer/load-on-other-data-allowed || fail hostile_trainer/load-on-other-data-allowed "$(cat "$H/err")"
    # a FIFO where a data file or a checkpoint should be: refused, not waited on
    mkdir -p "$H/fifo-data"
    cp "$SMALL"/* "$H/fifo-data/"
    rm "$H/fifo-data/train-labels-idx1-ubyte.gz"
    mkfifo "$H/fifo-data/train-labels-idx1-ubyte"
    hostile_one_line hostile_trainer/data-fifo-refused 1 "$H/sr" --data "$H/fifo-data" --epochs 1
    hostile_one_line hostile_trainer/load-fifo-refused 1 "$H/sr" --data "$SMALL" --eval --load "$H/fifo.ckpt"
else
    skip hostile_trainer/resume-other-data-refused "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
fi

# ---- 3. no run can be made deaf ----------------------------------------------------
# hostile_ends NAME PID WANT_STATUS WORD ERRFILE: the process PID (a job of
# this shell) ends within 5 s, with WANT_STATUS and WORD in ERRFILE
hostile_ends() {
    local name=$1 pid=$2 want=$3 word=$4 err=$5 rc
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"; wait "$pid"
        fail "$name" "still running 5 s after the signal"
    else
        wait "$pid"; rc=$?
        [ $rc -eq "$want" ] && grep -q "$word" "$err" && pass "$name" || fail "$name" "status $rc: $(cat "$err")"
    fi
}
for sig in TERM INT; do
    want=$([ $sig = INT ] && echo 130 || echo 143)
    KILN_HARNESS=spin "$H/harness" --epochs 1 >/dev/null 2>"$H/spin.err" &
    pid=$!
    sleep 0.3
    kill -$sig $pid
    sleep 0.5
    if kill -0 $pid 2>/dev/null; then
        kill -$sig $pid
        hostile_ends "hostile_trainer/spinning-step-second-SIG$sig-ends-it" $pid "$want" \
            "a second stop signal; ending now" "$H/spin.err"
    else
        wait $pid
        fail "hostile_trainer/spinning-step-second-SIG$sig-ends-it" "the first SIG$sig already ended the spinning step: $(cat "$H/spin.err")"
    fi
done
# started with SIGTERM and SIGINT blocked, or SIGINT ignored (as a background
# job of a script is): the stop signals still reach the run
for how in "block TERM,INT TERM 143" "ignore INT INT 130"; do
    set -- $how
    rm -f "$H/sig.out" "$H/sig.ckpt"
    "$H/with_signals" "$1" "$2" "$R" --epochs 100000 --save "$H/sig.ckpt" >"$H/sig.out" 2>"$H/sig.err" &
    pid=$!
    for _ in $(seq 1 200); do [ -s "$H/sig.out" ] && break; sleep 0.05; done
    kill -"$3" $pid
    hostile_ends "hostile_trainer/started-with-$1-$2-still-stops" $pid "$4" "saved $H/sig.ckpt" "$H/sig.err"
done
# Ctrl-C during the last epoch's evaluation: reported, exit status 130
KILN_HARNESS=sigint-eval "$H/harness" --epochs 1 --save "$H/eval.ckpt" >"$H/out" 2>"$H/err"; rc=$?
[ $rc -eq 130 ] && grep -q "interrupted (SIGINT) while evaluating epoch 1, the last; the run is complete; saved $H/eval.ckpt" "$H/err" \
    && pass hostile_trainer/sigint-in-last-evaluation-reported || fail hostile_trainer/sigint-in-last-evaluation-reported "status $rc: $(cat "$H/err")"
# ...and in an earlier epoch's: the epoch counts, --resume continues after it
KILN_HARNESS=sigint-eval "$H/harness" --epochs 2 --seed 5 --save "$H/eval.ckpt" >"$H/out" 2>"$H/err"; rc=$?
"$R" --epochs 2 --resume "$H/eval.ckpt" --quiet --save "$H/eval.ckpt" >>"$H/out" 2>>"$H/err"
[ $rc -eq 130 ] && cmp -s "$H/eval.ckpt" "$H/straight.ckpt" && cmp -s "$H/out" "$H/straight.out" \
    && pass hostile_trainer/sigint-in-evaluation-resumes-bitwise \
    || fail hostile_trainer/sigint-in-evaluation-resumes-bitwise "status $rc: $(cat "$H/err")"

# ---- 4. a spec cannot pick where files land ------------------------------------------
# the interrupted-run checkpoint is named after the model's safe name, in
# the working directory, whatever the spec's name says
sed 's|name = "harness"|name = "../../../../escaped"|' tests/hostile/harness.lua >"$H/escape.lua"
mkdir -p "$H/n1/n2/n3/n4"
if "$KILN" compile "$H/escape.lua" -o "$H/escape_model.c" 2>"$H/err" &&
   cc_trainer "$H/escape" -DMODEL_C="\"$H/escape_model.c\"" tests/hostile/trainer_harness.c 2>"$H/cc.err"; then
    (cd "$H/n1/n2/n3/n4" && KILN_HARNESS=sigint-eval "$H/escape" --epochs 2 >/dev/null 2>"$H/err")
    inside=$(ls "$H/n1/n2/n3/n4")
    if [ ! -e "$H/escaped-interrupted.ckpt" ] && echo "$inside" | grep -Eqx '[A-Za-z0-9_]+-interrupted\.ckpt'; then
        pass "hostile_trainer/interrupted-name-safe ($inside)"
    else
        fail hostile_trainer/interrupted-name-safe "wrote '$inside' in the working directory; $(ls "$H" | grep escaped); $(cat "$H/err")"
    fi
else
    fail hostile_trainer/interrupted-name-safe "build: $(cat "$H/err" "$H/cc.err" | head -3)"
fi

# ---- 8. non-finite weights stop the run as divergence does ------------------------------
KILN_HARNESS=nan "$H/harness" --epochs 2 --save "$H/nan.ckpt" >"$H/out" 2>"$H/err"; rc=$?
if [ $rc -eq 3 ] && grep -q "the weights became NaN or infinite in epoch 1" "$H/err" && [ ! -e "$H/nan.ckpt" ] &&
   [ "$(wc -l <"$H/err")" -eq 1 ] &&
   ! grep -q '^epoch' "$H/out"; then
    pass hostile_trainer/nan-weight-stops-run
else
    fail hostile_trainer/nan-weight-stops-run "status $rc, $(ls "$H/nan.ckpt" 2>&1): $(cat "$H/err" "$H/out")"
fi
# OMP_NUM_THREADS past the runtime's limit: one line up front; --threads overrides it
OMP_NUM_THREADS=300 hostile_one_line hostile_trainer/omp-num-threads-over-limit 2 "$R" --epochs 1 &&
    { grep -q "OMP_NUM_THREADS=300 asks for 300 threads, more than this trainer's limit of 256" "$H/err" \
      && pass hostile_trainer/omp-num-threads-over-limit/says-so || fail hostile_trainer/omp-num-threads-over-limit/says-so "$(cat "$H/err")"; }
OMP_NUM_THREADS=300 "$R" --epochs 1 --threads 2 --quiet >/dev/null 2>"$H/err" \
    && pass hostile_trainer/threads-flag-overrides-omp || fail hostile_trainer/threads-flag-overrides-omp "$(cat "$H/err")"

# ---- 7. one line: a newline or escape in what the user passed is escaped ------------------
hostile_one_line hostile_trainer/newline-in-path-escaped 1 "$R" --epochs 1 --save "$H/no-such-dir/x"$'\n'"reg: forged"$'\e'"[31m" &&
    { grep -qF 'x\nreg: forged\x1b[31m' "$H/err" && pass hostile_trainer/newline-in-path-escaped/shown-escaped \
      || fail hostile_trainer/newline-in-path-escaped/shown-escaped "$(cat -A "$H/err")"; }
