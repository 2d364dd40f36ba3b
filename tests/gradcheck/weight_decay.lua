-- Gradient check through SGD with weight decay (fused into the GEMM as
-- beta = 1 − lr·wd): the harness's p_before − p_after is then ∇p + wd·p,
-- so this spec is checked with WEIGHT_DECAY defined (see harness.c).
-- harness: -DWEIGHT_DECAY=0.1
return model {
  input = {5}, classes = 3, batch = 6,
  layers = {
    linear(7, {init = normal(0, 1), bias_init = normal(0, 0.5)}), sigmoid(),
    linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1, weight_decay = 0.1},
}
