-- expect: tests/errors/global_pool_not_4d.lua:6: global_avg_pool2d(): expects (batch, channels, height, width), got (batch, 32)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    flatten(), linear(32),
    global_avg_pool2d(),
    linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
