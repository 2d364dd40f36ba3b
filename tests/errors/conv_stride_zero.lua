-- expect: tests/errors/conv_stride_zero.lua:5: conv2d: stride[2] must be a whole number from 1 to 16777216, got 0
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    conv2d(6, 5, {stride = {1, 0}}),
    flatten(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
