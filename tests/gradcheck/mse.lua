-- Gradient check: the mse loss on float (regression) inputs, through two
-- layers with a tanh, two outputs.
return model {
  input = {4}, batch = 6,
  layers = {
    linear(5, {init = normal(0, 1), bias_init = normal(0, 0.5)}), tanh(),
    linear(1, {init = normal(0, 1), bias_init = normal(0, 0.5)}),
  },
  loss = mse(), optimizer = sgd {lr = 1},
  data = synthetic_regression { w = {1, 2, 3, 4} },
}
