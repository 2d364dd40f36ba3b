# t_fusion.sh — what the fuse and plan passes promise for the book's MLP,
# checked on the C kiln emits and on `kiln graph --kernels/--plan`:
# bias + ReLU in the first GEMM's epilogue, images read as bytes and scaled
# while packed, softmax/loss/accuracy/gradient in one pass over the rows
# (the loss summed in row order after the team), ReLU's
# derivative in the epilogue of the GEMM producing its input gradient, SGD
# in the weight-gradient GEMMs (no gradient buffers), one arena with reuse.
"$KILN" compile models/mlp.lua -o "$TMP/fusion.c" 2>/dev/null
"$KILN" graph models/mlp.lua --kernels >"$TMP/kernels.txt" 2>&1
has() {  # NAME FILE EXTENDED-REGEX
    grep -Eq -- "$3" "$2" && pass "fusion/$1" || fail "fusion/$1" "no match for '$3' in $(basename "$2")"
}
hasnt() {
    grep -Eq -- "$3" "$2" && fail "fusion/$1" "'$3' found in $(basename "$2")" || pass "fusion/$1"
}
has bias-relu-in-epilogue "$TMP/kernels.txt" 'forward_linear1_relu1 +train eval +linear1, relu1$'
has epilogue-adds-bias-then-relu "$TMP/fusion.c" 'const float v = c\[i \* ldc \+ j\] \+ linear1_bias\[j0 \+ j\];'
has images-scaled-while-packing "$TMP/fusion.c" '\.a_u8 = x, \.a_scale = INPUT_SCALE, \.lda = 784,'
hasnt no-float-copy-of-images "$TMP/fusion.c" 'x_scaled|\(float\)x\['
has loss-and-grad-one-loop "$TMP/kernels.txt" 'loss_and_grad_softmax_cross_entropy +train +softmax_cross_entropy, softmax_cross_entropy.grad$'
has loss-and-grad-one-pass "$TMP/fusion.c" 'kiln_softmax_xent_rows\(i, n - i, 10, linear2, labels, d_linear2, \(float\)n, row_loss, row_hit\);'
has loss-summed-after-team "$TMP/fusion.c" '^    loss = batch_loss\(n, correct\);$'
has relu-grad-in-epilogue "$TMP/kernels.txt" 'backward_linear2_grad_input_relu1_grad +train +linear2.grad_input, relu1.grad$'
has sgd-in-weight-gradient-gemm "$TMP/kernels.txt" 'backward_linear1_grad_params_sgd +train +linear1.grad_params, sgd.linear1.weight, sgd.linear1.bias$'
has sgd-writes-weights "$TMP/fusion.c" '\.c = linear1_weight, \.ldc = 256,'
hasnt no-weight-gradient-buffer "$TMP/fusion.c" 'd_linear1_weight|d_linear2_weight|d_linear1_bias'
hasnt no-separate-update-pass "$TMP/fusion.c" '^static void update_'
[ "$(grep -c ' train ' "$TMP/kernels.txt")" -le 6 ] && pass fusion/six-kernels-per-step \
    || fail fusion/six-kernels-per-step "$(grep -c ' train ' "$TMP/kernels.txt") training kernels"
hasnt no-float-omp-reduction "$TMP/fusion.c" 'reduction'

# memory plan: one arena; on a deeper net, buffers with disjoint lifetimes share it
"$KILN" graph tests/plan/deep.lua --plan >"$TMP/plan.txt" 2>&1
read -r arena unshared <<<"$(sed -n 's/^memory plan: arena of \([0-9]*\) floats ([0-9.]* KiB; \([0-9]*\) without reuse).*/\1 \2/p' "$TMP/plan.txt")"
if [ -n "$arena" ] && [ "$arena" -lt "$unshared" ]; then pass "fusion/plan-reuses ($arena < $unshared floats)"
else fail fusion/plan-reuses "arena $arena, without reuse $unshared: $(head -1 "$TMP/plan.txt")"; fi
grep -q '^static float arena\[' "$TMP/fusion.c" && [ "$(grep -c '^static float arena\[' "$TMP/fusion.c")" -eq 1 ] \
    && pass fusion/one-arena || fail fusion/one-arena "not exactly one arena"

# column panels: the hidden layer's activations and gradient (split among the
# threads by columns) are kept in panels; the logits are not (no column
# split), nor are dropout's buffers (its masks are keyed by memory order)
"$KILN" graph models/mlp.lua --plan >"$TMP/mlp_plan.txt" 2>&1
"$KILN" graph models/mlp_dropout.lua --plan >"$TMP/dropout_plan.txt" 2>&1
has hidden-in-panels "$TMP/mlp_plan.txt" '^  relu1 +\(batch, 256\) +at [0-9]+ +kernels [0-9]+-[0-9]+, in 8 column panels$'
has hidden-gradient-in-panels "$TMP/mlp_plan.txt" '^  d\.linear1 +\(batch, 256\) +at [0-9]+ +kernels [0-9]+-[0-9]+, in 8 column panels$'
hasnt logits-row-major "$TMP/mlp_plan.txt" '^  (d\.)?linear2 +\(batch, 10\).*panels'
hasnt dropout-row-major "$TMP/dropout_plan.txt" 'panels'
has gemm-writes-panels "$TMP/fusion.c" '\.c = relu1, \.ldc = KILN_PANEL, \.c_panel_stride = PANEL_STRIDE,'
