-- Gradient check: a residual block in the style of the book's ResNet with
-- the shape changing — a 3×3 stride-2 convolution (padding 1), then a 3×3
-- one, beside a 1×1 stride-2 convolution on the shortcut, added, then
-- global average pooling — so that stride-2 and 1×1 convolutions meet at
-- `add` and their input gradients add up in x's.
return model {
  input = {3, 8, 8}, classes = 3, batch = 3,
  forward = function(x)
    local h = tanh()(conv2d(4, 3, {padding = 1, init = normal(0, 0.3), bias_init = normal(0, 0.2)})(x))
    local r = tanh()(conv2d(6, 3, {stride = 2, padding = 1, init = normal(0, 0.3), bias_init = normal(0, 0.2)})(h))
    r = conv2d(6, 3, {padding = 1, bias = false, init = normal(0, 0.3)})(r)
    local s = conv2d(6, 1, {stride = 2, bias = false, init = normal(0, 0.5)})(h)
    local y = global_avg_pool2d()(tanh()(add(r, s)))
    return linear(3, {init = normal(0, 0.5), bias_init = normal(0, 0.5)})(flatten()(y))
  end,
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 1},
}
