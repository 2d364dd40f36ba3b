-- Optimizer check (sgd_momentum_weight_decay): see tests/optim/harness.c.
-- harness: -DLR=0.5 -DMOMENTUM=0.8 -DWD=0.01
return model {
  input = {3}, classes = 3, batch = 4,
  layers = { linear(3, {init = normal(0, 1), bias_init = normal(0, 1)}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.5, momentum = 0.8, weight_decay = 0.01},
}
