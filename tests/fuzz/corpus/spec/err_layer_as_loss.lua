-- expect: tests/errors/layer_as_loss.lua:2: model: loss must be something like softmax_cross_entropy(), got relu()
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = relu(), optimizer = sgd {lr = 0.1},
}
