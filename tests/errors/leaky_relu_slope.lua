-- expect: tests/errors/leaky_relu_slope.lua:6: leaky_relu: slope must be from 0 to 1 (not included), got -0.2
return model {
  input = {4}, classes = 3,
  layers = {
    linear(8),
    leaky_relu(-0.2),
    linear(3),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
