-- expect: tests/errors/global_pool_args.lua:6: global_avg_pool2d: takes no arguments, got 1
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    conv2d(4, 3),
    global_avg_pool2d(2),
    flatten(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
