-- expect: tests/errors/unknown_field.lua:2: model: unknown field 'optimiser'; did you mean 'optimizer'?
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimiser = sgd {lr = 0.1},
}
