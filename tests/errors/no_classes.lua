-- expect: tests/errors/no_classes.lua:2: model: missing field classes, e.g. classes = 10
return model {
  input = {784},
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
