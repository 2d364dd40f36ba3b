-- expect: tests/errors/graph_layers_and_forward.lua:2: model: gives both layers and forward; give one: layers for a chain, forward for a graph
return model {
  input = {4}, classes = 3,
  layers = { linear(3) },
  forward = function(x) return linear(3)(x) end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
