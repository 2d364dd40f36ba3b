# t_schedule.sh — learning-rate schedules and the run-time overrides: each
# epoch's rate under step_lr and cosine_lr (with warm-up, and past its span)
# is PyTorch's (tests/schedule/torch_lrs.py runs torch.optim.lr_scheduler),
# --lr replaces the base rate, a resumed run goes on with its schedule and
# rate, and kiln train --batch rebuilds with another batch size.  The
# optimizers reading the rate the trainer sets is tests/optim/harness.c's.
S=$TMP/sched
mkdir -p "$S"
# sched_spec NAME LR: a small linear regression trained with rate LR
sched_spec() {
    cat >"$S/$1.lua" <<SPEC
return model {
  name = "$1", input = {2}, layers = { linear(1) }, loss = mse(),
  optimizer = sgd {lr = $2, momentum = 0.5},
  data = synthetic_regression { w = {2, -3.4}, b = 4.2, train = 200, test = 50 },
  batch = 20, epochs = 12,
}
SPEC
    "$KILN" build "$S/$1.lua" -o "$S/$1" >/dev/null 2>"$S/build.err" || fail "schedule/$1/build" "$(cat "$S/build.err")"
}
sched_spec step "step_lr {lr = 0.05, every = 3, gamma = 0.5}"
sched_spec cosine "cosine_lr {lr = 0.05, epochs = 10, warmup = 3, min_lr = 0.001}"
sched_spec cosine_plain "cosine_lr {lr = 0.05}"
sched_spec constant 0.05

# rates TRAINER ARGS...: the rate of each epoch, from --verbose's lines
rates() { "$@" --verbose 2>&1 >/dev/null | sed -n 's/^epoch [0-9]*: lr \([^,]*\),.*/\1/p'; }
# same_rates NAME GOT WANT: the two lists agree to 1e-8 (the trainer prints 9 digits)
same_rates() {
    if [ -s "$2" ] && [ "$(wc -l <"$2")" = "$(wc -l <"$3")" ] &&
       paste "$2" "$3" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-8 * $2 + 1e-15) exit 1 }'; then
        pass "$1 ($(tr '\n' ' ' <"$2" | cut -c 1-60)…)"
    else
        fail "$1" "kiln: $(tr '\n' ' ' <"$2") torch: $(tr '\n' ' ' <"$3")"
    fi
}
if ! "${PARITY_PY:-/usr/bin/python3}" -c 'import torch' 2>/dev/null; then
    skip schedule/torch "PyTorch is not installed (apt-get install python3-torch)"
else
    PY=${PARITY_PY:-/usr/bin/python3}
    rates "$S/step" --epochs 12 >"$S/step.got"
    "$PY" tests/schedule/torch_lrs.py 12 step 0.05 3 0.5 >"$S/step.want"
    same_rates schedule/step_lr-is-torch-StepLR "$S/step.got" "$S/step.want"
    # 12 epochs of a 10-epoch cosine: the last two rise again, as PyTorch's do
    rates "$S/cosine" --epochs 12 >"$S/cosine.got"
    "$PY" tests/schedule/torch_lrs.py 12 cosine 0.05 10 3 0.001 >"$S/cosine.want"
    same_rates schedule/cosine_lr-is-torch-LinearLR-then-CosineAnnealingLR "$S/cosine.got" "$S/cosine.want"
    rates "$S/cosine_plain" >"$S/plain.got"
    "$PY" tests/schedule/torch_lrs.py 12 cosine 0.05 12 0 0 >"$S/plain.want"
    same_rates schedule/cosine_lr-spans-the-models-epochs "$S/plain.got" "$S/plain.want"
    rates "$S/step" --epochs 12 --lr 0.2 >"$S/step_lr.got"
    "$PY" tests/schedule/torch_lrs.py 12 step 0.2 3 0.5 >"$S/step_lr.want"
    same_rates schedule/--lr-is-the-schedules-base "$S/step_lr.got" "$S/step_lr.want"
fi

# the epoch line names a scheduled rate, and only a scheduled one
"$S/step" --epochs 4 >"$S/step.out" 2>&1
"$S/constant" --epochs 1 >"$S/constant.out" 2>&1
grep -q '^epoch 4, loss [0-9.]*, test loss [0-9.]*, lr 0.025$' "$S/step.out" && ! grep -q 'lr' "$S/constant.out" \
    && pass schedule/epoch-line-shows-a-scheduled-rate || fail schedule/epoch-line-shows-a-scheduled-rate \
    "$(tail -n 1 "$S/step.out") / $(head -n 1 "$S/constant.out")"

# --lr trains with that rate: the parameters are the spec's with that rate, bit for bit
sched_spec constant_02 0.02
"$S/constant" --epochs 3 --lr 0.02 --quiet --save-npz "$S/override.npz" >/dev/null 2>&1
"$S/constant_02" --epochs 3 --quiet --save-npz "$S/spec02.npz" >/dev/null 2>&1
[ -s "$S/override.npz" ] && cmp -s "$S/override.npz" "$S/spec02.npz" && pass schedule/--lr-trains-with-that-rate \
    || fail schedule/--lr-trains-with-that-rate "the parameters differ from the spec's with lr = 0.02"
# ... and a resumed run's epoch at --lr is the schedule's epoch at that rate:
# step_lr halves at epoch 4; constant 0.05 for 3 epochs, resumed with --lr 0.025
"$S/step" --epochs 4 --quiet --save-npz "$S/step4.npz" >/dev/null 2>&1
"$S/constant" --epochs 3 --quiet --save "$S/c3.ckpt" >/dev/null 2>&1
"$S/constant" --epochs 4 --lr 0.025 --resume "$S/c3.ckpt" --quiet --save-npz "$S/c4.npz" >/dev/null 2>&1
[ -s "$S/c4.npz" ] && cmp -s "$S/step4.npz" "$S/c4.npz" && pass schedule/resume-with---lr-is-a-step \
    || fail schedule/resume-with---lr-is-a-step "constant 0.05 then --lr 0.025 ends elsewhere than step_lr"

# a resumed run goes on with its schedule, and with the --lr it was started with
for args in "" "--lr 0.03"; do
    tag=${args:+-lr}
    # shellcheck disable=SC2086  # $args: no word or two
    "$S/cosine" --epochs 8 $args --quiet --save "$S/straight.ckpt" >"$S/straight.out" 2>&1
    # shellcheck disable=SC2086
    "$S/cosine" --epochs 5 $args --quiet --save "$S/cut.ckpt" >"$S/cut.out" 2>&1
    "$S/cosine" --epochs 8 --resume "$S/cut.ckpt" --quiet --save "$S/cut.ckpt" >>"$S/cut.out" 2>&1
    if cmp -s "$S/straight.ckpt" "$S/cut.ckpt" && cmp -s <(grep '^epoch' "$S/straight.out") <(grep '^epoch' "$S/cut.out")
    then
        pass "schedule/resume-continues-exactly$tag ($(grep '^epoch' "$S/cut.out" | tail -n 1))"
    else
        fail "schedule/resume-continues-exactly$tag" "$(grep '^epoch' "$S/cut.out" | tr '\n' '|') vs $(grep '^epoch' "$S/straight.out" | tr '\n' '|')"
    fi
done

# the trainer's refusals: one line, status 2
sched_refused() {   # NAME WORD ARGS...
    local name=$1 word=$2; shift 2
    "$@" >"$S/r.out" 2>"$S/r.err"; local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$S/r.err")" -eq 1 ] && grep -q -- "$word" "$S/r.err" && [ ! -s "$S/r.out" ]; then
        pass "$name"
    else
        fail "$name" "status $rc: $(cat "$S/r.err")"
    fi
}
sched_refused schedule/--lr-zero "--lr expects a number above 0" "$S/step" --lr 0
sched_refused schedule/--lr-word "--lr expects a number above 0" "$S/step" --lr fast
sched_refused schedule/--lr-with---eval "does not train, so --lr makes no sense" "$S/step" --eval --lr 0.1
sched_refused schedule/--lr-below-min_lr "below the schedule's min_lr 0.001" "$S/cosine" --lr 0.0005

# kiln train --batch N: the trainer is rebuilt with batch N; the other flags are the trainer's
kiln_abs=$(cd "$(dirname "$KILN")" && pwd)/$(basename "$KILN")
(cd "$S" && "$kiln_abs" train step.lua --batch 50 --epochs 1 --verbose >"$S/b.out" 2>"$S/b.err")
grep -q "with batch 50" "$S/b.err" && grep -q "batch 50," "$S/b.err" && grep -q '^#define BATCH 50 ' "$S/build/step.c" \
    && grep -q '^epoch 1,' "$S/b.out" && pass schedule/kiln-train---batch-rebuilds \
    || fail schedule/kiln-train---batch-rebuilds "$(cat "$S/b.err")"
"$KILN" train "$S/step.lua" --batch 0 >"$S/b.out" 2>"$S/b.err"
[ $? -eq 2 ] && grep -q "expects a whole number from 1 to 65536" "$S/b.err" && pass schedule/kiln-train---batch-0-refused \
    || fail schedule/kiln-train---batch-0-refused "$(cat "$S/b.err")"
"$KILN" compile "$S/step.lua" --batch=7 -o "$S/b7.c" 2>/dev/null
grep -q '^#define BATCH 7 ' "$S/b7.c" && pass schedule/kiln-compile---batch || fail schedule/kiln-compile---batch "no BATCH 7"
