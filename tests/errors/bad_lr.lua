-- expect: tests/errors/bad_lr.lua:5: sgd: lr must be above 0 and at most 1e6, got -1
return model {
  input = {784}, classes = 10,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = -1},
}
