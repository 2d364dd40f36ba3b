-- Gradient check: a value read by two nodes (a layer and an activation)
-- whose results are summed; the input read by two branches.
return model {
  input = {2, 3}, classes = 3, batch = 6,
  forward = function(x)
    local f = flatten()(x)
    local h = tanh()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(f))
    local a = linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(h)
    local b = sigmoid()(h)
    local c = linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(f)
    return linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(add(add(a, b), c))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
