-- expect: tests/errors/dropout_range.lua:4: dropout: p must be from 0 to 1 (not included), got 1
return model {
  input = {784}, classes = 10,
  layers = { linear(64), dropout(1), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
