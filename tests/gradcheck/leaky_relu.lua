-- Gradient check: leaky_relu(0.1) between two linear layers.
return model {
  input = {5}, classes = 3, batch = 6,
  layers = {
    linear(7, {init = normal(0, 1), bias_init = normal(0, 0.5)}), leaky_relu(0.1),
    linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
