-- Gradient check: convolutions whose weight gradient takes the patches
-- strategy (no padding, more output channels than the packing costs: see
-- kiln graph --kernels) — with and without a bias, a rectangular kernel,
-- and batches whose positions do not fill the last vector (n = 3).
return model {
  input = {3, 7, 6}, classes = 3, batch = 4,
  layers = {
    conv2d(8, 3, {init = normal(0, 0.2), bias_init = normal(0, 0.2)}), sigmoid(),
    conv2d(4, {2, 3}, {bias = false, init = normal(0, 0.3)}), tanh(),
    flatten(), linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
