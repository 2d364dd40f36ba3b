-- expect: tests/errors/zero_size.lua:4: linear: the number of outputs must be a positive whole number, got 0
return model {
  input = {784}, classes = 10,
  layers = { linear(0) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
