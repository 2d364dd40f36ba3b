-- expect: tests/errors/graph_returns_x.lua:4: forward: returns x itself; apply at least one layer to it
return model {
  input = {4}, classes = 3,
  forward = function(x) return x end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
