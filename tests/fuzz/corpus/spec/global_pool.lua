-- Gradient check: global_avg_pool2d (PyTorch's AdaptiveAvgPool2d(1)) on a
-- convolution's planes — run on each example in the convolution's kernel,
-- its gradient as the prologue of the next convolution's input gradient —
-- and on a rectangular value of its own.
return model {
  input = {2, 7, 5}, classes = 3, batch = 3,
  forward = function(x)
    local a = tanh()(conv2d(4, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.2)})(x))
    local b = global_avg_pool2d()(tanh()(conv2d(3, {3, 2}, {init = normal(0, 0.5), bias_init = normal(0, 0.2)})(a)))
    local c = global_avg_pool2d()(a)
    return linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)})(concat {flatten()(b), flatten()(c)})
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
