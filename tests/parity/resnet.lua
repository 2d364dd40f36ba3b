-- Parity case: models/resnet.lua with only the batch changed, 32 instead
-- of 256, so that PyTorch's runs of three steps (tests/parity/
-- torch_parity.py) take a few seconds: the same layers, initialization and
-- optimizer (SGD with momentum and weight decay).  Not smaller: at 8 or 16
-- PyTorch's own float32 run strays from its float64 run beyond the bound
-- (at 16, its loss after the third step by 4.4e-5), so it cannot be the
-- reference there.  Keep it in step with models/resnet.lua
-- (tests/parity/cases.txt).
return model {
  name    = "resnet",
  input   = {1, 28, 28},
  classes = 10,
  forward = function(x)
    local function block(h, channels, stride)
      local r = conv2d(channels, 3, {stride = stride, padding = 1})(h)
      r = relu()(batch_norm()(r))
      r = batch_norm()(conv2d(channels, 3, {padding = 1})(r))
      if stride ~= 1 then
        h = batch_norm()(conv2d(channels, 1, {stride = stride})(h))
      end
      return relu()(add(r, h))
    end
    local h = relu()(batch_norm()(conv2d(16, 3, {padding = 1})(x)))
    for stage, channels in ipairs {16, 32, 64} do
      h = block(h, channels, stage == 1 and 1 or 2)
      h = block(h, channels, 1)
    end
    return linear(10)(flatten()(global_avg_pool2d()(h)))
  end,
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.05, momentum = 0.9, weight_decay = 5e-4},
  batch     = 32,
  epochs    = 5,
  seed      = 0,
}
