-- Gradient check: linear with bias straight into the loss (softmax regression).
return model {
  input = {2, 3}, classes = 4, batch = 6,
  layers = { flatten(), linear(4, {init = normal(0, 1), bias_init = normal(0, 1)}) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
