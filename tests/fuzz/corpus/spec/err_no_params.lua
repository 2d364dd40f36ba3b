-- expect: tests/errors/no_params.lua:2: model: nothing to train (no layer has parameters); add a linear layer
return model {
  input = {10}, classes = 10,
  layers = { relu() },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
