-- expect: tests/errors/name_SGD.lua:6: unknown optimizer 'SGD'; did you mean sgd()? (optimizers: sgd, adam)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), linear(10) },
  loss = softmax_cross_entropy(),
  optimizer = SGD {lr = 0.1},
}
