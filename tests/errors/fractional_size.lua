-- expect: tests/errors/fractional_size.lua:4: linear: the number of outputs must be a whole number, got 2.5
return model {
  input = {784}, classes = 10,
  layers = { linear(2.5) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
