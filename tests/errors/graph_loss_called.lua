-- expect: tests/errors/graph_loss_called.lua:5: softmax_cross_entropy: is not a layer: only layers such as linear(10) or relu() are called on a value
return model {
  input = {4}, classes = 3,
  forward = function(x)
    return softmax_cross_entropy()(linear(3)(x))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
