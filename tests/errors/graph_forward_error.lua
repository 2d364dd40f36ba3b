-- expect: tests/errors/graph_forward_error.lua:6: unknown layer 'lineer'; did you mean linear()? (layers: flatten, linear, relu, leaky_relu, sigmoid, tanh, dropout, add, concat, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, batch_norm)
return model {
  input = {4}, classes = 3,
  forward = function(x)
    local h = relu()(x)
    return lineer(3)(h)
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
