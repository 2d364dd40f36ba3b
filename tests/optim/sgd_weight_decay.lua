-- Optimizer check (sgd_weight_decay): see tests/optim/harness.c.
-- harness: -DLR=0.5 -DWD=0.05
return model {
  input = {3}, classes = 3, batch = 4,
  layers = { linear(3, {init = normal(0, 1), bias_init = normal(0, 1)}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.5, weight_decay = 0.05},
}
