-- expect: tests/errors/bn_momentum.lua:6: batch_norm: momentum must be from 0 to 1, got 2
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    flatten(), linear(32),
    batch_norm {momentum = 2},
    linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
