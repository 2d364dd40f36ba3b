# t_models.sh — every model in models/ trains to the accuracy its
# "-- accuracy: train >= X, test >= Y" line states, over its own epochs on
# the full Fashion-MNIST: the last epoch's train accuracy and the best
# test accuracy (at these step sizes a single epoch's test accuracy swings
# by a few points).  A model whose full run is too long for CI says so with
# "-- ci: epochs N on M images, train >= X, test >= Y": it trains N epochs
# on the first M training images (and 2000 test images) and must reach those
# (its full figures are in its header and README).  About 3 minutes in all;
# skipped under the sanitizers and on the plain-C GEMM kernel, where it
# would take many minutes — the normal run covers it.
if [ "$SANITIZE" = 1 ] || [ "${KILN_GEMM_KERNEL:-}" = c ]; then
    skip models "full training runs only in the optimized build (./build.sh test)"
elif [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    skip models "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    # the trainers first, as many at a time as there are cores (a third of the time is building)
    for spec in models/*.lua; do
        name=$(basename "$spec" .lua)
        side "$KILN" build "$spec" -o "$TMP/model_$name" >/dev/null 2>"$TMP/model_$name.err"
    done
    sides_done
    for spec in models/*.lua; do
        name=$(basename "$spec" .lua)
        read -r want_train want_test <<<"$(sed -n 's/^-- accuracy: train >= \([0-9.]*\), test >= \([0-9.]*\)$/\1 \2/p' "$spec")"
        want_loss=$(sed -n 's/^-- accuracy: loss <= \([0-9.]*\)$/\1/p' "$spec")
        if [ -z "$want_test" ] && [ -z "$want_loss" ]; then
            fail "models/$name" "no '-- accuracy: train >= X, test >= Y' (or 'loss <= X') line"; continue
        fi
        if [ ! -x "$TMP/model_$name" ]; then
            fail "models/$name" "does not build: $(head -c 300 "$TMP/model_$name.err")"; continue
        fi
        read -r ci_epochs ci_images ci_train ci_test <<<"$(sed -n 's/^-- ci: epochs \([0-9]*\) on \([0-9]*\) images, train >= \([0-9.]*\), test >= \([0-9.]*\)$/\1 \2 \3 \4/p' "$spec")"
        flags=()
        if [ -n "$ci_test" ]; then
            data=$FMNIST   # all 60000 images, or a subset
            if [ "$ci_images" -lt 60000 ]; then make_subset "$TMP/fmnist-$ci_images" "$ci_images" 2000; data=$TMP/fmnist-$ci_images; fi
            flags=(--epochs "$ci_epochs" --data "$data")
            want_train=$ci_train want_test=$ci_test
            name="$name (CI: $ci_epochs epochs on $ci_images images)"
        fi
        out=$("$TMP/model_${name%% *}" --quiet "${flags[@]}" 2>&1)
        if [ -n "$want_loss" ]; then   # regression: final loss, and learned w, b within 0.01 of the truth
            loss=$(echo "$out" | grep '^epoch' | tail -n 1 | sed -n 's/.*, loss \([0-9.]*\),.*/\1/p')
            close=$(echo "$out" | awk '
                /^w: learned/ { gsub(/[][,]/, " "); n = 0; for (i = 3; $i != "true"; i++) l[n++] = $i
                                for (j = 0; j < n; j++) if (($(i + 1 + j) - l[j])^2 > 0.0001) bad = 1; seen++ }
                /^b: learned/ { gsub(/,/, ""); if (($5 - $3)^2 > 0.0001) bad = 1; seen++ }
                END { print (seen == 2 && !bad) ? "yes" : "no" }')
            if awk -v a="$loss" -v b="$want_loss" 'BEGIN { exit !(a != "" && a <= b) }' && [ "$close" = yes ]; then
                pass "models/$name (loss $loss ≤ $want_loss, learned w and b within 0.01)"
            else
                fail "models/$name" "loss $loss (want ≤ $want_loss), w and b close: $close: $(echo "$out" | tr '\n' '|')"
            fi
            continue
        fi
        train=$(echo "$out" | tail -n 1 | sed -n 's/.*train acc \([0-9.]*\),.*/\1/p')
        test=$(echo "$out" | sed -n 's/.*test acc \([0-9.]*\)$/\1/p' | sort -n | tail -n 1)
        if awk -v a="$train" -v b="$want_train" -v c="$test" -v d="$want_test" 'BEGIN { exit !(a >= b && c >= d) }'; then
            pass "models/$name (train acc $train ≥ $want_train, best test acc $test ≥ $want_test)"
        else
            fail "models/$name" "train acc $train (want ≥ $want_train), best test acc $test (want ≥ $want_test): $(echo "$out" | tr '\n' '|')"
        fi
    done
fi
