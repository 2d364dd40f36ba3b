-- Gradient check: batch_norm on (batch, channels, height, width) values in
-- training mode — after a convolution and before an activation, and on a
-- pooled value read by a second branch too (its gradient has two
-- contributions).
return model {
  input = {2, 6, 6}, classes = 3, batch = 3,
  forward = function(x)
    local a = tanh()(batch_norm()(conv2d(3, 3, {padding = 1, init = normal(0, 0.5), bias_init = normal(0, 0.2)})(x)))
    local b = avg_pool2d(2)(a)
    local c = batch_norm {eps = 1e-3}(b)
    return linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)})(concat {flatten()(c), flatten()(b)})
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
