-- Gradient check: a pooling's gradient (and the activation's after it)
-- run as the prologue of a convolution's input gradient, on each example
-- before dy is packed — two branches from one convolution, whose input
-- gradients take the loops strategy (stride 2) and the planes strategy
-- (one channel, 3×3, padding 1; see kiln graph --kernels), with an average
-- and a max pooling; their gradients meet in the shared input.
return model {
  input = {1, 11, 11}, classes = 3, batch = 3,
  forward = function(x)
    local a = tanh()(conv2d(1, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.2)})(x))
    local b = avg_pool2d(2)(tanh()(conv2d(2, 3, {stride = 2, init = normal(0, 0.5), bias_init = normal(0, 0.2)})(a)))
    local c = max_pool2d(2)(sigmoid()(conv2d(1, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.2)})(a)))
    return linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)})(concat {flatten()(b), flatten()(c)})
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
