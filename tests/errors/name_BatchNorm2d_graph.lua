-- expect: tests/errors/name_BatchNorm2d_graph.lua:5: unknown layer 'BatchNorm2d'; did you mean batch_norm()? (layers: flatten, linear, relu, leaky_relu, sigmoid, tanh, dropout, add, concat, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, batch_norm)
return model {
  input = {1, 28, 28}, classes = 10,
  forward = function(x)
    local h = BatchNorm2d()(conv2d(4, 3)(x))
    return linear(10)(flatten()(h))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
