-- Gradient check: add(a, linear(a)), where the layer's input gradient and
-- the shortcut's would share storage unsafely (autodiff copies instead).
return model {
  input = {5}, classes = 3, batch = 6,
  forward = function(x)
    local a = tanh()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(x))
    return linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(add(a, linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(a)))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
