-- Gradient check: two branches of different widths joined by concat, and
-- a value both joined and read on its own.
return model {
  input = {5}, classes = 3, batch = 6,
  forward = function(x)
    local h = tanh()(linear(6, {init = normal(0, 1), bias_init = normal(0, 0.5)})(x))
    local a = sigmoid()(linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(h))
    local b = tanh()(linear(5, {init = normal(0, 1), bias_init = normal(0, 0.5)})(h))
    local j = concat {a, b, h}
    return linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(add(linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(j), linear(3, {init = normal(0, 1), bias_init = normal(0, 0.5)})(b)))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
