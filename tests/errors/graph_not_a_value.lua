-- expect: tests/errors/graph_not_a_value.lua:6: add: argument 2 must be a value (x, or what a layer made of it), got relu()
return model {
  input = {4}, classes = 3,
  forward = function(x)
    local h = linear(4)(x)
    return linear(3)(add(h, relu()))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
