-- Gradient check: a residual block of the ResNet's kind with batch norm
-- after every convolution (training mode) — a stem, a 3×3 stride-2 and a
-- 3×3 convolution beside a 1×1 stride-2 shortcut, added — so that batch
-- norm's statistics run in the convolutions' kernels, its parameter sums in
-- the input gradients' kernels, and its input gradient as the prologue of
-- the convolution before it.
return model {
  input = {2, 8, 8}, classes = 3, batch = 4,
  forward = function(x)
    local h = tanh()(batch_norm()(conv2d(3, 3, {padding = 1, init = normal(0, 0.4), bias_init = normal(0, 0.2)})(x)))
    local r = tanh()(batch_norm()(conv2d(4, 3, {stride = 2, padding = 1, init = normal(0, 0.3), bias_init = normal(0, 0.2)})(h)))
    r = batch_norm {eps = 1e-3}(conv2d(4, 3, {padding = 1, init = normal(0, 0.3), bias_init = normal(0, 0.2)})(r))
    local s = batch_norm()(conv2d(4, 1, {stride = 2, init = normal(0, 0.5), bias_init = normal(0, 0.2)})(h))
    local y = global_avg_pool2d()(tanh()(add(r, s)))
    return linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)})(flatten()(y))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
