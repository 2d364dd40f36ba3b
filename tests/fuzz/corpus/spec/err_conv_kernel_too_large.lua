-- expect: tests/errors/conv_kernel_too_large.lua:5: conv2d(16, 5): its kernel's height 5 is larger than the input's 2 (with padding 0: 2), in (batch, 6, 2, 2); use a smaller kernel or more padding
return model {
  input = {1, 12, 12}, classes = 10,
  layers = {
    conv2d(6, 5), max_pool2d(2), max_pool2d(2), conv2d(16, 5),
    flatten(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
