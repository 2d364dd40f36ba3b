-- expect: tests/errors/absurd_size.lua:4: linear: the number of outputs is 1e+12, above kiln's limit of 16777216 for one dimension
return model {
  input = {784}, classes = 10,
  layers = { linear(1e12) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
