-- expect: tests/errors/name_unknown_no_near.lua:4: unknown layer 'frobnicate' (layers: flatten, linear, relu, leaky_relu, sigmoid, tanh, dropout, add, concat, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, batch_norm)
return model {
  input = {1, 28, 28}, classes = 10,
  layers = { flatten(), frobnicate(3), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
