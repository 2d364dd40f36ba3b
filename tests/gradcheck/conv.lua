-- Gradient check: conv2d, stride 1, padding 2, kernel 5, 1 input channel,
-- then 3 → 4 channels with a 3×3 kernel, stride 2, no padding, on a
-- non-square input; a bias-free 1×1 convolution; each with an activation.
return model {
  input = {1, 9, 7}, classes = 3, batch = 4,
  layers = {
    conv2d(3, 5, {padding = 2, init = normal(0, 0.5), bias_init = normal(0, 0.5)}), tanh(),
    conv2d(4, 3, {stride = 2, init = normal(0, 0.5), bias_init = normal(0, 0.5)}), sigmoid(),
    conv2d(2, 1, {bias = false, init = normal(0, 0.5)}),
    flatten(), linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
