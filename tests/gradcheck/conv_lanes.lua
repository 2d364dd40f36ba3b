-- Gradient check: a convolution whose forward pass takes the lanes
-- strategy (more channels than the transposes cost: see kiln graph
-- --kernels), its bias and tanh applied after unpacking and an average
-- pooling on each example, in a batch that fills 3 of a block's 16 lanes;
-- then a padded convolution without a bias on the pooled planes.
return model {
  input = {8, 12, 12}, classes = 3, batch = 3,
  layers = {
    conv2d(16, 5, {init = normal(0, 0.1), bias_init = normal(0, 0.2)}), tanh(), avg_pool2d(2),
    conv2d(4, 3, {padding = 1, bias = false, init = normal(0, 0.2)}), sigmoid(),
    flatten(), linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)}),
  },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
