-- Optimizer check (adam): see tests/optim/harness.c.
-- harness: -DADAM -DLR=0.01 -DBETA1=0.9 -DBETA2=0.999 -DEPS=1e-8
return model {
  input = {3}, classes = 3, batch = 4,
  layers = { linear(3, {init = normal(0, 1), bias_init = normal(0, 1)}) },
  loss = softmax_cross_entropy(), optimizer = adam {lr = 0.01},
}
