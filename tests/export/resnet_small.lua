-- resnet_small.lua — t_export's small ResNet: models/resnet.lua's kinds of
-- layer (a 3×3 stem, a basic block with a strided convolution and a 1×1
-- shortcut, batch norm after every convolution, add, global average
-- pooling) at 4 and 8 channels, so that its trainer builds and its exported
-- forward pass runs in a moment.
return model {
  name    = "resnet_small",
  input   = {1, 28, 28},
  classes = 10,
  forward = function(x)
    local h = relu()(batch_norm()(conv2d(4, 3, {padding = 1})(x)))
    local r = relu()(batch_norm()(conv2d(8, 3, {stride = 2, padding = 1})(h)))
    r = batch_norm()(conv2d(8, 3, {padding = 1})(r))
    h = relu()(add(r, batch_norm()(conv2d(8, 1, {stride = 2})(h))))
    return linear(10)(flatten()(global_avg_pool2d()(h)))
  end,
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.05, momentum = 0.9},
  batch     = 64,
}
