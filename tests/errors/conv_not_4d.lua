-- expect: tests/errors/conv_not_4d.lua:6: conv2d(6, 5): expects (batch, channels, height, width), got (batch, 784)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    flatten(),
    conv2d(6, 5),
    linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
