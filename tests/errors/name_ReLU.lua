-- expect: tests/errors/name_ReLU.lua:4: unknown layer 'ReLU'; did you mean relu()? (layers: flatten, linear, relu, leaky_relu, sigmoid, tanh, dropout, add, concat, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, batch_norm)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), linear(64), ReLU(), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
