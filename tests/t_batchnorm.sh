# t_batchnorm.sh — batch_norm's running statistics as model state: the same
# loss lines and checkpoint bit for bit with 1, 2 and 3 threads; a run saved
# after its first epoch and resumed ends bit for bit where an uninterrupted
# one does (the running statistics travel in the checkpoint); --eval of the
# saved model, which normalizes with the running statistics, prints the
# test accuracy of the last epoch line.  tests/parity/bn_conv.lua (batch
# norm on 4-D and 2-D values) on a 3000/1000-image subset; and
# models/resnet.lua at batch 32 (kiln --batch), where every fusion of batch
# norm happens, the same at 1, 2 and 3 threads.
BN_DATA=$TMP/fmnist-3000
if ! make_subset "$BN_DATA" 3000 1000; then
    skip batchnorm "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    B=$TMP/bn_conv
    "$KILN" build tests/parity/bn_conv.lua -o "$B" >/dev/null 2>&1 || fail batchnorm/build "kiln build failed"
    same_at_threads batchnorm/threads-1-2-3-same-lines-and-checkpoint bn "$B" --data "$BN_DATA" --epochs 2 --quiet
    "$B" --data "$BN_DATA" --epochs 1 --quiet --threads 2 --save "$TMP/half.ckpt" >/dev/null 2>&1
    "$B" --data "$BN_DATA" --epochs 2 --quiet --threads 2 --resume "$TMP/half.ckpt" --save "$TMP/resumed.ckpt" \
        >"$TMP/resumed.out" 2>&1
    if cmp -s "$TMP/resumed.ckpt" "$TMP/bn2.ckpt" && [ "$(tail -n 1 "$TMP/resumed.out")" = "$(tail -n 1 "$TMP/bn2.out")" ]; then
        pass batchnorm/resume-bitwise
    else
        fail batchnorm/resume-bitwise "$(cat "$TMP/resumed.out" "$TMP/bn2.out" | tr '\n' ' ')"
    fi
    want=$(sed -n 's/.*test acc \([0-9.]*\)$/\1/p' "$TMP/bn2.out" | tail -n 1)
    got=$("$B" --data "$BN_DATA" --load "$TMP/bn2.ckpt" --eval 2>&1 | sed -n 's/.*test acc \([0-9.]*\)$/\1/p')
    if [ -n "$want" ] && [ "$got" = "$want" ]; then pass "batchnorm/eval-uses-the-saved-running-statistics (test acc $got)"
    else fail batchnorm/eval-uses-the-saved-running-statistics "--eval gave '$got', the last epoch '$want'"; fi
    # the ResNet (batch 32) on 320 images: every fusion of batch norm —
    # statistics in the convolutions' kernels, parameter sums in the input
    # gradients', the input gradient as a convolution's prologue, folding in
    # evaluation — bit for bit the same at 1, 2 and 3 threads
    if make_subset "$TMP/fmnist-320" 320 100 && "$KILN" build models/resnet.lua --batch 32 -o "$TMP/resnet" >/dev/null 2>&1; then
        same_at_threads batchnorm/resnet-threads-1-2-3-same-lines-and-checkpoint rn "$TMP/resnet" \
            --data "$TMP/fmnist-320" --epochs 2 --quiet
    else
        fail batchnorm/resnet-build "kiln build models/resnet.lua --batch 32 failed"
    fi
    grep -q "batch_norm1.running_var" "$B.c" && pass batchnorm/running-statistics-are-named-state ||
        fail batchnorm/running-statistics-are-named-state "no batch_norm1.running_var tensor in $B.c"
fi
