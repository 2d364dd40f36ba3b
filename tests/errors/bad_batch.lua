-- expect: tests/errors/bad_batch.lua:2: model: batch must be a whole number from 1 to 65536, got 0
return model {
  input = {784}, classes = 10, batch = 0,
  layers = { linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
