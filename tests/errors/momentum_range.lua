-- expect: tests/errors/momentum_range.lua:5: sgd: momentum must be from 0 to 1 (not included), got 1.5
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1, momentum = 1.5},
}
