-- expect: tests/errors/graph_returns_nothing.lua:4: forward: must return the model's output, a value made from x (as in return linear(10)(h)), got nothing
return model {
  input = {4}, classes = 3,
  forward = function(x)
    local h = linear(3)(x)
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
