-- expect: tests/errors/pool_padding.lua:5: max_pool2d: padding 2 is more than half the kernel's 2; pad at most 1
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    max_pool2d(2, {padding = 2}),
    flatten(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
