-- expect: tests/errors/bn_rank.lua:6: batch_norm(): expects (batch, features) or (batch, channels, height, width), got (batch, 28, 28)
return model {
  input = {28, 28}, classes = 10,
  layers = {
    relu(),
    batch_norm(),
    flatten(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
