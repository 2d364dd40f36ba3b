-- expect: tests/errors/typo_layer.lua:4: unknown layer 'lineer'; did you mean linear()? (layers: flatten, linear, relu, leaky_relu, sigmoid, tanh, dropout, add, concat, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, batch_norm)
return model {
  input = {784}, classes = 10,
  layers = { lineer(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
