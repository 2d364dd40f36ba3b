-- Gradient check: a value read twice by one node, add(h, h).
return model {
  input = {5}, classes = 3, batch = 6,
  forward = function(x)
    local h = tanh()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(x))
    return linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(add(h, h))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
