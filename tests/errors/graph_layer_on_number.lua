-- expect: tests/errors/graph_layer_on_number.lua:5: linear: a layer is called on one value, as in linear(3)(h), got 3
return model {
  input = {4}, classes = 3,
  forward = function(x)
    return linear(3)(3)
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
