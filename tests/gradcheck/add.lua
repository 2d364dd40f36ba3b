-- Gradient check: a residual block, add(h, r): h is read by the block and by add.
return model {
  input = {5}, classes = 3, batch = 6,
  forward = function(x)
    local h = tanh()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(x))
    local r = linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(relu()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(h)))
    return linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(sigmoid()(add(h, r)))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
