-- Gradient check: max_pool2d and avg_pool2d (with padding, which counts in
-- the average), stride other than the kernel.
return model {
  input = {2, 8, 8}, classes = 3, batch = 4,
  layers = {
    conv2d(3, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.5)}), tanh(),
    max_pool2d(2),
    conv2d(3, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.5)}), sigmoid(),
    avg_pool2d(3, {stride = 2, padding = 1}),
    max_pool2d({2, 1}, {stride = 1}),
    flatten(), linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
