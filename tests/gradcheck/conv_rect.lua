-- Gradient check: conv2d with a {2, 3} kernel, strides {2, 1} and padding
-- {1, 0}, on 3 input channels, feeding a second convolution whose input
-- gradient is summed with a residual path (add).
return model {
  input = {3, 6, 5}, classes = 3, batch = 4,
  forward = function(x)
    local a = tanh()(conv2d(2, {2, 3}, {stride = {2, 1}, padding = {1, 0}, init = normal(0, 0.5), bias_init = normal(0, 0.5)})(x))
    local b = conv2d(2, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.5)})(a)
    return linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)})(flatten()(add(a, tanh()(b))))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
