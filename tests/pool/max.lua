-- max.lua — for tests/pool/harness.c: a 1×1 convolution of weight 1 and no
-- bias (its output is the scaled input, exactly: equal bytes give equal
-- floats, ties), max pooling, a linear layer.
return model {
  input = {1, 4, 4}, classes = 2, batch = 1,
  layers = { conv2d(1, 1, {bias = false, init = uniform(1, 1)}), max_pool2d(2), flatten(), linear(2) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
