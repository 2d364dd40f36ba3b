-- expect: tests/errors/name_Conv2d.lua:6: unknown layer 'Conv2d'; did you mean conv2d()? (layers: flatten, linear, relu, leaky_relu, sigmoid, tanh, dropout, add, concat, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, batch_norm)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = {
    conv2d(6, 5, {padding = 2}), relu(),
    Conv2d(2),
    flatten(), linear(10),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
