# t_profile.sh — the trainer's --profile: after training, one row per part
# of the training step (the minibatch copy, then every kernel train_step
# calls, in its order, as the generated file names them), shares adding up
# to 100%, a total row equal to the rows' sums; the same training, bit for
# bit, as without it; its usage errors.  LeNet on a 2560/500-image subset
# (10 steps: enough for every row, short under the sanitizers).
PD=$TMP/fmnist-2560
if ! make_subset "$PD" 2560 500; then
    skip profile "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    P=$TMP/lenet_profile
    "$KILN" build models/lenet.lua -o "$P" >/dev/null 2>&1 || fail profile/build "kiln build failed"
    # the parts the generated file lists, in order
    awk '/^static const char \*const step_parts\[\]/ { on = 1; next } on && /^};/ { exit }
         on { sub(/^ *"/, ""); sub(/",$/, ""); print }' "$P.c" >"$TMP/parts.want"
    grep -q '^forward_conv2d1' "$TMP/parts.want" && pass profile/parts-listed || fail profile/parts-listed "$(head -3 "$TMP/parts.want")"
    # train_step's calls name the same kernels, in the same order
    awk '/^static float train_step/ { on = 1 } on && /^}/ { exit }
         on && /^        [a-z_0-9]+\((n|n, rows\.[a-z]+)\);$/ { sub(/^ +/, ""); sub(/\(.*/, ""); print }' "$P.c" >"$TMP/calls"
    if diff -q <(tail -n +2 "$TMP/parts.want") "$TMP/calls" >/dev/null; then pass profile/parts-are-the-step-calls
    else fail profile/parts-are-the-step-calls "$(diff <(tail -n +2 "$TMP/parts.want") "$TMP/calls" | head -5 | tr '\n' ' ')"; fi
    for t in 1 2; do
        "$P" --data "$PD" --epochs 1 --threads $t --save "$TMP/plain$t.ckpt" >"$TMP/plain$t.out" 2>"$TMP/plain$t.err"
        "$P" --data "$PD" --epochs 1 --threads $t --save "$TMP/prof$t.ckpt" --profile >"$TMP/prof$t.out" 2>"$TMP/prof$t.err"
        if cmp -s "$TMP/plain$t.out" "$TMP/prof$t.out" && cmp -s "$TMP/plain$t.ckpt" "$TMP/prof$t.ckpt"; then
            pass "profile/threads-$t/same-training"
        else
            fail "profile/threads-$t/same-training" "$(cat "$TMP/plain$t.out" "$TMP/prof$t.out" | tr '\n' ' ')"
        fi
        # rows: work wait slowest share% name — between the header and the total row
        awk '/^ +work +wait +slowest +share +part$/ { on = 1; next } on && / total: / { exit } on { print }' \
            "$TMP/prof$t.err" >"$TMP/rows$t"
        sed -E 's/^ *[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +//' "$TMP/rows$t" >"$TMP/names$t"
        if diff -q "$TMP/parts.want" "$TMP/names$t" >/dev/null; then pass "profile/threads-$t/one-row-per-part"
        else fail "profile/threads-$t/one-row-per-part" "$(diff "$TMP/parts.want" "$TMP/names$t" | head -5 | tr '\n' ' ')"; fi
        grep -q "^time per training step by part (--profile): 10 steps, $t thread" "$TMP/prof$t.err" &&
            pass "profile/threads-$t/header" || fail "profile/threads-$t/header" "$(head -2 "$TMP/prof$t.err" | tr '\n' ' ')"
        awk -v rows="$TMP/rows$t" '
            BEGIN { while ((getline l < rows) > 0) { split(l, f, " "); w += f[1]; q += f[2]; s += f[4] + 0; n++ } }
            / total: / { tw = $1; tq = $2 }
            END {
                ok = n > 3 && s > 99.5 && s < 100.5 && tw > 0 && (tw - w) < 0.001 * n + 1e-9 && (w - tw) < 0.001 * n + 1e-9 &&
                     (tq - q) < 0.001 * n + 1e-9 && (q - tq) < 0.001 * n + 1e-9
                if (!ok) { printf "rows %d, shares %.1f%%, work %.3f vs total %.3f, wait %.3f vs %.3f\n", n, s, w, tw, q, tq; exit 1 }
            }' "$TMP/prof$t.err" >"$TMP/sums$t" && pass "profile/threads-$t/rows-add-up" ||
            fail "profile/threads-$t/rows-add-up" "$(cat "$TMP/sums$t")"
    done
    profile_refused() {  # NAME ARGS...: exit 2, one line on stderr
        "$P" --data "$PD" "${@:2}" >"$TMP/r.out" 2>"$TMP/r.err"; local rc=$?
        if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/r.err")" -eq 1 ] && [ ! -s "$TMP/r.out" ]; then pass "$1"
        else fail "$1" "exit $rc: $(head -c 300 "$TMP/r.err")"; fi
    }
    profile_refused profile/takes-no-value --profile=yes
    profile_refused profile/not-with-eval --eval --profile
    profile_refused profile/not-with-quiet --quiet --profile
    "$P" --help | grep -q -- '--profile' && pass profile/in-help || fail profile/in-help "--help does not list --profile"
fi
