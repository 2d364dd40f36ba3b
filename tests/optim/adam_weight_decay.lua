-- Optimizer check (adam_weight_decay): see tests/optim/harness.c.
-- harness: -DADAM -DLR=0.05 -DBETA1=0.8 -DBETA2=0.99 -DEPS=1e-6 -DWD=0.1
return model {
  input = {3}, classes = 3, batch = 4,
  layers = { linear(3, {init = normal(0, 1), bias_init = normal(0, 1)}) },
  loss = softmax_cross_entropy(), optimizer = adam {lr = 0.05, beta1 = 0.8, beta2 = 0.99, eps = 1e-6, weight_decay = 0.1},
}
