-- avg.lua — for tests/pool/harness.c: the same with average pooling of a
-- 3×3 window, stride 1, padding 1.
return model {
  input = {1, 4, 4}, classes = 2, batch = 1,
  layers = { conv2d(1, 1, {bias = false, init = uniform(1, 1)}), avg_pool2d(3, {stride = 1, padding = 1}),
             flatten(), linear(2) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
