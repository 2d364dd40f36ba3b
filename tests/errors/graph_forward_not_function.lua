-- expect: tests/errors/graph_forward_not_function.lua:2: model: forward must be a function, as in forward = function(x) return linear(10)(x) end, got table
return model {
  input = {4}, classes = 3,
  forward = { linear(3) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
