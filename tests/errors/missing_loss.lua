-- expect: tests/errors/missing_loss.lua:2: model: missing field loss, e.g. loss = softmax_cross_entropy()
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  optimizer = sgd {lr = 0.1},
}
